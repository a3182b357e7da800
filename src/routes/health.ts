/**
 * GET /healthz: liveness and a configuration check. Anyone sees the status;
 * the configuration and the names of its problems (never a secret) only a
 * caller with an API key, since they map the deployment (application and
 * contract ids, return origins, the webhook receiver, key ids).
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import { ConfigError, describeConfig, developmentModeProblems, operatorApiKeys, parseConfig, type Config } from "../config.ts";
import { importPrivateKey } from "../digime/keys.ts";
import type { AppEnv } from "../env.ts";
import { log } from "../log.ts";
import { presentsApiKey } from "../middleware/api-key.ts";
import { describe } from "../schemas.ts";
import { webhookSigningProblems } from "../webhooks/delivery.ts";
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
  description:
    "Without credentials: `{ status }` only. With `Authorization: Bearer <API key>` (one of `API_KEYS`, read on its own so that a configuration failing elsewhere " +
    "still shows its problems; outside an honoured development mode not the published development key or a placeholder key): also `config` " +
    "(no secret) when configured, or `problems` naming the variables (never their values) when not. A misconfiguration is also logged " +
    "(`configuration_problems`). Unhealthy when the configuration is refused, the contract key does not import, or no test webhook signature " +
    "can be produced with `WEBHOOK_SECRET`.",
  security: [{}, { ApiKey: [] }],
  responses: {
    200: json("Configured: `config` for a caller with an API key", HealthSchema),
    503: json("Misconfigured: `problems` names the variables, for a caller with an API key", HealthSchema),
  },
});

/** The routes of this module, for the OpenAPI document. */
export const healthRouteSpecs: RouteSpec[] = [health];

/** What stands between this configuration and serving this request, beyond parsing it. */
async function runtimeProblems(config: Config, requestUrl: string): Promise<string[]> {
  const problems = developmentModeProblems(config, requestUrl);
  try {
    await importPrivateKey(config.privateKey);
  } catch (error) {
    problems.push(`DIGIME_PRIVATE_KEY: ${(error as Error).message}`);
  }
  problems.push(...webhookSigningProblems(config.webhooks));
  return problems;
}

/** The health route. */
export function healthRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, health, async (c) => {
    let config: Config | undefined;
    let problems: string[];
    try {
      config = parseConfig(c.env);
      problems = await runtimeProblems(config, c.req.url);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    const operator = await presentsApiKey(c.req.header("Authorization"), operatorApiKeys(c.env, c.req.url));
    if (problems.length) {
      log({ logLevel: c.env.LOG_LEVEL, requestId: c.get("requestId") }, "error", "configuration_problems", { problems });
      return c.json({ status: "misconfigured" as const, ...(operator ? { problems } : {}) }, 503);
    }
    return c.json({ status: "ok" as const, ...(operator && config ? { config: describeConfig(config) } : {}) }, 200);
  });
  return app;
}
