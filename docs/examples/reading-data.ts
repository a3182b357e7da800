/**
 * The examples of docs/reading-data.md. Each `#region` below is shown
 * verbatim on that page; test/node/reading-data-examples.test.ts checks that
 * the page and this file agree, and runs every example against the local
 * stack (the mock digi.me and the Worker under wrangler dev).
 *
 * The first part reads through the edge: the backend holds its API key and
 * nothing of digi.me's. The second keeps digi.me's official Node SDK and
 * borrows the token the edge keeps, reached through the small `DigimeSdk`
 * interface, so those examples run with the SDK in a backend and with a
 * stand-in in the test.
 *
 * Plain `fetch` and WebCrypto, nothing of this repository: copy what you need.
 */

// #region edge-client
/** Where the edge answers, and the backend's API key (one of the Worker's API_KEYS). */
export interface EdgeClient {
  baseUrl: string; // e.g. "https://reauth.example.com"
  apiKey: string;
  fetch?: typeof fetch;
}

/** An answer of the edge that is not a success: `code` is the edge's error code (docs/api.md). */
export class EdgeError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: {
    error?: {
      code?: string;
      message?: string;
      hint?: string;
      retryable?: boolean;
      currentVersion?: number | null;
      fileName?: string;
      /** refresh_token_expired: why digi.me refused, and the start that brings the user back. */
      reason?: "expired" | "invalid";
      next?: { method: "POST"; path: "/v1/reauth/user"; body: { userId: string; contractId?: string; allowFullAuthorization?: true } };
    };
  };
  /** `Retry-After` in seconds, when the edge sent one (digi.me's own wait, passed on, or the edge's 5). */
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, body: EdgeError["body"], retryAfter?: string | null) {
    super(`${status} ${body.error?.code ?? "error"}: ${body.error?.message ?? ""}`);
    this.status = status;
    this.code = body.error?.code ?? "unknown";
    this.body = body;
    this.retryAfterSeconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  }
}

/** One call of the edge's API; statuses in `allow` are answered, any other failure throws an EdgeError. */
async function callEdge(edge: EdgeClient, method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; allow?: number[] } = {}): Promise<Response> {
  const response = await (edge.fetch ?? fetch)(new URL(path, edge.baseUrl), {
    method,
    headers: {
      Authorization: `Bearer ${edge.apiKey}`,
      ...(options.body === undefined ? {} : { "Content-Type": "application/json" }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.ok || options.allow?.includes(response.status)) return response;
  throw new EdgeError(response.status, (await response.json().catch(() => ({}))) as EdgeError["body"], response.headers.get("Retry-After"));
}

const userPath = (userId: string) => `/v1/users/${encodeURIComponent(userId)}`;
// #endregion edge-client

// #region read-accounts
/** Whether an account needs reauthorization; `start` is the body of POST /v1/reauth/account, less `returnTo`. */
export interface AccountReauth {
  needed: boolean;
  /** `ServiceAuthorizationError`: a 511 in the session's sync. `unauthorized`: digi.me lists the account `authorized: false`. */
  reason?: "ServiceAuthorizationError" | "unauthorized";
  message?: string;
  start?: { userId: string; accountId: string };
}

/** What GET /v1/users/{userId}/accounts answers: digi.me's accounts, each with `reauth`. */
export interface EdgeAccounts {
  userId: string;
  accounts: Array<{ id: string; serviceTypeName?: string; reauth: AccountReauth; [field: string]: unknown }>;
  /** With `sessionKey`: that session's sync state. */
  syncState?: string;
}

/**
 * The user's accounts, read by the edge with the token it keeps: the backend
 * sends its API key and the user's id, nothing else. With a `sessionKey`, the
 * session's sync is read beside them, so an account the sync reported 511 says so.
 */
export async function readAccountsThroughEdge(edge: EdgeClient, userId: string, options: { sessionKey?: string } = {}): Promise<EdgeAccounts> {
  const query = options.sessionKey === undefined ? "" : `?sessionKey=${encodeURIComponent(options.sessionKey)}`;
  return (await (await callEdge(edge, "GET", `${userPath(userId)}/accounts${query}`)).json()) as EdgeAccounts;
}
// #endregion read-accounts

// #region sync-and-read-files
/** What GET /v1/users/{userId}/sessions/{sessionKey}/files answers. */
export interface EdgeFileList {
  userId: string;
  sessionKey: string;
  /** The sync: `pending` or `running` while digi.me fetches, then `partial` or `completed`. */
  state: string;
  accounts: Array<{ accountId: string; state: string; reauth: AccountReauth; error?: Record<string, unknown> }>;
  fileList: Array<{ name: string; updated?: number; objectType?: string; serviceName?: string }>;
}

/** A file as the edge streams it: decrypted and decompressed, with digi.me's MIME type and metadata. */
export interface EdgeFile {
  content: ReadableStream<Uint8Array>;
  mimeType: string;
  metadata: Record<string, unknown>;
}

const sessionPath = (userId: string, sessionKey: string) => `${userPath(userId)}/sessions/${encodeURIComponent(sessionKey)}`;

/** Starts a sync (digi.me's `permission-access/trigger`); `scope` and `sessionOptions` go to digi.me as they are. */
export async function startSession(edge: EdgeClient, userId: string, body: { scope?: Record<string, unknown>; sessionOptions?: Record<string, unknown> } = {}) {
  return (await (await callEdge(edge, "POST", `${userPath(userId)}/sessions`, { body })).json()) as { sessionKey: string; expiry: number };
}

/** The session's file list; with `wait` (at most 25 s) the edge answers once the sync is no longer pending or running, or after `wait` seconds. */
export async function readFileList(edge: EdgeClient, userId: string, sessionKey: string, wait = 0): Promise<EdgeFileList> {
  return (await (await callEdge(edge, "GET", `${sessionPath(userId, sessionKey)}/files?wait=${wait}`)).json()) as EdgeFileList;
}

/** One file of the session, as a stream: consume it (or cancel it) before the next. */
export async function readFileThroughEdge(edge: EdgeClient, userId: string, sessionKey: string, fileName: string): Promise<EdgeFile> {
  const response = await callEdge(edge, "GET", `${sessionPath(userId, sessionKey)}/files/${encodeURIComponent(fileName)}`);
  const metadata = (response.headers.get("X-Digime-Metadata") ?? "").replace(/-/g, "+").replace(/_/g, "/"); // base64url JSON
  return {
    content: response.body ?? new Blob([]).stream(),
    mimeType: response.headers.get("Content-Type") ?? "application/octet-stream",
    metadata: metadata ? (JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(metadata), (c) => c.charCodeAt(0)))) as Record<string, unknown>) : {},
  };
}

/**
 * A sync from start to end: start a session, long-poll its file list, and
 * hand each file to `onFile` as soon as the list shows it (an account's files
 * appear when that account finishes). Ends with the sync's final state and the
 * accounts that need reauthorization, each with its ready `start`.
 */
export async function syncAndReadFiles(
  edge: EdgeClient,
  userId: string,
  onFile: (file: EdgeFileList["fileList"][number], opened: EdgeFile) => Promise<void>,
  options: { session?: Parameters<typeof startSession>[2]; wait?: number; deadlineMs?: number } = {},
) {
  const { sessionKey } = await startSession(edge, userId, options.session);
  const done = new Set<string>();
  const deadline = Date.now() + (options.deadlineMs ?? 10 * 60_000);
  for (;;) {
    const list = await readFileList(edge, userId, sessionKey, options.wait ?? 25);
    for (const file of list.fileList) {
      const seen = `${file.name}@${file.updated ?? ""}`;
      if (done.has(seen)) continue;
      await onFile(file, await readFileThroughEdge(edge, userId, sessionKey, file.name));
      done.add(seen);
    }
    const syncing = list.state === "pending" || list.state === "running";
    if (!syncing || Date.now() >= deadline) {
      return { sessionKey, state: list.state, filesRead: done.size, needReauthorization: list.accounts.filter((account) => account.reauth.needed) };
    }
  }
}
// #endregion sync-and-read-files

// #region account-511
/** What the starts answer (POST /v1/reauth/account, /v1/reauth/user, /v1/authorize). */
export interface StartedFlow {
  flowId: string;
  kind: "user" | "account" | "authorize";
  launchUrl: string;
  expiresAt: string;
  contractId: string;
}

/**
 * An account a read reported needing reauthorization (a 511 in the sync, or
 * `authorized: false`): its `start` is the body of POST /v1/reauth/account,
 * less `returnTo`. Send the user's browser to `launchUrl`.
 */
export async function startAccountReauthFrom511(edge: EdgeClient, account: { reauth: AccountReauth }, returnTo: string): Promise<StartedFlow | undefined> {
  if (!account.reauth.needed || !account.reauth.start) return undefined;
  return (await (await callEdge(edge, "POST", "/v1/reauth/account", { body: { ...account.reauth.start, returnTo } })).json()) as StartedFlow;
}

/**
 * How the flow ended, for a backend that does not wait for the browser's
 * signed return or the webhook: long polls of up to 25 s each.
 */
export async function flowOutcome(edge: EdgeClient, flowId: string): Promise<{ status: string; errorCode?: string }> {
  for (;;) {
    const flow = (await (await callEdge(edge, "GET", `/v1/flows/${encodeURIComponent(flowId)}?wait=25`)).json()) as { status: string; errorCode?: string };
    if (flow.status !== "pending") return flow;
  }
}
// #endregion account-511

// #region read-errors
/** What a backend does after a read through the edge failed. */
export type AfterReadError =
  | { next: "retry"; afterSeconds: number }
  | { next: "reauthorize-user"; start: { path: "/v1/reauth/user"; body: { userId: string; returnTo: string; contractId?: string; allowFullAuthorization?: true } } }
  | { next: "connect-user"; start: { path: "/v1/authorize"; body: { userId: string; returnTo: string } } }
  | { next: "start-a-new-session" }
  | { next: "read-the-file-list-again" }
  | { next: "check-the-contract-key"; fileName?: string };

/**
 * The edge's error codes, as what to do next. Anything else (400, 401, a 500)
 * is a mistake to fix, not to retry blindly.
 */
export function afterReadError(error: unknown, userId: string, returnTo: string): AfterReadError | undefined {
  if (!(error instanceof EdgeError)) return undefined; // the network, or a file's stream cut short: read it again
  switch (error.code) {
    case "refresh_token_expired": // digi.me refused the refresh token: the user goes through digi.me once more, as the edge's `next` says
      return { next: "reauthorize-user", start: { path: "/v1/reauth/user", body: { ...(error.body.error?.next?.body ?? { userId }), returnTo } } };
    case "invalid_token": // digi.me refuses even a fresh access token: reauthorization, falling back to a full one
      return { next: "reauthorize-user", start: { path: "/v1/reauth/user", body: { userId, returnTo, allowFullAuthorization: true } } };
    case "token_not_found": // the edge keeps no token for this user: connect them
      return { next: "connect-user", start: { path: "/v1/authorize", body: { userId, returnTo } } };
    case "session_not_found": // expired, another user's, or the library changed (a full authorization)
      return { next: "start-a-new-session" };
    case "file_not_found": // not in the session's list (yet): its account is still syncing, or lost its authorization
      return { next: "read-the-file-list-again" };
    case "file_undecryptable": // not retried: the same bytes do not decrypt the next time either
      return { next: "check-the-contract-key", fileName: error.body.error?.fileName };
  }
  if (error.body.error?.retryable) return { next: "retry", afterSeconds: error.retryAfterSeconds ?? 5 }; // 502, 503, 504
  return undefined;
}
// #endregion read-errors

// #region connect-new-user
/**
 * A first connection, for a user the edge keeps no token for: send the user's
 * browser to `launchUrl`, and keep `flowId` in their session. 409
 * `token_exists`: the edge has their token already (read, or reauthorize).
 */
export async function connectNewUser(edge: EdgeClient, body: { userId: string; returnTo: string; locale?: string; sessionOptions?: Record<string, unknown> }): Promise<StartedFlow> {
  return (await (await callEdge(edge, "POST", "/v1/authorize", { body })).json()) as StartedFlow;
}

/** The signed return (docs/learning-the-outcome.md), checked with WebCrypto: this flow, this signed-in user, recent. */
export async function isGenuineReturn(url: URL, expected: { flowId: string; userId: string }, secret: string, maxAgeSeconds = 300): Promise<boolean> {
  const q = url.searchParams;
  const [sig, ts] = [q.get("sig"), q.get("ts")];
  if (q.get("flowId") !== expected.flowId || !sig || !ts || !(Math.abs(Date.now() / 1000 - Number(ts)) <= maxAgeSeconds)) return false;
  const text = ["v3", expected.flowId, q.get("status"), q.get("errorCode") ?? "", q.get("errorSource") ?? "", q.get("kind"), q.get("identity") ?? "", q.get("contractId"), expected.userId, ts].join("\n");
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = Uint8Array.from(atob(sig.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)); // base64url
  } catch {
    return false;
  }
  return crypto.subtle.verify("HMAC", key, signature, new TextEncoder().encode(text)); // compares in constant time
}

/**
 * Back at `returnTo`: a genuine return of this user's flow, waiting with
 * identity `new` (as a first connection does), is confirmed — the edge then
 * stores the token and sends `flow.succeeded`. Anything else stores nothing.
 * Then read as for any user: start a session (`syncAndReadFiles`).
 */
export async function confirmNewUser(edge: EdgeClient, returnUrl: URL, expected: { flowId: string; userId: string }, secret: string) {
  if (!(await isGenuineReturn(returnUrl, expected, secret))) return { connected: false as const, reason: "not this session's flow, forged, or too old" };
  const [status, identity] = [returnUrl.searchParams.get("status"), returnUrl.searchParams.get("identity")];
  if (status !== "awaiting_confirmation" || identity !== "new") return { connected: false as const, reason: `${status} ${returnUrl.searchParams.get("errorCode") ?? identity ?? ""}`.trim() };
  const flow = await callEdge(edge, "POST", `/v1/flows/${encodeURIComponent(expected.flowId)}/confirm`);
  return { connected: true as const, flow: (await flow.json()) as { flowId: string; userId: string; status: string; tokenVersion?: number } };
}
// #endregion connect-new-user

// #region types
/** A digi.me user access token, as digi.me's SDK and the edge both spell it (expiries in Unix seconds). */
export interface UserAccessToken {
  accessToken: { value: string; expiry: number };
  refreshToken: { value: string; expiry: number };
  user?: { id: string };
  consentid?: string;
}

/** One account, as digi.me lists it (`permission-access/accounts`). */
export interface DigimeAccount {
  id: string;
  [field: string]: unknown;
}

/** A session's sync status and files (`permission-access/query/{sessionKey}`): where a 511 shows up. */
export interface DigimeFileList {
  status: { state: string; details?: Record<string, { state: string; error?: Record<string, unknown> }> };
  fileList?: unknown[];
}

/**
 * The reads of digi.me's official Node SDK (16): each refreshes the token by
 * itself when digi.me answers 401 `InvalidToken`, and hands back the token to
 * keep beside the data — the same pair, or the refreshed one.
 */
export interface DigimeSdk {
  readAccounts(options: { userAccessToken: UserAccessToken }): Promise<{ accounts: DigimeAccount[]; userAccessToken: UserAccessToken }>;
  readFileList(options: { sessionKey: string; userAccessToken: UserAccessToken }): Promise<DigimeFileList & { userAccessToken: UserAccessToken }>;
}
// #endregion types

// #region read-token
const tokenPath = (userId: string) => `${userPath(userId)}/token`;

/** What GET /v1/users/{userId}/token answers. */
export interface EdgeToken {
  userId: string;
  token: UserAccessToken;
  /** The stored token's version (also the `ETag`); every write makes it larger. */
  version: number;
  updatedAt: string;
  accessTokenExpiresIn: number;
  /** True when the edge refreshed the token for this read. */
  refreshed: boolean;
}

/**
 * The token to read with, from the edge, just before a batch of reads: never
 * from a cache. The edge refreshes first (once, however many callers ask) when
 * the access token would expire within `minValidity` seconds (default 300):
 * ask for at least as long as the batch takes, and the SDK never has to refresh.
 */
export async function readToken(edge: EdgeClient, userId: string, minValidity?: number): Promise<EdgeToken> {
  const query = minValidity === undefined ? "" : `?minValidity=${minValidity}`;
  const response = await callEdge(edge, "GET", `${tokenPath(userId)}${query}`);
  return (await response.json()) as EdgeToken;
}
// #endregion read-token

// #region keep-refreshed-token
/** The token a batch goes on with, and its version at the edge. */
export interface HeldToken {
  token: UserAccessToken;
  version: number;
  /** Over the batch so far. `unchanged`: the SDK did not refresh; `stored`: its new pair is at the edge; `superseded`: the edge had a newer token (412), now held instead. */
  outcome: "unchanged" | "stored" | "superseded";
}

const samePair = (a: UserAccessToken, b: UserAccessToken) => a.accessToken.value === b.accessToken.value && a.refreshToken.value === b.refreshToken.value;

/**
 * After each SDK read: if the SDK refreshed, the old refresh token is dead, so
 * the new pair goes to the edge at once — only over the version it replaces
 * (`If-Match`). A 412 means the edge stored another token meanwhile (its own
 * refresh, a reauthorization, another worker): that one wins; re-read it and
 * go on with it.
 */
export async function keepRefreshedToken(edge: EdgeClient, userId: string, held: Pick<HeldToken, "token" | "version"> & Partial<HeldToken>, returned: UserAccessToken): Promise<HeldToken> {
  if (samePair(returned, held.token)) return { token: held.token, version: held.version, outcome: held.outcome ?? "unchanged" };
  const response = await callEdge(edge, "PUT", tokenPath(userId), { body: returned, headers: { "If-Match": `"${held.version}"` }, allow: [412] });
  if (response.status === 412) {
    const current = await readToken(edge, userId);
    return { token: current.token, version: current.version, outcome: "superseded" };
  }
  const etag = response.headers.get("ETag") ?? "";
  return { token: returned, version: Number(etag.replace(/^W\//, "").replaceAll('"', "")), outcome: "stored" };
}
// #endregion keep-refreshed-token

// #region read-batch
/** One batch of digi.me reads: the token from the edge first, every refreshed pair back to the edge. */
export async function readBatch(edge: EdgeClient, sdk: DigimeSdk, userId: string, options: { sessionKey?: string; minValidity?: number } = {}) {
  const read = await readToken(edge, userId, options.minValidity); // just before the batch, never from a cache
  let held: HeldToken = { token: read.token, version: read.version, outcome: "unchanged" };

  const { accounts, userAccessToken: afterAccounts } = await sdk.readAccounts({ userAccessToken: held.token });
  held = await keepRefreshedToken(edge, userId, held, afterAccounts);

  let fileList: DigimeFileList | undefined;
  if (options.sessionKey) {
    const { userAccessToken: afterFiles, ...files } = await sdk.readFileList({ sessionKey: options.sessionKey, userAccessToken: held.token });
    held = await keepRefreshedToken(edge, userId, held, afterFiles);
    fileList = files;
  }
  return { accounts, fileList, held };
}
// #endregion read-batch

// #region account-reauthorization
/** The body of POST /v1/reauth/account. */
export interface StartAccountFlow {
  userId: string;
  accountId: string;
  returnTo: string;
}

/**
 * The accounts a file list reports `partial` with `ServiceAuthorizationError`
 * / 511 / `reauth: true` (the account lost its authorization at its source),
 * each as the body that starts its reauthorization. Both shapes digi.me uses
 * are read: `error.reauth` and `error.error.reauth`.
 */
export function accountReauthorizations(userId: string, fileList: DigimeFileList, returnTo: string): StartAccountFlow[] {
  const bodies: StartAccountFlow[] = [];
  for (const [accountId, entry] of Object.entries(fileList.status.details ?? {})) {
    const error = entry.error ?? {};
    const nested = (error.error ?? {}) as Record<string, unknown>;
    const reauth = error.reauth === true || nested.reauth === true;
    if (entry.state === "partial" && error.code === "ServiceAuthorizationError" && Number(error.statusCode) === 511 && reauth) {
      bodies.push({ userId, accountId, returnTo });
    }
  }
  return bodies;
}

/** Starts one: the user's browser goes to `launchUrl`. */
export async function startAccountReauthorization(edge: EdgeClient, body: StartAccountFlow): Promise<{ flowId: string; launchUrl: string }> {
  return (await callEdge(edge, "POST", "/v1/reauth/account", { body })).json();
}
// #endregion account-reauthorization

// #region refused-refresh
/** The body of POST /v1/reauth/user (docs/api.md lists the optional fields). */
export interface StartUserFlow {
  userId: string;
  returnTo: string;
  allowFullAuthorization?: true;
  triggerQuery?: boolean;
  sessionOptions?: Record<string, unknown>;
  locale?: string;
}

/**
 * Whether an error says the refresh token was refused, and how: from the edge,
 * 409 `refresh_token_expired` or `invalid_token` (GET .../token refreshed
 * and digi.me said no); from digi.me's SDK, its `ServerError` whose `error` is
 * digi.me's `{ code: "InvalidToken", message: "The token (refresh_token) is expired" }`
 * (or `… is invalid`).
 */
export function refusedRefresh(error: unknown): "expired" | "invalid" | undefined {
  if (error instanceof EdgeError) {
    if (error.status === 409 && error.code === "refresh_token_expired") return "expired";
    if (error.status === 409 && error.code === "invalid_token") return "invalid";
    return undefined;
  }
  const digime = (error as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (digime?.code !== "InvalidToken" || typeof digime.message !== "string" || !digime.message.includes("(refresh_token)")) return undefined;
  return digime.message.includes("expired") ? "expired" : "invalid";
}

/** `expired`: user reauthorization brings a new token. `invalid`: the same, falling back to a full authorization. */
export function userReauthorization(userId: string, reason: "expired" | "invalid", returnTo: string): StartUserFlow {
  return reason === "expired" ? { userId, returnTo } : { userId, returnTo, allowFullAuthorization: true };
}

/**
 * A batch that ends either with data or with the flow that brings the user
 * back. A refusal seen by the SDK is checked against the edge first: if the
 * edge has a newer token than the one the batch used (another caller rotated
 * it), the batch runs once more with that one.
 */
export async function readOrReauthorize(edge: EdgeClient, sdk: DigimeSdk, userId: string, returnTo: string) {
  let refused: { version: number; reason: "expired" | "invalid" } | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    let read: EdgeToken;
    try {
      read = await readToken(edge, userId);
    } catch (error) {
      const reason = refusedRefresh(error); // the edge refreshed, and digi.me refused
      if (!reason) throw error;
      return { reauthorize: userReauthorization(userId, reason, returnTo) };
    }
    if (refused && read.version === refused.version) return { reauthorize: userReauthorization(userId, refused.reason, returnTo) };
    try {
      const { accounts, userAccessToken } = await sdk.readAccounts({ userAccessToken: read.token });
      return { accounts, held: await keepRefreshedToken(edge, userId, read, userAccessToken) };
    } catch (error) {
      const reason = refusedRefresh(error); // the SDK refreshed, and digi.me refused
      if (!reason) throw error;
      refused = { version: read.version, reason };
    }
  }
  throw new Error(`the token of ${userId} keeps changing under the batch`);
}

/** Starts it: the user's browser goes to `launchUrl`. */
export async function startUserReauthorization(edge: EdgeClient, body: StartUserFlow): Promise<{ flowId: string; kind: string; launchUrl: string }> {
  return (await callEdge(edge, "POST", "/v1/reauth/user", { body })).json();
}
// #endregion refused-refresh

// #region flow-session
/** What GET /v1/flows/{flowId} answers (the fields used here). */
export interface EdgeFlow {
  flowId: string;
  kind: "user" | "account" | "authorize";
  userId: string;
  status: string;
  /** Succeeded user and full-authorization flows: the session digi.me opened with the flow. */
  session?: { key: string; expiry: number };
  tokenVersion?: number;
}

/**
 * After a user (or full) authorization succeeded: the flow's session key reads
 * the library digi.me synced for it (what `triggerQuery` asked for), with the
 * token the flow stored. The same `session` comes in `flow.succeeded`.
 */
export async function readFlowFiles(edge: EdgeClient, sdk: DigimeSdk, flowId: string) {
  const flow = (await (await callEdge(edge, "GET", `/v1/flows/${encodeURIComponent(flowId)}`)).json()) as EdgeFlow;
  if (flow.status !== "succeeded" || !flow.session) return undefined; // an account flow opens none
  const { fileList, held } = await readBatch(edge, sdk, flow.userId, { sessionKey: flow.session.key });
  return { fileList: fileList!, held };
}
// #endregion flow-session

// #region flow-options
/**
 * `triggerQuery: false`: digi.me does not start a sync of the user's sources
 * when they come back (default: it does). For a reauthorization that only
 * renews the token — a scheduled read comes later anyway.
 */
export function reauthorizeWithoutSync(edge: EdgeClient, userId: string, returnTo: string) {
  return startUserReauthorization(edge, { userId, returnTo, triggerQuery: false });
}

/**
 * `sessionOptions`: digi.me's session options for the session the flow opens,
 * passed as they are (`{ pull: PullSessionOptions }` in the SDK's types): here,
 * the last 30 days only, and at most 60 s fetching each source.
 */
export function reauthorizeLastMonth(edge: EdgeClient, userId: string, returnTo: string) {
  return startUserReauthorization(edge, {
    userId,
    returnTo,
    sessionOptions: { pull: { scope: { timeRanges: [{ last: "30d" }] }, limits: { duration: { sourceFetch: 60 } } } },
  });
}
// #endregion flow-options

// #region token-events
/** The events of the edge about a user's token, as a backend that keeps its own copy reads them. */
export type TokenEvent =
  | { type: "token.rotated"; data: { userId: string; token: UserAccessToken; version?: number; rotatedAt: string } }
  | { type: "flow.succeeded"; data: { userId: string; flowId: string; token?: UserAccessToken; version?: number; session?: { key: string; expiry: number } } }
  | { type: "token.refresh_failed"; data: { userId: string; reason: "expired" | "invalid"; version: number; failedAt: string; next: { method: "POST"; path: "/v1/reauth/user"; body: { userId: string; contractId?: string; allowFullAuthorization?: true } } } };

/** A backend's own copy of each user's token (better: keep none, and read before each batch). */
export interface TokenCopies {
  get(userId: string): Promise<{ token: UserAccessToken; version: number } | undefined>;
  put(userId: string, token: UserAccessToken, version: number): Promise<void>;
  /** Reading stops until the user comes back through `next` (add `returnTo` when you start it). */
  needsReauthorization(userId: string, next: { path: string; body: Record<string, unknown> }): Promise<void>;
}

/**
 * Events are not ordered and may repeat: a copy moves only forward, by
 * version. `token.rotated`: the edge refreshed, and the copy's refresh token is
 * dead — replace it. `token.refresh_failed`: digi.me refused the refresh token
 * of that version; unless the copy is already newer (a reauthorization came
 * since), reading stops until the user goes through `next`.
 */
export async function onTokenEvent(event: TokenEvent, copies: TokenCopies): Promise<void> {
  const mine = await copies.get(event.data.userId);
  switch (event.type) {
    case "token.rotated":
    case "flow.succeeded":
      if (!event.data.token) return; // an account flow carries none
      if (event.data.version === undefined) return; // the edge could not store it: PUT it back there (If-Match) instead
      if (mine && mine.version >= event.data.version) return;
      await copies.put(event.data.userId, event.data.token, event.data.version);
      return;
    case "token.refresh_failed":
      if (mine && mine.version > event.data.version) return;
      await copies.needsReauthorization(event.data.userId, event.data.next);
      return;
  }
}
// #endregion token-events
