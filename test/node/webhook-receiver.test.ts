/**
 * The recording webhook receiver of the local stack keeps each delivery as it
 * came, so a newcomer can verify one by hand (docs/local-stack.md).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_WEBHOOK_SECRET } from "../../harness/stack.ts";
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from "../../harness/webhook-receiver.ts";

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver({ host: "127.0.0.1", port: 0, secret: DEV_WEBHOOK_SECRET });
});
afterAll(() => receiver?.close());

/** Sends a delivery signed as the edge signs it (Standard Webhooks), with this exact body text. */
async function deliver(body: string, secret = DEV_WEBHOOK_SECRET): Promise<number> {
  const id = `msg_${crypto.randomUUID()}`;
  const timestamp = new Date();
  const signature = new Webhook(secret).sign(id, timestamp, body);
  const response = await fetch(receiver.url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "webhook-id": id, "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)), "webhook-signature": signature },
    body,
  });
  return response.status;
}

describe("the recording webhook receiver", () => {
  // Spacing and key order as sent: a verification must run over these bytes, not a re-serialization.
  const body = '{"type":"flow.succeeded",  "timestamp":"2026-01-01T00:00:00.000Z","data":{"userId":"u-raw","flowId":"F-raw","note":"é ✓"}}';

  it("keeps the raw body and the signature headers of a delivery, which verify by hand", async () => {
    expect(await deliver(body)).toBe(204);
    const { received } = (await (await fetch(`${receiver.origin}/__webhooks/received?flowId=F-raw`)).json()) as { received: ReceivedWebhook[] };
    expect(received).toHaveLength(1);
    const entry = received[0]!;
    expect(entry.verified).toBe(true);
    expect(entry.rawBody).toBe(body);
    expect(Object.keys(entry.headers).sort()).toEqual(["content-type", "webhook-id", "webhook-signature", "webhook-timestamp"]);
    // By hand, as docs/local-stack.md shows: HMAC-SHA256 over "id.timestamp.body" with the secret's bytes after "whsec_".
    const key = Buffer.from(DEV_WEBHOOK_SECRET.slice("whsec_".length), "base64");
    const expected = createHmac("sha256", key).update(`${entry.headers["webhook-id"]}.${entry.headers["webhook-timestamp"]}.${entry.rawBody}`).digest();
    const sent = entry.headers["webhook-signature"]!.split(" ").map((s) => Buffer.from(s.replace(/^v1,/, ""), "base64"));
    expect(sent.some((s) => s.length === expected.length && timingSafeEqual(s, expected))).toBe(true);
  });

  it("serves a delivery's raw body byte for byte, with its signature headers", async () => {
    const entry = receiver.received.find((e) => e.flowId === "F-raw")!;
    const response = await fetch(`${receiver.origin}/__webhooks/received/${entry.seq}/body`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(body);
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type"]) expect(response.headers.get(name)).toBe(entry.headers[name]);
    expect((await fetch(`${receiver.origin}/__webhooks/received/999999/body`)).status).toBe(404);
  });

  it("keeps a delivery it refused (a wrong secret) as it came too, and lists both on its page", async () => {
    const forged = '{"type":"flow.failed","timestamp":"2026-01-01T00:00:00.000Z","data":{"userId":"u-raw","flowId":"F-forged"}}';
    expect(await deliver(forged, `whsec_${Buffer.alloc(32, 1).toString("base64")}`)).toBe(401);
    const entry = receiver.received.find((e) => e.flowId === "F-forged")!;
    expect([entry.verified, entry.rawBody]).toEqual([false, forged]);
    const page = await fetch(`${receiver.origin}/__webhooks/`);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("F-forged");
    expect(html).toContain("refused: No matching signature found");
    expect(html).toContain(`webhook-signature: ${entry.headers["webhook-signature"]}`);
    expect(html).toContain(`href="received/${entry.seq}/body"`);
  });
});
