/**
 * What a deployment must not run with: the production-refusal policy. Outside
 * development mode, the published development values, placeholders and
 * `http:` URLs are refused (`productionProblems`); development mode itself is
 * honoured only on this machine or a reserved test name, for the
 * configuration and for each request.
 */
import { toBase64, utf8 } from "../digime/encoding.ts";
import { decodePem, pkcs8ToPkcs1Private } from "../digime/pem.ts";
import type { Env } from "../env.ts";
import { isLocalDevelopmentUrl, isLoopbackHost } from "../hosts.ts";
import { webhookProductionProblems } from "../webhooks/settings.ts";
import { weakKeyReason } from "../weak-keys.ts";
import { commaList, MIN_API_KEY_LENGTH, type Config } from "./parse.ts";

/** The local stack's RETURN_SIGNING_SECRET (harness/stack.ts), base64 so the bundle does not carry it verbatim. */
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

/** The second committed development contract key (mock-server/keys/dev-contract-2.private.pem), recognised the same way. */
export const DEV_CONTRACT_2_KEY_FINGERPRINT = "MIIEpQIBAAKCAQEA7xKNOoIydxFBpjSKRKxHK4NU6eooJfCXKMrOM/2HJDaSdzal";

/**
 * What the configuration's mode refuses: outside development mode,
 * `productionProblems`; in it, a PUBLIC_BASE_URL that is not on this machine
 * or a reserved test name (one stray variable must not switch every refusal
 * off on a deployed Worker).
 */
export function modeProblems(config: Config): string[] {
  if (!config.developmentMode) return productionProblems(config);
  if (config.publicBaseUrl && !isLocalDevelopmentUrl(config.publicBaseUrl)) {
    return ['DEVELOPMENT_MODE="true" is honoured only for a PUBLIC_BASE_URL on this machine or a reserved test name (.test, .example, .localhost, .invalid); remove it from this deployment'];
  }
  return [];
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
  return commaList(env.API_KEYS).filter((key) => key.length >= MIN_API_KEY_LENGTH && (honoured || !isWeakApiKey(key)));
}

function isDevContractKey(pem: string): boolean {
  try {
    const { label, der } = decodePem(pem);
    const pkcs1 = label === "PRIVATE KEY" ? pkcs8ToPkcs1Private(der) : der;
    const fingerprint = toBase64(pkcs1.subarray(0, 48));
    return fingerprint === DEV_CONTRACT_KEY_FINGERPRINT || fingerprint === DEV_CONTRACT_2_KEY_FINGERPRINT;
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
  for (const contract of config.contracts) {
    if (!isDevContractKey(contract.privateKey)) continue;
    // Named as before for the one-contract setup; by contract when there are several.
    problems.push(
      config.contracts.length === 1 && contract.keyBinding === "DIGIME_PRIVATE_KEY"
        ? "DIGIME_PRIVATE_KEY is the committed development contract key"
        : `contract "${contract.id}": its key ${contract.keyBinding} is a committed development contract key`,
    );
  }
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
