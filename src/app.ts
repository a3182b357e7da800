/**
 * Builds the Hono app: middleware, route groups, the OpenAPI document and the
 * error handler. `src/index.ts` lists the routes and exports the Worker.
 */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { AppEnv } from "./env.ts";
import { onError } from "./error-response.ts";
import { AppError } from "./errors.ts";
import { apiKeyAuth } from "./middleware/api-key.ts";
import { limitBody } from "./middleware/body-limit.ts";
import { requireJsonBody } from "./middleware/json-body.ts";
import { methodNotAllowed } from "./middleware/method-not-allowed.ts";
import { securityHeaders } from "./middleware/security-headers.ts";
import { withServices, type WithServicesOptions } from "./middleware/services.ts";
import { browserRoutes } from "./routes/browser.ts";
import { flowRoutes } from "./routes/flows.ts";
import { healthRoutes } from "./routes/health.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { reauthRoutes } from "./routes/reauth.ts";
import { dataRoutes } from "./routes/data.ts";
import { userRoutes } from "./routes/users.ts";

/** The largest JSON body the backend API accepts: 16 KiB. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The longest client `X-Request-Id` kept (letters, digits, `_`, `-`, `=`); anything else gets a generated id. */
export const MAX_REQUEST_ID_LENGTH = 64;

/** Builds the app. Tests pass a clock or a fetch; production uses the defaults. */
export function createApp(options: WithServicesOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId({ limitLength: MAX_REQUEST_ID_LENGTH }));
  app.use("*", securityHeaders());
  const limit = limitBody({
    maxBytes: MAX_BODY_BYTES,
    onTooLarge: () => {
      throw new AppError("payload_too_large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
    },
  });
  // The backend API authenticates before it reads a body: an unauthenticated client gets its
  // 401 without the Worker buffering (or draining, up to 64 MiB) what it sends.
  app.use("/v1/*", withServices(options));
  app.use("/v1/*", apiKeyAuth({ keys: (c) => c.var.config.apiKeys, contracts: (c, index) => c.var.config.apiKeyScopes[index]?.contracts }));
  app.use("/v1/*", limit);
  app.use("/v1/*", requireJsonBody());
  app.use("/reauth/*", limit);
  app.use("/reauth/*", withServices(options));

  app.route("/", healthRoutes());
  app.route("/", reauthRoutes());
  app.route("/", flowRoutes());
  app.route("/", userRoutes());
  app.route("/", dataRoutes());
  app.route("/", browserRoutes());
  app.route("/", openApiRoutes());

  // Answered, not thrown. Hono runs the not-found handler inside the innermost middleware
  // matching the path, and a throw from it is caught in that middleware's frame: under /v1/*
  // and /reauth/* that is a middleware inside securityHeaders, so a thrown 405 still gets
  // every header (checked with hono 4.13); on a path no other middleware matches (/favicon.ico,
  // POST /healthz) it is securityHeaders itself, whose headers the throw would skip.
  const wrongMethod = methodNotAllowed({ routes: () => app.routes });
  app.notFound((c) => onError(wrongMethod(c.req.method, c.req.path) ?? new AppError("not_found", "no such route"), c));
  app.onError(onError);
  return app;
}

