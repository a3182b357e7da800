/**
 * Configuration: every var and secret parsed and validated in one place. A
 * missing or malformed value is reported by name (never by value), all
 * problems at once.
 */
import { DEFAULT_API_BASE_URL, DEFAULT_ONBOARD_BASE_URL, DEFAULT_TIMEOUT_MS } from "./digime/index.ts";
import { decodePem, pkcs8ToPkcs1Private } from "./digime/pem.ts";
import type { Env } from "./env.ts";
import { fromBase64, toBase64, utf8 } from "./digime/encoding.ts";
import { isLocalDevelopmentUrl, isLoopbackHost } from "./hosts.ts";
import { FLOW_TTL_DEFAULT_SECONDS, FLOW_TTL_MAX_SECONDS, KV_MIN_TTL_SECONDS, TOKEN_EXPIRING_NOTICE_DEFAULT_SECONDS, TOKEN_EXPIRING_NOTICE_MAX_SECONDS } from "./storage/keys.ts";

/** The location hints Durable Objects accept. */
export const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"] as const;
import { parseWebhookSettings, webhookProductionProblems, type WebhookSettings } from "./webhooks/settings.ts";
import { weakKeyReason } from "./weak-keys.ts";

/** A token-encryption key as configured: id and raw bytes. */
export interface EncryptionKeyConfig {
  id: string;
  raw: Uint8Array<ArrayBuffer>;
}

/** The validated configuration. */
export interface Config {
  applicationId: string;
  contractId: string;
  privateKey: string;
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

/** The local stack's RETURN_SIGNING_SECRET (scripts/stack.ts), base64 so the bundle does not carry it verbatim. */
export const DEV_RETURN_SIGNING_SECRET_BASE64 = "ZGV2LXJldHVybi1zaWduaW5nLXNlY3JldC0wMDAwMDAwMDAwMDAwMA==";
/**
 * The API key `npm start` uses and the README publishes, refused outside
 * development mode; kept base64-encoded so the bundle carries no development
 * credential verbatim (test/node/bundle.test.ts).
 */
export const DEV_API_KEY_BASE64 = "ZGV2LWFwaS1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA==";

/**
 * The committed development contract key (mock-server/keys/), recognised
 * without bundling it: the first 48 bytes of its PKCS#1 DER (the DER header
 * and 296 bits of the modulus; DER is canonical, so the same key always
 * encodes the same way, whether it arrives as PKCS#1 or PKCS#8).
 */
export const DEV_CONTRACT_KEY_FINGERPRINT = "MIIEpAIBAAKCAQEArIXO4KtnUaKMNAirUb+F/rydA5fjt7sPVhjN8RqiSHTzTqN8";

/** Thrown when configuration is missing or malformed; `problems` name the variables. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`configuration problems: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

function list(value: string | undefined): string[] {
  return (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

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

const cache = new WeakMap<object, Config>();

/**
 * Parses and validates the Worker's environment. Memoised per `env` object, so
 * the work happens once per isolate. Throws `ConfigError`.
 */
export function parseConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const problems: string[] = [];
  const required = (name: keyof Env): string => {
    const value = env[name];
    if (typeof value !== "string" || value.trim() === "") {
      problems.push(`${name} is missing`);
      return "";
    }
    return value.trim();
  };

  const applicationId = required("DIGIME_APPLICATION_ID");
  const contractId = required("DIGIME_CONTRACT_ID");
  const privateKey = required("DIGIME_PRIVATE_KEY");
  if (privateKey) {
    try {
      const { label } = decodePem(privateKey);
      if (label !== "RSA PRIVATE KEY" && label !== "PRIVATE KEY") problems.push("DIGIME_PRIVATE_KEY is not a private key PEM");
    } catch (error) {
      problems.push(`DIGIME_PRIVATE_KEY is malformed (${(error as Error).message})`);
    }
  }

  const apiKeys = list(required("API_KEYS"));
  if (env.API_KEYS?.trim() && apiKeys.length === 0) problems.push("API_KEYS holds no key (only commas and spaces)");
  if (env.API_KEYS && apiKeys.some((k) => k.length < MIN_API_KEY_LENGTH)) {
    problems.push(`API_KEYS: every key must be at least ${MIN_API_KEY_LENGTH} characters`);
  }

  const encryptionKeys: EncryptionKeyConfig[] = [];
  for (const entry of list(required("TOKEN_ENCRYPTION_KEYS"))) {
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
  for (const origin of list(required("ALLOWED_RETURN_ORIGINS"))) {
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

  const config: Config = {
    applicationId,
    contractId,
    privateKey,
    apiBaseUrl: baseUrl(env.DIGIME_API_BASE_URL, DEFAULT_API_BASE_URL, "DIGIME_API_BASE_URL", problems),
    onboardBaseUrl: baseUrl(env.DIGIME_ONBOARD_BASE_URL, DEFAULT_ONBOARD_BASE_URL, "DIGIME_ONBOARD_BASE_URL", problems),
    timeoutMs,
    apiKeys,
    encryptionKeys,
    publicBaseUrl,
    allowedReturnOrigins,
    flowTtlSeconds,
    tokenExpiringNoticeSeconds,
    ...(userObjectLocationHint ? { userObjectLocationHint } : {}),
    returnSigningSecret,
    ...(webhooks ? { webhooks } : {}),
    developmentMode: env.DEVELOPMENT_MODE === "true",
  };
  if (!config.developmentMode) problems.push(...productionProblems(config));
  else if (publicBaseUrl && !isLocalDevelopmentUrl(publicBaseUrl)) {
    // One stray variable must not switch every refusal off on a deployed Worker.
    problems.push('DEVELOPMENT_MODE="true" is honoured only for a PUBLIC_BASE_URL on this machine or a reserved test name (.test, .example, .localhost, .invalid); remove it from this deployment');
  }
  if (!env.REAUTH_KV) problems.push("REAUTH_KV (KV namespace binding) is missing");
  if (problems.length) throw new ConfigError(problems);
  cache.set(env, config);
  return config;
}

/**
 * Development mode is honoured only for a request that itself came to this
 * machine or a reserved test name, not only for a local PUBLIC_BASE_URL: a
 * deployed Worker given a copied local configuration would otherwise serve
 * the token API to the published development key. Checked per request (the
 * parsed configuration is shared by every request of an isolate). Cloudflare
 * picks the Worker by the request's host (its route or custom domain), so a
 * deployed Worker sees its own public host here, not a loopback one.
 */
export function developmentModeProblems(config: Config, requestUrl: string): string[] {
  if (!config.developmentMode || isLocalDevelopmentUrl(requestUrl)) return [];
  const host = new URL(requestUrl).host;
  return [`DEVELOPMENT_MODE="true" is honoured only for requests to this machine or a reserved test name (.test, .example, .localhost, .invalid), and this request came to ${host}; remove DEVELOPMENT_MODE from this deployment`];
}

/**
 * The longest run of one character a random API key or secret may hold: 7.
 * The published development and test values (`dev-api-key-0000…`,
 * `test-key-aaaa…`, `…-secret-0000…`) and hand-typed placeholders have longer
 * runs; a random key has one of 8 with a chance of about 1 in 10^7 (hex).
 */
export const MAX_CHARACTER_RUN = 7;

const PLACEHOLDER_RUN = new RegExp(`(.)\\1{${MAX_CHARACTER_RUN}}`);

/**
 * Whether an API key is one production refuses: the published development
 * key or a placeholder (a long run of one character).
 */
function isWeakApiKey(key: string): boolean {
  return toBase64(utf8(key)) === DEV_API_KEY_BASE64 || PLACEHOLDER_RUN.test(key);
}

/**
 * The API keys that may read `/healthz`'s detail (the configuration and its
 * problems), from `API_KEYS` alone, so the operator can read the problems of
 * a configuration that fails elsewhere. Only keys of a valid length; outside
 * an honoured development mode (see `developmentModeProblems`) not the
 * published development key nor a placeholder, which anyone may know.
 */
export function operatorApiKeys(env: Env, requestUrl: string): string[] {
  const honoured = env.DEVELOPMENT_MODE === "true" && isLocalDevelopmentUrl(env.PUBLIC_BASE_URL?.trim() ?? "") && isLocalDevelopmentUrl(requestUrl);
  return list(env.API_KEYS).filter((key) => key.length >= MIN_API_KEY_LENGTH && (honoured || !isWeakApiKey(key)));
}

function isDevContractKey(pem: string): boolean {
  try {
    const { label, der } = decodePem(pem);
    const pkcs1 = label === "PRIVATE KEY" ? pkcs8ToPkcs1Private(der) : der;
    return toBase64(pkcs1.subarray(0, 48)) === DEV_CONTRACT_KEY_FINGERPRINT;
  } catch {
    return false; // a malformed key is reported on its own
  }
}

/**
 * What a production deployment must not run with: the published development
 * defaults (`npm start`'s API key, its encryption key of 32 bytes of 0x07, an
 * all-zero key or any other key of one repeated byte, the committed
 * development contract key) and `http:` URLs
 * (allowed only for return origins on this machine). Skipped when
 * `DEVELOPMENT_MODE="true"`, which only the local stack and the tests set.
 */
export function productionProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.apiKeys.some((k) => toBase64(utf8(k)) === DEV_API_KEY_BASE64)) problems.push("API_KEYS contains the published development key");
  else if (config.apiKeys.some((k) => PLACEHOLDER_RUN.test(k))) {
    problems.push(`API_KEYS: a key repeats one character more than ${MAX_CHARACTER_RUN} times in a row (a placeholder or test key, not a random one)`);
  }
  for (const key of config.encryptionKeys) {
    if (key.raw.every((b) => b === 0x07)) problems.push(`TOKEN_ENCRYPTION_KEYS: key "${key.id}" is the development key (32 bytes of 0x07)`);
    else if (key.raw.every((b) => b === 0)) problems.push(`TOKEN_ENCRYPTION_KEYS: key "${key.id}" is all zeros`);
    // The test suite's committed keys (0x01, 0x02) and any hand-typed placeholder: one byte repeated is no key.
    else if (key.raw.every((b) => b === key.raw[0])) problems.push(`TOKEN_ENCRYPTION_KEYS: key "${key.id}" is one repeated byte, not random`);
    else {
      // Two alternating bytes, a short pattern repeated, a few letters: made by hand, not random.
      const reason = weakKeyReason(key.raw);
      if (reason) problems.push(`TOKEN_ENCRYPTION_KEYS: key "${key.id}" is not random (${reason})`);
    }
  }
  if (config.privateKey && isDevContractKey(config.privateKey)) problems.push("DIGIME_PRIVATE_KEY is the committed development contract key");
  // Signed return and webhooks (issue 12): the local stack's secrets.
  if (config.returnSigningSecret && toBase64(utf8(config.returnSigningSecret)) === DEV_RETURN_SIGNING_SECRET_BASE64) problems.push("RETURN_SIGNING_SECRET is the development secret");
  else if (PLACEHOLDER_RUN.test(config.returnSigningSecret)) {
    problems.push(`RETURN_SIGNING_SECRET repeats one character more than ${MAX_CHARACTER_RUN} times in a row (a placeholder or test secret, not a random one)`);
  }
  // One secret in two roles: whoever holds an API key could sign returns the application trusts.
  if (config.returnSigningSecret && config.apiKeys.includes(config.returnSigningSecret)) {
    problems.push("RETURN_SIGNING_SECRET is one of the API_KEYS; give the signed return a secret of its own");
  }
  problems.push(...webhookProductionProblems(config.webhooks));
  const urls: Array<[string, string]> = [
    ["PUBLIC_BASE_URL", config.publicBaseUrl],
    ["DIGIME_API_BASE_URL", config.apiBaseUrl],
    ["DIGIME_ONBOARD_BASE_URL", config.onboardBaseUrl],
  ];
  for (const [name, value] of urls) if (value.startsWith("http:")) problems.push(`${name} must be https:// outside development mode`);
  for (const origin of config.allowedReturnOrigins) {
    const url = new URL(origin);
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
      problems.push(`ALLOWED_RETURN_ORIGINS: "${origin}" must be https:// (http:// only for localhost) outside development mode`);
    }
  }
  return problems;
}

/** The configuration as `/healthz` shows it: no secret, not even a prefix. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    applicationId: config.applicationId,
    contractId: config.contractId,
    apiBaseUrl: config.apiBaseUrl,
    onboardBaseUrl: config.onboardBaseUrl,
    timeoutMs: config.timeoutMs,
    publicBaseUrl: config.publicBaseUrl,
    allowedReturnOrigins: config.allowedReturnOrigins,
    flowTtlSeconds: config.flowTtlSeconds,
    tokenExpiringNoticeSeconds: config.tokenExpiringNoticeSeconds,
    userObjectLocationHint: config.userObjectLocationHint ?? "near the first caller",
    apiKeys: config.apiKeys.length,
    encryptionKeyIds: config.encryptionKeys.map((k) => k.id),
    // The receiver's origin only: a path could carry a token of the receiver's own.
    webhooks: config.webhooks ? new URL(config.webhooks.url).origin : "off",
    ...(config.developmentMode ? { developmentMode: true } : {}),
  };
}
