/**
 * Benchmark-only entry (never deployed): the production Worker with its KV
 * namespace replaced by an in-memory one, so `npm run bench` measures the
 * Worker rather than the local KV simulator. Bundled by wrangler from
 * bench/lean.wrangler.toml; run by Miniflare (workerd).
 *
 * - `POST /__bench/seed` (JSON `{ kv: [key, value][], keySet?: { url, body, fetchedAt } }`):
 *   the KV contents a fresh isolate starts with (so its first request to the
 *   service can be a callback of a flow started in an earlier isolate) and,
 *   for a warm location, digi.me's key set in the Cache API. It runs none of
 *   the service's code, so the service's first request still meets cold state.
 * - `GET /__bench/kv`: the KV contents, to seed the next isolate.
 * - Every answer carries `X-Bench-Upstream-Ms`: how long this request had an
 *   outbound fetch in progress (overlapping fetches counted once), as the Worker
 *   saw it, so the load generator can tell the Worker's own time from digi.me's.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import worker from "../src/index.ts";
import { KEY_SET_CACHE_PREFIX } from "../src/digime/key-set.ts";
import type { Env } from "../src/env.ts";

const entries = new Map<string, { value: string; expiresAt: number }>();

/** The parts of KV the service uses: text get, put with a TTL, delete. */
const memoryKv = {
  async get(key: string): Promise<string | null> {
    const entry = entries.get(key);
    if (!entry || entry.expiresAt <= Date.now()) return null;
    return entry.value;
  },
  async put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void> {
    entries.set(key, { value, expiresAt: Date.now() + (options?.expirationTtl ?? 365 * 86400) * 1000 });
  },
  async delete(key: string): Promise<void> {
    entries.delete(key);
  },
} as unknown as KVNamespace;

let env: Env | undefined;

async function seed(request: Request): Promise<Response> {
  const { kv, keySet } = (await request.json()) as { kv: Array<[string, string]>; keySet?: { url: string; body: unknown; fetchedAt: number } };
  for (const [key, value] of kv) await memoryKv.put(key, value, { expirationTtl: 3600 });
  if (keySet) {
    const headers = { "Cache-Control": "max-age=900", "X-Fetched-At": String(keySet.fetchedAt) };
    await caches.default.put(`${KEY_SET_CACHE_PREFIX}${encodeURIComponent(keySet.url)}`, new Response(JSON.stringify(keySet.body), { headers }));
  }
  return new Response(null, { status: 204 });
}

/** Per request: the intervals during which an outbound fetch was in progress. */
const upstream = new AsyncLocalStorage<Array<[number, number]>>();
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  const began = performance.now();
  const response = await originalFetch(input, init);
  // Read the body here so its transfer counts as upstream time, as the client reads it whole anyway.
  const body = await response.arrayBuffer();
  upstream.getStore()?.push([began, performance.now()]);
  return new Response(body, response);
};

function covered(intervals: Array<[number, number]>): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

export default {
  async fetch(request: Request, original: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/__bench/seed") return seed(request);
    if (path === "/__bench/kv") {
      const now = Date.now();
      return Response.json([...entries].filter(([, e]) => e.expiresAt > now).map(([key, e]) => [key, e.value]));
    }
    // One env object per isolate: the service caches its configuration and services by it.
    const isolateEnv = (env ??= { ...original, REAUTH_KV: memoryKv });
    const intervals: Array<[number, number]> = [];
    const answer = await upstream.run(intervals, () => worker.fetch(request, isolateEnv, ctx));
    const response = new Response(answer.body, answer);
    response.headers.set("X-Bench-Upstream-Ms", covered(intervals).toFixed(3));
    return response;
  },
};
