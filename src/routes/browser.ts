/**
 * Browser routes: launch (bind the flow to this browser, go to digi.me) and
 * digi.me's two callbacks. Errors here are HTML pages, never JSON.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env.ts";
import { getCookie } from "hono/cookie";
import { bindingCookieName, bindingSecretOf } from "../flows/binding.ts";
import { completeAccountCallback, completeUserCallback, launchFlow, loadEntry, recoverToken, recoveryAgain, type BrowserRedirect, type BrowserRequest } from "../flows/browser.ts";
import { asAppError } from "../errors.ts";
import type { FlowEntry } from "../storage/flows.ts";
import { requestScope } from "./scope.ts";
import { CallbackQuerySchema, FlowIdSchema } from "../schemas.ts";
import { defineRoute, mount, type ResponseSpec, type RouteSpec } from "./define.ts";

declare module "hono" {
  /** What the browser routes put on the context. */
  interface ContextVariableMap {
    /** The flow's `returnTo`, once its start entry is loaded: error pages link back to it (src/error-response.ts). */
    flowReturnTo?: string;
  }
}

const html = (description: string): ResponseSpec => ({ description, content: { "text/html": { schema: z.string() } } });

const launch = defineRoute({
  method: "get",
  path: "/reauth/launch/{flowId}",
  tags: ["browser"],
  summary: "Browser entry point of a flow",
  description: "Binds the flow to this browser with an HttpOnly, Secure, SameSite=Lax cookie and redirects to digi.me. The first browser to launch a flow owns it.",
  request: { param: z.object({ flowId: FlowIdSchema }) },
  responses: {
    302: { description: "To digi.me's page; for a completed flow, the browser that launched it goes to `returnTo` with the recorded outcome (signed)" },
    400: html("Not a flow id"),
    404: html("Unknown or expired flow, or a link cut short"),
    409: html("Flow completed (any other browser), or already launched in another browser"),
  },
});

const callbackResponses = {
  303: {
    description:
      "Back to the flow's returnTo with flowId, status (succeeded, failed or awaiting_confirmation), kind, identity (flows that brought a token), errorCode and errorSource (failed only), " +
      "ts (Unix seconds, when the outcome was recorded) and sig (HMAC-SHA256 with RETURN_SIGNING_SECRET over v2 and those fields with the flow's userId; docs/learning-the-outcome.md). " +
      "A completed flow reached again by the browser that launched it gets the same outcome again.",
  },
  400: html("Malformed callback (invalid_request), state that does not match (state_mismatch), a success without code (missing_code), or the other kind's callback (wrong_callback)"),
  403: html("The flow was launched in another browser, or never launched (browser_not_bound)"),
  404: html("Unknown or expired flow (flow_not_found; retryable: KV may not have the flow at this location yet)"),
  409: html("Flow already completed (flow_completed), for any browser but the one that launched it"),
  502: html("digi.me failed (the flow stays pending; reloading retries)"),
  503: html("Storage unavailable (the flow stays pending)"),
  504: html("digi.me did not answer in time (the flow stays pending)"),
};

const userCallback = defineRoute({
  method: "get",
  path: "/reauth/user/callback",
  tags: ["browser"],
  summary: "digi.me's callback for user reauthorization",
  description:
    "`success=true&state&code`: the code is exchanged for a new token, stored encrypted if it carries the digi.me identity (`sub`) of the user's stored token " +
    "(else nothing is stored and the flow fails `USER_MISMATCH`; a code digi.me refuses fails it `EXCHANGE_FAILED`). " +
    "A full-authorization (`authorize`) flow's callback also carries `accountReference`, kept on the flow. " +
    "`success=false&errorCode`: the flow fails with that code (`UNKNOWN` if none or not code-like).",
  request: { query: CallbackQuerySchema },
  responses: {
    ...callbackResponses,
    503: html("Storage unavailable; after a successful exchange (token_not_stored) the page carries the new token sealed, to post to /reauth/recover"),
  },
});

const accountCallback = defineRoute({
  method: "get",
  path: "/reauth/account/callback",
  tags: ["browser"],
  summary: "digi.me's callback for account reauthorization",
  description:
    "`flow` is the edge's own id (digi.me sends no state here); `success` and `errorCode` are digi.me's. " +
    "`success=true` is only the browser's word: one read of the user's accounts at digi.me confirms it (refreshing the stored token once if refused); " +
    "the flow succeeds only if digi.me lists the account as authorized, else it fails `NOT_REAUTHORIZED`. " +
    "If digi.me cannot be reached the flow stays pending (502/504 page; reloading retries).",
  request: { query: z.omit(CallbackQuerySchema, { state: true, code: true }) },
  responses: callbackResponses,
});

const recover = defineRoute({
  method: "post",
  path: "/reauth/recover",
  tags: ["browser"],
  summary: "Store a token the callback could not store",
  description: "Posted by the page a callback shows when digi.me issued a token but storage failed; the token comes back sealed and bound to the flow.",
  request: { form: z.object({ flow: FlowIdSchema, sealed: z.string().check(z.minLength(1), z.maxLength(8192)) }) },
  responses: {
    303: { description: "Back to the flow's returnTo with the signed outcome (succeeded, or failed USER_MISMATCH), as the callback would have sent it" },
    400: html("Malformed or foreign recovery data"),
    403: html("The flow was launched in another browser"),
    404: html("Unknown or expired flow"),
    409: html("Flow already completed"),
    503: html("Storage still unavailable: the same page, to try again"),
  },
});

/** The routes of this module, for the OpenAPI document. */
export const browserRouteSpecs: RouteSpec[] = [launch, userCallback, accountCallback, recover];

function redirect(c: Context<AppEnv>, to: BrowserRedirect, status: 302 | 303): Response {
  c.header("Set-Cookie", to.setCookie);
  return c.redirect(to.location, status);
}

/**
 * Loads the flow's start entry (error pages link back to its `returnTo` from
 * then on) and what the flow needs of this browser request.
 */
async function forFlow(c: Context<AppEnv>, flowId: string): Promise<{ entry: FlowEntry; request: BrowserRequest }> {
  const services = c.var.services;
  const entry = await loadEntry(services, flowId);
  c.set("flowReturnTo", entry.returnTo);
  const presented = bindingSecretOf(getCookie(c, bindingCookieName(flowId)));
  return { entry, request: { services, scope: requestScope(c, { defer: true }), ...(presented ? { presented } : {}) } };
}

/**
 * HEAD on a browser route answers without running it: Hono answers a HEAD
 * with the GET route (the raw request still says HEAD), so a link scanner's
 * HEAD would bind the flow (launch) or spend the code (callback) before the
 * user's browser gets there (issue 18, item 6).
 */
const headWithoutEffect: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.raw.method !== "HEAD") return next();
  return c.body(null, 200, { "Content-Type": "text/html; charset=UTF-8" });
};

/** The browser routes. */
export function browserRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  for (const path of ["/reauth/launch/:flowId", "/reauth/user/callback", "/reauth/account/callback"]) app.use(path, headWithoutEffect);
  mount(app, launch, async (c) => {
    const { entry, request } = await forFlow(c, c.req.valid("param").flowId);
    return redirect(c, await launchFlow(request, entry), 302);
  });
  mount(app, userCallback, async (c) => {
    const query = c.req.valid("query");
    const { entry, request } = await forFlow(c, query.flow);
    return redirect(c, await completeUserCallback(request, entry, query), 303);
  });
  mount(app, accountCallback, async (c) => {
    const query = c.req.valid("query");
    const { entry, request } = await forFlow(c, query.flow);
    return redirect(c, await completeAccountCallback(request, entry, query), 303);
  });
  mount(app, recover, async (c) => {
    const form = c.req.valid("form");
    let flow;
    try {
      flow = await forFlow(c, form.flow);
    } catch (error) {
      // KV down at "Try again": the same page, so the token the form carries is not lost.
      if (asAppError(error).code === "storage_unavailable") throw recoveryAgain(c.get("requestId"), form.flow, form.sealed, error);
      throw error;
    }
    return redirect(c, await recoverToken(flow.request, flow.entry, form.sealed), 303);
  });
  return app;
}
