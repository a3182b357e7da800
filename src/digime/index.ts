/**
 * The digi.me client for Workers: protocol only, no Hono, no KV
 * (eslint.config.js holds it to its own files and zod). The operations are
 * client.ts; the signed transport, transport.ts; token verification,
 * verify.ts; PKCE, pkce.ts.
 */
export {
  DEFAULT_AGENT,
  DEFAULT_API_BASE_URL,
  DEFAULT_ONBOARD_BASE_URL,
  DEFAULT_TIMEOUT_MS,
  SDK_VERSION,
  DigimeClient,
  type AuthorizeUrlOptions,
  type DigimeClientOptions,
  type DigimeFile,
  type ReauthorizeAccountUrlOptions,
  type ReauthorizeUrlOptions,
  type SentObserver,
} from "./client.ts";
export { codeChallenge, createCodeVerifier } from "./pkce.ts";
export { FILE_CHUNK_BYTES, FILE_MIN_BYTES, parseFileHeader, type DecryptStats, type FileCompression, type FileHeader } from "./files.ts";
export { GET_RETRY, retryAfterMs } from "./transport.ts";
export { DigimeError, isDigimeError, type DigimeErrorKind, type InvalidTokenSubject } from "./errors.ts";
export { cacheApiKeySetStore, KEY_SET_CACHE_PREFIX, MAX_KEY_SET_TTL_MS, type SharedKeySetStore } from "./key-set.ts";
export { accountsNeedingReauth, type AccountNeedingReauth } from "./sync-status.ts";
export { needsRefresh, withTokenRefresh, type WithTokenRefreshOptions, type WithTokenRefreshResult } from "./refresh.ts";
export type * from "./types.ts";
