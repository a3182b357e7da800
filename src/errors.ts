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

/** Maps a digi.me client failure to what the edge answers. */
export function fromDigimeError(error: DigimeError): AppError {
  const detail = { kind: error.kind, upstreamCode: error.code, upstreamStatus: error.status, call: error.call, upstreamMessage: error.message };
  switch (error.kind) {
    case "timeout":
      return new AppError(504, "upstream_timeout", "digi.me did not answer in time", { retryable: true, detail, page: "digi.me did not answer in time. Please try again in a moment." });
    case "network":
      return new AppError(502, "upstream_unavailable", "digi.me could not be reached", { retryable: true, detail, page: "digi.me could not be reached. Please try again in a moment." });
    case "invalid_response":
      return new AppError(502, "upstream_invalid_response", "digi.me sent an answer that could not be trusted", { retryable: true, detail, page: "digi.me sent an answer we could not accept. Please try again." });
    case "configuration":
      return new AppError(500, "configuration_error", "the service is misconfigured", { detail });
    case "api":
      if (error.isInvalidToken("refresh_token")) {
        return new AppError(409, "refresh_token_expired", "digi.me refused the user's refresh token", {
          hint: "start user reauthorization: POST /v1/reauth/user",
          detail,
        });
      }
      if (error.isInvalidToken()) {
        return new AppError(409, "invalid_token", "digi.me refused the user's access token; the user cannot be reauthorized", {
          hint: "full authorization is needed: retry POST /v1/reauth/user with allowFullAuthorization: true, or onboard the user again",
          detail,
        });
      }
      if ((error.status ?? 0) >= 500) {
        return new AppError(502, "upstream_error", "digi.me failed to answer", { retryable: true, detail, page: "digi.me is having trouble. Please try again in a moment." });
      }
      return new AppError(502, "upstream_rejected", "digi.me refused the request", { detail });
  }
}

function isBrowserRoute(path: string): boolean {
  return path.startsWith("/reauth/");
}

/** Hono `onError`: every thrown error ends here. */
export function onError(error: Error, c: Context<AppEnv>): Response {
  const appError =
    error instanceof AppError
      ? error
      : error instanceof DigimeError
        ? fromDigimeError(error)
        : error instanceof HTTPException && error.status < 500
          ? new AppError(error.status as ContentfulStatusCode, "invalid_request", error.message || "invalid request")
          : new AppError(500, "internal_error", "internal error", { cause: error });
  const level = appError.status >= 500 ? "error" : "warn";
  log(c, level, "request_failed", {
    ...appError.init.detail,
    ...(appError.init.cause instanceof Error && appError.status >= 500 ? { cause: `${appError.init.cause.name}: ${appError.init.cause.message}` } : {}),
    // Last, so no detail can overwrite what the line is about: the HTTP status and the error code.
    status: appError.status,
    errorCode: appError.code,
    message: appError.message,
  });
  const headers: Record<string, string> = {};
  if (appError.init.retryable) headers["Retry-After"] = "5";
  if (isBrowserRoute(c.req.path)) {
    if (appError.init.contentSecurityPolicy) headers["Content-Security-Policy"] = appError.init.contentSecurityPolicy;
    return c.html(appError.init.html ?? errorPage(appError.init.page ?? capitalize(appError.message), appError.code), appError.status, headers);
  }
  const body: { error: Record<string, unknown> } = { error: { code: appError.code, message: appError.message, ...appError.init.extra } };
  if (appError.init.hint) body.error.hint = appError.init.hint;
  if (appError.init.retryable) body.error.retryable = true;
  return c.json(body, appError.status, headers);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
}
