/**
 * GET /healthz: liveness and a configuration check that names problems but
 * reveals no secret.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ConfigError, describeConfig, parseConfig } from "../config.ts";
import { importPrivateKey } from "../digime/keys.ts";
import type { AppEnv } from "../env.ts";

const HealthSchema = z
  .object({
    status: z.enum(["ok", "misconfigured"]),
    problems: z.array(z.string()).optional(),
    config: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("Health");

const health = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["service"],
  summary: "Liveness and configuration check",
  responses: {
    200: { description: "Configured", content: { "application/json": { schema: HealthSchema } } },
    503: { description: "Misconfigured: `problems` names the variables", content: { "application/json": { schema: HealthSchema } } },
  },
});

/** The health route. */
export function healthRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(health, async (c) => {
    try {
      const config = parseConfig(c.env);
      try {
        await importPrivateKey(config.privateKey);
      } catch (error) {
        return c.json({ status: "misconfigured" as const, problems: [`DIGIME_PRIVATE_KEY: ${(error as Error).message}`] }, 503);
      }
      return c.json({ status: "ok" as const, config: describeConfig(config) }, 200);
    } catch (error) {
      if (error instanceof ConfigError) return c.json({ status: "misconfigured" as const, problems: error.problems }, 503);
      throw error;
    }
  });
  return app;
}
