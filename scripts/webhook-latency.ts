/**
 * `node scripts/webhook-latency.ts [--flows 100] [--concurrency 4]`: measures
 * webhook delivery latency on the local stack — from the event's timestamp
 * (set when the edge enqueues it) to its receipt at the recording receiver —
 * over user flows run end to end. Prints p50/p95/p99/max. Development only.
 */
import { parseArgs } from "node:util";
import { HttpBrowser } from "../harness/http-browser.ts";
import { mockAdmin } from "../harness/mock-admin.ts";
import { startStack } from "../harness/stack.ts";

const { values } = parseArgs({ options: { flows: { type: "string", default: "100" }, concurrency: { type: "string", default: "4" } } });
const flows = Number(values.flows);
const RETURN_TO = "http://127.0.0.1:8788/latency-return";
const stack = await startStack({ returnOrigins: [new URL(RETURN_TO).origin], logLevel: "warn", wranglerLogLevel: "error" });
const api = (path: string, method = "GET", body?: unknown) =>
  fetch(`${stack.edgeUrl}${path}`, { method, headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
const mock = mockAdmin(stack.mock.origin);

try {
  let next = 0;
  const flowIds: string[] = [];
  const worker = async () => {
    while (next < flows) {
      const n = next++;
      const user = (await (await mock.createUser({ userId: `latency-${n}-${Date.now()}` })).json()) as { userId: string; token: unknown };
      await api(`/v1/users/${user.userId}/token`, "PUT", user.token);
      const started = (await (await api("/v1/reauth/user", "POST", { userId: user.userId, returnTo: RETURN_TO })).json()) as { flowId: string; launchUrl: string };
      await new HttpBrowser(RETURN_TO).navigate(started.launchUrl, "follow");
      flowIds.push(started.flowId);
      await new Promise((resolve) => setTimeout(resolve, 50)); // spread the flows, as real traffic is
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  const deadline = Date.now() + 30_000;
  const done = () => stack.webhooks.received.filter((e) => e.type === "flow.succeeded" && e.answered < 300 && flowIds.includes(e.flowId ?? ""));
  while (done().length < flowIds.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  const latencies = done().map((e) => e.latencyMs ?? NaN).sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  console.log(`flow.succeeded webhooks: ${latencies.length}/${flowIds.length} received, all verified: ${done().every((e) => e.verified)}`);
  console.log(`enqueue → received: p50 ${pct(50)} ms, p95 ${pct(95)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms`);
} finally {
  await stack.close();
}
