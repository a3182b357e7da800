/**
 * How every error is answered (Hono's `onError`): JSON `{ error: { code,
 * message, hint?, retryable?, … } }` for the backend API, a small HTML page
 * for browser routes. Internal reasons (detail, cause) go to the log only.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "./env.ts";
import { AppError, asAppError, FLOW_NOT_FOUND_PAGE, type ErrorCode, type ErrorStatus } from "./errors.ts";
import { log } from "./log.ts";
import { errorPage } from "./pages.ts";

function isBrowserRoute(path: string): boolean {
  return path.startsWith("/reauth/");
}

/** The sentence for a browser request whose link was cut short or altered. */
const DAMAGED_LINK_PAGE = "This link is incomplete or damaged. Please go back to the application and start again.";

/** Sentences for errors that carry none of their own, by code: a person reads them, not a developer. */
const BROWSER_PAGES: Partial<Record<ErrorCode, string>> = {
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
    return new AppError("flow_not_found", "this flow is unknown or has expired", { page: FLOW_NOT_FOUND_PAGE, detail: { validation: error.message } });
  }
  const page = BROWSER_PAGES[error.code] ?? (error.status >= 500 ? SERVER_TROUBLE_PAGE : DAMAGED_LINK_PAGE);
  return AppError.withStatus(error.status, error.code, error.message, { ...error.init, page });
}

/** A Hono `HTTPException` under 500 (a body its validator could not parse): the caller's mistake, with its own status. */
function fromHttpException(error: HTTPException): AppError {
  if (error.status === 415) {
    return new AppError("unsupported_media_type", "the request body must be JSON", { hint: "send the body as JSON with Content-Type: application/json" });
  }
  // Hono's validators throw 400; any other 4xx keeps its status, as it always has.
  return AppError.withStatus(error.status as ErrorStatus, "invalid_request", error.message || "invalid request");
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
  // digi.me's own Retry-After, when it gave one, wins over the edge's default.
  if (appError.init.retryable) headers["Retry-After"] ??= "5";
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
