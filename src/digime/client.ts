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
/** Deadline for one upstream call, including reading its body. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * The `agent` block sent by default. It names the official Node SDK release
 * whose wire format this client reproduces, so digi.me's SDK checks accept it;
 * `meta.client` says who really sent it.
 */
export const DEFAULT_AGENT: AgentInfo = {
  name: "node",
  version: "16.1.5",
  meta: { client: "digime-reauth-edge" },
};

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
  /** Per-call deadline in milliseconds; default `DEFAULT_TIMEOUT_MS`. */
  timeoutMs?: number;
  agent?: AgentInfo;
  /** Injectable for tests; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Injectable clock in milliseconds; defaults to `Date.now`. */
  now?: () => number;
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
  serviceId?: number;
  locale?: string;
}

interface CallSpec {
  /** Path below the API base, which also names the call in errors. */
  path: string;
  method: "GET" | "POST";
  claims: Record<string, unknown>;
  body?: unknown;
  /** Which token an `InvalidToken` on this call is about when the message does not say. */
  tokenSubject?: InvalidTokenSubject;
  /** Whether a network error or 5xx may be retried (idempotent reads only). */
  retry?: boolean;
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
    const { referenceCode, session } = await this.#reference("oauth/token/reference", {
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
   * Starts account reauthorization: the reference code and the account
   * reference are independent, so both calls run at once.
   */
  async getReauthorizeAccountUrl(options: ReauthorizeAccountUrlOptions): Promise<AccountUrlResult> {
    const [{ referenceCode, session }, accountRef] = await Promise.all([
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

  /** Starts full authorization (`oauth/authorize`), the way out when reauthorization is impossible. */
  async getAuthorizeUrl(options: AuthorizeUrlOptions): Promise<PkceUrlResult> {
    const codeVerifier = createCodeVerifier();
    const claims: Record<string, unknown> = {
      code_challenge: await codeChallenge(codeVerifier),
      code_challenge_method: "S256",
      redirect_uri: options.callbackUrl,
      state: options.state,
    };
    if (options.userAccessToken) claims.access_token = options.userAccessToken;
    const { referenceCode, session } = await this.#reference("oauth/authorize", claims, options.sessionOptions);
    const url = new URL("authorize", this.onboardBaseUrl);
    url.searchParams.set("code", referenceCode);
    if (options.serviceId !== undefined) url.searchParams.set("service", String(options.serviceId));
    if (options.locale) url.searchParams.set("lng", options.locale);
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
      tokenSubject: "refresh_token",
    });
  }

  /** Lists the user's accounts. */
  async readAccounts(userAccessToken: string): Promise<DigimeAccount[]> {
    const body = await this.#request({
      path: "permission-access/accounts",
      method: "GET",
      claims: { access_token: userAccessToken },
      retry: true,
    });
    return parse(accountsSchema, body, "permission-access/accounts") as DigimeAccount[];
  }

  /** Reads a session's sync status and file list (where 511 shows up). */
  async readFileList(options: { sessionKey: string; userAccessToken: string }): Promise<FileListResponse> {
    const path = `permission-access/query/${encodeURIComponent(options.sessionKey)}`;
    const body = await this.#request({ path, method: "GET", claims: { access_token: options.userAccessToken }, retry: true });
    return parse(fileListSchema, body, "permission-access/query") as FileListResponse;
  }

  /**
   * Verifies a token digi.me issued: PS512 only, `jku` on the API origin, a
   * known `kid`, a valid signature. Returns its payload.
   */
  async verifyToken(token: string, call: string): Promise<Record<string, unknown>> {
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
    if (keySetUrl.origin !== this.apiBaseUrl.origin) throw invalid(`token jku is not on ${this.apiBaseUrl.origin}`);
    const key = await this.#keySets.getKey(keySetUrl.toString(), kid);
    if (!(await verifyPs512(jwt, key))) throw invalid("token signature does not verify");
    const exp = jwt.payload.exp;
    if (typeof exp === "number" && exp * 1000 < this.#now()) throw invalid("token has expired");
    return jwt.payload;
  }

  async #reference(
    path: "oauth/token/reference" | "oauth/authorize",
    claims: Record<string, unknown>,
    sessionOptions?: SessionOptions,
  ): Promise<{ referenceCode: string; session: DigimeSession }> {
    this.#prefetchKeySet();
    const body: Record<string, unknown> = { agent: { sdk: this.#agent() } };
    if (sessionOptions) body.actions = sessionOptions;
    const response = parse(referenceResponseSchema, await this.#request({ path, method: "POST", claims, body, tokenSubject: "access_token" }), path);
    const payload = parse(referencePayloadSchema, await this.verifyToken(response.token, path), path);
    return { referenceCode: payload.reference_code, session: response.session };
  }

  async #accountReference(accountId: string): Promise<string> {
    const body = await this.#request({ path: "reference", method: "POST", claims: {}, body: { type: "accountId", value: accountId } });
    return parse(accountReferenceSchema, body, "reference").id;
  }

  async #userToken(spec: CallSpec): Promise<UserAccessToken> {
    this.#prefetchKeySet();
    const { token } = parse(tokenResponseSchema, await this.#request(spec), spec.path);
    const payload = parse(userTokenPayloadSchema, await this.verifyToken(token, spec.path), spec.path);
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
   * call instead of after it. Nothing happens when the set is cached.
   */
  #prefetchKeySet(): void {
    this.#keySets.prefetch(new URL(KEY_SET_PATH, this.apiBaseUrl).toString());
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

  /** One signed call, with at most one retry for idempotent reads. */
  async #request(spec: CallSpec): Promise<unknown> {
    try {
      return await this.#attempt(spec);
    } catch (error) {
      const retryable =
        spec.retry === true &&
        error instanceof DigimeError &&
        (error.kind === "network" || (error.kind === "api" && (error.status ?? 0) >= 500));
      if (!retryable) throw error;
      return this.#attempt(spec); // signed afresh: a new nonce and timestamp
    }
  }

  async #attempt(spec: CallSpec): Promise<unknown> {
    const jwt = await this.#signRequestJwt(spec.claims);
    const headers: Record<string, string> = { Authorization: `Bearer ${jwt}`, Accept: "application/json" };
    if (spec.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await this.#send(new URL(spec.path, this.apiBaseUrl), spec.path, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
    });
    return this.#readJson(response, spec);
  }

  async #loadKeySet(url: string): Promise<unknown> {
    const response = await this.#send(new URL(url), "jwks", { method: "GET", headers: { Accept: "application/json" } });
    return this.#readJson(response, { path: "jwks", method: "GET", claims: {} });
  }

  /** `fetch` under the per-call deadline, which also covers reading the body. */
  async #send(url: URL, call: string, init: RequestInit): Promise<{ response: Response; text: string }> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
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
      // handled below: an error status may still carry X-Error-* headers
    }
    if (!response.ok) throw apiError(response, parsed ? body : undefined, call, spec.tokenSubject);
    if (!parsed) {
      throw new DigimeError({ kind: "invalid_response", message: text === "" ? "empty body" : "body is not JSON", status: response.status, call });
    }
    return body;
  }
}

function apiError(response: Response, body: unknown, call: string, fallbackSubject?: InvalidTokenSubject): DigimeError {
  const fromBody = apiErrorSchema.safeParse(body);
  const code = fromBody.success ? fromBody.data.error.code : response.headers.get("X-Error-Code");
  if (!code) {
    return new DigimeError({
      kind: "invalid_response",
      message: `HTTP ${response.status} without a digi.me error`,
      status: response.status,
      call,
    });
  }
  const message = (fromBody.success ? fromBody.data.error.message : response.headers.get("X-Error-Message")) ?? "";
  const reference = (fromBody.success ? fromBody.data.error.reference : response.headers.get("X-Error-Reference")) ?? undefined;
  let tokenSubject: InvalidTokenSubject | undefined;
  if (code === "InvalidToken") {
    const named = /\((access_token|refresh_token)\)/.exec(message)?.[1] as InvalidTokenSubject | undefined;
    tokenSubject = named ?? fallbackSubject;
  }
  return new DigimeError({ kind: "api", code, message, reference, status: response.status, tokenSubject, call });
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
