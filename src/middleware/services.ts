/**
 * Puts the validated configuration and the isolate's services on the context.
 * A configuration problem answers 503 naming the variables (never values).
 */
import type { MiddlewareHandler } from "hono";
import { ConfigError, developmentModeProblems, parseConfig } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import { getServices, type ServicesOptions } from "../services.ts";

/** Options of `withServices`: what tests inject. */
export type WithServicesOptions = ServicesOptions;

/** Parses configuration (once per isolate) and attaches services. */
export function withServices(options: WithServicesOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let config;
    try {
      config = parseConfig(c.env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new AppError(503, "configuration_error", `the service is misconfigured: ${error.problems.join("; ")}`, {
        page: "This service is not configured correctly. Please try again later.",
      });
    }
    // Per request, not per isolate: a development configuration serves only requests to this machine.
    const refused = developmentModeProblems(config, c.req.url);
    if (refused.length) {
      throw new AppError(503, "configuration_error", `the service is misconfigured: ${refused.join("; ")}`, {
        page: "This service is not configured correctly. Please try again later.",
      });
    }
    c.set("config", config);
    c.set("services", getServices(config, c.env.REAUTH_KV, { webhookQueue: c.env.WEBHOOK_QUEUE, ...options }));
    await next();
  };
}
