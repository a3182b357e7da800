/**
 * KV key prefixes and lifetimes. Prefixes carry a version so a change of
 * record shape can live beside the old one. See docs/storage-schema.md.
 */

/** KV: `flow:v2:<flowId>` → a flow's start entry (JSON), written once at start. */
export const FLOW_PREFIX = "flow:v2:";
/**
 * KV, before the user objects: `token:v1:<userId>` → the user's access token,
 * AES-GCM encrypted. Only read (and deleted) by a user object taking the record
 * over; the same string is the token's additional data in the object too.
 */
export const TOKEN_PREFIX = "token:v1:";

/** KV refuses an `expirationTtl` under 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;
/** A pending flow lives this long unless FLOW_TTL_SECONDS says otherwise: 10 minutes. */
export const FLOW_TTL_DEFAULT_SECONDS = 10 * 60;
/** The longest FLOW_TTL_SECONDS accepted: 1 hour. */
export const FLOW_TTL_MAX_SECONDS = 60 * 60;
/** A completed flow keeps its outcome this long: 1 hour. */
export const COMPLETED_FLOW_TTL_SECONDS = 60 * 60;
/**
 * A flow's start entry outlives the flow by the outcome's hour counted from
 * the latest a flow can end: its expiry, plus the time a flow awaiting
 * confirmation may wait (one more flow TTL). The API and a reloading browser
 * find the flow's user through it. Its verifier is useless by then
 * (digi.me's codes are single use).
 */
export function flowEntryTtlSeconds(flowTtlSeconds: number): number {
  return 2 * flowTtlSeconds + COMPLETED_FLOW_TTL_SECONDS;
}
/** `token.expiring` is sent this long before the refresh token expires unless TOKEN_EXPIRING_NOTICE_SECONDS says otherwise: 7 days. */
export const TOKEN_EXPIRING_NOTICE_DEFAULT_SECONDS = 7 * 24 * 60 * 60;
/** The longest TOKEN_EXPIRING_NOTICE_SECONDS accepted: 90 days. */
export const TOKEN_EXPIRING_NOTICE_MAX_SECONDS = 90 * 24 * 60 * 60;
/** The smallest TOKEN_KEEPALIVE_SECONDS accepted: 1 hour. */
export const TOKEN_KEEPALIVE_MIN_SECONDS = 60 * 60;
/** The largest TOKEN_KEEPALIVE_SECONDS accepted: 20 days (the mock's refresh tokens live 30). */
export const TOKEN_KEEPALIVE_MAX_SECONDS = 20 * 24 * 60 * 60;
/** The keep-alive refreshes a token no sooner than this after it was last written: 1 hour (so a short-lived refresh token cannot make it spin). */
export const TOKEN_KEEPALIVE_MIN_INTERVAL_SECONDS = 60 * 60;
/** After a keep-alive refresh digi.me could not answer, the alarm tries again this much later: 15 minutes. */
export const TOKEN_KEEPALIVE_RETRY_SECONDS = 15 * 60;
/** A token read answers an access token valid this much longer at least, unless `minValidity` says otherwise: 5 minutes. */
export const TOKEN_MIN_VALIDITY_DEFAULT_SECONDS = 5 * 60;
/** The largest `minValidity` a token read accepts: 30 minutes. */
export const TOKEN_MIN_VALIDITY_MAX_SECONDS = 30 * 60;
/** The longest a long poll (`GET /v1/flows/{flowId}?wait=N`) waits: 25 seconds. */
export const FLOW_WAIT_MAX_SECONDS = 25;
/**
 * The longest `expirationTtl` any write asks KV for: 400 days (`Kv.putJson`
 * clamps to it, so no computed TTL can make KV refuse a write).
 */
export const KV_MAX_TTL_SECONDS = 400 * 24 * 60 * 60;
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
