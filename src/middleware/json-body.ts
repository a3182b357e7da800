/**
 * The backend API takes JSON bodies only: a body in another media type (or
 * none declared) is refused with 415 before any route parses it, saying what
 * to send instead.
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { AppError } from "../errors.ts";

/** Options of `requireJsonBody`. */
export interface RequireJsonBodyOptions {
  /** Methods whose requests carry a body (default POST, PUT, PATCH). */
  methods?: readonly string[];
}

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Refuses a request with a body that is not declared `application/json`: 415
 * `unsupported_media_type`. A request with no body at all and no Content-Type
 * (POST /v1/flows/{flowId}/confirm) passes; a route that needs a body refuses
 * its absence itself (400).
 */
export function requireJsonBody(options: RequireJsonBodyOptions = {}): MiddlewareHandler {
  const methods = new Set(options.methods ?? ["POST", "PUT", "PATCH"]);
  return async (c, next) => {
    // Only where a route answers this method: elsewhere the answer is 404 or 405, not 415.
    const routed = matchedRoutes(c).some((route) => route.method !== "ALL");
    if (routed && methods.has(c.req.method)) {
      const type = c.req.header("Content-Type");
      const bodiless = c.req.raw.body === null || c.req.header("Content-Length") === "0";
      if (type ? !JSON_TYPE.test(type) : !bodiless) {
        throw new AppError("unsupported_media_type", type ? `the request body is ${type.split(";")[0]}, not JSON` : "the request body has no Content-Type", {
          hint: "send the body as JSON with Content-Type: application/json",
        });
      }
    }
    await next();
  };
}
