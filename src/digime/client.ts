/**
 * A digi.me API client for the Workers runtime, built on `fetch` and
 * WebCrypto. It signs every request with the contract key (PS512, fresh nonce
 * per attempt), verifies every token digi.me returns against digi.me's key set
 * (pinned to the API origin, cached per isolate), and turns every failure into
 * a `DigimeError`. It knows nothing of Hono or KV.
 */
import type * as z from "zod/mini";
import { toBase64Url, utf8 } from "./encoding.ts";
import { DigimeError, type InvalidTokenSubject } from "./errors.ts";
import { decodeJwt, signJwt, verifyPs512 } from "./jwt.ts";
import { KEY_SET_PATH, KeySetCache, type SharedKeySetStore } from "./key-set.ts";
import { importPrivateKey } from "./keys.ts";
import { randomAlphanumeric } from "./random.ts";
import {
  accountReferenceSchema,
  accountsSchema,
  apiErrorSchema,
  authorizePayloadSchema,
  fileListSchema,
  referencePayloadSchema,
  referenceResponseSchema,
  tokenResponseSchema,
  userTokenPayloadSchema,
} from "./schemas.ts";
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

/**
 * GET retries, as the official SDK (got 11, `retry: { limit: 2 }`) makes them:
 * at most two, on these statuses or a network error, 1 s then 2 s apart unless
 * `Retry-After` says otherwise, each signed afresh. Unlike the SDK, a retry
 * whose wait would not end before the call's deadline is not made: the call
 * fails at once with the last error, so a Worker never waits past `timeoutMs`.
 * POSTs are never retried (a retried exchange after a lost answer would burn
 * the single-use code).
 */
export const GET_RETRY = {
  limit: 2,
  statuses: [408, 413, 429, 500, 502, 503, 504, 521, 522, 524] as readonly number[],
  backoffMs: [1000, 2000] as readonly number[],
} as const;

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

/** Options of `getReauthorizeUrl`. */
export interface ReauthorizeUrlOptions {
  userAccessToken: string;
  callbackUrl: string;
  state: string;
  locale?: string;
  triggerQuery?: boolean;
  sessionOptions?: SessionOptions;
}

/** Options of `getReauthorizeAccountUrl`. */
export interface ReauthorizeAccountUrlOptions {
  userAccessToken: string;
  callbackUrl: string;
  accountId: string;
  locale?: string;
}

/** Options of `getAuthorizeUrl`, the full authorization used when reauthorization is impossible. */
export interface AuthorizeUrlOptions {
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

interface CallSpec {
  /** Path below the API base, which also names the call in errors. */
  path: string;
  method: "GET" | "POST";
  claims: Record<string, unknown>;
  body?: unknown;
  /** Sends `Content-Type: application/json` even without a body, as the SDK's refresh does. */
  jsonContentType?: boolean;
  /** Which token an `InvalidToken` on this call is about when the message does not say. */
  tokenSubject?: InvalidTokenSubject;
}

/**
 * A digi.me API client for one contract. Keep one per isolate: it holds the
 * key-set cache, and the imported contract key is memoised per isolate.
 */
export class DigimeClient {
  readonly apiBaseUrl: URL;
  readonly onboardBaseUrl: URL;
  readonly clientId: string;
  readonly #options: DigimeClientOptions;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #keySets: KeySetCache;

  constructor(options: DigimeClientOptions) {
    this.#options = options;
    this.apiBaseUrl = baseUrl(options.apiBaseUrl ?? DEFAULT_API_BASE_URL, "apiBaseUrl");
    this.onboardBaseUrl = baseUrl(options.onboardBaseUrl ?? DEFAULT_ONBOARD_BASE_URL, "onboardBaseUrl");
    if (!options.applicationId || !options.contractId) {
      throw new DigimeError({ kind: "configuration", message: "applicationId and contractId are required" });
    }
    this.clientId = `${options.applicationId}_${options.contractId}`;
    // Bound late so a test's fetch interception installed after construction still applies.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#keySets = new KeySetCache({ load: (url) => this.#loadKeySet(url), now: this.#now, ttlMs: options.keySetTtlMs, shared: options.keySetStore });
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
    }, options.sessionOptions);
    const url = new URL("user-reauth", this.onboardBaseUrl);
    url.searchParams.set("code", referenceCode);
    if (options.locale) url.searchParams.set("lng", options.locale);
    if (options.triggerQuery !== undefined) url.searchParams.set("triggerQuery", String(options.triggerQuery));
    return { url: url.toString(), codeVerifier, session };
  }

  /**
   * Starts account reauthorization. The official SDK sends the reference call,
   * then the account reference; nothing in the protocol orders them, so both
   * run at once (one round trip, DESIGN.md), each exactly as the SDK sends it.
   */
  async getReauthorizeAccountUrl(options: ReauthorizeAccountUrlOptions): Promise<AccountUrlResult> {
    const [{ code: referenceCode, session }, accountRef] = await Promise.all([
      this.#reference("oauth/token/reference", {
        access_token: options.userAccessToken,
        redirect_uri: options.callbackUrl,
      }),
      this.#accountReference(options.accountId),
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
    const { code, session } = await this.#reference("oauth/authorize", claims, options.sessionOptions);
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
    const body = await this.#request({
      path: "permission-access/accounts",
      method: "GET",
      claims: { access_token: userAccessToken },
    });
    return parse(accountsSchema, body, "permission-access/accounts") as DigimeAccount[];
  }

  /** Reads a session's sync status and file list (where 511 shows up). */
  async readFileList(options: { sessionKey: string; userAccessToken: string }): Promise<FileListResponse> {
    const path = `permission-access/query/${encodeURIComponent(options.sessionKey)}`;
    const body = await this.#request({ path, method: "GET", claims: { access_token: options.userAccessToken } });
    return parse(fileListSchema, body, "permission-access/query") as FileListResponse;
  }

  /**
   * Verifies a token digi.me issued: PS512 only, `jku` under the API base
   * (origin and path), a known `kid`, a valid signature, an `exp` (the SDK's
   * jsonwebtoken accepts a token without one; a response token that never
   * expires could be replayed forever, so the edge refuses it) and `nbf` when
   * present (checked in whole seconds, no leeway, as jsonwebtoken does). Returns its payload. `keySetMark` is what the prefetch beside the
   * call that returned the token answered (see `KeySetCache.getKey`).
   */
  async verifyToken(token: string, call: string, keySetMark?: number): Promise<Record<string, unknown>> {
    const invalid = (message: string) => new DigimeError({ kind: "invalid_response", message, call });
    let jwt;
    try {
      jwt = decodeJwt(token);
    } catch (error) {
      throw invalid((error as Error).message);
    }
    const { alg, jku, kid } = jwt.header;
    if (alg !== "PS512") throw invalid(`token alg "${alg}" refused (PS512 only)`);
    if (typeof jku !== "string" || typeof kid !== "string") throw invalid("token header lacks jku or kid");
    let keySetUrl: URL;
    try {
      keySetUrl = new URL(jku);
    } catch {
      throw invalid("token jku is not a URL");
    }
    // Origin and path prefix: another service on digi.me's API origin must not vouch for tokens.
    if (keySetUrl.origin !== this.apiBaseUrl.origin || !keySetUrl.pathname.startsWith(this.apiBaseUrl.pathname) || keySetUrl.username || keySetUrl.password) {
      throw invalid(`token jku is not on ${this.apiBaseUrl.href}`);
    }
    const key = await this.#keySets.getKey(keySetUrl.toString(), kid, keySetMark);
    if (!(await verifyPs512(jwt, key))) throw invalid("token signature does not verify");
    const { exp, nbf } = jwt.payload;
    const nowSeconds = Math.floor(this.#now() / 1000);
    if (exp === undefined) throw invalid("token has no exp");
    if (typeof exp !== "number") throw invalid("token exp is not a number");
    if (nbf !== undefined && typeof nbf !== "number") throw invalid("token nbf is not a number");
    if (typeof exp === "number" && nowSeconds >= exp) throw invalid("token has expired");
    if (typeof nbf === "number" && nbf > nowSeconds) throw invalid("token is not valid yet");
    return jwt.payload;
  }

  async #reference(
    path: "oauth/token/reference" | "oauth/authorize",
    claims: Record<string, unknown>,
    sessionOptions?: SessionOptions,
  ): Promise<{ code: string; session?: DigimeSession }> {
    const keySetMark = this.#prefetchKeySet();
    const body: Record<string, unknown> = { agent: { sdk: this.#agent() } };
    if (sessionOptions) body.actions = sessionOptions;
    const response = parse(referenceResponseSchema, await this.#request({ path, method: "POST", claims, body, tokenSubject: "access_token" }), path);
    const verified = await this.verifyToken(response.token, path, keySetMark);
    const code = path === "oauth/authorize"
      ? parse(authorizePayloadSchema, verified, path).preauthorization_code
      : parse(referencePayloadSchema, verified, path).reference_code;
    return response.session ? { code, session: response.session } : { code };
  }

  async #accountReference(accountId: string): Promise<string> {
    const body = await this.#request({ path: "reference", method: "POST", claims: {}, body: { type: "accountId", value: accountId } });
    return parse(accountReferenceSchema, body, "reference").id;
  }

  async #userToken(spec: CallSpec): Promise<UserAccessToken> {
    const keySetMark = this.#prefetchKeySet();
    const { token } = parse(tokenResponseSchema, await this.#request(spec), spec.path);
    const payload = parse(userTokenPayloadSchema, await this.verifyToken(token, spec.path, keySetMark), spec.path);
    return {
      accessToken: { value: payload.access_token.value, expiry: payload.access_token.expires_on },
      refreshToken: { value: payload.refresh_token.value, expiry: payload.refresh_token.expires_on },
      user: { id: payload.sub },
      ...(payload.consentid === undefined ? {} : { consentid: payload.consentid }),
    };
  }

  /**
   * Cold path: the token this call returns is verified against digi.me's key set
   * (`{apiBase}jwks/oauth`, the `jku` digi.me names), so loading starts beside the
   * call instead of after it. Nothing happens when the set is cached. Returns
   * the call's mark for `verifyToken`.
   */
  #prefetchKeySet(): number {
    return this.#keySets.prefetch(new URL(KEY_SET_PATH, this.apiBaseUrl).toString());
  }

  #agent(): Record<string, unknown> {
    const agent = this.#options.agent ?? DEFAULT_AGENT;
    return { name: agent.name, version: agent.version, meta: agent.meta ?? {} };
  }

  async #signRequestJwt(claims: Record<string, unknown>): Promise<string> {
    let key: CryptoKey;
    try {
      key = await importPrivateKey(this.#options.privateKey);
    } catch (error) {
      throw new DigimeError({ kind: "configuration", message: (error as Error).message, cause: error });
    }
    return signJwt({ ...claims, client_id: this.clientId, nonce: randomAlphanumeric(32), timestamp: this.#now() }, key);
  }

  /**
   * One signed call under one deadline (`timeoutMs`). A GET is retried by
   * `GET_RETRY`, each attempt signed afresh (new nonce and timestamp), while
   * the wait still ends before the deadline; a POST is sent once.
   */
  async #request(spec: CallSpec): Promise<unknown> {
    const deadline = Date.now() + this.#timeoutMs;
    for (let retries = 0; ; retries++) {
      let answer: { response: Response; text: string } | undefined;
      let failure: unknown;
      try {
        answer = await this.#attempt(spec, deadline - Date.now());
      } catch (error) {
        failure = error;
      }
      const wait = spec.method === "GET" && retries < GET_RETRY.limit ? retryWait(retries, answer, failure) : undefined;
      if (wait === undefined || Date.now() + wait >= deadline) {
        if (answer) return this.#readJson(answer, spec);
        throw failure;
      }
      await this.#sleep(wait);
    }
  }

  async #attempt(spec: CallSpec, timeoutMs: number): Promise<{ response: Response; text: string }> {
    const jwt = await this.#signRequestJwt(spec.claims);
    const headers: Record<string, string> = { Authorization: `Bearer ${jwt}`, Accept: "application/json" };
    if (spec.body !== undefined || spec.jsonContentType) headers["Content-Type"] = "application/json";
    return this.#send(new URL(spec.path, this.apiBaseUrl), spec.path, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
    }, timeoutMs);
  }

  async #loadKeySet(url: string): Promise<unknown> {
    // No redirects: a redirect on the API origin must not lead verification to a foreign key set.
    const response = await this.#send(new URL(url), "jwks", { method: "GET", headers: { Accept: "application/json" }, redirect: "manual" });
    if (response.response.status >= 300 && response.response.status < 400) {
      throw new DigimeError({ kind: "invalid_response", message: `key set answered a redirect (${response.response.status}), refused`, status: response.response.status, call: "jwks" });
    }
    return this.#readJson(response, { path: "jwks", method: "GET", claims: {} });
  }

  /** `fetch` under the per-call deadline (or what is left of it), which also covers reading the body. */
  async #send(url: URL, call: string, init: RequestInit, timeoutMs = this.#timeoutMs): Promise<{ response: Response; text: string }> {
    const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
    try {
      const response = await this.#fetch(url.toString(), { ...init, signal });
      const text = await response.text();
      return { response, text };
    } catch (error) {
      if (signal.aborted) {
        throw new DigimeError({ kind: "timeout", message: `no answer within ${this.#timeoutMs} ms`, call, cause: error });
      }
      throw new DigimeError({ kind: "network", message: "could not reach digi.me", call, cause: error });
    }
  }

  #readJson({ response, text }: { response: Response; text: string }, spec: CallSpec): unknown {
    const call = spec.path.startsWith("permission-access/query/") ? "permission-access/query" : spec.path;
    let body: unknown;
    let parsed = false;
    try {
      body = JSON.parse(text);
      parsed = true;
    } catch {
      // handled below
    }
    if (!response.ok) throw apiError(response, parsed ? body : undefined, call, spec.tokenSubject);
    if (!parsed) {
      throw new DigimeError({ kind: "invalid_response", message: text === "" ? "empty body" : "body is not JSON", status: response.status, call });
    }
    return body;
  }
}

/**
 * The error of a non-2xx answer, read from the body only, as the official SDK
 * does (digi.me's `X-Error-*` headers are a convenience nothing relies on).
 */
function apiError(response: Response, body: unknown, call: string, fallbackSubject?: InvalidTokenSubject): DigimeError {
  const fromBody = apiErrorSchema.safeParse(body);
  if (!fromBody.success) {
    return new DigimeError({
      kind: "invalid_response",
      message: `HTTP ${response.status} without a digi.me error`,
      status: response.status,
      call,
    });
  }
  const { code, message, reference } = fromBody.data.error;
  const structured = typeof (body as { error?: unknown }).error === "object";
  let tokenSubject: InvalidTokenSubject | undefined;
  if (code === "InvalidToken") {
    const named = /\((access_token|refresh_token)\)/.exec(message)?.[1] as InvalidTokenSubject | undefined;
    tokenSubject = named ?? fallbackSubject;
  }
  return new DigimeError({ kind: "api", code, message, reference, status: response.status, tokenSubject, call, structured });
}

/**
 * How long to wait before retrying a GET, or `undefined` not to retry: a
 * network error, or a status of `GET_RETRY.statuses` (waiting `Retry-After`
 * when it says, else the backoff). A timeout has used the whole deadline.
 */
function retryWait(retries: number, answer: { response: Response } | undefined, failure: unknown): number | undefined {
  const backoff = GET_RETRY.backoffMs[retries] ?? GET_RETRY.backoffMs.at(-1)!;
  if (!answer) return failure instanceof DigimeError && failure.kind === "network" ? backoff : undefined;
  if (!GET_RETRY.statuses.includes(answer.response.status)) return undefined;
  return retryAfterMs(answer.response.headers.get("Retry-After")) ?? backoff;
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; `undefined` when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function parse<S extends z.ZodMiniType>(schema: S, value: unknown, call: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    throw new DigimeError({ kind: "invalid_response", message: `unexpected response shape at ${where}`, call });
  }
  return result.data;
}

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

/** A PKCE verifier: base64url of 32 random alphanumeric characters, as the official SDK makes it. */
export function createCodeVerifier(): string {
  return toBase64Url(utf8(randomAlphanumeric(32)));
}

/** The S256 `code_challenge` of a verifier: base64url(SHA-256(verifier)). */
export async function codeChallenge(codeVerifier: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(codeVerifier))));
}
