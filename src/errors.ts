/**
 * The one error type for expected failures: a stable code from one union
 * (`ErrorCode`), its HTTP status read from one table (`ERROR_STATUS`). Also
 * what of it crosses from a user object to the Worker, and the one place
 * digi.me's and storage's own failures become HTTP answers (`asAppError`).
 * How an error is answered (JSON or a page) is src/error-response.ts; this
 * module knows no Hono, so every layer may throw an `AppError`.
 */
import { DigimeError } from "./digime/index.ts";
import { StorageError } from "./storage/errors.ts";

/**
 * Every error code the edge answers, with its HTTP status: the wire's
 * `error.code` (JSON) or the page's quoted code (browser routes). A new code
 * is added here, and nowhere else decides its status.
 */
export const ERROR_STATUS = {
  // The request itself
  invalid_request: 400,
  invalid_return_to: 400,
  state_mismatch: 400,
  missing_code: 400,
  wrong_callback: 400,
  unauthorized: 401,
  browser_not_bound: 403,
  /** The API key may not use this contract (API_KEYS `key=contractA|…`). */
  contract_forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  // What the edge keeps
  contract_not_found: 404,
  token_not_found: 404,
  flow_not_found: 404,
  flow_completed: 409,
  flow_bound_elsewhere: 409,
  flow_not_awaiting_confirmation: 409,
  /** A conditional token write (`If-Match`, `If-None-Match: *`) found another version stored. */
  token_changed: 412,
  /** A token write over a stored token named no version to replace. */
  precondition_required: 428,
  // What digi.me said
  account_not_found: 404,
  session_not_found: 404,
  file_not_found: 404,
  /** `POST /v1/authorize` for a user whose token the edge already keeps. */
  token_exists: 409,
  invalid_token: 409,
  refresh_token_expired: 409,
  upstream_error: 502,
  upstream_unavailable: 502,
  upstream_invalid_response: 502,
  upstream_rejected: 502,
  upstream_timeout: 504,
  /** A file digi.me served does not decrypt under the contract key. */
  file_undecryptable: 502,
  // The edge's own trouble
  internal_error: 500,
  flow_corrupt: 500,
  storage_corrupt: 500,
  encryption_key_missing: 500,
  storage_unavailable: 503,
  token_not_stored: 503,
  /** 503 while the configuration is refused; 500 from the digi.me client (see `fromDigimeError`). */
  configuration_error: 503,
} as const satisfies Record<string, ErrorStatus>;

/** An error code the edge answers. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** The statuses an error answers with. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 412 | 413 | 415 | 428 | 500 | 502 | 503 | 504;

/** Fields of an `AppError`. */
export interface AppErrorInit {
  /** Extra guidance for the caller, such as what to do next. */
  hint?: string;
  /** Whether the same request may succeed if retried later. */
  retryable?: boolean;
  /** The sentence shown to a person on a browser route (defaults to `message`). */
  page?: string;
  /** Logged, never sent. */
  cause?: unknown;
  /** Logged, never sent. */
  detail?: Record<string, unknown>;
  /** Extra fields of the JSON error body (for example a token the caller must keep). */
  extra?: Record<string, unknown>;
  /** A whole HTML page for browser routes, instead of the one-sentence page. */
  html?: string;
  /** The Content-Security-Policy of that page. */
  contentSecurityPolicy?: string;
  /** Headers the answer carries (for example `Allow` on a 405). */
  headers?: Record<string, string>;
}

/** An expected failure: a stable code and the status `ERROR_STATUS` gives it. */
export class AppError extends Error {
  override name = "AppError";
  readonly status: ErrorStatus;
  readonly code: ErrorCode;
  readonly init: AppErrorInit;
  constructor(code: ErrorCode, message: string, init: AppErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = ERROR_STATUS[code];
    this.code = code;
    this.init = init;
  }

  /**
   * An error whose status is not its code's own: only where the API has
   * always answered so (the digi.me client's `configuration_error`, 500) or
   * where the status was decided elsewhere (an error back from a user
   * object, a Hono `HTTPException`'s own 4xx, a page made for a browser).
   */
  static withStatus(status: ErrorStatus, code: ErrorCode, message: string, init: AppErrorInit = {}): AppError {
    return Object.assign(new AppError(code, message, init), { status });
  }
}

/** An `AppError` as it crosses from a user object to the Worker: RPC carries data, not classes. */
export interface WireError {
  status: ErrorStatus;
  code: ErrorCode;
  message: string;
  hint?: string;
  retryable?: boolean;
  page?: string;
  extra?: Record<string, unknown>;
}

/** What of an `AppError` the caller may see (the cause and detail stay where they were logged). */
export function toWireError(error: AppError): WireError {
  const { hint, retryable, page, extra } = error.init;
  return {
    status: error.status,
    code: error.code,
    message: error.message,
    ...(hint ? { hint } : {}),
    ...(retryable ? { retryable } : {}),
    ...(page ? { page } : {}),
    ...(extra ? { extra } : {}),
  };
}

/** The `AppError` a `WireError` stands for, with the status the object decided. */
export function fromWireError(wire: WireError): AppError {
  const { status, code, message, ...init } = wire;
  return AppError.withStatus(status, code, message, init);
}

/** Any thrown value as an `AppError`: digi.me's and storage's failures mapped, anything else a 500. */
export function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof DigimeError) return fromDigimeError(error);
  if (error instanceof StorageError) return fromStorageError(error);
  return new AppError("internal_error", "internal error", { cause: error });
}

/** The page a person sees while storage cannot be reached. */
const STORAGE_UNAVAILABLE_PAGE = "We could not reach our storage. Please try again in a moment.";

/**
 * Maps a storage failure to what the edge answers, with storage's message:
 * unavailable is a retryable 503 with a page to try again; a record that
 * does not read, or was sealed with a key no longer configured, a 500.
 */
export function fromStorageError(error: StorageError): AppError {
  const init = { ...(error.cause === undefined ? {} : { cause: error.cause }), ...(error.detail ? { detail: error.detail } : {}) };
  switch (error.kind) {
    case "unavailable":
      return new AppError("storage_unavailable", error.message, { retryable: true, ...init, page: STORAGE_UNAVAILABLE_PAGE });
    case "corrupt":
      return new AppError("storage_corrupt", error.message, init);
    case "key_missing":
      return new AppError("encryption_key_missing", error.message, init);
  }
}

/**
 * What digi.me said, for the caller: its error code and reference (never its
 * message, which may quote what was sent). Support at digi.me finds a call by
 * its reference.
 */
function upstreamBody(error: DigimeError): Record<string, unknown> {
  return { upstream: { ...(error.code ? { code: error.code } : {}), ...(error.reference ? { reference: error.reference } : {}), ...(error.call ? { call: error.call } : {}) } };
}

/**
 * A 4xx from digi.me that names something the caller sent and digi.me does
 * not know: the caller's mistake, not digi.me's failure.
 */
function callerMistake(error: DigimeError): AppError | undefined {
  const detail = { kind: error.kind, upstreamCode: error.code, upstreamStatus: error.status, call: error.call, upstreamMessage: error.message, upstreamReference: error.reference };
  if (error.status !== 404) return undefined;
  if (error.call === "reference") {
    return new AppError("account_not_found", "digi.me does not know this accountId for this user", {
      hint: "use an accountId from GET /v1/users/{userId}/reauth-status or from the user's account list",
      detail,
      extra: upstreamBody(error),
    });
  }
  if (error.call === "permission-access/query/file" && !/session/i.test(error.code ?? "")) {
    return new AppError("file_not_found", "digi.me does not know this file in this session", {
      hint: "use a name from the session's file list (GET /v1/users/{userId}/sessions/{sessionKey}/files)",
      detail,
      extra: upstreamBody(error),
    });
  }
  if (error.call === "permission-access/query" || error.call === "permission-access/query/file") {
    return new AppError("session_not_found", "digi.me does not know this sessionKey for this user", {
      hint: "start a new session (POST /v1/users/{userId}/sessions): a sessionKey is one user's, of their current library (a full authorization starts a new one); GET /v1/users/{userId}/accounts also reads without one",
      detail,
      extra: upstreamBody(error),
    });
  }
  return undefined;
}

/**
 * Why digi.me refused a refresh token, from its message ("The token
 * (refresh_token) is expired" / "… is invalid"): `expired` (its lifetime ran
 * out), else `invalid` (unknown, spent elsewhere, revoked).
 */
export function refreshRefusalReason(error: DigimeError): "expired" | "invalid" {
  return /expired/i.test(error.message) ? "expired" : "invalid";
}

/** Maps a digi.me client failure to what the edge answers. */
export function fromDigimeError(error: DigimeError): AppError {
  const detail = { kind: error.kind, upstreamCode: error.code, upstreamStatus: error.status, call: error.call, upstreamMessage: error.message, upstreamReference: error.reference };
  switch (error.kind) {
    case "timeout":
      return new AppError("upstream_timeout", "digi.me did not answer in time", { retryable: true, detail, page: "digi.me did not answer in time. Please try again in a moment." });
    case "network":
      return new AppError("upstream_unavailable", "digi.me could not be reached", { retryable: true, detail, page: "digi.me could not be reached. Please try again in a moment." });
    case "invalid_response":
      return new AppError("upstream_invalid_response", "digi.me sent an answer that could not be trusted", { retryable: true, detail, page: "digi.me sent an answer we could not accept. Please try again." });
    case "configuration":
      // 500, not the table's 503: a setting passed parsing, yet the client cannot use it (the contract key does not import).
      return AppError.withStatus(500, "configuration_error", "the service is misconfigured", { detail });
    case "undecryptable":
      return new AppError("file_undecryptable", "the file digi.me served does not decrypt under the contract key", { detail });
    case "api": {
      if (error.isInvalidToken("refresh_token")) {
        return new AppError("refresh_token_expired", "digi.me refused the user's refresh token", {
          hint: "start user reauthorization: send `next` (POST /v1/reauth/user with its body), adding returnTo",
          detail,
          // `reason` as token.refresh_failed says it: `invalid` may need full authorization.
          extra: { ...upstreamBody(error), reason: refreshRefusalReason(error) },
        });
      }
      if (error.isInvalidToken()) {
        return new AppError("invalid_token", "digi.me refused the user's access token, so the user cannot be reauthorized with it", {
          hint: "start a full authorization: POST /v1/reauth/user with allowFullAuthorization: true (or connect the user again: POST /v1/authorize after deleting the token)",
          detail,
          extra: upstreamBody(error),
        });
      }
      const mistake = callerMistake(error);
      if (mistake) return mistake;
      if ((error.status ?? 0) >= 500 || error.status === 429) {
        // digi.me's Retry-After, passed on (in whole seconds) so the caller waits as long as digi.me asked.
        const headers = error.retryAfterMs === undefined ? {} : { headers: { "Retry-After": String(Math.ceil(error.retryAfterMs / 1000)) } };
        return new AppError("upstream_error", "digi.me failed to answer", { retryable: true, detail, extra: upstreamBody(error), page: "digi.me is having trouble. Please try again in a moment.", ...headers });
      }
      return new AppError("upstream_rejected", "digi.me refused the request", { detail, extra: upstreamBody(error), page: "digi.me refused this step. Please go back to the application and try again." });
    }
  }
}

/** The sentence of the unknown-or-expired page. */
export const FLOW_NOT_FOUND_PAGE =
  "This reauthorization link has expired or is unknown. If you started it just now, wait a moment and reload; otherwise go back to the application and start again.";
