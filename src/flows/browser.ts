/**
 * The browser's side of a flow, in the Worker: launch (bind, redirect to
 * digi.me) and the two callbacks (the user's object checks, exchanges or
 * confirms, and records; the Worker sends the browser back, signed). No
 * Hono here: the route passes the services, the browser's binding secret
 * and the request's scope.
 */
import { AppError, FLOW_NOT_FOUND_PAGE } from "../errors.ts";
import { log } from "../log.ts";
import { recoveryPage } from "../pages.ts";
import type { Services } from "../services.ts";
import type { FlowEntry } from "../storage/flows.ts";
import { COMPLETED_FLOW_TTL_SECONDS } from "../storage/keys.ts";
import type { CallbackAnswer } from "../users/api.ts";
import type { RequestScope, UserHandle } from "../users/client.ts";
import { bindingCookie, clearBindingCookie } from "./binding.ts";
import type { CallbackQuery } from "./complete.ts";
import { signedOutcomeUrl } from "./signed-return.ts";

/** A redirect the route sends, with the cookie to set. */
export interface BrowserRedirect {
  location: string;
  setCookie: string;
}

/** One browser request: the services, the binding secret its cookie holds for the flow, and its scope. */
export interface BrowserRequest {
  services: Services;
  /** The flow's binding secret from this browser's cookie, if any. */
  presented?: string;
  scope: RequestScope;
}

/** The flow's start entry, or the unknown-or-expired page. */
export async function loadEntry(services: Services, flowId: string): Promise<FlowEntry> {
  const entry = await services.flowEntries.get(flowId);
  if (!entry) {
    throw new AppError("flow_not_found", "this flow is unknown or has expired", { retryable: true, page: FLOW_NOT_FOUND_PAGE, detail: { flowId } });
  }
  return entry;
}

function userOf(request: BrowserRequest, entry: FlowEntry): UserHandle {
  return request.services.forContract(entry.contractId).users.of(entry.userId, request.scope);
}

function alreadyCompleted(flowId: string, status: string): AppError {
  return new AppError("flow_completed", "this flow has already been completed", {
    page: "This reauthorization has already been completed. You can close this page or go back to the application.",
    detail: { flowId, flowStatus: status },
  });
}

/**
 * The binding cookie kept after completion, for as long as the outcome is
 * kept: the browser that finished a flow is still recognised when it reloads
 * the callback, and is sent back with the recorded outcome again. The cookie
 * proves only that this browser launched the flow; the outcome it unlocks is
 * the one this browser was already sent to.
 */
function keptBindingCookie(request: BrowserRequest, flowId: string): string {
  return request.presented ? bindingCookie(flowId, request.presented, COMPLETED_FLOW_TTL_SECONDS) : clearBindingCookie(flowId);
}

/**
 * Where an ended flow sends its browser: the browser that launched it goes
 * back to `returnTo` with the recorded outcome (signed); any other browser
 * gets the 409 page and never the outcome. `repeated`: the flow had ended
 * before this request (a reload, a second tab), which the log says.
 */
async function outcomeRedirect(request: BrowserRequest, entry: FlowEntry, answer: Pick<CallbackAnswer, "state" | "bound">, repeated: boolean): Promise<BrowserRedirect> {
  const { state, bound } = answer;
  if (!bound) throw alreadyCompleted(entry.id, state.status);
  if (repeated) log(request.scope, "info", "flow_outcome_repeated", { flowId: entry.id, kind: entry.kind, flowStatus: state.status });
  // Signed as of the flow's end, not of this request: a reload an hour later cannot mint a fresh signature.
  const signedAt = state.completedAt ?? request.services.now();
  const detail = { errorCode: state.errorCode, errorSource: state.errorSource, identity: state.identity };
  const flow = { ...entry, contractId: entry.contractId ?? request.services.config.contractId };
  return { location: await signedOutcomeUrl(request.services.config.returnSigningSecret, flow, state.status, detail, signedAt), setCookie: keptBindingCookie(request, entry.id) };
}

/**
 * Launch: binds the flow to this browser (first browser wins; the same
 * browser may launch again) and sends it to digi.me.
 */
export async function launchFlow(request: BrowserRequest, entry: FlowEntry): Promise<BrowserRedirect> {
  const answer = await userOf(request, entry).launch(entry.id, request.presented);
  if (answer.state.status !== "pending") return outcomeRedirect(request, entry, answer, true);
  const maxAge = (entry.expiresAt - request.services.now()) / 1000;
  return { location: entry.upstreamUrl, setCookie: bindingCookie(entry.id, answer.secret!, maxAge) };
}

function wrongCallback(entry: FlowEntry, expected: string): AppError {
  return new AppError("wrong_callback", `this flow is ${expected}`, { detail: { flowId: entry.id } });
}

/** The recovery page: digi.me issued a token that could not be stored; the browser carries it back sealed. */
function tokenNotStored(request: BrowserRequest, flowId: string, sealed: string, cause?: unknown): AppError {
  return recoveryAgain(request.scope.requestId, flowId, sealed, cause);
}

/**
 * The recovery page (again): the token digi.me issued, sealed, for the
 * browser to post back once storage works. Whatever failed — the object's
 * storage, or KV at the start entry's read — this page, never a generic one.
 */
export function recoveryAgain(requestId: string | undefined, flowId: string, sealed: string, cause?: unknown): AppError {
  return new AppError("token_not_stored", "the new token could not be stored", {
    retryable: true,
    cause,
    html: recoveryPage(flowId, sealed, { requestId }),
    contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    detail: { flowId },
  });
}

async function afterCallback(request: BrowserRequest, entry: FlowEntry, answer: CallbackAnswer): Promise<BrowserRedirect> {
  if (answer.recovery) throw tokenNotStored(request, entry.id, answer.recovery);
  return outcomeRedirect(request, entry, answer, !answer.ended);
}

/**
 * digi.me's callback after user reauthorization (or full authorization): the
 * user's object checks the binding and `state`, exchanges the code (one
 * upstream call), stores the token and records the outcome.
 */
export async function completeUserCallback(request: BrowserRequest, entry: FlowEntry, query: CallbackQuery): Promise<BrowserRedirect> {
  if (entry.kind === "account") throw wrongCallback(entry, "an account flow");
  return afterCallback(request, entry, await userOf(request, entry).completeUser(callbackEntry(entry), query, request.presented));
}

/**
 * digi.me's callback after account reauthorization; the flow is found by the
 * edge's own `flow` parameter, and `success=true` is confirmed with digi.me.
 */
export async function completeAccountCallback(request: BrowserRequest, entry: FlowEntry, query: CallbackQuery): Promise<BrowserRedirect> {
  if (entry.kind !== "account") throw wrongCallback(entry, "not an account flow");
  return afterCallback(request, entry, await userOf(request, entry).completeAccount(callbackEntry(entry), query, request.presented));
}

/**
 * POST /reauth/recover: stores a token that the callback could not store,
 * carried back sealed by the browser that owns the flow, and completes the
 * flow. Storage still down: the same page again, so the token is not lost.
 */
export async function recoverToken(request: BrowserRequest, entry: FlowEntry, sealed: string): Promise<BrowserRedirect> {
  let answer;
  try {
    answer = await userOf(request, entry).recover(callbackEntry(entry), sealed, request.presented);
  } catch (error) {
    if (error instanceof AppError && error.code === "storage_unavailable") throw tokenNotStored(request, entry.id, sealed, error);
    throw error;
  }
  return afterCallback(request, entry, answer);
}

/** What of the entry the object needs at a callback (not the onboarding URL); the session goes into the flow's outcome. */
function callbackEntry(entry: FlowEntry) {
  const { id, kind, userId, accountId, stateHash, verifier, expectedDigimeUserId, userAccessToken, session } = entry;
  return { id, kind, userId, accountId, stateHash, verifier, expectedDigimeUserId, userAccessToken, session };
}
