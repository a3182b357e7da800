/**
 * The one error type for expected failures, and the `onError` handler that
 * shapes every answer: JSON `{ error: { code, message } }` for the backend
 * API, a small HTML page for browser routes. Internal reasons go to the log.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DigimeError } from "./digime/index.ts";
import type { AppEnv } from "./env.ts";
import { log } from "./log.ts";
import { errorPage } from "./pages.ts";

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

/** An expected failure with a status and a stable code. */
export class AppError extends Error {
  override name = "AppError";
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly init: AppErrorInit;
  constructor(status: ContentfulStatusCode, code: string, message: string, init: AppErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = status;
    this.code = code;
    this.init = init;
  }
}

/** An `AppError` as it crosses from a user object to the Worker: RPC carries data, not classes. */
export interface WireError {
  status: ContentfulStatusCode;
  code: string;
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

/** The `AppError` a `WireError` stands for. */
export function fromWireError(wire: WireError): AppError {
  const { status, code, message, ...init } = wire;
  return new AppError(status, code, message, init);
}

/** Any thrown value as an `AppError`: digi.me failures mapped, anything else a 500. */
export function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof DigimeError) return fromDigimeError(error);
  return new AppError(500, "internal_error", "internal error", { cause: error });
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
    return new AppError(404, "account_not_found", "digi.me does not know this accountId for this user", {
      hint: "use an accountId from GET /v1/users/{userId}/reauth-status or from the user's account list",
      detail,
      extra: upstreamBody(error),
    });
  }
  if (error.call === "permission-access/query") {
    return new AppError(404, "session_not_found", "digi.me does not know this sessionKey for this user", {
      hint: "sessionKey must be the key of a session of this user's current library (a full authorization starts a new one); omit it to read accounts only",
      detail,
      extra: upstreamBody(error),
    });
  }
  return undefined;
}

/** Maps a digi.me client failure to what the edge answers. */
export function fromDigimeError(error: DigimeError): AppError {
  const detail = { kind: error.kind, upstreamCode: error.code, upstreamStatus: error.status, call: error.call, upstreamMessage: error.message, upstreamReference: error.reference };
  switch (error.kind) {
    case "timeout":
      return new AppError(504, "upstream_timeout", "digi.me did not answer in time", { retryable: true, detail, page: "digi.me did not answer in time. Please try again in a moment." });
    case "network":
      return new AppError(502, "upstream_unavailable", "digi.me could not be reached", { retryable: true, detail, page: "digi.me could not be reached. Please try again in a moment." });
    case "invalid_response":
      return new AppError(502, "upstream_invalid_response", "digi.me sent an answer that could not be trusted", { retryable: true, detail, page: "digi.me sent an answer we could not accept. Please try again." });
    case "configuration":
      return new AppError(500, "configuration_error", "the service is misconfigured", { detail });
    case "api": {
      if (error.isInvalidToken("refresh_token")) {
        return new AppError(409, "refresh_token_expired", "digi.me refused the user's refresh token", {
          hint: "start user reauthorization: POST /v1/reauth/user",
          detail,
          extra: upstreamBody(error),
        });
      }
      if (error.isInvalidToken()) {
        return new AppError(409, "invalid_token", "digi.me refused the user's access token; the user cannot be reauthorized", {
          hint: "full authorization is needed: retry POST /v1/reauth/user with allowFullAuthorization: true, or onboard the user again",
          detail,
          extra: upstreamBody(error),
        });
      }
      const mistake = callerMistake(error);
      if (mistake) return mistake;
      if ((error.status ?? 0) >= 500) {
        return new AppError(502, "upstream_error", "digi.me failed to answer", { retryable: true, detail, extra: upstreamBody(error), page: "digi.me is having trouble. Please try again in a moment." });
      }
      return new AppError(502, "upstream_rejected", "digi.me refused the request", { detail, extra: upstreamBody(error), page: "digi.me refused this step. Please go back to the application and try again." });
    }
  }
}

function isBrowserRoute(path: string): boolean {
  return path.startsWith("/reauth/");
}

/** The sentence for a browser request whose link was cut short or altered. */
const DAMAGED_LINK_PAGE = "This link is incomplete or damaged. Please go back to the application and start again.";

/** Sentences for errors that carry none of their own, by code: a person reads them, not a developer. */
const BROWSER_PAGES: Record<string, string> = {
  invalid_request: DAMAGED_LINK_PAGE,
  wrong_callback: DAMAGED_LINK_PAGE,
  missing_code: DAMAGED_LINK_PAGE,
  not_found: "There is no such page here. Please go back to the application.",
  method_not_allowed: "This page cannot be opened this way. Please go back to the application and start again.",
  payload_too_large: "This request was too large to handle. Please go back to the application and start again.",
  unsupported_media_type: "This request was sent in a form we do not accept. Please go back to the application and start again.",
};

/** The sentence for a server-side failure without one of its own. */
const SERVER_TROUBLE_PAGE = "Something went wrong on our side. Please try again in a moment; if it keeps happening, go back to the application.";

/**
 * Browser routes never show validation text or internal messages: a launch
 * link that is not a flow id is a link cut short, so it gets the
 * unknown-or-expired page; any other error without its own sentence gets a
 * plain one for its kind.
 */
function forBrowser(error: AppError, path: string): AppError {
  if (error.init.page || error.init.html) return error;
  if (error.code === "invalid_request" && path.startsWith("/reauth/launch/")) {
    return new AppError(404, "flow_not_found", "this flow is unknown or has expired", { page: FLOW_NOT_FOUND_PAGE, detail: { validation: error.message } });
  }
  const page = BROWSER_PAGES[error.code] ?? (error.status >= 500 ? SERVER_TROUBLE_PAGE : DAMAGED_LINK_PAGE);
  return new AppError(error.status, error.code, error.message, { ...error.init, page });
}

/** The sentence of the unknown-or-expired page. */
export const FLOW_NOT_FOUND_PAGE =
  "This reauthorization link has expired or is unknown. If you started it just now, wait a moment and reload; otherwise go back to the application and start again.";

function fromHttpException(error: HTTPException): AppError {
  if (error.status === 415) {
    return new AppError(415, "unsupported_media_type", "the request body must be JSON", { hint: "send the body as JSON with Content-Type: application/json" });
  }
  return new AppError(error.status as ContentfulStatusCode, "invalid_request", error.message || "invalid request");
}

/** Hono `onError`: every thrown error ends here. */
export function onError(error: Error, c: Context<AppEnv>): Response {
  let appError = error instanceof HTTPException && error.status < 500 ? fromHttpException(error) : asAppError(error);
  const browser = isBrowserRoute(c.req.path);
  if (browser) appError = forBrowser(appError, c.req.path);
  const level = appError.status >= 500 ? "error" : "warn";
  log({ logLevel: c.env?.LOG_LEVEL, requestId: c.get("requestId") }, level, "request_failed", {
    ...appError.init.detail,
    ...(appError.init.cause instanceof Error && appError.status >= 500 ? { cause: `${appError.init.cause.name}: ${appError.init.cause.message}` } : {}),
    // Last, so no detail can overwrite what the line is about: the HTTP status and the error code.
    status: appError.status,
    errorCode: appError.code,
    message: appError.message,
  });
  const headers: Record<string, string> = { ...appError.init.headers };
  if (appError.init.retryable) headers["Retry-After"] = "5";
  if (browser) {
    if (appError.init.contentSecurityPolicy) headers["Content-Security-Policy"] = appError.init.contentSecurityPolicy;
    const page = errorPage(appError.init.page ?? SERVER_TROUBLE_PAGE, { code: appError.code, requestId: c.get("requestId"), returnTo: c.get("flowReturnTo") });
    return c.html(appError.init.html ?? page, appError.status, headers);
  }
  const body: { error: Record<string, unknown> } = { error: { code: appError.code, message: appError.message, ...appError.init.extra } };
  if (appError.init.hint) body.error.hint = appError.init.hint;
  if (appError.init.retryable) body.error.retryable = true;
  return c.json(body, appError.status, headers);
}
