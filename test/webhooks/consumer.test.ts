/**
 * The consumer side (the Worker's `queue` handler): delivery signed per
 * Standard Webhooks and checked with the package's own verifier, retries with
 * a growing delay and the same webhook-id, dead-lettering after the last
 * attempt, expiry checks, and no token in any log line.
 */
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { UserAccessToken } from "../../src/digime/index.ts";
import type { Env } from "../../src/env.ts";
import { getServices } from "../../src/services.ts";
import { runInDurableObject } from "cloudflare:test";
import { USER_KEYS, type FlowState } from "../../src/storage/user-store.ts";
import { flowEndedEvent, tokenRotatedEvent, WebhookEventSchema } from "../../src/webhooks/events.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import { flowEventId } from "../../src/webhooks/outbox.ts";
import { MAX_DELIVERY_ATTEMPTS, retryDelaySeconds } from "../../src/webhooks/retry.ts";
import { userObject } from "../support/objects.ts";
import { consume, recordingReceiver, WEBHOOK_SECRET, webhookEnv as baseEnv } from "../support/webhooks.ts";

/** Webhooks on, and every log line written (the token must be in none). */
const webhookEnv = (overrides: Parameters<typeof baseEnv>[0] = {}) => baseEnv({ LOG_LEVEL: "debug", ...overrides });

const TOKEN: UserAccessToken = {
  accessToken: { value: "access-SECRET-VALUE-1234567890", expiry: 2_000_000_000 },
  refreshToken: { value: "refresh-SECRET-VALUE-0987654321", expiry: 2_100_000_000 },
  user: { id: "digime-user-1" },
};

let lines: string[];
beforeEach(() => {
  lines = [];
  for (const level of ["log", "warn", "error", "info", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  }
});
afterEach(() => {
  // Whatever happened in the test, no log line carried the token.
  expect(lines.join("\n")).not.toMatch(/SECRET-VALUE/);
  vi.restoreAllMocks();
});

function servicesOf(env: Env, now?: () => number) {
  return getServices(parseConfig(env), env, { webhookQueue: env.WEBHOOK_QUEUE, ...(now ? { now } : {}) });
}

function flow(overrides: Partial<FlowState> = {}): FlowState {
  const now = Date.now();
  return { v: 1, id: "AAAAAAAAAAAAAAAAAAAAAA", kind: "user", userId: "user-1", status: "succeeded", createdAt: now - 1000, expiresAt: now + 600_000, completedAt: now, ...overrides };
}

/** A delivery message as the producer builds it. */
async function succeededDelivery(env: Env): Promise<DeliverMessage> {
  const f = flow();
  return servicesOf(env).webhooks.deliveryMessage(flowEventId(f.id, "succeeded"), flowEndedEvent(f, Date.now(), TOKEN));
}

describe("webhook consumer: delivery", () => {
  it("POSTs the event signed per Standard Webhooks; the package's verifier accepts it and the message is acked", async () => {
    const { env } = webhookEnv();
    const receiver = recordingReceiver();
    const message = await succeededDelivery(env);
    const result = await consume(env, [{ body: message }], { fetch: receiver.fetch });
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);
    expect(receiver.received).toHaveLength(1);
    const [{ headers, body }] = receiver.received as [{ headers: Record<string, string>; body: string }];
    expect(headers["webhook-id"]).toBe(message.id);
    expect(headers["content-type"]).toBe("application/json");
    const event = WebhookEventSchema.parse(new Webhook(WEBHOOK_SECRET).verify(body, headers));
    expect(event).toMatchObject({ type: "flow.succeeded", data: { flowId: "AAAAAAAAAAAAAAAAAAAAAA", token: TOKEN } });
    expect(lines.some((l) => l.includes('"event":"webhook_delivered"'))).toBe(true);
  });

  it("signs so that another secret, a changed body or a changed id does not verify", async () => {
    const { env } = webhookEnv();
    const receiver = recordingReceiver();
    await consume(env, [{ body: await succeededDelivery(env) }], { fetch: receiver.fetch });
    const { headers, body } = receiver.received[0]!;
    const other = new Webhook(`whsec_${btoa(String.fromCharCode(...new Array(24).fill(6)))}`);
    expect(() => other.verify(body, headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(WEBHOOK_SECRET).verify(body.replace("succeeded", "failed"), headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(WEBHOOK_SECRET).verify(body, { ...headers, "webhook-id": "msg_other" })).toThrow(/No matching signature/);
  });

  it("retries a failed attempt with a growing delay, the same webhook-id and the same body each time", async () => {
    const { env } = webhookEnv();
    const receiver = recordingReceiver(() => 503);
    const message = await succeededDelivery(env);
    const delays: Array<number | undefined> = [];
    for (let attempts = 1; attempts <= 4; attempts++) {
      const result = await consume(env, [{ body: message, attempts }], { fetch: receiver.fetch });
      expect(result.explicitAcks).toEqual([]);
      delays.push(result.retryMessages[0]?.delaySeconds);
    }
    expect(delays).toEqual([2, 8, 32, 128]);
    expect(new Set(receiver.received.map((r) => r.headers["webhook-id"]))).toEqual(new Set([message.id]));
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
  });

  it("calls fetch unbound, as workerd's own fetch requires", async () => {
    const { env } = webhookEnv();
    const receiver = recordingReceiver();
    const strict = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
      if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation: function called with incorrect `this` reference");
      return receiver.fetch(input, init);
    } as typeof fetch;
    const result = await consume(env, [{ body: await succeededDelivery(env) }], { fetch: strict });
    expect(result.explicitAcks).toEqual(["m0"]);
  });

  it("treats a timeout, a network error and a redirect as failures to retry", async () => {
    const { env } = webhookEnv();
    const message = await succeededDelivery(env);
    const answers: Array<typeof fetch> = [
      (async () => {
        throw new DOMException("timed out", "TimeoutError");
      }) as typeof fetch,
      (async () => {
        throw new TypeError("Network connection lost.");
      }) as typeof fetch,
      (async () => new Response(null, { status: 302, headers: { Location: "https://elsewhere.test/" } })) as typeof fetch,
    ];
    for (const answer of answers) {
      const result = await consume(env, [{ body: message }], { fetch: answer });
      expect(result.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 2 }]);
    }
  });

  it("never waits more than an hour between attempts", async () => {
    const { env } = webhookEnv();
    const receiver = recordingReceiver(() => 503);
    const message = await succeededDelivery(env);
    const late = await consume(env, [{ body: message, attempts: MAX_DELIVERY_ATTEMPTS - 1 }], { fetch: receiver.fetch });
    expect(late.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 3600 }]);
  });

  it("does not follow the receiver's redirect: the event goes nowhere else and is retried", async () => {
    const { env } = webhookEnv();
    const message = await succeededDelivery(env);
    const reached: string[] = [];
    // A fetch that follows redirects unless told not to, as fetch does.
    const redirecting = (async (input: RequestInfo | URL, init?: RequestInit) => {
      reached.push(String(input));
      if (init?.redirect === "manual") return new Response(null, { status: 307, headers: { Location: "https://elsewhere.test/hook" } });
      reached.push("https://elsewhere.test/hook");
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    const result = await consume(env, [{ body: message }], { fetch: redirecting });
    expect(reached).not.toContain("https://elsewhere.test/hook");
    expect(result.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 2 }]);
  });

  it(`dead-letters a delivery whose attempt ${MAX_DELIVERY_ATTEMPTS} fails, and acks it`, async () => {
    const { env, dlq } = webhookEnv();
    const receiver = recordingReceiver(() => 500);
    const message = await succeededDelivery(env);
    const before = await consume(env, [{ body: message, attempts: MAX_DELIVERY_ATTEMPTS - 1 }], { fetch: receiver.fetch });
    expect(before.retryMessages).toEqual([{ msgId: "m0", delaySeconds: retryDelaySeconds(MAX_DELIVERY_ATTEMPTS - 1) }]);
    expect(dlq.sent).toEqual([]);
    const last = await consume(env, [{ body: message, attempts: MAX_DELIVERY_ATTEMPTS }], { fetch: receiver.fetch });
    expect(last.explicitAcks).toEqual(["m0"]);
    expect(last.retryMessages).toEqual([]);
    expect(dlq.sent.map((m) => m.body)).toEqual([message]);
    expect(lines.some((l) => l.includes('"event":"webhook_dead_lettered"'))).toBe(true);
  });

  it("handles each message of a batch on its own", async () => {
    const { env } = webhookEnv();
    let n = 0;
    const receiver = recordingReceiver(() => (n++ === 0 ? 503 : 200));
    const services = servicesOf(env);
    const a = await services.webhooks.deliveryMessage("msg_a", tokenRotatedEvent("user-a", TOKEN, Date.now()));
    const b = await services.webhooks.deliveryMessage("msg_b", tokenRotatedEvent("user-b", TOKEN, Date.now()));
    const result = await consume(env, [{ body: a }, { body: b }, { body: { kind: "nonsense" } }], { fetch: receiver.fetch });
    expect(result.retryMessages.map((m) => m.msgId)).toHaveLength(1);
    expect(result.explicitAcks).toHaveLength(2); // the other delivery, and the malformed message (retrying cannot fix it)
  });

  it("refuses a payload moved to another webhook-id (sealed with its id) and retries instead of sending", async () => {
    const { env } = webhookEnv();
    const receiver = recordingReceiver();
    const message = await succeededDelivery(env);
    const result = await consume(env, [{ body: { ...message, id: "msg_forged" } }], { fetch: receiver.fetch });
    expect(receiver.received).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
  });
});

describe("webhook consumer: expiry checks enqueued before the user objects", () => {
  /** A flow state in its user's object, and the check the earlier code would have enqueued for it. */
  async function knownFlow(record: FlowState) {
    await runInDurableObject(userObject(record.userId), async (_instance, state) => {
      await state.storage.put(USER_KEYS.meta, { v: 1, userId: record.userId, kvChecked: true });
      await state.storage.put(USER_KEYS.flowPrefix + record.id, record);
    });
    return { v: 1, kind: "expiry-check", flow: { id: record.id, kind: record.kind, userId: record.userId, expiresAt: record.expiresAt }, enqueuedAt: record.createdAt } as const;
  }

  it("announces flow.expired for a flow no user object knows (the earlier code's, which can no longer complete)", async () => {
    const { env, queue } = webhookEnv();
    const check = { v: 1, kind: "expiry-check", flow: { id: "GONEGONEGONEGONEGONE12", kind: "account", userId: "u-gone", accountId: "1_u", expiresAt: Date.now() - 1 }, enqueuedAt: 0 };
    expect((await consume(env, [{ body: check }])).explicitAcks).toEqual(["m0"]);
    const [sent, ...rest] = queue.take();
    expect(rest).toEqual([]);
    expect(sent?.body).toMatchObject({ kind: "deliver", id: "msg_GONEGONEGONEGONEGONE12_expired", type: "flow.expired" });
    const event = JSON.parse(await servicesOf(env).webhooks.openPayload(sent!.body as DeliverMessage));
    expect(event).toMatchObject({ type: "flow.expired", data: { flowId: "GONEGONEGONEGONEGONE12", userId: "u-gone", status: "expired" } });
  });

  it("leaves a flow its user's object knows to the object, which expires it exactly once", async () => {
    const { env, queue } = webhookEnv();
    const id = "PENDINGPENDINGPENDING1";
    const check = await knownFlow(flow({ id, userId: "u-pending", status: "pending", completedAt: undefined, expiresAt: Date.now() - 1 }));
    expect((await consume(env, [{ body: check }])).explicitAcks).toEqual(["m0"]);
    expect(queue.take().map((m) => m.body)).toEqual([expect.objectContaining({ id: `msg_${id}_expired`, type: "flow.expired" })]);
    expect((await consume(env, [{ body: check }])).explicitAcks).toEqual(["m0"]);
    expect(queue.take()).toEqual([]); // already expired: nothing announced twice
  });

  it("announces nothing for a flow that was completed", async () => {
    const { env, queue } = webhookEnv();
    const check = await knownFlow(flow({ id: "DONEDONEDONEDONEDONE12", userId: "u-done", expiresAt: Date.now() - 1 }));
    const result = await consume(env, [{ body: check }]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(queue.sent).toEqual([]);
  });

  it("waits for the rest of the TTL when the check comes early", async () => {
    const { env, queue } = webhookEnv();
    const check = await knownFlow(flow({ id: "EARLYEARLYEARLYEARLY12", userId: "u-early", status: "pending", completedAt: undefined, expiresAt: Date.now() + 30_000 }));
    const result = await consume(env, [{ body: check }]);
    expect(result.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 30 }]);
    expect(queue.sent).toEqual([]);
  });

  it("retries the check when the queue refuses the expiry event", async () => {
    const { env, queue } = webhookEnv();
    queue.failing = true;
    const check = { v: 1, kind: "expiry-check", flow: { id: "FAILFAILFAILFAILFAIL12", kind: "user", userId: "u", expiresAt: Date.now() - 1 }, enqueuedAt: 0 };
    const result = await consume(env, [{ body: check }]);
    expect(result.retryMessages).toEqual([{ msgId: "m0", delaySeconds: 2 }]);
  });
});
