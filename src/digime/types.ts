/**
 * Public types of the digi.me client: what goes in and what comes back.
 */

/** The `agent.sdk` block sent with `oauth/authorize`, `oauth/token/reference` (and the SDK's `permission-access/trigger`). */
export interface AgentInfo {
  name: string;
  version: string;
  meta?: Record<string, string>;
}

/** A user access token as the client hands it around (expiries in Unix seconds). */
export interface UserAccessToken {
  accessToken: { value: string; expiry: number };
  refreshToken: { value: string; expiry: number };
  user: { id: string };
  consentid?: string;
}

/** digi.me's session returned with reference codes (absent when digi.me leaves it out). */
export interface DigimeSession {
  expiry: number;
  key: string;
}

/** Session options (`actions`) passed through to digi.me unchanged. */
export type SessionOptions = Record<string, unknown>;

/** Result of `getReauthorizeUrl` and `getAuthorizeUrl`. */
export interface PkceUrlResult {
  url: string;
  codeVerifier: string;
  session?: DigimeSession;
}

/** Result of `getReauthorizeAccountUrl`. */
export interface AccountUrlResult {
  url: string;
  session?: DigimeSession;
}

/** One of the user's accounts, as `permission-access/accounts` lists it. */
export interface DigimeAccount {
  id: string;
  reference?: string;
  type?: string;
  serviceGroupName?: string;
  serviceTypeName?: string;
  accessTokenStatus?: { authorized: boolean; expiresAt?: number };
  username?: string;
  [field: string]: unknown;
}

/** An account entry in a sync status. */
export interface SyncDetailEntry {
  state: string;
  error?: Record<string, unknown>;
}

/** A sync status as `permission-access/query/{sessionKey}` returns it. */
export interface SyncStatus {
  state: "running" | "partial" | "completed" | "pending" | (string & {});
  details?: Record<string, SyncDetailEntry>;
}

/** The body of `permission-access/query/{sessionKey}`. */
export interface FileListResponse {
  status: SyncStatus;
  fileList?: unknown[];
}
