/**
 * Reading the configuration: every var and secret parsed and validated, a
 * missing or malformed value reported by name (never by value), all problems
 * at once. What production refuses on top is production.ts; src/config.ts
 * puts the two together (`parseConfig`).
 */
import { DEFAULT_API_BASE_URL, DEFAULT_ONBOARD_BASE_URL, DEFAULT_TIMEOUT_MS } from "../digime/index.ts";
import { fromBase64 } from "../digime/encoding.ts";
import type { Env } from "../env.ts";
import { readApiKeyScopes, readContracts, type ApiKeyScope, type ContractConfig } from "./contracts.ts";
import {
  FLOW_TTL_DEFAULT_SECONDS,
  FLOW_TTL_MAX_SECONDS,
  KV_MIN_TTL_SECONDS,
  TOKEN_EXPIRING_NOTICE_DEFAULT_SECONDS,
  TOKEN_EXPIRING_NOTICE_MAX_SECONDS,
  TOKEN_KEEPALIVE_MAX_SECONDS,
  TOKEN_KEEPALIVE_MIN_SECONDS,
} from "../storage/keys.ts";
import { parseWebhookSettings, type WebhookSettings } from "../webhooks/settings.ts";

/** The location hints Durable Objects accept. */
export const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;

/** A token-encryption key as configured: id and raw bytes. */
export interface EncryptionKeyConfig {
  id: string;
  raw: Uint8Array<ArrayBuffer>;
}

/** The validated configuration. */
export interface Config {
  applicationId: string;
  /** The default contract's id (a request without `contractId` uses it). */
  contractId: string;
  /** The default contract's private key. */
  privateKey: string;
  /** Every contract the deployment serves, the default among them. */
  contracts: ContractConfig[];
  /** Each API key and the contracts it may use (none listed: all). */
  apiKeyScopes: ApiKeyScope[];
  apiBaseUrl: string;
  onboardBaseUrl: string;
  timeoutMs: number;
  apiKeys: string[];
  /** First is current (encrypts); all decrypt. */
  encryptionKeys: EncryptionKeyConfig[];
  /** Origin (and optional path) the edge is reached at, without trailing slash. */
  publicBaseUrl: string;
  allowedReturnOrigins: string[];
  flowTtlSeconds: number;
  /** How long before a refresh token expires the user's object sends `token.expiring` (seconds). */
  tokenExpiringNoticeSeconds: number;
  /**
   * Keep-alive: the user's object refreshes a stored token whose refresh token
   * expires within this many seconds (each refresh brings a new refresh token,
   * with a lifetime of its own); absent: off.
   */
  tokenKeepAliveSeconds?: number;
  /** Where new user objects are placed; absent: near their first caller (the backend). */
  userObjectLocationHint?: DurableObjectLocationHint;
  /** Signs the outcome on the redirect to returnTo (src/flows/signed-return.ts). */
  returnSigningSecret: string;
  /** Where webhook events go; absent when WEBHOOK_URL is not set (nothing is sent). */
  webhooks?: WebhookSettings;
  /** `DEVELOPMENT_MODE="true"`: the development defaults below are accepted (only for a local or reserved-name PUBLIC_BASE_URL). */
  developmentMode: boolean;
}

/** The shortest API key accepted: 32 characters. */
export const MIN_API_KEY_LENGTH = 32;

/** The shortest RETURN_SIGNING_SECRET accepted: 32 characters. */
export const MIN_RETURN_SIGNING_SECRET_LENGTH = 32;

/** Thrown when configuration is missing or malformed; `problems` name the variables. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`configuration problems: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

/** A comma-separated variable as its trimmed, non-empty items. */
export function commaList(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** An http(s) base URL with a trailing slash, or `fallback` and a problem. */
function baseUrl(value: string | undefined, fallback: string, name: string, problems: string[]): string {
  const raw = value?.trim() || fallback;
  try {
    const url = new URL(raw);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error();
    return url.toString().endsWith("/") ? url.toString() : `${url.toString()}/`;
  } catch {
    problems.push(`${name} is not an http(s) URL`);
    return fallback;
  }
}

/**
 * Reads the Worker's environment into a configuration, pushing what is
 * missing or malformed into `problems` (the configuration is then unusable).
 * The bindings and the mode's policy are checked by `parseConfig`.
 */
export function readConfig(env: Env, problems: string[]): Config {
  const required = (name: keyof Env): string => {
    const value = env[name];
    if (typeof value !== "string" || value.trim() === "") {
      problems.push(`${name} is missing`);
      return "";
    }
    return value.trim();
  };

  const applicationId = required("DIGIME_APPLICATION_ID");
  const { contracts, defaultContractId } = readContracts(env, problems);
  const defaultContract = contracts.find((c) => c.id === defaultContractId);

  const apiKeyScopes = readApiKeyScopes(commaList(required("API_KEYS")), contracts, problems);
  const apiKeys = apiKeyScopes.map((scope) => scope.key);
  if (env.API_KEYS?.trim() && apiKeys.length === 0) problems.push("API_KEYS holds no key (only commas and spaces)");
  if (env.API_KEYS && apiKeys.some((k) => k.length < MIN_API_KEY_LENGTH)) {
    problems.push(`API_KEYS: every key must be at least ${MIN_API_KEY_LENGTH} characters`);
  }

  const encryptionKeys: EncryptionKeyConfig[] = [];
  for (const entry of commaList(required("TOKEN_ENCRYPTION_KEYS"))) {
    const [id, material] = entry.split(":");
    let raw: Uint8Array<ArrayBuffer> | undefined;
    try {
      raw = material ? fromBase64(material) : undefined;
    } catch {
      raw = undefined;
    }
    if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || raw?.length !== 32) {
      problems.push("TOKEN_ENCRYPTION_KEYS: each entry must be keyId:base64 of 32 bytes");
      break;
    }
    if (encryptionKeys.some((k) => k.id === id)) problems.push(`TOKEN_ENCRYPTION_KEYS: key id "${id}" appears twice`);
    encryptionKeys.push({ id, raw });
  }

  let publicBaseUrl = required("PUBLIC_BASE_URL");
  if (publicBaseUrl) {
    try {
      const url = new URL(publicBaseUrl);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error();
      publicBaseUrl = url.toString().replace(/\/+$/, "");
      // Callback and launch URLs are built by appending paths: userinfo would ride along in
      // every link, and a query or fragment would swallow the appended path.
      if (url.username || url.password || /[?#]/.test(url.href)) {
        problems.push("PUBLIC_BASE_URL must be an origin and path only: no userinfo, query (?) or fragment (#)");
      }
    } catch {
      problems.push("PUBLIC_BASE_URL is not an http(s) URL");
    }
  }

  const allowedReturnOrigins: string[] = [];
  for (const origin of commaList(required("ALLOWED_RETURN_ORIGINS"))) {
    try {
      const url = new URL(origin);
      if ((url.protocol !== "https:" && url.protocol !== "http:") || url.origin !== origin.replace(/\/$/, "")) throw new Error();
      allowedReturnOrigins.push(url.origin);
    } catch {
      problems.push(`ALLOWED_RETURN_ORIGINS: "${origin}" is not an origin like https://app.example.com`);
    }
  }

  let flowTtlSeconds = FLOW_TTL_DEFAULT_SECONDS;
  if (env.FLOW_TTL_SECONDS !== undefined && env.FLOW_TTL_SECONDS !== "") {
    flowTtlSeconds = Number(env.FLOW_TTL_SECONDS);
    if (!Number.isInteger(flowTtlSeconds) || flowTtlSeconds < KV_MIN_TTL_SECONDS || flowTtlSeconds > FLOW_TTL_MAX_SECONDS) {
      problems.push(`FLOW_TTL_SECONDS must be an integer from ${KV_MIN_TTL_SECONDS} to ${FLOW_TTL_MAX_SECONDS}`);
    }
  }

  let tokenExpiringNoticeSeconds = TOKEN_EXPIRING_NOTICE_DEFAULT_SECONDS;
  if (env.TOKEN_EXPIRING_NOTICE_SECONDS !== undefined && env.TOKEN_EXPIRING_NOTICE_SECONDS !== "") {
    tokenExpiringNoticeSeconds = Number(env.TOKEN_EXPIRING_NOTICE_SECONDS);
    if (!Number.isInteger(tokenExpiringNoticeSeconds) || tokenExpiringNoticeSeconds < 0 || tokenExpiringNoticeSeconds > TOKEN_EXPIRING_NOTICE_MAX_SECONDS) {
      problems.push(`TOKEN_EXPIRING_NOTICE_SECONDS must be an integer from 0 to ${TOKEN_EXPIRING_NOTICE_MAX_SECONDS}`);
    }
  }

  let tokenKeepAliveSeconds: number | undefined;
  if (env.TOKEN_KEEPALIVE_SECONDS !== undefined && env.TOKEN_KEEPALIVE_SECONDS !== "") {
    tokenKeepAliveSeconds = Number(env.TOKEN_KEEPALIVE_SECONDS);
    if (!Number.isInteger(tokenKeepAliveSeconds) || tokenKeepAliveSeconds < TOKEN_KEEPALIVE_MIN_SECONDS || tokenKeepAliveSeconds > TOKEN_KEEPALIVE_MAX_SECONDS) {
      problems.push(`TOKEN_KEEPALIVE_SECONDS must be an integer from ${TOKEN_KEEPALIVE_MIN_SECONDS} to ${TOKEN_KEEPALIVE_MAX_SECONDS} (or unset: off)`);
    }
  }

  const hint = env.USER_OBJECT_LOCATION_HINT?.trim() ?? "";
  const userObjectLocationHint = (LOCATION_HINTS as readonly string[]).includes(hint) ? (hint as DurableObjectLocationHint) : undefined;
  if (hint !== "" && !userObjectLocationHint) problems.push(`USER_OBJECT_LOCATION_HINT must be one of ${LOCATION_HINTS.join(", ")}`);

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (env.DIGIME_TIMEOUT_MS !== undefined && env.DIGIME_TIMEOUT_MS !== "") {
    timeoutMs = Number(env.DIGIME_TIMEOUT_MS);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) problems.push("DIGIME_TIMEOUT_MS must be an integer from 100 to 60000");
  }

  // Signed return (issue 11) and webhooks (issue 12).
  const returnSigningSecret = required("RETURN_SIGNING_SECRET");
  if (returnSigningSecret && returnSigningSecret.length < MIN_RETURN_SIGNING_SECRET_LENGTH) {
    problems.push(`RETURN_SIGNING_SECRET must be at least ${MIN_RETURN_SIGNING_SECRET_LENGTH} characters`);
  }
  const webhooks = parseWebhookSettings(env, problems);

  return {
    applicationId,
    contractId: defaultContract?.id ?? "",
    privateKey: defaultContract?.privateKey ?? "",
    contracts,
    apiKeyScopes,
    apiBaseUrl: baseUrl(env.DIGIME_API_BASE_URL, DEFAULT_API_BASE_URL, "DIGIME_API_BASE_URL", problems),
    onboardBaseUrl: baseUrl(env.DIGIME_ONBOARD_BASE_URL, DEFAULT_ONBOARD_BASE_URL, "DIGIME_ONBOARD_BASE_URL", problems),
    timeoutMs,
    apiKeys,
    encryptionKeys,
    publicBaseUrl,
    allowedReturnOrigins,
    flowTtlSeconds,
    tokenExpiringNoticeSeconds,
    ...(tokenKeepAliveSeconds !== undefined ? { tokenKeepAliveSeconds } : {}),
    ...(userObjectLocationHint ? { userObjectLocationHint } : {}),
    returnSigningSecret,
    ...(webhooks ? { webhooks } : {}),
    developmentMode: env.DEVELOPMENT_MODE === "true",
  };
}
