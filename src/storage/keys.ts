/**
 * KV key prefixes and lifetimes. Prefixes carry a version so a change of
 * record shape can live beside the old one. See docs/storage-schema.md.
 */

/** `flow:v1:<flowId>` → a flow record (JSON). */
export const FLOW_PREFIX = "flow:v1:";
/** `token:v1:<userId>` → the user's access token, AES-GCM encrypted (JSON envelope). */
export const TOKEN_PREFIX = "token:v1:";

/** KV refuses an `expirationTtl` under 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;
/** A pending flow lives this long unless FLOW_TTL_SECONDS says otherwise: 10 minutes. */
export const FLOW_TTL_DEFAULT_SECONDS = 10 * 60;
/** The longest FLOW_TTL_SECONDS accepted: 1 hour. */
export const FLOW_TTL_MAX_SECONDS = 60 * 60;
/** A completed flow keeps its outcome (not its verifier) this long: 1 hour. */
export const COMPLETED_FLOW_TTL_SECONDS = 60 * 60;
/** A stored token lives at least this long after its last write: 90 days. */
export const TOKEN_MIN_TTL_SECONDS = 90 * 24 * 60 * 60;

/** The KV key of a flow. */
export function flowKey(flowId: string): string {
  return FLOW_PREFIX + flowId;
}

/** The KV key of a user's token. */
export function tokenKey(userId: string): string {
  return TOKEN_PREFIX + encodeURIComponent(userId);
}
