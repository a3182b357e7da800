/**
 * Webhook settings: WEBHOOK_URL and WEBHOOK_SECRET, both or neither. Without
 * them no event is enqueued or sent. Problems are reported by name, never by
 * value, like the rest of the configuration.
 */
import { fromBase64 } from "../digime/encoding.ts";
import { isLocalDevelopmentUrl, isLoopbackNetworkHost } from "../hosts.ts";
import { weakKeyReason } from "../weak-keys.ts";

/** Where events go and the secret that signs them (Standard Webhooks `whsec_…`). */
export interface WebhookSettings {
  url: string;
  secret: string;
}

/** The environment variables this module reads. */
export interface WebhookEnv {
  WEBHOOK_URL?: string;
  WEBHOOK_SECRET?: string;
  WEBHOOK_QUEUE?: unknown;
}

/** Standard Webhooks secrets carry this prefix before the base64 key. */
export const WEBHOOK_SECRET_PREFIX = "whsec_";
/** The shortest webhook key accepted: 24 bytes, the spec's lower bound. */
export const MIN_WEBHOOK_SECRET_BYTES = 24;

/**
 * Standard base64 as the signer's decoder (`@stablelib/base64`, used by
 * `new Webhook(secret)`) reads it without loss: the 64-letter alphabet only,
 * padding optional but, if present, complete (and at least 4 characters in
 * all, which `webhookKey` checks). `atob` is more forgiving (it skips
 * whitespace anywhere), which let a secret the signer throws on pass.
 */
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * The key a `whsec_` secret stands for, decoded exactly as `new Webhook(secret)`
 * would, or `undefined` when the signer would refuse it (or decode it
 * differently): no `whsec_` prefix, whitespace, another alphabet, broken padding.
 */
export function webhookKey(secret: string): Uint8Array | undefined {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return undefined;
  const text = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (text.length < 4 || !STRICT_BASE64.test(text)) return undefined;
  return fromBase64(text);
}

/**
 * Reads the webhook settings, pushing problems into `problems`; `undefined`
 * when webhooks are off. `http:` is accepted for loopback receivers only
 * (the local stack), `https:` anywhere.
 */
export function parseWebhookSettings(env: WebhookEnv, problems: string[]): WebhookSettings | undefined {
  const url = env.WEBHOOK_URL?.trim() ?? "";
  const secret = env.WEBHOOK_SECRET?.trim() ?? "";
  if (!url && !secret) return undefined;
  if (!url || !secret) {
    problems.push("WEBHOOK_URL and WEBHOOK_SECRET must be set together (or neither)");
    return undefined;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !(parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopbackNetworkHost(parsed.hostname))) || parsed.username || parsed.password) {
    problems.push("WEBHOOK_URL must be an https URL (http only for a loopback host)");
  }
  const key = webhookKey(secret);
  if (!key || key.length < MIN_WEBHOOK_SECRET_BYTES) {
    problems.push(`WEBHOOK_SECRET must be ${WEBHOOK_SECRET_PREFIX} followed by the base64 (no spaces or line breaks) of at least ${MIN_WEBHOOK_SECRET_BYTES} random bytes`);
  }
  if (!env.WEBHOOK_QUEUE) problems.push("WEBHOOK_QUEUE (Queues producer binding) is missing while WEBHOOK_URL is set");
  return { url, secret };
}

/**
 * What production refuses (the rest of the configuration's development
 * defaults are in src/config/production.ts): a WEBHOOK_SECRET that is not random (one
 * repeated byte, such as the local stack's 32 bytes of 0x09, or any other
 * pattern `weakKeyReason` sees), and a WEBHOOK_URL on this machine or under a
 * reserved test name, which no deployed backend can be.
 */
export function webhookProductionProblems(settings: WebhookSettings | undefined): string[] {
  if (!settings) return [];
  const problems: string[] = [];
  if (isLocalDevelopmentUrl(settings.url)) {
    problems.push("WEBHOOK_URL points at this machine or a reserved test name (.test, .example, .localhost, .invalid) outside development mode");
  }
  const key = webhookKey(settings.secret);
  const reason = key && weakKeyReason(key); // a malformed secret is reported by parseWebhookSettings
  if (reason === "one repeated byte") problems.push("WEBHOOK_SECRET is a development secret (one repeated byte)");
  else if (reason) problems.push(`WEBHOOK_SECRET is not random (${reason})`);
  return problems;
}
