/**
 * Headers on every response: flow responses carry codes in their URLs, so
 * nothing is cached and no Referer leaks them onwards.
 */
import type { MiddlewareHandler } from "hono";

/** Options of `securityHeaders`. */
export interface SecurityHeadersOptions {
  /** Content-Security-Policy for HTML answers. */
  contentSecurityPolicy?: string;
}

/** Sets no-store, no-referrer, nosniff, frame denial and (on HTML) a strict CSP. */
export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler {
  const csp = options.contentSecurityPolicy ?? "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
  return async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("X-Frame-Options", "DENY");
    // A page that needs more (the token-recovery form posts back here) sets its own.
    if (c.res.headers.get("Content-Type")?.startsWith("text/html") && !c.res.headers.has("Content-Security-Policy")) {
      c.header("Content-Security-Policy", csp);
    }
  };
}
