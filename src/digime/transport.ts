/**
 * The signed transport: how one call reaches digi.me's API and how its answer
 * is read. Every attempt is signed with the contract key (a PS512 JWT with a
 * fresh nonce and timestamp), one deadline covers the whole call (retries and
 * reading the body included), GETs are retried as the official SDK retries
 * them, and every answer becomes JSON or a `DigimeError`. It knows the wire,
 * not the operations (client.ts) or what a token proves (verify.ts).
 */
import { DigimeError, type InvalidTokenSubject } from "./errors.ts";
import { signJwt } from "./jwt.ts";
import { importPrivateKey } from "./keys.ts";
import { randomAlphanumeric } from "./random.ts";
import { apiErrorSchema } from "./schemas.ts";

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

/** One API call: where, how, what is signed and what is sent. */
export interface CallSpec {
  /** Path below the API base, which also names the call in errors. */
  path: string;
  method: "GET" | "POST";
  claims: Record<string, unknown>;
  body?: unknown;
  /** Sends `Content-Type: application/json` even without a body, as the SDK's refresh does. */
  jsonContentType?: boolean;
  /** Which token an `InvalidToken` on this call is about when the message does not say. */
  tokenSubject?: InvalidTokenSubject;
  /** Told once the request has been handed to `fetch` (each attempt), so the caller can work while it is out. */
  onSent?: () => void;
  /** The call's name in errors, when it is not the path (a file under a session's path). */
  call?: string;
}

/** What the transport needs: the contract, the API base, the deadline and the runtime's hooks. */
export interface SignedTransportOptions {
  apiBaseUrl: URL;
  /** `<applicationId>_<contractId>`, the JWT's `client_id`. */
  clientId: string;
  /** Contract private key, PKCS#1 or PKCS#8 PEM. */
  privateKey: string;
  /** Per-call deadline in milliseconds, retries included. */
  timeoutMs: number;
  fetch: typeof fetch;
  /** The clock signed into each request (`timestamp`). */
  now: () => number;
  /** Waits between GET retries. */
  sleep: (ms: number) => Promise<void>;
}

/** An answer as received: the response and its whole body, read under the deadline. */
interface Answer {
  response: Response;
  text: string;
}

/** Signs, sends, retries and decodes calls to one contract's API. */
export class SignedTransport {
  readonly #options: SignedTransportOptions;
  constructor(options: SignedTransportOptions) {
    this.#options = options;
  }

  /**
   * One signed call under one deadline (`timeoutMs`). A GET is retried by
   * `GET_RETRY`, each attempt signed afresh (new nonce and timestamp), while
   * the wait still ends before the deadline; a POST is sent once. Returns the
   * answer's JSON; anything else throws a `DigimeError`.
   */
  async request(spec: CallSpec): Promise<unknown> {
    const deadline = Date.now() + this.#options.timeoutMs;
    for (let retries = 0; ; retries++) {
      let answer: Answer | undefined;
      let failure: unknown;
      try {
        answer = await this.#attempt(spec, deadline - Date.now());
      } catch (error) {
        failure = error;
      }
      const wait = spec.method === "GET" && retries < GET_RETRY.limit ? retryWait(retries, answer, failure) : undefined;
      if (wait === undefined || Date.now() + wait >= deadline) {
        if (answer) return readJson(answer, spec);
        throw failure;
      }
      await this.#options.sleep(wait);
    }
  }

  /**
   * A signed GET whose body is left unread: the `Response` once a 2xx's
   * headers arrived, for a caller that streams the body (a file). Retried as
   * any GET, under the deadline, which covers the headers only: a large body
   * streams for as long as it takes. A non-2xx is read whole and thrown as
   * `request` throws it.
   */
  async requestStream(spec: CallSpec & { method: "GET" }, accept: string): Promise<Response> {
    const deadline = Date.now() + this.#options.timeoutMs;
    for (let retries = 0; ; retries++) {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await this.#open(spec, deadline - Date.now(), accept);
      } catch (error) {
        failure = error;
      }
      if (response?.ok) return response;
      const answer = response ? { response, text: await response.text() } : undefined;
      const wait = retries < GET_RETRY.limit ? retryWait(retries, answer, failure) : undefined;
      if (wait === undefined || Date.now() + wait >= deadline) {
        if (answer) readJson(answer, spec); // throws digi.me's error
        throw failure;
      }
      await this.#options.sleep(wait);
    }
  }

  /** One signed attempt whose deadline ends when the headers arrive. */
  async #open(spec: CallSpec, timeoutMs: number, accept: string): Promise<Response> {
    const jwt = await this.#signRequestJwt(spec.claims);
    const call = spec.call ?? spec.path;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(1, timeoutMs));
    try {
      return await this.#options.fetch(new URL(spec.path, this.#options.apiBaseUrl).toString(), {
        method: "GET",
        headers: { Authorization: `Bearer ${jwt}`, Accept: accept },
        signal: abort.signal,
      });
    } catch (error) {
      if (abort.signal.aborted) throw new DigimeError({ kind: "timeout", message: `no answer within ${this.#options.timeoutMs} ms`, call, cause: error });
      throw new DigimeError({ kind: "network", message: "could not reach digi.me", call, cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * An unsigned GET of digi.me's key set (it is public), under the deadline
   * and never following a redirect: a redirect on the API origin must not
   * lead verification to a foreign key set.
   */
  async getKeySet(url: string): Promise<unknown> {
    const answer = await this.#send(new URL(url), "jwks", { method: "GET", headers: { Accept: "application/json" }, redirect: "manual" });
    if (answer.response.status >= 300 && answer.response.status < 400) {
      throw new DigimeError({ kind: "invalid_response", message: `key set answered a redirect (${answer.response.status}), refused`, status: answer.response.status, call: "jwks" });
    }
    return readJson(answer, { path: "jwks", method: "GET", claims: {} });
  }

  async #signRequestJwt(claims: Record<string, unknown>): Promise<string> {
    let key: CryptoKey;
    try {
      key = await importPrivateKey(this.#options.privateKey);
    } catch (error) {
      throw new DigimeError({ kind: "configuration", message: (error as Error).message, cause: error });
    }
    return signJwt({ ...claims, client_id: this.#options.clientId, nonce: randomAlphanumeric(32), timestamp: this.#options.now() }, key);
  }

  async #attempt(spec: CallSpec, timeoutMs: number): Promise<Answer> {
    const jwt = await this.#signRequestJwt(spec.claims);
    const headers: Record<string, string> = { Authorization: `Bearer ${jwt}`, Accept: "application/json" };
    if (spec.body !== undefined || spec.jsonContentType) headers["Content-Type"] = "application/json";
    return this.#send(new URL(spec.path, this.#options.apiBaseUrl), spec.path, {
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
    }, timeoutMs, spec.onSent);
  }

  /** `fetch` under the per-call deadline (or what is left of it), which also covers reading the body. */
  async #send(url: URL, call: string, init: RequestInit, timeoutMs = this.#options.timeoutMs, onSent?: () => void): Promise<Answer> {
    const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
    try {
      const answered = this.#options.fetch(url.toString(), { ...init, signal });
      onSent?.();
      const response = await answered;
      const text = await response.text();
      return { response, text };
    } catch (error) {
      if (signal.aborted) {
        throw new DigimeError({ kind: "timeout", message: `no answer within ${this.#options.timeoutMs} ms`, call, cause: error });
      }
      throw new DigimeError({ kind: "network", message: "could not reach digi.me", call, cause: error });
    }
  }
}

/** The answer's JSON, or the `DigimeError` it stands for (digi.me's own error, or an answer that is not JSON). */
function readJson({ response, text }: Answer, spec: CallSpec): unknown {
  const call = spec.call ?? (spec.path.startsWith("permission-access/query/") ? "permission-access/query" : spec.path);
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
  const retryAfter = retryAfterMs(response.headers.get("Retry-After"));
  return new DigimeError({ kind: "api", code, message, reference, status: response.status, tokenSubject, call, structured, ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }) });
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
