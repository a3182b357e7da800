/**
 * The browser's side of a flow: launch (bind and redirect to digi.me) and the
 * two callbacks (check, exchange where needed, record, redirect back).
 */
import type { Context } from "hono";
import { DigimeError, withTokenRefresh, type UserAccessToken } from "../digime/index.ts";
import { AppError, FLOW_NOT_FOUND_PAGE } from "../errors.ts";
import { log } from "../log.ts";
import type { AppEnv } from "../env.ts";
import { sha256 } from "../storage/crypto.ts";
import type { FlowRecord } from "../storage/flows.ts";
import { COMPLETED_FLOW_TTL_SECONDS } from "../storage/keys.ts";
import { bindingCookie, bindingSecret, clearBindingCookie, matchesBinding, requireBinding } from "./binding.ts";
import { newSecret, timingSafeEqual } from "./ids.ts";
import { recoveryPage } from "../pages.ts";
import { signedOutcomeUrl } from "./signed-return.ts";
import { refreshHooks } from "./tokens.ts";

/** A redirect the route sends, with the cookie to set. */
export interface BrowserRedirect {
  location: string;
  setCookie: string;
}

/**
 * A callback's errorCode as recorded: the value when it looks like a code, else
 * `UNKNOWN`. digi.me's SDKs document USER_CANCEL, INITIALIZE_CHECK_FAIL,
 * ONBOARD_ERROR, INVALID_CODE and SERVER_ERROR; the web's full list is not
 * published, so any code-like value is kept as it came.
 */
export function normaliseErrorCode(value: string | undefined): string {
  return value && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : "UNKNOWN";
}

async function loadFlow(c: Context<AppEnv>, flowId: string): Promise<FlowRecord> {
  const flow = await c.var.services.flows.get(flowId);
  if (!flow) {
    throw new AppError(404, "flow_not_found", "this flow is unknown or has expired", {
      retryable: true,
      page: FLOW_NOT_FOUND_PAGE,
      detail: { flowId },
    });
  }
  // Error pages from here on link back to the application.
  c.set("flowReturnTo", flow.returnTo);
  return flow;
}

function alreadyCompleted(flow: FlowRecord): AppError {
  return new AppError(409, "flow_completed", "this flow has already been completed", {
    page: "This reauthorization has already been completed. You can close this page or go back to the application.",
    detail: { flowId: flow.id, flowStatus: flow.status },
  });
}

/**
 * The binding cookie kept after completion, for as long as the outcome is
 * kept: the browser that finished a flow is still recognised when it reloads
 * the callback, and is sent back with the recorded outcome again. The cookie
 * proves only that this browser launched the flow; the outcome it unlocks is
 * the one this browser was already sent to.
 */
function keptBindingCookie(c: Context<AppEnv>, flowId: string): string {
  const held = bindingSecret(c, flowId);
  return held ? bindingCookie(flowId, held, COMPLETED_FLOW_TTL_SECONDS) : clearBindingCookie(flowId);
}

/**
 * A completed flow reached again (a reload, the back button, a second tab):
 * the browser that launched it goes back to `returnTo` with the recorded
 * outcome; any other browser gets the 409 page and never the outcome.
 */
async function completedAnswer(c: Context<AppEnv>, flow: FlowRecord): Promise<BrowserRedirect> {
  if (!(await matchesBinding(flow, bindingSecret(c, flow.id)))) throw alreadyCompleted(flow);
  log(c, "info", "flow_outcome_repeated", { flowId: flow.id, kind: flow.kind, flowStatus: flow.status });
  return { location: await returnLocation(c, flow, flow.status, flow.errorCode), setCookie: keptBindingCookie(c, flow.id) };
}

/**
 * Launch: binds the flow to this browser (first browser wins; the same
 * browser may launch again) and sends it to digi.me.
 */
export async function launchFlow(c: Context<AppEnv>, flowId: string): Promise<BrowserRedirect> {
  const { flows, now } = c.var.services;
  const flow = await loadFlow(c, flowId);
  if (flow.status !== "pending") return completedAnswer(c, flow);
  if (!flow.upstreamUrl) throw alreadyCompleted(flow);
  const maxAge = (flow.expiresAt - now()) / 1000;
  const held = bindingSecret(c, flowId);
  if (flow.bindingHash) {
    if (!(await matchesBinding(flow, held))) {
      throw new AppError(409, "flow_bound_elsewhere", "this flow was already opened in another browser", {
        page: "This link was already opened in another browser. Please go back to the application and start again.",
        detail: { flowId },
      });
    }
    return { location: flow.upstreamUrl, setCookie: bindingCookie(flowId, held!, maxAge) };
  }
  const secret = newSecret();
  await flows.update({ ...flow, bindingHash: await sha256(secret) });
  log(c, "info", "flow_launched", { flowId, kind: flow.kind });
  return { location: flow.upstreamUrl, setCookie: bindingCookie(flowId, secret, maxAge) };
}

/** Query of a callback, validated by the route. */
export interface CallbackQuery {
  flow: string;
  success: "true" | "false";
  state?: string;
  code?: string;
  errorCode?: string;
  /** Sent by digi.me's full-authorization (`authorize`) callback on success. */
  accountReference?: string;
}

/** The signed redirect to the flow's returnTo (src/flows/signed-return.ts). */
function returnLocation(c: Context<AppEnv>, flow: FlowRecord, status: string, errorCode: string | undefined): Promise<string> {
  return signedOutcomeUrl(c.var.config.returnSigningSecret, flow, status, errorCode, c.var.services.now());
}

/**
 * Webhook: announces the outcome (and a user flow's new token). Only an
 * enqueue, and the answer does not depend on it, so it runs after the
 * response where the runtime allows.
 */
function announceOutcome(c: Context<AppEnv>, flow: FlowRecord, token?: UserAccessToken): Promise<void> {
  const sent = c.var.services.webhooks.flowEnded(flow, token);
  try {
    c.executionCtx.waitUntil(sent);
    return Promise.resolve();
  } catch {
    return sent; // no execution context (some tests): wait for it here
  }
}

async function finish(
  c: Context<AppEnv>,
  flow: FlowRecord,
  status: "succeeded" | "failed",
  errorCode?: string,
  extra?: Pick<FlowRecord, "digimeUserId" | "identity">,
  token?: UserAccessToken,
): Promise<BrowserRedirect> {
  const done = await c.var.services.flows.complete(flow, status, errorCode, extra);
  log(c, "info", "flow_completed", { flowId: flow.id, kind: flow.kind, status, errorCode });
  await announceOutcome(c, done, token);
  return { location: await returnLocation(c, done, status, errorCode), setCookie: keptBindingCookie(c, flow.id) };
}

/**
 * digi.me's callback after user reauthorization (or full authorization): on
 * success, checks `state` and exchanges the code (one upstream call), then
 * stores the token and the outcome.
 */
export async function completeUserCallback(c: Context<AppEnv>, query: CallbackQuery): Promise<BrowserRedirect> {
  const { flows, tokens, digime } = c.var.services;
  const flow = await loadFlow(c, query.flow);
  if (flow.kind === "account") throw new AppError(400, "wrong_callback", "this flow is an account flow", { detail: { flowId: flow.id } });
  if (flow.status !== "pending") return completedAnswer(c, flow);
  await requireBinding(flow, bindingSecret(c, flow.id));
  if (query.state !== undefined || query.success === "true") {
    if (!query.state || !flow.stateHash || !timingSafeEqual(await sha256(query.state), flow.stateHash)) {
      throw new AppError(400, "state_mismatch", "state does not match this flow", {
        page: "This reauthorization answer does not belong to the flow it names. Please go back to the application and start again.",
        detail: { flowId: flow.id },
      });
    }
  }
  if (query.success === "false") return finish(c, flow, "failed", normaliseErrorCode(query.errorCode));
  if (!query.code) throw new AppError(400, "missing_code", "a successful callback must carry a code", { detail: { flowId: flow.id } });

  const verifier = await flows.openVerifier(flow);
  if (!verifier) throw new AppError(500, "flow_corrupt", "the flow has no verifier", { detail: { flowId: flow.id } });
  let token;
  try {
    token = await digime.exchangeCodeForToken({ code: query.code, codeVerifier: verifier });
  } catch (error) {
    // Timeouts, network errors and 5xx leave the flow pending: reloading the callback retries.
    if (!(error instanceof DigimeError && error.kind === "api" && (error.status ?? 500) < 500)) throw error;
    return afterRefusedExchange(c, flow, error);
  }
  const identity = identityOf(flow, token);
  if (!identity) {
    // The token belongs to another digi.me user than the one this flow is for: keep nothing.
    log(c, "warn", "user_mismatch", { flowId: flow.id, kind: flow.kind });
    return finish(c, flow, "failed", "USER_MISMATCH");
  }
  try {
    await tokens.put(flow.userId, token);
  } catch (error) {
    if (!(error instanceof AppError && error.code === "storage_unavailable")) throw error;
    // The code is spent: this token exists nowhere else. The browser carries it back, sealed.
    log(c, "error", "token_not_stored", { flowId: flow.id });
    throw new AppError(503, "token_not_stored", "the new token could not be stored", {
      retryable: true,
      cause: error,
      html: recoveryPage(flow.id, await tokens.sealForRecovery(flow.id, flow.userId, token), { requestId: c.get("requestId") }),
      contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      detail: { flowId: flow.id },
    });
  }
  const kept = flow.kind === "authorize" && query.accountReference ? { ...flow, accountReference: query.accountReference } : flow;
  return finish(c, kept, "succeeded", undefined, identity, token);
}

/**
 * Whose token digi.me issued, against the identity known at start (the
 * stored token's `user.id`). A user flow must bring back that identity
 * (`undefined`: a mismatch); a full authorization may bring another one, and
 * the flow says so (`replaced`), as it says when none was known (`new`).
 */
export function identityOf(flow: FlowRecord, token: UserAccessToken): Pick<FlowRecord, "digimeUserId" | "identity"> | undefined {
  const expected = flow.expectedDigimeUserId;
  const digimeUserId = token.user.id;
  if (expected === undefined) return { digimeUserId, identity: "new" };
  if (expected === digimeUserId) return { digimeUserId, identity: "confirmed" };
  return flow.kind === "authorize" ? { digimeUserId, identity: "replaced" } : undefined;
}

/**
 * POST /reauth/recover: stores a token that the callback could not store,
 * carried back sealed by the browser that owns the flow, and completes the flow.
 */
export async function recoverToken(c: Context<AppEnv>, form: { flow: string; sealed: string }): Promise<BrowserRedirect> {
  const flow = await loadFlow(c, form.flow);
  if (flow.status !== "pending") return completedAnswer(c, flow);
  await requireBinding(flow, bindingSecret(c, flow.id));
  const token = await c.var.services.tokens.openRecovery(flow.id, flow.userId, form.sealed);
  // Sealed only after the identity check passed; checked again so the outcome names it.
  const identity = identityOf(flow, token);
  if (!identity) return finish(c, flow, "failed", "USER_MISMATCH");
  await c.var.services.tokens.put(flow.userId, token);
  log(c, "info", "token_recovered", { flowId: flow.id });
  return finish(c, flow, "succeeded", undefined, identity, token);
}

/** How long a refused exchange waits for a concurrent winner to record its outcome. */
export const EXCHANGE_RACE_GRACE_MS = 300;

/**
 * digi.me refused the code (used, expired, wrong verifier). Codes are single
 * use, so this is often a duplicate callback racing the one that won: wait
 * briefly, then report the winner's outcome without writing anything. Only a
 * flow still pending after that is recorded as failed.
 */
async function afterRefusedExchange(c: Context<AppEnv>, flow: FlowRecord, error: DigimeError): Promise<BrowserRedirect> {
  log(c, "warn", "exchange_refused", { flowId: flow.id, upstreamCode: error.code, upstreamStatus: error.status });
  await new Promise((resolve) => setTimeout(resolve, EXCHANGE_RACE_GRACE_MS));
  const current = await c.var.services.flows.get(flow.id);
  if (!current) throw new AppError(404, "flow_not_found", "this flow is unknown or has expired", { detail: { flowId: flow.id } });
  if (current.status !== "pending") {
    return { location: await returnLocation(c, current, current.status, current.errorCode), setCookie: keptBindingCookie(c, flow.id) };
  }
  return finish(c, current, "failed", "EXCHANGE_FAILED");
}

/**
 * digi.me's callback after account reauthorization; the flow is found by the
 * edge's own `flow` parameter. `success=true` is only a browser's word (any
 * page can navigate there with the Lax cookie), so it is confirmed with
 * digi.me: one read of the user's accounts must show the account authorized.
 */
export async function completeAccountCallback(c: Context<AppEnv>, query: CallbackQuery): Promise<BrowserRedirect> {
  const flow = await loadFlow(c, query.flow);
  if (flow.kind !== "account") throw new AppError(400, "wrong_callback", "this flow is not an account flow", { detail: { flowId: flow.id } });
  if (flow.status !== "pending") return completedAnswer(c, flow);
  await requireBinding(flow, bindingSecret(c, flow.id));
  if (query.success !== "true") return finish(c, flow, "failed", normaliseErrorCode(query.errorCode));
  return (await accountReauthorized(c, flow)) ? finish(c, flow, "succeeded") : finish(c, flow, "failed", "NOT_REAUTHORIZED");
}

/**
 * Whether digi.me lists the flow's account as authorized now, read with the
 * token the flow was started with (the backend's, or the stored one,
 * refreshed once if digi.me refuses it). digi.me unreachable or failing
 * throws: a retryable page, the flow still pending. A refusal is a no.
 */
async function accountReauthorized(c: Context<AppEnv>, flow: FlowRecord): Promise<boolean> {
  const services = c.var.services;
  let accounts;
  try {
    if (flow.userAccessToken) {
      accounts = await services.digime.readAccounts(flow.userAccessToken);
    } else {
      const stored = await services.tokens.get(flow.userId);
      if (!stored) {
        log(c, "warn", "account_not_confirmed", { flowId: flow.id, reason: "no stored token" });
        return false;
      }
      ({ result: accounts } = await withTokenRefresh(services.digime, stored.token, (t) => services.digime.readAccounts(t), refreshHooks(services, flow.userId)));
    }
  } catch (error) {
    if (!(error instanceof DigimeError && error.kind === "api" && (error.status ?? 500) < 500)) throw error;
    log(c, "warn", "account_not_confirmed", { flowId: flow.id, upstreamCode: error.code, upstreamStatus: error.status });
    return false;
  }
  const account = accounts.find((a) => a.id === flow.accountId);
  const confirmed = account !== undefined && account.accessTokenStatus?.authorized !== false;
  if (!confirmed) log(c, "warn", "account_not_confirmed", { flowId: flow.id, reason: account ? "still unauthorized" : "account not listed" });
  return confirmed;
}
