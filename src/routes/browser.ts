/**
 * Browser routes: launch (bind the flow to this browser, go to digi.me) and
 * digi.me's two callbacks. Errors here are HTML pages, never JSON.
 */
import { Hono, type Context } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env.ts";
import { completeAccountCallback, completeUserCallback, launchFlow, recoverToken, type BrowserRedirect } from "../flows/browser.ts";
import { CallbackQuerySchema, FlowIdSchema } from "../schemas.ts";
import { defineRoute, mount, type ResponseSpec, type RouteSpec } from "./define.ts";

const html = (description: string): ResponseSpec => ({ description, content: { "text/html": { schema: z.string() } } });

const launch = defineRoute({
  method: "get",
  path: "/reauth/launch/{flowId}",
  tags: ["browser"],
  summary: "Browser entry point of a flow",
  description: "Binds the flow to this browser with an HttpOnly, Secure, SameSite=Lax cookie and redirects to digi.me. The first browser to launch a flow owns it.",
  request: { param: z.object({ flowId: FlowIdSchema }) },
  responses: {
    302: { description: "To digi.me's onboarding page" },
    400: html("Not a flow id"),
    404: html("Unknown or expired flow"),
    409: html("Flow completed, or launched in another browser"),
  },
});

const callbackResponses = {
  303: { description: "Back to the flow's returnTo with flowId, status, errorCode, ts and sig (the signed return; README \"Learning the outcome\")" },
  400: html("Malformed callback, or state that does not match"),
  403: html("The flow was launched in another browser"),
  404: html("Unknown or expired flow"),
  409: html("Flow already completed"),
  502: html("digi.me failed during the exchange (the flow stays pending; reloading retries)"),
  504: html("digi.me did not answer in time (the flow stays pending)"),
};

const userCallback = defineRoute({
  method: "get",
  path: "/reauth/user/callback",
  tags: ["browser"],
  summary: "digi.me's callback for user reauthorization",
  description: "`success=true&state&code`: the code is exchanged for a new token, stored encrypted. `success=false&errorCode`: the flow fails with that code (`UNKNOWN` if none).",
  request: { query: CallbackQuerySchema },
  responses: callbackResponses,
});

const accountCallback = defineRoute({
  method: "get",
  path: "/reauth/account/callback",
  tags: ["browser"],
  summary: "digi.me's callback for account reauthorization",
  description: "`flow` is the edge's own id (digi.me sends no state here); `success` and `errorCode` are digi.me's.",
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
    303: { description: "Back to the flow's returnTo with status succeeded" },
    400: html("Malformed or foreign recovery data"),
    403: html("The flow was launched in another browser"),
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

/** The browser routes. */
export function browserRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, launch, async (c) => redirect(c, await launchFlow(c, c.req.valid("param").flowId), 302));
  mount(app, userCallback, async (c) => redirect(c, await completeUserCallback(c, c.req.valid("query")), 303));
  mount(app, accountCallback, async (c) => redirect(c, await completeAccountCallback(c, c.req.valid("query")), 303));
  mount(app, recover, async (c) => redirect(c, await recoverToken(c, c.req.valid("form")), 303));
  return app;
}
