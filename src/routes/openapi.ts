/**
 * GET /openapi.json: the OpenAPI document, generated at build time from the
 * route definitions (`npm run openapi`) and served as a static file.
 */
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import document from "../openapi.json" with { type: "json" };

/** The document's route (not itself documented). */
export function openApiRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let body: string | undefined; // serialised on first use, not at script start-up
  app.get("/openapi.json", (c) => c.body((body ??= JSON.stringify(document)), 200, { "Content-Type": "application/json" }));
  return app;
}
