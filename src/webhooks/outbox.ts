/**
 * The producer side: what the request path calls when a flow ends, starts or
 * a token rotates. It only enqueues (one call to Queues, never to the
 * backend), never throws into the request (a failed enqueue is logged), and
 * is a no-op when webhooks are off.
 */
import type { UserAccessToken } from "../digime/index.ts";
import { log } from "../log.ts";
import type { Sealer } from "../storage/crypto.ts";
import type { FlowRecord } from "../storage/flows.ts";
import { flowEndedEvent, tokenRotatedEvent, type WebhookEvent } from "./events.ts";
import type { DeliverMessage, WebhookMessage } from "./messages.ts";
import type { WebhookSettings } from "./settings.ts";

/** What the outbox needs. */
export interface WebhookOutboxDeps {
  /** Absent when webhooks are off. */
  settings?: WebhookSettings;
  queue?: Queue<WebhookMessage>;
  sealer: Sealer;
  now: () => number;
}

/** The additional data a sealed payload is bound to: its webhook-id. */
function payloadContext(id: string): string {
  return `webhook:v1:${id}`;
}

/**
 * A flow ends once, so its event's id is derived from the flow: a duplicate
 * callback that re-announces the outcome reuses it and receivers de-duplicate.
 */
export function flowEventId(flowId: string, outcome: "succeeded" | "failed" | "expired"): string {
  return `msg_${flowId}_${outcome}`;
}

/** Enqueues webhook events. */
export class WebhookOutbox {
  readonly #deps: WebhookOutboxDeps;
  constructor(deps: WebhookOutboxDeps) {
    this.#deps = deps;
  }

  /** Whether events are sent at all (WEBHOOK_URL set). */
  get enabled(): boolean {
    return Boolean(this.#deps.settings && this.#deps.queue);
  }

  /** A flow was completed; `token` is the new token of a succeeded user flow. */
  async flowEnded(flow: FlowRecord, token?: UserAccessToken): Promise<void> {
    if (!this.enabled || flow.status === "pending") return;
    await this.#enqueue(flowEventId(flow.id, flow.status), flowEndedEvent(flow, this.#deps.now(), token), { flowId: flow.id });
  }

  /** A flow was started: check it at its expiry (delay = its TTL) and announce it if still unfinished. */
  async flowStarted(flow: FlowRecord): Promise<void> {
    if (!this.enabled) return;
    const now = this.#deps.now();
    const message: WebhookMessage = {
      v: 1,
      kind: "expiry-check",
      flow: { id: flow.id, kind: flow.kind, userId: flow.userId, ...(flow.accountId ? { accountId: flow.accountId } : {}), expiresAt: flow.expiresAt },
      enqueuedAt: now,
    };
    await this.#send(message, { delaySeconds: Math.max(0, Math.ceil((flow.expiresAt - now) / 1000)) }, { flowId: flow.id, type: "expiry-check" });
  }

  /** The edge rotated a user's token (a refresh). */
  async tokenRotated(userId: string, token: UserAccessToken): Promise<void> {
    if (!this.enabled) return;
    await this.#enqueue(`msg_${crypto.randomUUID().replaceAll("-", "")}`, tokenRotatedEvent(userId, token, this.#deps.now()), {});
  }

  /** Seals `event` as the payload of a delivery with `id`. */
  async deliveryMessage(id: string, event: WebhookEvent): Promise<DeliverMessage> {
    const payload = await this.#deps.sealer.seal(JSON.stringify(event), payloadContext(id));
    return { v: 1, kind: "deliver", id, type: event.type, payload, enqueuedAt: this.#deps.now() };
  }

  /** Enqueues a delivery built with `deliveryMessage`; throws when the queue refuses (the consumer retries). */
  async enqueueDelivery(message: DeliverMessage): Promise<void> {
    if (!this.enabled) throw new Error("webhooks are off");
    await this.#deps.queue!.send(message, { contentType: "json" });
  }

  /** Opens a delivery's payload: the exact JSON text to send. */
  openPayload(message: DeliverMessage): Promise<string> {
    return this.#deps.sealer.open(message.payload, payloadContext(message.id));
  }

  async #enqueue(id: string, event: WebhookEvent, fields: Record<string, unknown>): Promise<void> {
    await this.#send(await this.deliveryMessage(id, event), {}, { ...fields, webhookId: id, type: event.type });
  }

  async #send(message: WebhookMessage, options: QueueSendOptions, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.#deps.queue!.send(message, { contentType: "json", ...options });
    } catch (error) {
      // The outcome is recorded in KV already; only the push is lost. Never fail the request for it.
      log(undefined, "error", "webhook_enqueue_failed", { ...fields, cause: `${(error as Error).name}: ${(error as Error).message}` });
    }
  }
}
