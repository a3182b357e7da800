/**
 * When a user object must next act unasked: a pending flow's expiry, the end
 * of an outcome's hour, a token notice. Pure, so it is tested on its own.
 */
import { COMPLETED_FLOW_TTL_SECONDS } from "../storage/keys.ts";
import type { TokenRecord } from "../storage/tokens.ts";
import type { FlowState, UserMeta } from "../storage/user-store.ts";

/** The latest time a JavaScript Date holds (ms). */
const MAX_DATE_MS = 8.64e15;

/** When an ended flow's outcome is forgotten (ms); a flow awaiting confirmation is not ended. */
export function outcomeForgottenAt(flow: Pick<FlowState, "completedAt" | "expiresAt">): number {
  return (flow.completedAt ?? flow.expiresAt) + COMPLETED_FLOW_TTL_SECONDS * 1000;
}

/**
 * The earliest time (ms) the alarm must run, or `undefined` for none. Times
 * that are not finite numbers (an expiry digi.me stated oddly) are ignored,
 * and none is earlier than `nowMs`.
 */
export function nextAlarmAt(
  flows: readonly Pick<FlowState, "status" | "expiresAt" | "completedAt" | "confirmBy">[],
  token: Pick<TokenRecord, "refreshTokenExpiry"> | undefined,
  meta: Pick<UserMeta, "expiringSentFor" | "expiredSentFor">,
  noticeSeconds: number,
  nowMs: number,
): number | undefined {
  const times: number[] = flows.map((flow) =>
    flow.status === "pending" ? flow.expiresAt : flow.status === "awaiting_confirmation" ? (flow.confirmBy ?? flow.expiresAt) : outcomeForgottenAt(flow),
  );
  if (token && Number.isFinite(token.refreshTokenExpiry)) {
    // Within what a Date can hold, so an absurd expiry still gives a real time.
    const expiresAt = Math.min(Math.max(token.refreshTokenExpiry * 1000, 0), MAX_DATE_MS);
    if (meta.expiringSentFor !== token.refreshTokenExpiry && nowMs < expiresAt) times.push(expiresAt - noticeSeconds * 1000);
    if (meta.expiredSentFor !== token.refreshTokenExpiry) times.push(expiresAt);
  }
  const due = times.filter((t) => Number.isFinite(t));
  return due.length ? Math.max(nowMs, Math.min(...due)) : undefined;
}
