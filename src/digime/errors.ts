/**
 * Errors raised by the digi.me client. Every failure is a `DigimeError` whose
 * `kind` says what went wrong; callers switch on `kind` (and, for `api`, on
 * `code`), never on messages.
 */

/** What went wrong, broadly. */
export type DigimeErrorKind =
  /** digi.me answered with an error (`{ error: { code, message } }` or `X-Error-*`). */
  | "api"
  /** The request did not reach digi.me or the connection broke. */
  | "network"
  /** No answer within the per-call deadline. */
  | "timeout"
  /** digi.me answered, but not with what it sends: bad JSON, wrong shape, bad signature. */
  | "invalid_response"
  /** The client is configured with something unusable (for example a malformed key). */
  | "configuration"
  /** A file digi.me served does not decrypt under the contract key (or is not a whole file). */
  | "undecryptable";

/** Which token an `InvalidToken` error is about. */
export type InvalidTokenSubject = "access_token" | "refresh_token";

/** Fields of an error raised by the client. */
export interface DigimeErrorInit {
  kind: DigimeErrorKind;
  message: string;
  /** digi.me's error code, for `api` errors (for example `InvalidToken`). */
  code?: string;
  /** digi.me's error reference, when it sent one. */
  reference?: string;
  /** HTTP status of digi.me's answer, when there was one. */
  status?: number;
  /** For `InvalidToken`: which token digi.me refused. */
  tokenSubject?: InvalidTokenSubject;
  /** The upstream call that failed, such as `oauth/token`. */
  call?: string;
  /** How long digi.me asked to wait before trying again (its `Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /**
   * For `api` errors: whether digi.me's body was the full `{ error: { code, message } }`
   * (true) or the bare `{ error: "<code>" }` (false), which the SDK's refresh rule
   * treats as "not a digi.me error".
   */
  structured?: boolean;
  cause?: unknown;
}

/** The one error type of the digi.me client. */
export class DigimeError extends Error {
  override name = "DigimeError";
  readonly kind: DigimeErrorKind;
  readonly code: string | undefined;
  readonly reference: string | undefined;
  readonly status: number | undefined;
  readonly tokenSubject: InvalidTokenSubject | undefined;
  readonly call: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly structured: boolean;

  constructor(init: DigimeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.code = init.code;
    this.reference = init.reference;
    this.status = init.status;
    this.tokenSubject = init.tokenSubject;
    this.call = init.call;
    this.retryAfterMs = init.retryAfterMs;
    this.structured = init.structured ?? init.kind === "api";
  }

  /** True for digi.me's `InvalidToken`, optionally only for the given token. */
  isInvalidToken(subject?: InvalidTokenSubject): boolean {
    return this.kind === "api" && this.code === "InvalidToken" && (subject === undefined || this.tokenSubject === subject);
  }
}

/** True when `error` is a `DigimeError`. */
export function isDigimeError(error: unknown): error is DigimeError {
  return error instanceof DigimeError;
}
