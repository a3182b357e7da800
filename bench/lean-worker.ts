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
 * - `GET /__bench/bytes?n=N[&whole=1]`: N zero bytes in 64 KiB chunks (or one buffer), no
 *   service code and no upstream: the harness's floor for carrying a large answer (a file read's).
 * - `POST /__bench/upstream?mode=buffer|stream`: how outbound fetches are timed (below).
 *   `buffer` (the default): the wrapper reads each body whole, so its transfer counts as
 *   upstream time and whatever the Worker does with it (a file's decryption) as its own.
 *   `stream`: the body is passed on unread, as production streams it (a file decrypted as
 *   it arrives, never held whole), and only the wait for the answer's headers counts as
 *   upstream; for a large file's end-to-end throughput and workerd's memory.
 * - `GET /__bench/direct/{sessionKey}[/{fileName}]` with `X-Bench-Access-Token`: "the
 *   digi.me call itself", as a backend on digi.me's SDK makes it: the service's own digi.me
 *   client signs the request with the contract key, reads the file list (answered as JSON)
 *   or the file (decrypted and decompressed as it streams, answered with its MIME type),
 *   with the token given; no API key, no route, no user object. A file read through the
 *   edge is measured against it, in the same runtime (issue 24's side by side).
 * - Every answer carries `X-Bench-Upstream-Ms`: how long this request had an
 *   outbound fetch in progress (overlapping fetches counted once), so the load
 *   generator can tell the Worker's own time from digi.me's. The digi.me calls
 *   happen inside the user's Durable Object (`UserObject`, binding USERS), whose
 *   RPC methods run outside the request's AsyncLocalStorage context. Every RPC
 *   carries the request's id (`call.requestId`: the service's own, a UUID per
 *   request since the load generator sends no `X-Request-Id`, and echoed in the
 *   answer's `X-Request-Id`); the object's RPC methods are wrapped here (bench
 *   only) to run in a store kept under that id, and the Worker merges the
 *   intervals kept under its answer's id with its own. The request itself is
 *   left as it came (copying it to add a header cost about 0.1 ms at c=1). In
 *   workerd (locally) the object runs in the Worker's isolate, so a
 *   module-level map is shared by both (checked: a value the object sets in a
 *   module-level map is read by the Worker, and an AsyncLocalStorage store set
 *   around the RPC is not seen inside it).
 * - Every answer carries `X-Bench-Object-Calls`: how many RPC calls the
 *   request made to user objects, and `X-Bench-Objects-Woken`: how many of
 *   them met an object constructed for the call (new, or evicted after being
 *   idle: workerd evicts an object idle for about 10 s).
 * - The objects get the same in-memory KV (their one KV read, a legacy token
 *   record, happens once per user); their own storage is workerd's SQLite.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import worker from "../src/index.ts";
import { KEY_SET_CACHE_PREFIX } from "../src/digime/key-set.ts";
import type { Env } from "../src/env.ts";
import { parseConfig } from "../src/config.ts";
import { getServices } from "../src/services.ts";
import { objectWiring, UserObject as ServiceUserObject } from "../src/users/object.ts";
import type { ObjectCall } from "../src/users/api.ts";

/** Instances not yet called: the object was (re)constructed for the call that finds itself here. */
const unwoken = new WeakSet<object>();

/**
 * The Durable Object class the bench's wrangler config binds as USERS: the
 * service's own, remembering that it was just constructed, so the benchmark
 * can tell a call that woke its object (new, or evicted after being idle) from
 * one that found it in memory (`X-Bench-Objects-Woken`).
 */
export class UserObject extends ServiceUserObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    unwoken.add(this);
  }
}

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

/** What one request's object calls did: their outbound fetch intervals, and how many there were. */
interface ObjectRecord {
  intervals: Array<[number, number]>;
  objectCalls: number;
  /** Of those calls, how many met an object constructed for them. */
  objectsWoken: number;
}

/** By request id (`call.requestId`): shared by the Worker and the objects (same isolate). */
const objectRecords = new Map<string, ObjectRecord>();

/** Per request or object call: the intervals during which an outbound fetch was in progress. */
const upstream = new AsyncLocalStorage<Array<[number, number]>>();

// The objects' RPC methods (every method on the prototype but the constructor and the alarm) run in
// a store kept under their request's id, and count as one object call of that request.
for (const name of Object.getOwnPropertyNames(ServiceUserObject.prototype)) {
  if (name === "constructor" || name === "alarm" || name === "fetch") continue;
  const method = Object.getOwnPropertyDescriptor(ServiceUserObject.prototype, name)?.value as unknown;
  if (typeof method !== "function") continue;
  Object.defineProperty(ServiceUserObject.prototype, name, {
    configurable: true,
    writable: true,
    value: function (this: ServiceUserObject, call: ObjectCall, ...rest: unknown[]) {
      const id = call?.requestId;
      const woken = unwoken.delete(this);
      if (!id) return (method as (...args: unknown[]) => unknown).call(this, call, ...rest);
      let record = objectRecords.get(id);
      if (!record) objectRecords.set(id, (record = { intervals: [], objectCalls: 0, objectsWoken: 0 }));
      record.objectCalls++;
      if (woken) record.objectsWoken++;
      return upstream.run(record.intervals, () => (method as (...args: unknown[]) => unknown).call(this, call, ...rest));
    },
  });
}

// The objects build their services from their own bindings: give them the in-memory KV too (one env per isolate).
const objectEnvs = new WeakMap<Env, Env>();
const productionServices = objectWiring.services;
objectWiring.services = (objectEnv) => {
  let env = objectEnvs.get(objectEnv);
  if (!env) objectEnvs.set(objectEnv, (env = { ...objectEnv, REAUTH_KV: memoryKv }));
  return productionServices(env);
};
const originalFetch = globalThis.fetch;
/** How outbound fetches are timed (`POST /__bench/upstream?mode=`): one mode per isolate. */
let upstreamMode: "buffer" | "stream" = "buffer";
globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  const began = performance.now();
  const response = await originalFetch(input, init);
  if (upstreamMode === "stream") {
    upstream.getStore()?.push([began, performance.now()]);
    return response;
  }
  // Read the body here so its transfer counts as upstream time, as the client reads it whole anyway.
  const body = await response.arrayBuffer();
  upstream.getStore()?.push([began, performance.now()]);
  return new Response(body, response);
};

const CHUNK = new Uint8Array(64 * 1024);

/**
 * `n` zero bytes as a stream of 64 KiB chunks (a decrypted file's chunk size, each a new
 * copy, as decryption makes), or with `whole` as one buffer (no JavaScript stream).
 */
function bytes(n: number, whole = false): Response {
  let left = Math.max(0, Math.floor(n));
  const headers = { "Content-Type": "application/octet-stream", "X-Bench-Upstream-Ms": "0", "X-Bench-Object-Calls": "0", "X-Bench-Objects-Woken": "0" };
  if (whole) return new Response(new Uint8Array(left), { headers });
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (left === 0) return controller.close();
        const part = Math.min(left, CHUNK.length);
        left -= part;
        controller.enqueue(part === CHUNK.length ? CHUNK.slice() : CHUNK.slice(0, part));
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers });
}

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

/** The digi.me call itself (`/__bench/direct/…`): what the edge's read does, minus the edge. */
async function direct(path: string, request: Request, isolateEnv: Env): Promise<Response> {
  const [sessionKey, fileName] = path.slice("/__bench/direct/".length).split("/").map(decodeURIComponent);
  const userAccessToken = request.headers.get("X-Bench-Access-Token");
  if (!sessionKey || !userAccessToken) return new Response("sessionKey and X-Bench-Access-Token, please", { status: 400 });
  // The Worker's own services (one per isolate): the same client, key imports and key-set cache.
  const { digime } = getServices(parseConfig(isolateEnv), isolateEnv, { webhookQueue: isolateEnv.WEBHOOK_QUEUE });
  if (!fileName) return Response.json(await digime.readFileList({ sessionKey, userAccessToken }));
  const file = await digime.readFile({ sessionKey, fileName, userAccessToken });
  return new Response(await digime.openFile(file), { headers: { "Content-Type": file.header.mimeType ?? "application/octet-stream" } });
}

export default {
  async fetch(request: Request, original: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/__bench/seed") return seed(request);
    if (path === "/__bench/bytes") {
      const query = new URL(request.url).searchParams;
      return bytes(Number(query.get("n") ?? 0), query.get("whole") === "1");
    }
    if (path === "/__bench/upstream" && request.method === "POST") {
      upstreamMode = new URL(request.url).searchParams.get("mode") === "stream" ? "stream" : "buffer";
      return new Response(null, { status: 204 });
    }
    if (path === "/__bench/kv") {
      const now = Date.now();
      return Response.json([...entries].filter(([, e]) => e.expiresAt > now).map(([key, e]) => [key, e.value]));
    }
    // One env object per isolate: the service caches its configuration and services by it.
    const isolateEnv = (env ??= { ...original, REAUTH_KV: memoryKv });
    const intervals: Array<[number, number]> = [];
    if (path.startsWith("/__bench/direct/")) {
      const answer = await upstream.run(intervals, () => direct(path, request, isolateEnv));
      const response = new Response(answer.body, answer);
      response.headers.set("X-Bench-Upstream-Ms", covered(intervals).toFixed(3));
      response.headers.set("X-Bench-Object-Calls", "0");
      response.headers.set("X-Bench-Objects-Woken", "0");
      return response;
    }
    const answer = await upstream.run(intervals, () => worker.fetch(request, isolateEnv, ctx));
    const id = answer.headers.get("X-Request-Id");
    const record = id ? objectRecords.get(id) : undefined;
    if (id) objectRecords.delete(id);
    // Records no answer named (an object call after its answer): the oldest go.
    for (const stale of objectRecords.keys()) {
      if (objectRecords.size <= 1000) break;
      objectRecords.delete(stale);
    }
    const response = new Response(answer.body, answer);
    response.headers.set("X-Bench-Upstream-Ms", covered(record ? [...intervals, ...record.intervals] : intervals).toFixed(3));
    response.headers.set("X-Bench-Object-Calls", String(record?.objectCalls ?? 0));
    response.headers.set("X-Bench-Objects-Woken", String(record?.objectsWoken ?? 0));
    return response;
  },
};
