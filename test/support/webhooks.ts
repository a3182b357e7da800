/**
 * Webhooks in tests: a Queues producer that records what is sent (and can be
 * made to fail), the bindings that turn webhooks on, and a receiver that
 * records deliveries the consumer makes through an injected fetch.
 */
import { createApp } from "../../src/app.ts";
import type { Env } from "../../src/env.ts";
import { handleWebhookBatch, type WebhookConsumerOptions } from "../../src/webhooks/consumer.ts";
import type { WebhookMessage } from "../../src/webhooks/messages.ts";
import { EDGE, testEnv } from "./app.ts";

/** Test-only Standard Webhooks secret (24 bytes of 0x05). */
export const WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...new Array(24).fill(5)))}`;
export const WEBHOOK_URL = "https://backend.test/webhooks";

/** A message as the recording queue saw it. */
export interface SentMessage {
  body: WebhookMessage;
  delaySeconds?: number;
}

/** A Queues producer that records sends; `failing` makes send throw. */
export class RecordingQueue {
  readonly sent: SentMessage[] = [];
  failing = false;
  async send(body: WebhookMessage, options?: QueueSendOptions): Promise<void> {
    if (this.failing) throw new Error("Queue send failed: 503");
    // Through JSON, as the platform does (contentType: json).
    this.sent.push({ body: JSON.parse(JSON.stringify(body)) as WebhookMessage, delaySeconds: options?.delaySeconds });
  }
  async sendBatch(messages: Iterable<MessageSendRequest<WebhookMessage>>): Promise<void> {
    for (const m of messages) await this.send(m.body, m);
  }
  /** Takes what was sent so far. */
  take(): SentMessage[] {
    return this.sent.splice(0);
  }
}

/** Bindings with webhooks on; a fresh object each call, so each gets its own configuration and services. */
export function webhookEnv(overrides: Partial<Env> = {}): { env: Env; queue: RecordingQueue; dlq: RecordingQueue } {
  const queue = new RecordingQueue();
  const dlq = new RecordingQueue();
  const env = {
    ...testEnv,
    WEBHOOK_URL,
    WEBHOOK_SECRET,
    WEBHOOK_QUEUE: queue as unknown as Queue<WebhookMessage>,
    WEBHOOK_DLQ: dlq as unknown as Queue<WebhookMessage>,
    ...overrides,
  } as Env;
  return { env, queue, dlq };
}

/** A delivery the receiver got. */
export interface Received {
  headers: Record<string, string>;
  body: string;
}

/** A backend endpoint as a fetch: records every attempt and answers with `status()`. */
export function recordingReceiver(status: () => number = () => 204): { fetch: typeof fetch; received: Received[] } {
  const received: Received[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.url !== WEBHOOK_URL) throw new Error(`unexpected fetch to ${request.url}`);
    received.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
    return new Response(null, { status: status() });
  }) as typeof fetch;
  return { fetch: fetchFn, received };
}

/** What the queue handler did with a batch: acked ids, and retried ids with their delay. */
export interface ConsumeResult {
  explicitAcks: string[];
  retryMessages: Array<{ msgId: string; delaySeconds?: number }>;
}

/**
 * Runs the Worker's queue handler on messages; returns what it acked and
 * retried (with the delay, which cloudflare:test's getQueueResult does not report).
 */
export async function consume(env: Env, messages: Array<{ body: unknown; attempts?: number; id?: string }>, options: WebhookConsumerOptions = {}): Promise<ConsumeResult> {
  const result: ConsumeResult = { explicitAcks: [], retryMessages: [] };
  const batch = {
    queue: "digime-reauth-webhooks",
    messages: messages.map((m, i) => {
      const id = m.id ?? `m${i}`;
      return {
        id,
        timestamp: new Date(),
        attempts: m.attempts ?? 1,
        body: m.body,
        ack: () => void result.explicitAcks.push(id),
        retry: (o?: QueueRetryOptions) => void result.retryMessages.push({ msgId: id, ...(o?.delaySeconds !== undefined ? { delaySeconds: o.delaySeconds } : {}) }),
      };
    }),
    ackAll: () => void result.explicitAcks.push(...messages.map((m, i) => m.id ?? `m${i}`)),
    retryAll: (o?: QueueRetryOptions) => void result.retryMessages.push(...messages.map((m, i) => ({ msgId: m.id ?? `m${i}`, delaySeconds: o?.delaySeconds }))),
  } as unknown as MessageBatch<unknown>;
  await handleWebhookBatch(batch, env, options);
  return result;
}

/**
 * An app whose execution context keeps what handlers hand to `waitUntil`
 * (the callback's enqueue runs there), so a test can wait for it.
 */
export function appWithWaitUntil(options: Parameters<typeof createApp>[0] = {}) {
  const app = createApp(options);
  const pending: Array<Promise<unknown>> = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  const request = (path: string, init: RequestInit = {}, bindings: Env = testEnv) => app.fetch(new Request(new URL(path, EDGE), init), bindings, ctx);
  /** Waits for everything handed to waitUntil so far. */
  const settled = async () => void (await Promise.all(pending.splice(0)));
  return { request, settled };
}
