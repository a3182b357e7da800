/**
 * GET /healthz: liveness and a configuration check that names problems but
 * reveals no secret.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { ConfigError, describeConfig, developmentModeProblems, parseConfig } from "../config.ts";
import { importPrivateKey } from "../digime/keys.ts";
import type { AppEnv } from "../env.ts";
import { describe } from "../schemas.ts";
import { defineRoute, json, mount, type RouteSpec } from "./define.ts";

const HealthSchema = describe(
  z.object({
    status: z.enum(["ok", "misconfigured"]),
    problems: z.optional(z.array(z.string())),
    config: z.optional(z.record(z.string(), z.unknown())),
  }),
  { id: "Health" },
);

const health = defineRoute({
  method: "get",
  path: "/healthz",
  tags: ["service"],
  summary: "Liveness and configuration check",
  responses: {
    200: json("Configured", HealthSchema),
    503: json("Misconfigured: `problems` names the variables", HealthSchema),
  },
});

/** The routes of this module, for the OpenAPI document. */
export const healthRouteSpecs: RouteSpec[] = [health];

/** The health route. */
export function healthRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, health, async (c) => {
    try {
      const config = parseConfig(c.env);
      const refused = developmentModeProblems(config, c.req.url);
      if (refused.length) return c.json({ status: "misconfigured" as const, problems: refused }, 503);
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
