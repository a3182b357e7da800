/**
 * The digi.me client for Workers: protocol only, no Hono, no KV.
 */
export {
  codeChallenge,
  createCodeVerifier,
  DEFAULT_AGENT,
  DEFAULT_API_BASE_URL,
  DEFAULT_ONBOARD_BASE_URL,
  DEFAULT_TIMEOUT_MS,
  GET_RETRY,
  retryAfterMs,
  SDK_VERSION,
  DigimeClient,
  type AuthorizeUrlOptions,
  type DigimeClientOptions,
  type ReauthorizeAccountUrlOptions,
  type ReauthorizeUrlOptions,
} from "./client.ts";
export { DigimeError, isDigimeError, type DigimeErrorKind, type InvalidTokenSubject } from "./errors.ts";
export { cacheApiKeySetStore, KEY_SET_CACHE_PREFIX, MAX_KEY_SET_TTL_MS, type SharedKeySetStore } from "./key-set.ts";
export { accountsNeedingReauth, type AccountNeedingReauth } from "./sync-status.ts";
export { needsRefresh, withTokenRefresh, type WithTokenRefreshOptions, type WithTokenRefreshResult } from "./refresh.ts";
export type * from "./types.ts";
