/**
 * The producer side: what the Worker calls with the events a user object's
 * transition produced (a flow ended, a token rotated, a token about to
 * expire), and what the object's alarm calls. It only enqueues (one call to Queues, never to the
 * backend), never throws into the request (a failed enqueue is logged), and
 * is a no-op when webhooks are off.
 */
import { log } from "../log.ts";
import type { Sealer } from "../storage/crypto.ts";
import type { WebhookEvent } from "./events.ts";
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
export function flowEventId(flowId: string, outcome: "succeeded" | "failed" | "expired" | "awaiting_confirmation" | "pending"): string {
  return `msg_${flowId}_${outcome}`;
}

/** An event and its `webhook-id`, as the user objects produce them. */
export interface OutboundEvent {
  id: string;
  event: WebhookEvent;
}

/** A fresh `webhook-id` for an event that is not tied to a flow's one outcome. */
export function newEventId(): string {
  return `msg_${crypto.randomUUID().replaceAll("-", "")}`;
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

  /**
   * Enqueues what a user object's transition produced (each transition hands
   * its events to exactly one caller). Never throws: a refused enqueue is
   * logged, the outcome itself is recorded already.
   */
  async publish(events: readonly OutboundEvent[]): Promise<void> {
    if (!this.enabled) return;
    await Promise.all(events.map(({ id, event }) => this.#enqueue(id, event, "flowId" in event.data ? { flowId: event.data.flowId } : {})));
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
      // The outcome is recorded in the user's object already; only the push is lost. Never fail the request for it.
      log(undefined, "error", "webhook_enqueue_failed", { ...fields, cause: `${(error as Error).name}: ${(error as Error).message}` });
    }
  }
}
