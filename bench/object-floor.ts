/**
 * `npm run bench:floor`: what any Durable Object adds to a step on this
 * machine, whatever the code inside it does: the least a design that keeps a
 * user's state in an object (and commits before answering) can cost over one
 * that keeps it in an in-memory map, as the lean benchmark's KV is.
 *
 * A minimal Worker (no service code) in workerd through Miniflare's API, its
 * upstream a local server that answers after `--delay` ms, three shapes of a
 * step, each timed from the client (latency p50: the server waits the same
 * for every shape, so the difference between two shapes is what one adds over
 * the other; the upstream call as the Worker times it is not taken out, since
 * a commit that blocks workerd's thread while the call is out would hide in
 * it):
 *
 * - `memory`: read a map entry, call upstream, write two map entries (the
 *   code before the objects, on the lean benchmark's in-memory KV);
 * - `object, callback shape`: one RPC to the user's object, which reads one
 *   record, calls upstream, writes two records, and answers once they are
 *   durable;
 * - `object, start shape`: one RPC; the object reads one record, sends its
 *   upstream call, writes one record while the call is out (unconfirmed, after
 *   one turn of the event loop so the request has left), and answers once the
 *   write is durable (`sync`). It does not move the alarm: a start moves it
 *   only for a user's first open flow, and locally that is a second commit.
 *
 * Each shape on objects that served a request a moment ago ("warm") and on
 * objects idle for longer than workerd keeps them in memory ("cold": the
 * object is constructed again), with the objects' storage on disk and, with
 * `--tmpfs <dir>`, on tmpfs (no fsync).
 *
 *   npm run bench:floor -- [--requests 120] [--delay 50] [--tmpfs /dev/shm]
 *
 * Writes bench/floor.json, which `npm run bench` (and `--report-only`) shows
 * in BENCHMARKS.md's "User objects" section beside each step's change.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { ROOT } from "../harness/stack.ts";
import { median, round } from "./lib.ts";
import type { Floor, FloorShape, FloorStorage } from "./report.ts";

/** How long workerd keeps an idle object in memory is about 10 s; cold runs wait longer than that. */
const EVICTION_WAIT_MS = 12_000;

const SCRIPT = `
import { DurableObject } from "cloudflare:workers";
const map = new Map();
async function timedFetch(url) {
  const began = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  return performance.now() - began;
}
export class Floor extends DurableObject {
  async callback(upstream, entry) {
    const s = this.ctx.storage;
    await s.get("flow:v1:" + entry.id);
    const upstreamMs = await timedFetch(upstream);
    await s.put("token:v1", { sealed: entry.sealed, at: Date.now() });
    await s.put("flow:v1:" + entry.id, { ...entry, status: "succeeded", at: Date.now() });
    return { upstreamMs, state: { ...entry, status: "succeeded" } };
  }
  async start(upstream, entry) {
    const s = this.ctx.storage;
    await s.get("token:v1");
    const answered = timedFetch(upstream);
    // One turn of the event loop, so the request has left before the commit can block the thread.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await s.put("flow:v1:" + entry.id, { ...entry, status: "pending" }, { allowUnconfirmed: true });
    const upstreamMs = await answered;
    await s.sync();
    return { upstreamMs, state: entry };
  }
  async alarm() {}
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const user = url.searchParams.get("user");
    const upstream = url.searchParams.get("upstream");
    const entry = { id: crypto.randomUUID(), user, sealed: "x".repeat(700), createdAt: Date.now() };
    let upstreamMs;
    switch (url.searchParams.get("shape")) {
      case "memory": {
        map.get("token:" + user);
        upstreamMs = await timedFetch(upstream);
        map.set("token:" + user, { sealed: entry.sealed, at: Date.now() });
        map.set("flow:" + entry.id, { ...entry, status: "succeeded" });
        break;
      }
      case "callback":
        ({ upstreamMs } = await env.FLOOR.get(env.FLOOR.idFromName(user)).callback(upstream, entry));
        break;
      case "start":
        ({ upstreamMs } = await env.FLOOR.get(env.FLOOR.idFromName(user)).start(upstream, entry));
        break;
      default:
        return new Response("unknown shape", { status: 400 });
    }
    return new Response("ok", { headers: { "X-Upstream-Ms": upstreamMs.toFixed(3) } });
  },
};
`;

const SHAPES = ["memory", "callback", "start"] as const satisfies readonly FloorShape[];
type Shape = FloorShape;

/** One runtime with its objects' storage under `storageRoot`: warm and cold latency p50 per shape. */
async function measureIn(storageRoot: string, requests: number, upstream: string): Promise<FloorStorage> {
  const persist = mkdtempSync(join(storageRoot, "edge-floor-"));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      script: SCRIPT,
      compatibilityDate: "2026-11-01",
      resourcePersistencePath: persist,
      durableObjects: { FLOOR: { className: "Floor", useSQLite: true } },
    }),
  );
  try {
    const base = await mf.ready;
    const step = async (shape: Shape, user: string): Promise<number> => {
      const began = performance.now();
      const response = await fetch(`${base}?shape=${shape}&user=${user}&upstream=${encodeURIComponent(upstream)}`);
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`${shape}: HTTP ${response.status}`);
      // Latency, not latency less the upstream call as the Worker timed it: a commit that blocks
      // workerd's thread while the call is out would hide inside that interval. The server waits
      // the same for every shape, so the shapes' differences are what the object adds.
      return performance.now() - began;
    };
    const warm: Record<Shape, number[]> = { memory: [], callback: [], start: [] };
    const cold: Record<Shape, number[]> = { memory: [], callback: [], start: [] };
    // Warm: ten objects, each served a request a moment ago; the shapes take turns.
    for (let i = 0; i < 30; i++) for (const shape of SHAPES) await step(shape, `warm-${i % 10}`);
    for (let i = 0; i < requests; i++) for (const shape of SHAPES) warm[shape].push(await step(shape, `warm-${i % 10}`));
    // Cold: objects created, left idle past workerd's eviction, then each called once.
    const coldUsers = Math.max(10, Math.floor(requests / 4));
    for (let i = 0; i < coldUsers; i++) for (const shape of SHAPES) await step(shape, `cold-${shape}-${i}`);
    await new Promise((resolve) => setTimeout(resolve, EVICTION_WAIT_MS));
    for (let i = 0; i < coldUsers; i++) for (const shape of SHAPES) cold[shape].push(await step(shape, `cold-${shape}-${i}`));
    const summary = (samples: Record<Shape, number[]>) => Object.fromEntries(SHAPES.map((s) => [s, median(samples[s])])) as Record<Shape, number>;
    return { warm: summary(warm), cold: summary(cold), warmRequests: requests, coldRequests: coldUsers };
  } finally {
    await mf.dispose();
    rmSync(persist, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: "string", default: "120" }, delay: { type: "string", default: "50" }, tmpfs: { type: "string" } } });
  const delay = Number(values.delay);
  const server = createServer((_request, response) => void setTimeout(() => response.end("{}"), delay));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const loadBefore = loadavg().map((n) => round(n));
  try {
    const roots: Array<["disk" | "tmpfs", string]> = [["disk", tmpdir()], ...(values.tmpfs ? [["tmpfs", values.tmpfs] as ["tmpfs", string]] : [])];
    console.log(`bench:floor: ${values.requests} warm requests per shape, upstream delayed ${delay} ms, load average ${loadBefore.join(" / ")}`);
    const floor: Floor = { date: new Date().toISOString(), delayMs: delay, command: `npm run bench:floor -- ${process.argv.slice(2).join(" ")}`.trim(), loadAverageBefore: loadBefore, loadAverageAfter: [], storage: {} };
    for (const [name, root] of roots) {
      const result = await measureIn(root, Number(values.requests), upstream);
      floor.storage[name] = result;
      for (const kind of ["warm", "cold"] as const) {
        const r = result[kind];
        const add = (shape: Shape) => `${r[shape]} ms (+${round(r[shape] - r.memory)})`;
        console.log(`${name}, ${kind} objects: latency p50 memory ${r.memory} ms; object, callback shape ${add("callback")}; object, start shape ${add("start")}`);
      }
    }
    floor.loadAverageAfter = loadavg().map((n) => round(n));
    writeFileSync(join(ROOT, "bench", "floor.json"), `${JSON.stringify(floor, null, 2)}\n`);
    console.log("bench:floor: wrote bench/floor.json (npm run bench -- --report-only shows it in BENCHMARKS.md)");
  } finally {
    server.close();
  }
}

await main();
