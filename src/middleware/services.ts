/**
 * Puts the validated configuration and the isolate's services on the context.
 * A configuration problem answers 503 `configuration_error` without naming
 * it: the caller is not authenticated yet, and the problems map the
 * deployment. They go to the log, and to an API-key holder on `/healthz`.
 */
import type { MiddlewareHandler } from "hono";
import { ConfigError, developmentModeProblems, parseConfig, type Config } from "../config.ts";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import { getServices, type Services, type ServicesOptions } from "../services.ts";

declare module "hono" {
  /** What `withServices` puts on the context of every /v1/* and /reauth/* request. */
  interface ContextVariableMap {
    /** The validated configuration. */
    config: Config;
    /** The isolate's services, built from it. */
    services: Services;
  }
}

/** Options of `withServices`: what tests inject. */
export type WithServicesOptions = ServicesOptions;

/** The answer to every request while the configuration has problems; `problems` are logged, not sent. */
function misconfigured(problems: string[]): AppError {
  return new AppError("configuration_error", "the service is misconfigured", {
    hint: "the operator finds the problems in the Worker's log (request_failed) and on GET /healthz with an API key",
    page: "This service is not configured correctly. Please try again later.",
    detail: { problems },
  });
}

/** Parses configuration (once per isolate) and attaches services. */
export function withServices(options: WithServicesOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let config;
    try {
      config = parseConfig(c.env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw misconfigured(error.problems);
    }
    // Per request, not per isolate: a development configuration serves only requests to this machine.
    const refused = developmentModeProblems(config, c.req.url);
    if (refused.length) throw misconfigured(refused);
    c.set("config", config);
    c.set("services", getServices(config, c.env, { webhookQueue: c.env.WEBHOOK_QUEUE, ...options }));
    await next();
  };
}
