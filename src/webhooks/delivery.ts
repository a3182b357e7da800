/**
 * One delivery attempt: sign per Standard Webhooks (the `standardwebhooks`
 * package) and POST. The signature's timestamp is the attempt's, so a retry
 * hours later still verifies within the receiver's tolerance; the id and the
 * body are the same on every attempt.
 */
import { Webhook } from "standardwebhooks";
import type { WebhookSettings } from "./settings.ts";

/** How long the backend has to answer one attempt: 10 seconds. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** What an attempt came to. */
export interface DeliveryResult {
  ok: boolean;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why it failed without an answer (timeout, network). */
  error?: string;
}

/** What an attempt needs besides the settings. */
export interface DeliveryOptions {
  fetch: typeof fetch;
  now: () => number;
  timeoutMs?: number;
}

const signers = new Map<string, Webhook>();

function signer(secret: string): Webhook {
  let webhook = signers.get(secret);
  if (!webhook) signers.set(secret, (webhook = new Webhook(secret)));
  return webhook;
}

/** The headers of an attempt: `webhook-id`, `webhook-timestamp`, `webhook-signature`. */
export function signedHeaders(secret: string, id: string, payload: string, nowMs: number): Record<string, string> {
  const at = new Date(Math.floor(nowMs / 1000) * 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(at.getTime() / 1000),
    "webhook-signature": signer(secret).sign(id, at, payload),
  };
}

/** POSTs `payload` to the backend; a 2xx is delivered, anything else is retried later. Redirects are not followed. */
export async function deliver(settings: WebhookSettings, id: string, payload: string, options: DeliveryOptions): Promise<DeliveryResult> {
  const send = options.fetch; // called unbound: workerd's fetch refuses another `this`
  try {
    const response = await send(settings.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "User-Agent": "digime-reauth-edge-webhooks/1", ...signedHeaders(settings.secret, id, payload, options.now()) },
      body: payload,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? DELIVERY_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return { ok: response.status >= 200 && response.status < 300, status: response.status };
  } catch (error) {
    return { ok: false, error: (error as Error).name === "TimeoutError" ? "timeout" : `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/**
 * Signs a test message with the configured secret, as every delivery will:
 * a secret the signer cannot use would dead-letter every event, so
 * `/healthz` reports it. Empty when the signature comes out.
 */
export function webhookSigningProblems(settings: WebhookSettings | undefined): string[] {
  if (!settings) return [];
  try {
    signedHeaders(settings.secret, "msg_healthcheck", "{}", Date.now());
    return [];
  } catch {
    // Not the signer's message: a library's message could one day quote what it was given.
    return ["WEBHOOK_SECRET: the signer could not produce a test signature with it; every delivery would fail"];
  }
}
