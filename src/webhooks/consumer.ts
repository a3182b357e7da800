/**
 * The consumer side, in the same Worker (`queue` handler): delivers events
 * with a growing delay between attempts and dead-letters a delivery after its
 * last attempt. Flow expiry is the user objects' alarm now; a delayed expiry
 * check enqueued before them is still answered (see `checkExpiry`).
 */
import { ConfigError, parseConfig } from "../config.ts";
import type { Env } from "../env.ts";
import { log } from "../log.ts";
import { getServices, type Services } from "../services.ts";
import { deliver } from "./delivery.ts";
import { flowExpiredEvent } from "./events.ts";
import { flowEventId } from "./outbox.ts";
import { WebhookMessageSchema, type DeliverMessage, type ExpiryCheckMessage, type WebhookMessage } from "./messages.ts";
import { MAX_DELIVERY_ATTEMPTS, retryDelaySeconds } from "./retry.ts";

/** What tests inject. */
export interface WebhookConsumerOptions {
  fetch?: typeof fetch;
  now?: () => number;
}

/** The delay before a batch is retried when the Worker is misconfigured: 1 minute. */
export const MISCONFIGURED_RETRY_SECONDS = 60;

type Say = (level: "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;

/** Logs with the Worker's LOG_LEVEL; there is no request here, so no request id. */
function logger(env: Env): Say {
  return (level, event, fields) => log({ logLevel: env.LOG_LEVEL }, level, event, fields);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Handles a batch: each message on its own, in parallel; none can fail another. */
export async function handleWebhookBatch(batch: MessageBatch<unknown>, env: Env, options: WebhookConsumerOptions = {}): Promise<void> {
  const say = logger(env);
  let services: Services;
  try {
    services = getServices(parseConfig(env), env, { webhookQueue: env.WEBHOOK_QUEUE, ...(options.now ? { now: options.now } : {}) });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    say("error", "webhook_consumer_misconfigured", { problems: error.problems });
    batch.retryAll({ delaySeconds: MISCONFIGURED_RETRY_SECONDS });
    return;
  }
  await Promise.all(batch.messages.map((message) => handleMessage(message, services, env, options, say)));
}

async function handleMessage(message: Message<unknown>, services: Services, env: Env, options: WebhookConsumerOptions, say: Say): Promise<void> {
  const parsed = WebhookMessageSchema.safeParse(message.body);
  if (!parsed.success) {
    say("error", "webhook_message_malformed", { messageId: message.id });
    message.ack(); // retrying cannot make it well-formed
    return;
  }
  try {
    if (parsed.data.kind === "expiry-check") await checkExpiry(message, parsed.data, services, say);
    else await deliverMessage(message as Message<WebhookMessage>, parsed.data, services, env, options, say);
  } catch (error) {
    // KV or the queue failed: try the whole message again later.
    say("error", "webhook_message_failed", { messageId: message.id, kind: parsed.data.kind, attempts: message.attempts, cause: describe(error) });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

/**
 * A delayed expiry check, as the Worker sent one at every flow start before
 * the user objects. A flow its user's object knows is the object's to expire
 * (asking it expires a pending flow past its expiry, once); a flow no object
 * knows was started by that earlier code and can no longer complete, so it
 * expired unfinished. A check that arrives early waits for the rest.
 */
async function checkExpiry(message: Message<unknown>, check: ExpiryCheckMessage, services: Services, say: Say): Promise<void> {
  const now = services.now();
  if (!services.webhooks.enabled) {
    say("warn", "webhook_dropped", { flowId: check.flow.id, type: "flow.expired", reason: "WEBHOOK_URL is not set" });
    message.ack();
    return;
  }
  if (check.flow.expiresAt > now) {
    message.retry({ delaySeconds: Math.ceil((check.flow.expiresAt - now) / 1000) });
    return;
  }
  if (await services.users.of(check.flow.userId).flow(check.flow.id)) {
    message.ack();
    return;
  }
  const id = flowEventId(check.flow.id, "expired");
  await services.webhooks.enqueueDelivery(await services.webhooks.deliveryMessage(id, flowExpiredEvent(check.flow, now)));
  say("info", "flow_expired", { flowId: check.flow.id, kind: check.flow.kind, webhookId: id });
  message.ack();
}

async function deliverMessage(message: Message<WebhookMessage>, delivery: DeliverMessage, services: Services, env: Env, options: WebhookConsumerOptions, say: Say): Promise<void> {
  const settings = services.config.webhooks;
  const fields = { webhookId: delivery.id, type: delivery.type, attempt: message.attempts };
  if (!settings) {
    say("warn", "webhook_dropped", { ...fields, reason: "WEBHOOK_URL is not set" });
    message.ack();
    return;
  }
  const payload = await services.webhooks.openPayload(delivery);
  const result = await deliver(settings, delivery.id, payload, { fetch: options.fetch ?? fetch, now: services.now });
  if (result.ok) {
    say("info", "webhook_delivered", { ...fields, receiverStatus: result.status, latencyMs: services.now() - delivery.enqueuedAt });
    message.ack();
    return;
  }
  const failure = { ...fields, receiverStatus: result.status, error: result.error };
  if (message.attempts >= MAX_DELIVERY_ATTEMPTS && env.WEBHOOK_DLQ) {
    await env.WEBHOOK_DLQ.send(delivery, { contentType: "json" });
    say("error", "webhook_dead_lettered", failure);
    message.ack();
    return;
  }
  const delaySeconds = retryDelaySeconds(message.attempts);
  say("warn", "webhook_delivery_failed", { ...failure, retryInSeconds: delaySeconds });
  message.retry({ delaySeconds });
}
