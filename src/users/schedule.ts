/**
 * When a user object must next act unasked: a pending flow's expiry, the end
 * of an outcome's hour, a token notice. Pure, so it is tested on its own.
 */
import { COMPLETED_FLOW_TTL_SECONDS, TOKEN_KEEPALIVE_MIN_INTERVAL_SECONDS } from "../storage/keys.ts";
import type { TokenRecord } from "../storage/tokens.ts";
import type { FlowState, UserMeta } from "../storage/user-store.ts";

/** The latest time a JavaScript Date holds (ms). */
const MAX_DATE_MS = 8.64e15;

/** When an ended flow's outcome is forgotten (ms); a flow awaiting confirmation is not ended. */
function outcomeForgottenAt(flow: Pick<FlowState, "completedAt" | "expiresAt">): number {
  return (flow.completedAt ?? flow.expiresAt) + COMPLETED_FLOW_TTL_SECONDS * 1000;
}

/** Whether a flow has yet to end: pending, or awaiting the application's confirmation. */
export function isOpen(flow: Pick<FlowState, "status">): boolean {
  return flow.status === "pending" || flow.status === "awaiting_confirmation";
}

/**
 * When the alarm must next look at a flow (ms): a pending flow's expiry, an
 * unconfirmed one's end of confirmation, an ended one's end of keeping.
 */
export function flowDueAt(flow: Pick<FlowState, "status" | "expiresAt" | "completedAt" | "confirmBy">): number {
  if (flow.status === "pending") return flow.expiresAt;
  if (flow.status === "awaiting_confirmation") return flow.confirmBy ?? flow.expiresAt;
  return outcomeForgottenAt(flow);
}

/** When a refresh token expires (ms), within what a Date can hold, so an absurd expiry still gives a real time. */
function refreshExpiresAt(refreshTokenExpiry: number): number {
  return Math.min(Math.max(refreshTokenExpiry * 1000, 0), MAX_DATE_MS);
}

/**
 * The token notice due now, if any: `expired` once the refresh token has
 * lapsed (unless sent for this expiry), else `expiring` within the notice
 * period (unless sent). Sending `expired` makes `expiring` moot.
 */
export function dueTokenNotice(
  token: Pick<TokenRecord, "refreshTokenExpiry">,
  meta: Pick<UserMeta, "expiringSentFor" | "expiredSentFor">,
  noticeSeconds: number,
  nowMs: number,
): "expiring" | "expired" | undefined {
  if (!Number.isFinite(token.refreshTokenExpiry)) return undefined;
  const expiresAt = refreshExpiresAt(token.refreshTokenExpiry);
  if (nowMs >= expiresAt) return meta.expiredSentFor === token.refreshTokenExpiry ? undefined : "expired";
  return nowMs >= expiresAt - noticeSeconds * 1000 && meta.expiringSentFor !== token.refreshTokenExpiry ? "expiring" : undefined;
}

/**
 * When the keep-alive must refresh the token (ms), or `undefined` for never:
 * `keepAliveSeconds` before its refresh token expires, but no sooner than
 * an hour after the token was written (a refresh token shorter-lived than
 * the keep-alive cannot make the alarm spin), nor before a retry is due, nor
 * once digi.me refused this refresh token. A time at or past the refresh
 * token's expiry is no keep-alive: `token.expired` speaks then.
 */
export function keepAliveDueAt(
  token: Pick<TokenRecord, "refreshTokenExpiry" | "updatedAt">,
  meta: Pick<UserMeta, "keepAliveGaveUpFor" | "keepAliveNotBefore">,
  keepAliveSeconds: number | undefined,
): number | undefined {
  if (!keepAliveSeconds || !Number.isFinite(token.refreshTokenExpiry) || meta.keepAliveGaveUpFor === token.refreshTokenExpiry) return undefined;
  const expiresAt = refreshExpiresAt(token.refreshTokenExpiry);
  const due = Math.max(expiresAt - keepAliveSeconds * 1000, token.updatedAt + TOKEN_KEEPALIVE_MIN_INTERVAL_SECONDS * 1000, meta.keepAliveNotBefore ?? 0);
  return due < expiresAt ? due : undefined;
}

/**
 * The earliest time (ms) the alarm must run, or `undefined` for none. Times
 * that are not finite numbers (an expiry digi.me stated oddly) are ignored,
 * and none is earlier than `nowMs`.
 */
export function nextAlarmAt(
  flows: readonly Pick<FlowState, "status" | "expiresAt" | "completedAt" | "confirmBy">[],
  token: (Pick<TokenRecord, "refreshTokenExpiry"> & Partial<Pick<TokenRecord, "updatedAt">>) | undefined,
  meta: Pick<UserMeta, "expiringSentFor" | "expiredSentFor" | "keepAliveGaveUpFor" | "keepAliveNotBefore">,
  noticeSeconds: number,
  nowMs: number,
  keepAliveSeconds?: number,
): number | undefined {
  const times: number[] = flows.map(flowDueAt);
  if (token && Number.isFinite(token.refreshTokenExpiry)) {
    const expiresAt = refreshExpiresAt(token.refreshTokenExpiry);
    if (meta.expiringSentFor !== token.refreshTokenExpiry && nowMs < expiresAt) times.push(expiresAt - noticeSeconds * 1000);
    if (meta.expiredSentFor !== token.refreshTokenExpiry) times.push(expiresAt);
    const keepAlive = keepAliveDueAt({ ...token, updatedAt: token.updatedAt ?? nowMs }, meta, keepAliveSeconds);
    if (keepAlive !== undefined) times.push(keepAlive);
  }
  const due = times.filter((t) => Number.isFinite(t));
  return due.length ? Math.max(nowMs, Math.min(...due)) : undefined;
}
