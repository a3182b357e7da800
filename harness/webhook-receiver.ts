/**
 * A recording webhook receiver for the local stack: it verifies every
 * delivery with `standardwebhooks` (as a backend would), keeps what it got,
 * and can be told to refuse the next deliveries for a user (an endpoint that
 * is down, then recovers). The demo app shows what it received; the QA runner
 * queries it. Development only: never bundled with the Worker.
 *
 * Each delivery is kept as it came, raw body and signature headers included,
 * so one can be verified by hand (docs/local-stack.md shows how).
 *
 *   POST   /webhooks                    the endpoint (WEBHOOK_URL)
 *   GET    /__webhooks/                 a page listing the latest deliveries: headers, raw body, verdict
 *   GET    /__webhooks/received?userId=&flowId=&type=   what arrived (every attempt), as JSON
 *   GET    /__webhooks/received/:seq/body   one delivery's raw body, byte for byte, with its
 *                                       webhook-id, webhook-timestamp and webhook-signature headers
 *   POST   /__webhooks/outage           { userId?, failures, status? }: refuse the next deliveries
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { Webhook } from "standardwebhooks";

/** One delivery attempt as received. */
export interface ReceivedWebhook {
  seq: number;
  receivedAt: number;
  webhookId: string;
  webhookTimestamp: string;
  /** The signature verified with the shared secret. */
  verified: boolean;
  verifyError?: string;
  /** What the receiver answered. */
  answered: number;
  type?: string;
  flowId?: string;
  userId?: string;
  /** ms from the event's timestamp (when the edge enqueued it) to receipt. */
  latencyMs?: number;
  event?: { type: string; timestamp: string; data: Record<string, unknown> };
  /** The body exactly as received (what the signature covers). */
  rawBody: string;
  /** The delivery's Content-Type and Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature), as received. */
  headers: Record<string, string>;
}

/** The request headers a delivery keeps: what a hand verification needs, and the content type. */
export const KEPT_HEADERS = ["content-type", "webhook-id", "webhook-timestamp", "webhook-signature"] as const;

/** A running receiver. */
export interface WebhookReceiver {
  origin: string;
  /** The endpoint, for WEBHOOK_URL. */
  url: string;
  received: ReceivedWebhook[];
  /** Called for every delivery (the demo app listens). */
  onReceive: (listener: (entry: ReceivedWebhook) => void) => void;
  close: () => Promise<void>;
}

/** The receiver keeps the latest deliveries only (benchmarks send many). */
const MAX_RECORDED = 10_000;

interface Outage {
  userId?: string;
  failures: number;
  status: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The receiver's page: the latest deliveries, newest first, each with its headers and raw body. */
function receivedPage(received: ReceivedWebhook[], origin: string): string {
  const rows = received
    .slice(-50)
    .reverse()
    .map((e) => {
      const headers = Object.entries(e.headers).map(([k, v]) => `${k}: ${v}`).join("\n");
      return `<section><h2>#${e.seq} <code>${escapeHtml(e.type ?? "?")}</code> <span class="${e.verified ? "ok" : "bad"}">${e.verified ? "signature valid" : `refused: ${escapeHtml(e.verifyError ?? "")}`}</span> · answered ${e.answered} · <a href="received/${e.seq}/body">raw body</a></h2><pre>${escapeHtml(headers)}\n\n${escapeHtml(e.rawBody)}</pre></section>`;
    });
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Webhook receiver</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#1d2433}h2{font-size:.95rem}pre{background:#f4f5f7;padding:.6rem;border-radius:6px;font-size:.78rem;white-space:pre-wrap;word-break:break-all}.ok{color:#0a7d32}.bad{color:#b3261e}</style></head>
<body><h1>Webhook receiver · development only</h1><p>Deliveries to <code>${escapeHtml(origin)}/webhooks</code>, newest first (the latest 50; every one as JSON at <a href="received">received</a>). Each is shown as it arrived: the headers the signature check needs, then the raw body it covers.</p>
${rows.join("\n") || "<p>No delivery yet.</p>"}</body></html>`;
}

/** Starts the receiver on `host:port` (0 picks a free port). */
export async function startWebhookReceiver(options: { host: string; port: number; secret: string }): Promise<WebhookReceiver> {
  const verifier = new Webhook(options.secret);
  const received: ReceivedWebhook[] = [];
  const outages: Outage[] = [];
  const listeners: Array<(entry: ReceivedWebhook) => void> = [];
  let seq = 0;

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === "/webhooks" && req.method === "POST") {
        const body = await readBody(req);
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const kept = Object.fromEntries(KEPT_HEADERS.flatMap((name) => (headers[name] === undefined ? [] : [[name, headers[name]]])));
        const entry: ReceivedWebhook = { seq: ++seq, receivedAt: Date.now(), webhookId: headers["webhook-id"] ?? "", webhookTimestamp: headers["webhook-timestamp"] ?? "", verified: false, answered: 204, rawBody: body, headers: kept };
        try {
          entry.event = verifier.verify(body, headers) as ReceivedWebhook["event"];
          entry.verified = true;
        } catch (error) {
          entry.verifyError = (error as Error).message;
          try {
            entry.event = JSON.parse(body) as ReceivedWebhook["event"];
          } catch {
            entry.event = undefined;
          }
        }
        entry.type = entry.event?.type;
        entry.flowId = entry.event?.data.flowId as string | undefined;
        entry.userId = entry.event?.data.userId as string | undefined;
        if (entry.event?.timestamp) entry.latencyMs = entry.receivedAt - Date.parse(entry.event.timestamp);
        const outage = outages.find((o) => o.failures > 0 && (!o.userId || o.userId === entry.userId));
        if (!entry.verified) entry.answered = 401;
        else if (outage) {
          outage.failures -= 1;
          entry.answered = outage.status;
        }
        received.push(entry);
        if (received.length > MAX_RECORDED) received.splice(0, received.length - MAX_RECORDED);
        for (const listener of listeners) listener(entry);
        res.writeHead(entry.answered).end();
        return;
      }
      const origin = `http://${req.headers.host ?? "receiver"}`;
      if ((url.pathname === "/__webhooks/" || url.pathname === "/__webhooks" || url.pathname === "/") && req.method === "GET") {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
        res.end(receivedPage(received, origin));
        return;
      }
      const raw = /^\/__webhooks\/received\/(\d+)\/body$/.exec(url.pathname);
      if (raw && req.method === "GET") {
        const entry = received.find((e) => e.seq === Number(raw[1]));
        if (!entry) return json(404, { error: "no such delivery (the receiver keeps the latest 10000)" });
        res.writeHead(200, { "content-type": "application/octet-stream", ...entry.headers });
        res.end(entry.rawBody);
        return;
      }
      if (url.pathname === "/__webhooks/received" && req.method === "GET") {
        const filters = ["userId", "flowId", "type"] as const;
        json(200, { received: received.filter((e) => filters.every((f) => !url.searchParams.has(f) || e[f] === url.searchParams.get(f))) });
        return;
      }
      if (url.pathname === "/__webhooks/outage" && req.method === "POST") {
        const body = JSON.parse((await readBody(req)) || "{}") as Partial<Outage>;
        outages.push({ userId: body.userId, failures: Number(body.failures ?? 1), status: Number(body.status ?? 503) });
        json(200, { ok: true });
        return;
      }
      json(404, { error: "not found" });
    } catch (error) {
      json(500, { error: (error as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const origin = `http://${options.host}:${port}`;
  return {
    origin,
    url: `${origin}/webhooks`,
    received,
    onReceive: (listener) => void listeners.push(listener),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
