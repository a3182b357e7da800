/**
 * A digi.me API client for the Workers runtime, built on `fetch` and
 * WebCrypto: the operations the edge needs (reauthorization references, code
 * exchange, refresh, accounts, file list), each exactly as the official SDK
 * sends it. How a call is signed, sent, retried and decoded is transport.ts;
 * what makes a returned token trustworthy, verify.ts; PKCE, pkce.ts. Every
 * failure is a `DigimeError`. It knows nothing of Hono or KV.
 */
import { DigimeError } from "./errors.ts";
import type { SharedKeySetStore } from "./key-set.ts";
import { decompress, decryptFileStream, parseFileHeader, type DecryptStats, type FileHeader } from "./files.ts";
import { importDecryptionKey, importPrivateKey } from "./keys.ts";
import { codeChallenge, createCodeVerifier } from "./pkce.ts";
import {
  accountReferenceSchema,
  accountsSchema,
  authorizePayloadSchema,
  decode,
  fileListSchema,
  referencePayloadSchema,
  referenceResponseSchema,
  triggerResponseSchema,
  tokenResponseSchema,
  userTokenPayloadSchema,
} from "./schemas.ts";
import { SignedTransport, type CallSpec } from "./transport.ts";
import type {
  AccountUrlResult,
  AgentInfo,
  DigimeAccount,
  DigimeSession,
  FileListResponse,
  PkceUrlResult,
  SessionOptions,
  UserAccessToken,
} from "./types.ts";
import { TokenVerifier } from "./verify.ts";

/** digi.me's production API base. */
export const DEFAULT_API_BASE_URL = "https://api.digi.me/v1.7/";
/** digi.me's production onboarding (web client) base. */
export const DEFAULT_ONBOARD_BASE_URL = "https://api.digi.me/apps/saas/";
/** Deadline for one upstream call, including reading its body and any retries of a GET. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The official Node SDK release whose wire format this client reproduces. */
export const SDK_VERSION = "16.1.5";
/**
 * The `agent.sdk` block sent by default: digi.me knows the official Node SDK
 * as `nodejs` and refuses a name it does not know (400 `SDKInvalid`). The SDK
 * puts `process.version` in `meta.node`; a Worker has no Node version, so it
 * says `workerd` there (unless it runs with Node compatibility).
 */
export const DEFAULT_AGENT: AgentInfo = {
  name: "nodejs",
  version: SDK_VERSION,
  meta: { node: runtimeVersion() },
};

function runtimeVersion(): string {
  const version = (globalThis as { process?: { version?: unknown } }).process?.version;
  return typeof version === "string" && version !== "" ? version : "workerd";
}

/** Configuration of a `DigimeClient`. */
export interface DigimeClientOptions {
  applicationId: string;
  contractId: string;
  /** Contract private key, PKCS#1 or PKCS#8 PEM. */
  privateKey: string;
  /** API base with a trailing slash; default `DEFAULT_API_BASE_URL`. */
  apiBaseUrl?: string;
  /** Onboarding base with a trailing slash; default `DEFAULT_ONBOARD_BASE_URL`. */
  onboardBaseUrl?: string;
  /** Per-call deadline in milliseconds, retries included; default `DEFAULT_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** The `agent.sdk` block; default `DEFAULT_AGENT`. */
  agent?: AgentInfo;
  /** Injectable for tests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Injectable clock in milliseconds; defaults to `Date.now`. */
  now?: () => number;
  /** Waits between GET retries; injectable for tests, defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Key-set cache lifetime; capped at 15 minutes. */
  keySetTtlMs?: number;
  /** Key sets shared across isolates (`cacheApiKeySetStore(caches.default)` in the Worker); none by default. */
  keySetStore?: SharedKeySetStore;
}

/** What every start call may be told: when its request is on its way. */
export interface SentObserver {
  /**
   * Called once a request of the call has been handed to `fetch` (it may still
   * be on its way), so the caller can do its own work while digi.me answers.
   */
  onSent?: () => void;
}

/** Options of `getReauthorizeUrl`. */
export interface ReauthorizeUrlOptions extends SentObserver {
  userAccessToken: string;
  callbackUrl: string;
  state: string;
  locale?: string;
  triggerQuery?: boolean;
  sessionOptions?: SessionOptions;
}

/** Options of `getReauthorizeAccountUrl`. */
export interface ReauthorizeAccountUrlOptions extends SentObserver {
  userAccessToken: string;
  callbackUrl: string;
  accountId: string;
  locale?: string;
}

/** Options of `getAuthorizeUrl`, the full authorization used when reauthorization is impossible. */
export interface AuthorizeUrlOptions extends SentObserver {
  callbackUrl: string;
  state: string;
  userAccessToken?: string;
  sessionOptions?: SessionOptions;
  /** The onboarding page's `sourceType`; default `pull`, as the SDK sends it. */
  sourceType?: string;
  serviceId?: number;
  locale?: string;
  triggerQuery?: boolean;
}

/**
 * One segment of a digi.me path, encoded. `.` and `..` are refused: a URL
 * resolves them, so the signed request would go to another of digi.me's paths.
 */
function pathSegment(value: string): string {
  if (value === "." || value === "..") throw new TypeError(`${JSON.stringify(value)} is not a path segment`);
  return encodeURIComponent(value);
}

/**
 * A digi.me API client for one contract. Keep one per isolate: its verifier
 * holds the key-set cache, and the imported contract key is memoised per isolate.
 */
export class DigimeClient {
  readonly apiBaseUrl: URL;
  readonly onboardBaseUrl: URL;
  readonly clientId: string;
  readonly #options: DigimeClientOptions;
  readonly #transport: SignedTransport;
  readonly #verifier: TokenVerifier;

  constructor(options: DigimeClientOptions) {
    this.#options = options;
    this.apiBaseUrl = baseUrl(options.apiBaseUrl ?? DEFAULT_API_BASE_URL, "apiBaseUrl");
    this.onboardBaseUrl = baseUrl(options.onboardBaseUrl ?? DEFAULT_ONBOARD_BASE_URL, "onboardBaseUrl");
    if (!options.applicationId || !options.contractId) {
      throw new DigimeError({ kind: "configuration", message: "applicationId and contractId are required" });
    }
    this.clientId = `${options.applicationId}_${options.contractId}`;
    const now = options.now ?? Date.now;
    this.#transport = new SignedTransport({
      apiBaseUrl: this.apiBaseUrl,
      clientId: this.clientId,
      privateKey: options.privateKey,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      // Bound late so a test's fetch interception installed after construction still applies.
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      now,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    });
    this.#verifier = new TokenVerifier({
      apiBaseUrl: this.apiBaseUrl,
      loadKeySet: (url) => this.#transport.getKeySet(url),
      now,
      keySetTtlMs: options.keySetTtlMs,
      keySetStore: options.keySetStore,
    });
    // Cold path: the contract key is imported once per isolate (memoised), starting now,
    // so it runs while the request waits on KV rather than before the first upstream call.
    importPrivateKey(options.privateKey).catch(() => undefined); // a bad key fails the signing instead
  }

  /**
   * Starts user reauthorization: one `oauth/token/reference` call with PKCE
   * S256 and `state`. Returns the onboarding URL and the verifier to keep.
   * Fails with `InvalidToken` (access_token) when the user cannot be reauthorized.
   */
  async getReauthorizeUrl(options: ReauthorizeUrlOptions): Promise<PkceUrlResult> {
    const codeVerifier = createCodeVerifier();
    const { code: referenceCode, session } = await this.#reference("oauth/token/reference", {
      access_token: options.userAccessToken,
      code_challenge: await codeChallenge(codeVerifier),
      code_challenge_method: "S256",
      redirect_uri: options.callbackUrl,
      state: options.state,
    }, options.sessionOptions, options.onSent);
    const url = new URL("user-reauth", this.onboardBaseUrl);
    url.searchParams.set("code", referenceCode);
    if (options.locale) url.searchParams.set("lng", options.locale);
    if (options.triggerQuery !== undefined) url.searchParams.set("triggerQuery", String(options.triggerQuery));
    return { url: url.toString(), codeVerifier, session };
  }

  /**
   * Starts account reauthorization. The official SDK sends the reference call,
   * then the account reference; nothing in the protocol orders them, so both
   * run at once (one round trip, docs/design.md), each exactly as the SDK sends it.
   */
  async getReauthorizeAccountUrl(options: ReauthorizeAccountUrlOptions): Promise<AccountUrlResult> {
    const [{ code: referenceCode, session }, accountRef] = await Promise.all([
      this.#reference("oauth/token/reference", {
        access_token: options.userAccessToken,
        redirect_uri: options.callbackUrl,
      }, undefined, options.onSent),
      this.#accountReference(options.accountId, options.onSent),
    ]);
    const url = new URL("reauthorize", this.onboardBaseUrl);
    url.searchParams.set("code", referenceCode);
    url.searchParams.set("accountRef", accountRef);
    if (options.locale) url.searchParams.set("lng", options.locale);
    return { url: url.toString(), session };
  }

  /**
   * Starts full authorization (`oauth/authorize` with PKCE S256, `state`,
   * `response_type: "code"` and `response_mode: "query"`), the way out when
   * reauthorization is impossible. digi.me answers a `preauthorization_code`;
   * its callback carries `success`, `state`, `code` and `accountReference`.
   */
  async getAuthorizeUrl(options: AuthorizeUrlOptions): Promise<PkceUrlResult> {
    const codeVerifier = createCodeVerifier();
    const claims: Record<string, unknown> = {
      code_challenge: await codeChallenge(codeVerifier),
      code_challenge_method: "S256",
      redirect_uri: options.callbackUrl,
      response_mode: "query",
      response_type: "code",
      state: options.state,
    };
    if (options.userAccessToken) claims.access_token = options.userAccessToken;
    const { code, session } = await this.#reference("oauth/authorize", claims, options.sessionOptions, options.onSent);
    // The SDK's parameter order: code, sourceType, service, …, lng, …, triggerQuery.
    const url = new URL("authorize", this.onboardBaseUrl);
    url.searchParams.set("code", code);
    url.searchParams.set("sourceType", options.sourceType ?? "pull");
    if (options.serviceId) url.searchParams.set("service", String(options.serviceId));
    if (options.locale) url.searchParams.set("lng", options.locale);
    if (options.triggerQuery !== undefined) url.searchParams.set("triggerQuery", String(options.triggerQuery));
    return { url: url.toString(), codeVerifier, session };
  }

  /** Exchanges an authorization code (and the flow's PKCE verifier) for a user access token. */
  async exchangeCodeForToken(options: { code: string; codeVerifier: string }): Promise<UserAccessToken> {
    return this.#userToken({
      path: "oauth/token",
      method: "POST",
      claims: { code: options.code, code_verifier: options.codeVerifier, grant_type: "authorization_code" },
    });
  }

  /**
   * Refreshes a user access token. The refresh token rotates: keep the result.
   * `InvalidToken` (refresh_token) means user reauthorization is needed.
   */
  async refreshToken(token: UserAccessToken): Promise<UserAccessToken> {
    return this.#userToken({
      path: "oauth/token",
      method: "POST",
      claims: { grant_type: "refresh_token", refresh_token: token.refreshToken.value },
      jsonContentType: true,
      tokenSubject: "refresh_token",
    });
  }

  /** Lists the user's accounts. */
  async readAccounts(userAccessToken: string): Promise<DigimeAccount[]> {
    const body = await this.#transport.request({
      path: "permission-access/accounts",
      method: "GET",
      claims: { access_token: userAccessToken },
    });
    return decode(accountsSchema, body, "permission-access/accounts") as DigimeAccount[];
  }

  /** Reads a session's sync status and file list (where 511 shows up). */
  async readFileList(options: { sessionKey: string; userAccessToken: string }): Promise<FileListResponse> {
    const path = `permission-access/query/${pathSegment(options.sessionKey)}`;
    const body = await this.#transport.request({ path, method: "GET", claims: { access_token: options.userAccessToken } });
    return decode(fileListSchema, body, "permission-access/query") as FileListResponse;
  }

  /**
   * Starts a sync (`permission-access/trigger`, the SDK's `readSession`): the
   * session options sit at the top level of the body, beside the agent.
   * Answers the new session.
   */
  async triggerSession(options: { userAccessToken: string; sessionOptions?: SessionOptions }): Promise<DigimeSession> {
    const path = "permission-access/trigger";
    const body = { ...(options.sessionOptions ?? {}), agent: { sdk: this.#agent() } };
    const answer = await this.#transport.request({ path, method: "POST", claims: { access_token: options.userAccessToken }, body, tokenSubject: "access_token" });
    return decode(triggerResponseSchema, answer, path).session;
  }

  /**
   * Fetches one file of a session (`permission-access/query/{sessionKey}/{fileName}`):
   * its header read, its body left unread for `openFile` to stream.
   */
  async readFile(options: { sessionKey: string; fileName: string; userAccessToken: string }): Promise<DigimeFile> {
    const path = `permission-access/query/${pathSegment(options.sessionKey)}/${pathSegment(options.fileName)}`;
    const response = await this.#transport.requestStream(
      { path, method: "GET", claims: { access_token: options.userAccessToken }, tokenSubject: "access_token", call: "permission-access/query/file" },
      "application/octet-stream",
    );
    let header: FileHeader;
    try {
      header = parseFileHeader(response.headers.get("x-metadata"));
    } catch (error) {
      await response.body?.cancel().catch(() => undefined);
      throw error;
    }
    const length = Number(response.headers.get("Content-Length"));
    return { header, body: response.body ?? new ReadableStream(), ...(Number.isSafeInteger(length) && length >= 0 && response.headers.has("Content-Length") ? { encryptedBytes: length } : {}) };
  }

  /**
   * A file's content: decrypted with the contract key as it streams in, then
   * decompressed as its header says. A file encrypted to another key fails
   * here (`undecryptable`), before any content is answered.
   */
  async openFile(file: DigimeFile, stats?: DecryptStats): Promise<ReadableStream<Uint8Array>> {
    let key: CryptoKey;
    try {
      key = await importDecryptionKey(this.#options.privateKey);
    } catch (error) {
      throw new DigimeError({ kind: "configuration", message: (error as Error).message, cause: error });
    }
    return decompress(await decryptFileStream(key, file.body, stats), file.header.compression);
  }

  /**
   * Verifies a token digi.me issued and returns its payload (verify.ts says
   * what is checked). `keySetMark` is what the key-set prefetch beside the
   * call that returned the token answered.
   */
  verifyToken(token: string, call: string, keySetMark?: number): Promise<Record<string, unknown>> {
    return this.#verifier.verify(token, call, keySetMark);
  }

  async #reference(
    path: "oauth/token/reference" | "oauth/authorize",
    claims: Record<string, unknown>,
    sessionOptions?: SessionOptions,
    onSent?: () => void,
  ): Promise<{ code: string; session?: DigimeSession }> {
    const keySetMark = this.#verifier.prefetchKeySet();
    const body: Record<string, unknown> = { agent: { sdk: this.#agent() } };
    if (sessionOptions) body.actions = sessionOptions;
    const response = decode(referenceResponseSchema, await this.#transport.request({ path, method: "POST", claims, body, tokenSubject: "access_token", onSent }), path);
    const verified = await this.verifyToken(response.token, path, keySetMark);
    const code = path === "oauth/authorize"
      ? decode(authorizePayloadSchema, verified, path).preauthorization_code
      : decode(referencePayloadSchema, verified, path).reference_code;
    return response.session ? { code, session: response.session } : { code };
  }

  async #accountReference(accountId: string, onSent?: () => void): Promise<string> {
    const body = await this.#transport.request({ path: "reference", method: "POST", claims: {}, body: { type: "accountId", value: accountId }, onSent });
    return decode(accountReferenceSchema, body, "reference").id;
  }

  async #userToken(spec: CallSpec): Promise<UserAccessToken> {
    const keySetMark = this.#verifier.prefetchKeySet();
    const { token } = decode(tokenResponseSchema, await this.#transport.request(spec), spec.path);
    const payload = decode(userTokenPayloadSchema, await this.verifyToken(token, spec.path, keySetMark), spec.path);
    return {
      accessToken: { value: payload.access_token.value, expiry: payload.access_token.expires_on },
      refreshToken: { value: payload.refresh_token.value, expiry: payload.refresh_token.expires_on },
      user: { id: payload.sub },
      ...(payload.consentid === undefined ? {} : { consentid: payload.consentid }),
    };
  }

  #agent(): Record<string, unknown> {
    const agent = this.#options.agent ?? DEFAULT_AGENT;
    return { name: agent.name, version: agent.version, meta: agent.meta ?? {} };
  }
}

/** A file as `readFile` answers it: what digi.me's header says, and the encrypted body still to read. */
export interface DigimeFile {
  header: FileHeader;
  body: ReadableStream<Uint8Array>;
  /** The encrypted body's length, when digi.me said it. */
  encryptedBytes?: number;
}

/** A base URL as the client joins paths to it: parsed, with a trailing slash. */
function baseUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DigimeError({ kind: "configuration", message: `${name} is not a URL` });
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}
