/**
 * The configuration, in one call: `parseConfig` reads every var and secret
 * (config/parse.ts), applies the mode's policy (config/production.ts: what
 * production refuses, where development mode is honoured) and checks the
 * bindings, reporting all problems at once, by name, never by value.
 * `/healthz` shows it through config/health-view.ts. The names are
 * re-exported here, so this stays the one import for the configuration.
 */
import type { Env } from "./env.ts";
import { ConfigError, readConfig, type Config } from "./config/parse.ts";
import { modeProblems } from "./config/production.ts";

export { describeConfig } from "./config/health-view.ts";
export { ConfigError, LOCATION_HINTS, MIN_API_KEY_LENGTH, MIN_RETURN_SIGNING_SECRET_LENGTH, type Config, type EncryptionKeyConfig } from "./config/parse.ts";
export {
  DEV_API_KEY_BASE64,
  DEV_CONTRACT_KEY_FINGERPRINT,
  DEV_RETURN_SIGNING_SECRET_BASE64,
  developmentModeProblems,
  MAX_CHARACTER_RUN,
  operatorApiKeys,
  productionProblems,
} from "./config/production.ts";

const cache = new WeakMap<object, Config>();

/**
 * Parses and validates the Worker's environment. Memoised per `env` object, so
 * the work happens once per isolate. Throws `ConfigError`.
 */
export function parseConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const problems: string[] = [];
  const config = readConfig(env, problems);
  problems.push(...modeProblems(config));
  if (!env.REAUTH_KV) problems.push("REAUTH_KV (KV namespace binding) is missing");
  if (problems.length) throw new ConfigError(problems);
  cache.set(env, config);
  return config;
}
