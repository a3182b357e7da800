/**
 * Webhook settings: WEBHOOK_URL and WEBHOOK_SECRET, both or neither. Without
 * them no event is enqueued or sent. Problems are reported by name, never by
 * value, like the rest of the configuration.
 */
import { fromBase64 } from "../digime/encoding.ts";
import { isLoopbackNetworkHost } from "../hosts.ts";

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
  let key: Uint8Array | undefined;
  try {
    key = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? fromBase64(secret.slice(WEBHOOK_SECRET_PREFIX.length)) : undefined;
  } catch {
    key = undefined;
  }
  if (!key || key.length < MIN_WEBHOOK_SECRET_BYTES) {
    problems.push(`WEBHOOK_SECRET must be ${WEBHOOK_SECRET_PREFIX} followed by the base64 of at least ${MIN_WEBHOOK_SECRET_BYTES} random bytes`);
  }
  if (!env.WEBHOOK_QUEUE) problems.push("WEBHOOK_QUEUE (Queues producer binding) is missing while WEBHOOK_URL is set");
  return { url, secret };
}

/**
 * What production refuses (the rest of the configuration's development
 * defaults are in config.ts): a WEBHOOK_SECRET of one repeated byte, such as
 * the local stack's (32 bytes of 0x09).
 */
export function webhookProductionProblems(settings: WebhookSettings | undefined): string[] {
  if (!settings) return [];
  let key: Uint8Array;
  try {
    key = fromBase64(settings.secret.slice(WEBHOOK_SECRET_PREFIX.length));
  } catch {
    return []; // already reported by parseWebhookSettings
  }
  return key.length > 0 && key.every((b) => b === key[0]) ? ["WEBHOOK_SECRET is a development secret (one repeated byte)"] : [];
}
