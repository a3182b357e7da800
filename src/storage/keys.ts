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
/**
 * And at most this long, whatever expiry digi.me states (an expiry in
 * milliseconds read as seconds would otherwise overflow KV's TTL): 400 days.
 */
export const TOKEN_MAX_TTL_SECONDS = 400 * 24 * 60 * 60;
/** The longest `expirationTtl` any write asks KV for: 400 days (`Kv.putJson` clamps to it). */
export const KV_MAX_TTL_SECONDS = TOKEN_MAX_TTL_SECONDS;
/** Earliest token expiry accepted at import, Unix seconds: 2001-09-09 (earlier is a unit mistake). */
export const TOKEN_EXPIRY_MIN_SECONDS = 1_000_000_000;
/** Latest token expiry accepted at import, Unix seconds: 2100-01-01 (later is milliseconds, not seconds). */
export const TOKEN_EXPIRY_MAX_SECONDS = 4_102_444_800;

/** The KV key of a flow. */
export function flowKey(flowId: string): string {
  return FLOW_PREFIX + flowId;
}

/** The KV key of a user's token. */
export function tokenKey(userId: string): string {
  return TOKEN_PREFIX + encodeURIComponent(userId);
}
