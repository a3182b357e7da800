/**
 * The callbacks' work with digi.me, run in the user's object once the flow is
 * known to be pending and bound to this browser: exchange the code (user and
 * full-authorization flows) or confirm the account (account flows), and say
 * how the flow ends. The object records that outcome, exactly once.
 */
import { DigimeError, type UserAccessToken } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import { log } from "../log.ts";
import type { FlowEntry } from "../storage/flows.ts";
import type { ErrorSource, FlowIdentity } from "../storage/user-store.ts";
import { withCustodyRefresh, type StepDeps } from "./custody.ts";

/**
 * The codes the edge itself records on a failed flow (the flow's `errorCode`,
 * not an API error code): a token of another digi.me user, an account success
 * digi.me does not confirm, a code digi.me refuses at exchange.
 */
export type EdgeFlowErrorCode = "USER_MISMATCH" | "NOT_REAUTHORIZED" | "EXCHANGE_FAILED" | "BROWSER_MISMATCH" | "USER_ERASED";

/** The edge's own codes; a browser reporting one gets `UNKNOWN` instead. */
export const EDGE_ERROR_CODES: ReadonlySet<string> = new Set<EdgeFlowErrorCode>(["USER_MISMATCH", "NOT_REAUTHORIZED", "EXCHANGE_FAILED", "BROWSER_MISMATCH", "USER_ERASED"]);

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

/** What of the start entry the callbacks need. */
export type CallbackEntry = Pick<FlowEntry, "id" | "kind" | "userId" | "accountId" | "stateHash" | "verifier" | "expectedDigimeUserId" | "userAccessToken" | "session">;

/**
 * How a callback ends the flow; `token` is the new token of a user or
 * authorize flow, not stored yet: stored at once when its identity is
 * `confirmed`, kept for the application's confirmation otherwise.
 */
export interface Outcome {
  status: "succeeded" | "failed" | "awaiting_confirmation";
  errorCode?: string;
  errorSource?: ErrorSource;
  identity?: FlowIdentity;
  digimeUserId?: string;
  accountReference?: string;
  token?: UserAccessToken;
}

/**
 * A callback's errorCode as recorded: the value when it looks like a code, else
 * `UNKNOWN`. digi.me's SDKs document USER_CANCEL, INITIALIZE_CHECK_FAIL,
 * ONBOARD_ERROR, INVALID_CODE and SERVER_ERROR; the web's full list is not
 * published, so any code-like value is kept as it came — except the edge's
 * own codes, which only the edge records.
 */
export function normaliseErrorCode(value: string | undefined): string {
  return value && /^[A-Za-z0-9_.-]{1,64}$/.test(value) && !EDGE_ERROR_CODES.has(value) ? value : "UNKNOWN";
}

/** A failure the browser reported (`success=false`): anyone's page can navigate there, so it is recorded as the browser's word. */
function reportedByBrowser(errorCode: string | undefined): Outcome {
  return { status: "failed", errorCode: normaliseErrorCode(errorCode), errorSource: "browser" };
}

/** A failure the edge found. */
function foundByEdge(errorCode: EdgeFlowErrorCode): Outcome {
  return { status: "failed", errorCode, errorSource: "edge" };
}

/**
 * Whose token digi.me issued, against the identity known at start (the
 * stored token's `user.id`). A user flow must bring back that identity
 * (`undefined`: a mismatch); a full authorization may bring another one, and
 * the flow says so (`replaced`), as it says when none was known (`new`).
 * Only `confirmed` is stored without the application's confirmation.
 */
export function identityOf(entry: Pick<FlowEntry, "kind" | "expectedDigimeUserId">, token: UserAccessToken): { digimeUserId: string; identity: FlowIdentity } | undefined {
  const expected = entry.expectedDigimeUserId;
  const digimeUserId = token.user.id;
  if (expected === undefined) return { digimeUserId, identity: "new" };
  if (expected === digimeUserId) return { digimeUserId, identity: "confirmed" };
  return entry.kind === "authorize" ? { digimeUserId, identity: "replaced" } : undefined;
}

/**
 * A user (or full-authorization) callback: `success=false` fails the flow with
 * digi.me's code; `success=true` exchanges the code (one upstream call) and
 * checks whose token came back. digi.me unreachable or failing throws: the
 * flow stays pending and reloading the callback retries.
 */
export async function exchangeUserCallback(deps: StepDeps, entry: CallbackEntry, query: CallbackQuery): Promise<Outcome> {
  if (query.success === "false") return reportedByBrowser(query.errorCode);
  if (!query.code) throw new AppError("missing_code", "a successful callback must carry a code", { detail: { flowId: entry.id } });
  if (!entry.verifier) throw new AppError("flow_corrupt", "the flow has no verifier", { detail: { flowId: entry.id } });
  let token;
  try {
    token = await deps.digime.exchangeCodeForToken({ code: query.code, codeVerifier: entry.verifier });
  } catch (error) {
    if (!(error instanceof DigimeError && error.kind === "api" && (error.status ?? 500) < 500)) throw error;
    // digi.me refused the code (used, expired, wrong verifier): the object lets one callback at a time
    // exchange, so this is no duplicate racing a winner.
    log(deps.log, "warn", "exchange_refused", { flowId: entry.id, upstreamCode: error.code, upstreamStatus: error.status });
    return foundByEdge("EXCHANGE_FAILED");
  }
  const identity = identityOf(entry, token);
  if (!identity) {
    // The token belongs to another digi.me user than the one this flow is for: keep nothing.
    log(deps.log, "warn", "user_mismatch", { flowId: entry.id, kind: entry.kind });
    return foundByEdge("USER_MISMATCH");
  }
  return {
    // A token of an identity the edge could not match is not the user's until the application says so.
    status: identity.identity === "confirmed" ? "succeeded" : "awaiting_confirmation",
    ...identity,
    ...(entry.kind === "authorize" && query.accountReference ? { accountReference: query.accountReference } : {}),
    token,
  };
}

/**
 * The outcome of a token the browser carried back (/reauth/recover): the
 * identity check the callback made before sealing it, made again, so the
 * outcome names the identity.
 */
export function recoveredOutcome(entry: CallbackEntry, token: UserAccessToken): Outcome {
  const identity = identityOf(entry, token);
  if (!identity) return foundByEdge("USER_MISMATCH");
  return { status: identity.identity === "confirmed" ? "succeeded" : "awaiting_confirmation", ...identity, token };
}

/**
 * An account callback. `success=true` is only a browser's word (any page can
 * navigate there with the Lax cookie), so it is confirmed with digi.me: one
 * read of the user's accounts must show the account authorized.
 */
export async function confirmAccountCallback(deps: StepDeps, entry: CallbackEntry, query: CallbackQuery): Promise<Outcome> {
  if (query.success !== "true") return reportedByBrowser(query.errorCode);
  return (await accountReauthorized(deps, entry)) ? { status: "succeeded" } : foundByEdge("NOT_REAUTHORIZED");
}

/**
 * Whether digi.me lists the flow's account as authorized now, read with the
 * token the flow was started with (the backend's, or the stored one,
 * refreshed once if digi.me refuses it). digi.me unreachable or failing
 * throws: a retryable page, the flow still pending. A refusal is a no.
 */
async function accountReauthorized(deps: StepDeps, entry: CallbackEntry): Promise<boolean> {
  let accounts;
  try {
    if (entry.userAccessToken) {
      accounts = await deps.digime.readAccounts(entry.userAccessToken);
    } else {
      const stored = await deps.custody.token();
      if (!stored) {
        log(deps.log, "warn", "account_not_confirmed", { flowId: entry.id, reason: "no stored token" });
        return false;
      }
      ({ result: accounts } = await withCustodyRefresh(deps, stored.token, (t) => deps.digime.readAccounts(t)));
    }
  } catch (error) {
    if (!(error instanceof DigimeError && error.kind === "api" && (error.status ?? 500) < 500)) throw error;
    log(deps.log, "warn", "account_not_confirmed", { flowId: entry.id, upstreamCode: error.code, upstreamStatus: error.status });
    return false;
  }
  const account = accounts.find((a) => a.id === entry.accountId);
  // Fail closed: an account digi.me lists without saying it is authorized is not confirmed.
  const confirmed = account?.accessTokenStatus?.authorized === true;
  if (!confirmed) {
    const reason = !account ? "account not listed" : account.accessTokenStatus ? "still unauthorized" : "no accessTokenStatus";
    log(deps.log, "warn", "account_not_confirmed", { flowId: entry.id, reason });
  }
  return confirmed;
}
