/**
 * BENCHMARKS.md from bench/results.json: the lean runtime's figures (the
 * Worker's own), the dev stack's beside them, and the targets met or missed.
 */
import { DIRECT_TWIN, FILE_READ_EXPECTED, FILE_STEPS, REFRESH_BATCH, ROUND_TRIPS, TOKEN_READ_EXPECTED, TOKEN_STEPS, type FileStepName, type LevelResult, type MeasuredStep, type Stats, type StepName, type TokenStepName } from "./lib.ts";
import type { NodeDecryptRun } from "./decrypt.ts";
import type { StepProfile } from "./profile.ts";

type WorkStep = Exclude<StepName, "baseline (/healthz)">;

export interface ColdFigure {
  firstRequestMs: number;
  runs: number[];
  nonUpstreamMs: number;
  upstreamCalls: string[];
  upstreamCallsConsistent: boolean;
  /** RPC calls to user objects (the most of the boots), where counted. */
  objectCalls?: number;
}

export interface Results {
  date: string;
  delayMs: number;
  machine: Record<string, string | number | number[]>;
  bundle: { rawBytes: number; gzipBytes: number };
  startup: {
    boots: number;
    workerdBootMs: { bundle: number; bare: number; bundleMin: number; bareMin: number; runsBundle: number[]; runsBare: number[] };
    startupMs: number;
    nodeImportMs: { bundle: number; empty: number; net: number };
  };
  lean: {
    levels: LevelResult[];
    counts: Record<string, number>;
    /** Object calls per request per step (the most at any concurrency), where counted. */
    objectCounts?: Record<string, number>;
    cold: Record<"fresh" | "warm", Record<WorkStep, ColdFigure>>;
    profile?: StepProfile[];
  };
  dev?: { levels: LevelResult[]; counts: Record<string, number> };
  cryptoMsPerOp?: Record<string, number>;
  /** What code the figures are of, when that needs saying (shown under the date). */
  scope?: string;
  notes?: string;
}

/** The issue's targets (lean runtime, 50 ms upstream, this 2-core machine). */
export const TARGETS = { nonUpstreamP50C1Ms: 2, nonUpstreamP50C16Ms: 8, coldSlackMs: 20, startupMs: 15, bundleKiB: 350 };

const WORK_STEPS: WorkStep[] = ["user start", "account start", "user callback", "account callback"];
const kib = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;
const r2 = (n: number) => Math.round(n * 100) / 100;

function levelRows(levels: LevelResult[], withCpu: boolean, withObjects = false): string {
  return levels
    .map((l) => {
      const cpu = withCpu ? ` ${l.cpuMsPerRequest ?? "—"} |` : "";
      const objects = withObjects ? ` ${l.objectCallsPerRequest ?? "—"} |` : "";
      return `| ${l.step} | ${l.concurrency} | ${l.requests} | ${l.latencyMs.p50} | ${l.latencyMs.p99} | ${l.step.startsWith("baseline") ? "—" : `${l.nonUpstreamMs.p50} / ${l.nonUpstreamMs.p99}`} |${cpu} ${l.upstreamCallsPerRequest} |${objects} ${l.mockTimePerCallMs || "—"} | ${l.throughputPerS} | ${l.errors} |`;
    })
    .join("\n");
}

export function markdown(results: Results): string {
  const { machine, lean, startup, bundle } = results;
  const delay = results.delayMs;
  const at = (step: StepName, c: number) => lean.levels.find((l) => l.step === step && l.concurrency === c);
  const baselineCpu = (c: number) => at("baseline (/healthz)", c)?.cpuMsPerRequest;

  const targetRows: string[] = [];
  for (const [c, limit] of [[1, TARGETS.nonUpstreamP50C1Ms], [16, TARGETS.nonUpstreamP50C16Ms]] as const) {
    const figures = WORK_STEPS.map((s) => [s, at(s, c)?.nonUpstreamMs.p50] as const);
    const missed = figures.filter(([, v]) => v === undefined || v > limit);
    targetRows.push(
      `| warm non-upstream p50 ≤ ${limit} ms at c=${c}, every step | ${figures.map(([s, v]) => `${s} ${v ?? "?"}`).join("; ")} | ${missed.length ? `**missed** (${missed.map(([s, v]) => `${s} by ${v === undefined ? "?" : r2(v - limit)} ms`).join(", ")})` : "met"} |`,
    );
  }
  for (const location of ["fresh", "warm"] as const) {
    const figures = WORK_STEPS.map((s) => [s, lean.cold[location]?.[s]?.firstRequestMs, ROUND_TRIPS[s] * delay + TARGETS.coldSlackMs] as const);
    const missed = figures.filter(([, v, limit]) => v === undefined || v > limit);
    targetRows.push(
      `| first request on a fresh isolate (${location} location) ≤ round trips × ${delay} + ${TARGETS.coldSlackMs} ms | ${figures.map(([s, v, limit]) => `${s} ${v ?? "?"} (≤ ${limit})`).join("; ")} | ${missed.length ? `**missed** (${missed.map(([s, v, limit]) => `${s} by ${v === undefined ? "?" : r2(v - limit)} ms`).join(", ")})` : "met"} |`,
    );
  }
  targetRows.push(`| script start-up ≤ ${TARGETS.startupMs} ms | ${startup.startupMs} ms in workerd (fastest boot − fastest bare boot, ${startup.boots} each); ${startup.nodeImportMs.net} ms to evaluate in Node | ${startup.startupMs <= TARGETS.startupMs ? "met" : `**missed** by ${r2(startup.startupMs - TARGETS.startupMs)} ms`} |`);
  targetRows.push(`| production bundle ≤ ${TARGETS.bundleKiB} KiB raw | ${kib(bundle.rawBytes)} KiB (${kib(bundle.gzipBytes)} KiB gzip) | ${kib(bundle.rawBytes) <= TARGETS.bundleKiB ? "met" : "**missed**"} |`);
  const callsOk = lean.counts["user start"] === 1 && lean.counts["account start"] === 2 && lean.counts["user callback"] === 1 && lean.counts["account callback"] === 1;
  targetRows.push(`| upstream calls warm: 1 / 2 in parallel / 1 / 1 | ${WORK_STEPS.map((s) => lean.counts[s]).join(" / ")} | ${callsOk ? "met" : "**missed**"} |`);
  if (lean.objectCounts) {
    const objectsOk = WORK_STEPS.every((s) => (lean.objectCounts?.[s] ?? Infinity) <= 1);
    targetRows.push(`| user-object calls per step ≤ 1 | ${WORK_STEPS.map((s) => lean.objectCounts?.[s] ?? "?").join(" / ")} | ${objectsOk ? "met" : "**missed**"} |`);
  }
  const tokenLevels = TOKEN_STEPS.flatMap((step) => lean.levels.filter((l) => l.step === step));
  if (tokenLevels.length) {
    const tokenOk = tokenLevels.every((l) => {
      const e = TOKEN_READ_EXPECTED[l.step as TokenStepName];
      return l.objectCallsPerRequest === e.objectCalls && (l.objectCallsMax ?? e.objectCalls) === e.objectCalls && l.upstreamCallsPerRequest === e.upstreamCalls && l.errors === 0;
    });
    targetRows.push(
      `| token reads, warm: 1 object call each; digi.me calls 0 (fresh) / 1 (refresh) | ${tokenLevels.map((l) => `${l.step}: ${l.objectCallsPerRequest ?? "?"} object, ${l.upstreamCallsPerRequest} digi.me${l.errors ? `, ${l.errors} errors` : ""}`).join("; ")} | ${tokenOk ? "met" : "**missed**"} |`,
    );
  }
  const fileLevels = FILE_STEPS.flatMap((step) => lean.levels.filter((l) => l.step === step));
  if (fileLevels.length) {
    const fileOk = fileLevels.every((l) => {
      const e = FILE_READ_EXPECTED[l.step as FileStepName];
      return l.objectCallsPerRequest === e.objectCalls && (l.objectCallsMax ?? e.objectCalls) === e.objectCalls && l.upstreamCallsPerRequest === e.upstreamCalls && l.errors === 0;
    });
    targetRows.push(`| reads (issue 24), warm: 1 object call and 1 digi.me call each | ${fileLevels.map((l) => `${l.step}: ${l.objectCallsPerRequest ?? "?"} object, ${l.upstreamCallsPerRequest} digi.me${l.errors ? `, ${l.errors} errors` : ""}`).join("; ")} | ${fileOk ? "met" : "**missed**"} |`);
  }
  const withObjects = lean.levels.some((l) => l.objectCallsPerRequest !== undefined);

  const coldRows = WORK_STEPS.map((s) => {
    const f = lean.cold.fresh?.[s];
    const w = lean.cold.warm?.[s];
    const cell = (x?: ColdFigure) => (x ? `${x.firstRequestMs} | ${x.nonUpstreamMs} | ${x.upstreamCalls.join(" + ") || "none"}${x.upstreamCallsConsistent ? "" : " (varied)"}` : "— | — | —");
    return `| ${s} | ${ROUND_TRIPS[s]} | ${cell(f)} | ${cell(w)} | ${r2((f?.firstRequestMs ?? 0) + startup.startupMs)} |`;
  }).join("\n");

  const dev = results.dev;
  const crypto = results.cryptoMsPerOp;
  const loadBefore = machine.loadAverageBefore as number[] | undefined;
  const loadAfter = machine.loadAverageAfter as number[] | undefined;

  return `# Benchmarks

Measured by \`npm run bench\` on ${results.date.slice(0, 16).replace("T", " ")} UTC. The mock digi.me runs as its own
Node process on loopback and every upstream API call is delayed by **${delay} ms**; the
load generator is a third process on the same machine.
${results.scope ? `\n${results.scope.trim()}\n` : ""}
Machine: ${machine.cpu} × ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node},
workerd ${machine.workerd}, wrangler ${machine.wrangler}, miniflare ${machine.miniflare}.
Load average (1/5/15 min) before the run ${loadBefore?.join(" / ") ?? "?"}, after ${loadAfter?.join(" / ") ?? "?"}.

Two runtimes:

- **Lean** — the Worker's own figures: workerd driven by Miniflare's API, no wrangler dev
  proxy; the production Worker (\`src/index.ts\`, bundled by wrangler) behind a small
  benchmark entry (\`bench/lean-worker.ts\`) that gives it an in-memory KV instead of the
  local KV simulator and times its outbound fetches (with the user objects, theirs too: see
  "User objects"); the Cache API is Miniflare's, empty at each boot unless a warm location
  is seeded.
- **Dev stack** — \`wrangler dev\` as \`npm start\` runs it: its local proxy, its KV
  simulator on disk.

**Non-upstream time** = latency − the time the request spent waiting on digi.me. Lean:
as the Worker saw it, per request (every outbound fetch from call to last byte,
overlapping fetches counted once). Dev stack: round trips on the critical path × the
mock's median time per call. What is left is the Worker's work, the runtime's own
machinery and the load generator's HTTP. Round trips on the critical path: user start 1,
account start 1 (two calls in parallel), user callback 1, account callback 1 (the
confirming accounts read).

## Targets

| target | measured (lean) | result |
| --- | --- | --- |
${targetRows.join("\n")}

## Lean runtime: warm, per step

CPU = workerd's user + system CPU time over the step's requests ÷ requests (from
\`/proc\`, 10 ms ticks): the Worker plus workerd's HTTP handling, Miniflare's entry
Worker in front of it, and the outbound fetches. A request to \`/healthz\` costs
${baselineCpu(1) ?? "?"} ms of it at c=1.

| step | c | requests | p50 ms | p99 ms | non-upstream p50 / p99 ms | CPU ms / request | upstream calls / request |${withObjects ? " object calls / request |" : ""} mock ms / call | req/s | errors |
| --- | --- | --- | --- | --- | --- | --- | --- |${withObjects ? " --- |" : ""} --- | --- | --- |
${levelRows(lean.levels, true, withObjects)}

## Lean runtime: the first request on a fresh isolate

Each figure is the median of ${lean.cold.fresh?.["user start"]?.runs.length ?? "?"} boots of a new workerd (a new isolate, nothing
in memory), whose first request is the step (its flows and tokens seeded into the
in-memory KV from an earlier isolate). **Fresh location**: the Cache API is empty, so
the key set must come from digi.me. **Warm location**: another isolate of the location
has cached it. The last column adds script start-up, for a request that also waits for
the isolate to start (on Cloudflare start-up usually overlaps the TLS handshake).

| step | round trips | fresh location: first request ms | non-upstream ms | upstream calls | warm location: first request ms | non-upstream ms | upstream calls | fresh location + start-up ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${coldRows}

${
  lean.profile
    ? `## Lean runtime: where the Worker's own time goes (V8 CPU profile)

A CPU profile of the Worker's isolate (workerd's inspector, sampling its thread every
100 µs) while it serves ${lean.profile[0]?.requests ?? "?"} warm requests of each step at c=1, after their flows were
prepared. Shares of the busy samples (counted by samples: workerd's clock stands still
while JavaScript runs, so the profile's time deltas cannot be trusted, and the sampler
does not keep its period, so read shares, not milliseconds; the milliseconds are the CPU
column above). "bundle" is the service with hono and zod/mini; "built-ins" are the
workerd APIs it calls (WebCrypto, fetch, URL, Response).

| step | busy samples | bundle % | built-ins % | V8 (program, GC) % | top functions (% of busy samples) |
| --- | --- | --- | --- | --- | --- |
${lean.profile
  .map((p) => {
    const g = p.byGroupPercent;
    const v8 = r2((g["V8/workerd (program)"] ?? 0) + (g["V8/workerd (garbage collector)"] ?? 0));
    return `| ${p.step} | ${p.samples} | ${g["bundle (service, hono, zod/mini)"] ?? 0} | ${g["workerd built-ins (fetch, crypto, streams…)"] ?? 0} | ${v8} | ${p.topFunctions.slice(0, 6).map((f) => `${f.name.replace(/\|/g, "/")} ${f.percent}`).join("; ")} |`;
  })
  .join("\n")}

`
    : ""
}## Start-up and size

| figure | value |
| --- | --- |
| production bundle (\`wrangler deploy --dry-run\`) | ${kib(bundle.rawBytes)} KiB raw, ${kib(bundle.gzipBytes)} KiB gzip |
| workerd boot (Miniflare, to ready) with the bundle: fastest / median of ${startup.boots} | ${startup.workerdBootMs.bundleMin} / ${startup.workerdBootMs.bundle} ms (runs: ${startup.workerdBootMs.runsBundle.join(", ")}) |
| the same with a bare Worker | ${startup.workerdBootMs.bareMin} / ${startup.workerdBootMs.bare} ms (runs: ${startup.workerdBootMs.runsBare.join(", ")}) |
| **script start-up** (difference of the fastest boots; load only adds time) | **${startup.startupMs} ms** |
| the bundle's module evaluation in Node 24 (same V8), net of an empty module | ${startup.nodeImportMs.net} ms (${startup.nodeImportMs.bundle} − ${startup.nodeImportMs.empty}) |

${
  dev
    ? `## Dev stack (wrangler dev): warm, per step

The same steps through \`wrangler dev\`: its proxy and local KV simulator are in every
figure, and they, not the Worker, dominate the non-upstream time.

| step | c | requests | p50 ms | p99 ms | non-upstream p50 / p99 ms | upstream calls / request | mock ms / call | req/s | errors |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${levelRows(dev.levels, false)}
`
    : ""
}${
  crypto
    ? `
## Crypto CPU per operation (warm, in workerd)

Measured from outside (workerd's clock does not advance during computation):
(time of a request doing the operation n times − time of an empty request) / n, median of 7.

| operation | ms |
| --- | --- |
| PS512 JWT sign (contract key, 2048-bit) | ${crypto.sign} |
| PS512 token verify (digi.me key) | ${crypto.verify} |
| AES-GCM seal (token, ~1.3 KB) | ${crypto.seal} |
| AES-GCM open | ${crypto.open} |
| SHA-256 (state, binding) | ${crypto.sha256} |
| contract key import (cold isolate only) | ${crypto.import} |
| **one user callback's crypto** (open + sign + verify + seal + 2 × SHA-256) | **${crypto.callback}** |
`
    : ""
}${results.notes ? `\n## Reading the numbers\n\n${results.notes.trim()}\n` : ""}
Raw numbers: [\`bench/results.json\`](bench/results.json).
`;
}

// ---------------------------------------------------------------- user objects: side by side (--baseline)

/** The gate of issue 17: warm non-upstream p50 at c=1 may grow by at most this over the code before the user objects. */
export const SIDE_BY_SIDE_GATE_MS = 1;

/** One tree's figures in a side-by-side run. */
export interface SideBySideTree {
  root: string;
  commit: string;
  /** Whether its src/, bench/ or wrangler.toml had uncommitted changes. */
  dirty: boolean;
  userObjects: boolean;
  /** Its production bundle. */
  bundle: { rawBytes: number; gzipBytes: number };
  /** Warm, c=1, every round's requests pooled. */
  warm: Record<
    StepName,
    {
      requests: number;
      errors: number;
      latencyMs: Stats;
      nonUpstreamMs?: Stats;
      /** Each round's non-upstream p50: how steady the figure was. */
      roundP50s: number[];
      upstreamCallsPerRequest: number;
      objectCallsPerRequest?: number;
      objectCallsMax?: number;
      /** Share of requests whose object call woke the object (constructed for it: new, or evicted while idle). */
      objectsWokenPerRequest?: number;
    }
  >;
  cold?: Results["lean"]["cold"];
  profile?: StepProfile[];
  /** Where its objects' storage lived, when not the OS's temporary directory (`--tmpfs`). */
  storageRoot?: string;
}

/** `npm run bench -- --baseline <dir>`: this tree ("after") and another ("before") in one run. */
export interface SideBySide {
  date: string;
  delayMs: number;
  rounds: number;
  requestsPerRound: number;
  usersPerRuntime: number;
  boots: number;
  command: string;
  machine: { loadAverageBefore: number[]; loadAverageAfter: number[] } & Record<string, string | number | number[]>;
  after: SideBySideTree;
  before: SideBySideTree;
  /** `--tmpfs`: the after tree again, its objects' storage on tmpfs (no fsync). */
  afterTmpfs?: SideBySideTree;
  /** What the run's author found (attribution, profiles), shown under the tables. */
  notes?: string;
  gate: Record<WorkStep, { before: number; after: number; deltaMs: number; held: boolean }>;
}

/** A step's shape in `npm run bench:floor`: the code before (an in-memory map), or one object call shaped as a callback or as a start. */
export type FloorShape = "memory" | "callback" | "start";

/** `npm run bench:floor` on one kind of storage: latency p50 (ms) per shape, on objects in memory ("warm") and woken ("cold"). */
export interface FloorStorage {
  warm: Record<FloorShape, number>;
  cold: Record<FloorShape, number>;
  warmRequests: number;
  coldRequests: number;
}

/** `npm run bench:floor`: what any Durable Object adds to a step here (bench/floor.json). */
export interface Floor {
  date: string;
  delayMs: number;
  command: string;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  storage: Partial<Record<"disk" | "tmpfs", FloorStorage>>;
}

const sign = (n: number) => `${n >= 0 ? "+" : "−"}${Math.abs(r2(n))}`;
const treeName = (t: SideBySideTree) => `${t.commit}${t.dirty ? " + uncommitted work" : ""}`;

/** The step shapes of `npm run bench:floor`. */
const FLOOR_SHAPE: Record<WorkStep, Exclude<FloorShape, "memory">> = { "user start": "start", "account start": "start", "user callback": "callback", "account callback": "callback" };

/** What any object adds here (bench/floor.json), and each step's change set against it. */
function floorSection(run: SideBySide, floor: Floor): string {
  const rows = (["disk", "tmpfs"] as const).flatMap((name) => {
    const s = floor.storage[name];
    if (!s) return [];
    return (["warm", "cold"] as const).map((kind) => {
      const f = s[kind];
      return `| ${name} | ${kind === "warm" ? "in memory" : "woken"} | ${f.memory} | ${f.callback} (${sign(f.callback - f.memory)}) | ${f.start} (${sign(f.start - f.memory)}) |`;
    });
  });
  // Latency, not non-upstream: the mock waits the same for both trees, and a commit that blocks
  // workerd's thread while a digi.me call is out lands inside the Worker's timing of that call.
  const latencyChange = (t: SideBySideTree | undefined, step: WorkStep) => (t ? r2(t.warm[step].latencyMs.p50 - run.before.warm[step].latencyMs.p50) : undefined);
  const steps = WORK_STEPS.map((step) => {
    const woken = (run.after.warm[step].objectsWokenPerRequest ?? 0) >= 0.5;
    const shape = FLOOR_SHAPE[step];
    const cell = (name: "disk" | "tmpfs", change: number | undefined) => {
      const f = floor.storage[name]?.[woken ? "cold" : "warm"];
      if (!f || change === undefined) return "— | — | —";
      const least = r2(f[shape] - f.memory);
      return `${sign(change)} | ${sign(least)} | ${sign(change - least)}`;
    };
    return `| ${step} | ${shape}, ${woken ? "woken" : "in memory"} | ${cell("disk", latencyChange(run.after, step))} | ${cell("tmpfs", latencyChange(run.afterTmpfs, step))} |`;
  }).join("\n");
  return `
### What any object costs here (the floor)

\`npm run bench:floor\` (\`bench/object-floor.ts\`, ${floor.date.slice(0, 16).replace("T", " ")} UTC, load ${floor.loadAverageBefore.join(" / ")} before,
${floor.loadAverageAfter.join(" / ")} after) measures what a Durable Object adds to a step on this machine whatever the code in
it does: a minimal Worker, no service code, its upstream a local server delayed ${floor.delayMs} ms, latency
p50 in ms (the server waits the same for every shape, so a shape's excess over **memory** is what the object adds). **memory**: read a map entry, call upstream, write two entries (the code before, on the lean
benchmark's in-memory KV). **callback shape**: one RPC; the object reads a record, calls upstream,
writes two records and answers once they are durable. **start shape**: one RPC; the object reads a
record, sends its upstream call, writes one record while the call is out, and answers once the
write is durable (no alarm move: a start moves the alarm only for a user's first open flow, and
locally that is a second commit). Objects in memory (served a request a moment ago) and woken
(idle past eviction, constructed again for the call).

| storage | object | memory | object, callback shape (added) | object, start shape (added) |
| --- | --- | --- | --- | --- |
${rows.join("\n")}

Each step of the run above set against the floor of its shape (what a minimal object adds
there, measured at another time: this machine's spread between runs is about ±0.5 ms), and
what the service's own code adds over it, in **latency p50** (the mock
waits the same for both trees; the non-upstream figures above take out the digi.me calls
as the Worker timed them, and a commit that blocks workerd's thread while a call is out —
a start's, written while its call is out — can land inside that timing and out of
"non-upstream"):

| step | shape, object | latency change (disk) | floor (disk) | over the floor (disk) | latency change (tmpfs) | floor (tmpfs) | over the floor (tmpfs) |
| --- | --- | --- | --- | --- | --- | --- | --- |
${steps}
`;
}

/** The "User objects (Durable Objects)" section of BENCHMARKS.md. */
export function userObjectsSection(run: SideBySide, floor?: Floor): string {
  const { after, before, machine } = run;
  const tmpfs = run.afterTmpfs;
  const date = run.date.slice(0, 16).replace("T", " ");
  const p50 = (t: SideBySideTree | undefined, step: StepName) => t?.warm[step]?.nonUpstreamMs?.p50;
  const warmRows = WORK_STEPS.map((step) => {
    const a = after.warm[step];
    const b = before.warm[step];
    const g = run.gate[step];
    const t = p50(tmpfs, step);
    const tmpfsCell = tmpfs ? ` ${t ?? "?"} (${t === undefined ? "?" : sign(t - g.before)}) |` : "";
    return `| ${step} | ${g.before} | ${g.after} | **${sign(g.deltaMs)}** | ${g.held ? "held" : "**missed**"} |${tmpfsCell} ${b.nonUpstreamMs?.p95 ?? "?"} / ${a.nonUpstreamMs?.p95 ?? "?"} | ${b.latencyMs.p50} / ${a.latencyMs.p50} | ${b.upstreamCallsPerRequest} / ${a.upstreamCallsPerRequest} | ${a.objectCallsPerRequest ?? "—"} | ${a.objectsWokenPerRequest ?? "—"} | ${b.errors} / ${a.errors} |`;
  }).join("\n");
  const healthz = (t: SideBySideTree) => t.warm["baseline (/healthz)"]?.latencyMs.p50 ?? "?";
  const coldRows =
    after.cold && before.cold
      ? (["fresh", "warm"] as const)
          .flatMap((location) =>
            WORK_STEPS.map((step) => {
              const a = after.cold![location]?.[step];
              const b = before.cold![location]?.[step];
              if (!a || !b) return "";
              const calls = `${a.upstreamCalls.join(" + ")}${a.upstreamCalls.join() === b.upstreamCalls.join() ? "" : ` (before: ${b.upstreamCalls.join(" + ")})`}`;
              return `| ${step} | ${location} | ${b.firstRequestMs} | ${a.firstRequestMs} | ${sign(a.firstRequestMs - b.firstRequestMs)} | ${b.nonUpstreamMs} / ${a.nonUpstreamMs} | ${calls} | ${a.objectCalls ?? "—"} |`;
            }),
          )
          .filter(Boolean)
          .join("\n")
      : "";
  const held = Object.values(run.gate).every((g) => g.held);
  const missed = WORK_STEPS.filter((s) => !run.gate[s].held);
  const rounds = (t: SideBySideTree, step: WorkStep) => t.warm[step].roundP50s.join(", ");
  const measured = (step: WorkStep) => `${after.warm[step].objectCallsPerRequest ?? "—"} / ${after.cold?.fresh?.[step]?.objectCalls ?? "—"}`;
  return `## User objects (Durable Objects)

Each user's token and the states of the user's flows live in a Durable Object, \`UserObject\`
(\`src/users/object.ts\`, binding \`USERS\`, SQLite storage), which the Worker calls over RPC
(\`src/users/client.ts\`). The lean runtime binds it too (\`bench/lean.wrangler.toml\`;
\`bench/lean-worker.ts\` re-exports the class): in workerd the object runs in the Worker's own
isolate and process (locally the RPC crosses no network), its storage is workerd's SQLite
in a directory on disk, and every write is committed (fsync) before the object answers. The
benchmark entry wraps the object's RPC methods to count them per request
(\`X-Bench-Object-Calls\`) and to time the digi.me calls the object makes for the request
(kept under the \`call.requestId\` every RPC carries, merged with the Worker's own in
\`X-Bench-Upstream-Ms\`), so "non-upstream" means the same as above: everything but the
wait on digi.me, the object's work included.

### Object calls per step

At most one object call on any step's critical path. \`test/routes/round-trips.test.ts\`
asserts the count per step, on a warm and on a cold isolate, by spying on the
\`UserObject\` prototype's methods (a second call fails it; a test shows that it does), and
the lean runtime counts it on every request (warm / cold figures from the run below).

| step | object calls | the call (what else is on the critical path) | measured: warm / cold |
| --- | --- | --- | --- |
| user start | 1 | \`beginUserFlow\`: the object reads the token and makes the digi.me call; then the Worker writes the KV start entry | ${measured("user start")} |
| account start | 1 | \`beginAccountFlow\`: the object makes both digi.me calls, in parallel; then the KV start entry | ${measured("account start")} |
| launch | 1 | \`launch\`, after the KV read of the start entry | asserted by the test |
| user callback | 1 | \`completeUser\`, after the KV read; the object exchanges the code and stores the token | ${measured("user callback")} |
| account callback | 1 | \`completeAccount\`, after the KV read; the object confirms the account | ${measured("account callback")} |
| flow read (\`GET /v1/flows/{id}\`) | 1 | \`flow\`, after the KV read that names the flow's user | asserted by the test |
| reauth-status | 1 | \`reauthStatus\`: the object makes the digi.me calls | asserted by the test |
| token read / import | 1 | \`readToken\` (refreshing at digi.me first when the access token is not fresh enough) / \`importToken\` | read: 1, fresh and refreshing (\`--token-reads\`, "Token reads" below); asserted by the test |

The first call for a user (whatever the step) also reads KV once inside the object, for a
token record kept there before the objects (taken over and deleted if found); the object
remembers that it looked, so every later call skips it.

### Before and after, side by side (${date} UTC)

One run, on this machine: the code before the objects (commit ${before.commit}, in a worktree)
and this tree (${treeName(after)}), each behind its own \`bench/lean-worker.ts\`, on one mock
(every digi.me call delayed ${run.delayMs} ms); warm at c=1 in ${run.rounds} rounds of ${run.requestsPerRound}
requests per step, the runtimes taking turns step by step and the order flipping every round,
each round on other users (${run.usersPerRuntime} per runtime, so an object holds a few flows, as in use);
then ${run.boots} cold boots of each, alternating.${tmpfs ? ` A third runtime ran this tree again with its objects' storage on tmpfs (\`${tmpfs.storageRoot ?? "?"}\`: no fsync), to show what the durable commits cost here.` : ""}
Machine: ${machine.cpu} × ${machine.cores} cores, ${machine.os}; Node ${machine.node}, workerd ${machine.workerd}.
**Load average (1/5/15 min) before ${machine.loadAverageBefore.join(" / ")}, after ${machine.loadAverageAfter.join(" / ")}**
(others' test runs share the 2 cores). The harness floor (\`/healthz\`, latency p50): before ${healthz(before)} ms, after ${healthz(after)} ms.

\`\`\`sh
git worktree add ${before.root} ${before.commit} && (cd ${before.root} && npm install --no-audit --no-fund)
${run.command}
git worktree remove --force ${before.root}
\`\`\`

**Gate (issue 17): warm non-upstream p50 at c=1 may grow by at most ${SIDE_BY_SIDE_GATE_MS} ms over the code before — ${held ? "held on every step" : `missed on ${missed.length === WORK_STEPS.length ? "every step" : missed.join(", ")}`}.**

| step (warm, c=1) | before: non-upstream p50 ms | after | change | gate (≤ +${SIDE_BY_SIDE_GATE_MS} ms) |${tmpfs ? " after, storage on tmpfs (change) |" : ""} p95 before / after | latency p50 before / after | digi.me calls / request before / after | object calls / request | objects woken / request | errors before / after |
| --- | --- | --- | --- | --- |${tmpfs ? " --- |" : ""} --- | --- | --- | --- | --- | --- |
${warmRows}

"Objects woken": the share of requests whose object call met an object constructed for it
(new, or evicted after about 10 s idle, as workerd does; Cloudflare may hibernate an idle object after 10 s too).
A round's user starts meet objects idle since the round before; the account starts follow
them on the same users, and the callbacks follow their own flows' launches, seconds later.
${floor ? floorSection(run, floor) : ""}
Each round's non-upstream p50 (${run.requestsPerRound} requests, ms), to show the spread:
${WORK_STEPS.map((step) => `- ${step}: before ${rounds(before, step)}; after ${rounds(after, step)}`).join("\n")}
${
  coldRows
    ? `
First request on a fresh isolate, median of ${run.boots} boots each (a new workerd whose KV and objects'
storage hold what the warm run left; "fresh" location: empty Cache API, so the key set comes
from digi.me; "warm": the key set in the Cache API; locally the object starts in the same
new isolate, so its cold start is in these figures):

| step | location | before ms | after ms | change | non-upstream before / after ms | digi.me calls | object calls |
| --- | --- | --- | --- | --- | --- | --- | --- |
${coldRows}
`
    : ""
}
Production bundle: before ${kib(before.bundle.rawBytes)} KiB (${kib(before.bundle.gzipBytes)} KiB gzip), after ${kib(after.bundle.rawBytes)} KiB (${kib(after.bundle.gzipBytes)} KiB gzip).
Raw numbers: [\`bench/side-by-side.json\`](bench/side-by-side.json).
${run.notes ? `\n${run.notes.trim()}\n` : ""}
### On paper: where the object lives, and what a far callback pays

The lean runtime puts the Worker and the object in one process. On Cloudflare they are
apart, and what matters is where each runs.

**Where the object lives.** A Durable Object is created near the first request that
reaches it, and stays there: its SQLite storage lives with it. The first call for a user
is usually the backend's (\`PUT /v1/users/{id}/token\` or a start), so the object lives near
the backend. \`USER_OBJECT_LOCATION_HINT\` (a var: one of \`wnam\`, \`enam\`, \`sam\`, \`weur\`,
\`eeur\`, \`apac\`, \`oc\`, \`afr\`, \`me\`) places new objects in that region instead, e.g. near
digi.me's API or the users; it only decides where an object is created, never moves one.
Every request, from anywhere, that needs a user's token or flow states goes to that one
place; in return it reads the latest and writes once, atomically.

**What a backend call pays.** The Worker runs at the Cloudflare location nearest the
backend; with the object created near the backend, the RPC stays in that location or
region, then the object makes its digi.me call(s) and commits its writes before it answers
(a SQLite commit that replicas in nearby data centers confirm — Cloudflare: three of five —
before the answer may leave; locally an fsync stands in for it).

**What a browser callback far from the object pays.** The browser reaches the Worker at
its own location B; the object lives at A (near the backend). Now, on the critical path:

1. the KV read of the flow's start entry at B (from B's cache, or from KV's central store
   if B never read that key) — as before;
2. **one RPC round trip B → A → B**, inside which the object exchanges the code (user
   callback) or reads the accounts (account callback) with digi.me **from A**, and commits
   the token and the outcome at A.

Before the objects, the same callback did, all from B: the KV read of the flow; the
exchange with digi.me from B; then **two KV writes one after the other** (the token, then
the flow's outcome), each waiting for KV's central store. So the object swaps two sequential
writes to KV's central store for one round trip between B and A, plus one local commit at A,
and moves the digi.me call from B to A: the digi.me leg gets shorter when A is nearer
digi.me's API than B is, longer when it is farther.

| | before (KV) | after (user object at A) |
| --- | --- | --- |
| user callback at B | KV read (B) + exchange from B + KV write + KV write (B → central store, each) | KV read (B) + RTT(B, A) + exchange from A + commit at A |
| account callback at B | KV read (B) + KV read of the token (B) + accounts read from B + KV write (B → central store) | KV read (B) + RTT(B, A) + accounts read from A + commit at A |
| start from the backend (near A) | KV read of the token + digi.me from the backend's location + KV write of the start entry (to the central store) | RTT to A (same region) + digi.me from A + commit at A, then the same KV write of the start entry |
| what another location reads next | possibly a stale cached value for 60 s or more | the latest, always |

For a browser on another continent, RTT(B, A) is that continent-to-continent round trip
(tens to a couple of hundred milliseconds), paid once per callback; the two writes it
replaces each paid the trip from B to KV's central store. The objects' gain is not speed
but read-your-write everywhere and one refresh per token (issue 17); the price is bounded
by one round trip to A per step, which \`USER_OBJECT_LOCATION_HINT\` can shorten for a
deployment whose users cluster far from its backend.

**What the first call for a user pays.** Once per user, ever: the object looks for a token
record the Worker kept in KV before the objects (one KV read at A — from KV's central store
if A never read that key; a "not found" as well) and, if it finds one, copies it into its
storage and deletes it from KV (one KV delete, also on that first call). Every later call
skips the look (the object stores that it looked). An object evicted after being idle is
constructed again when it wakes (about 1 ms here: see the floor above); an object
whose isolate is new at A pays script start-up there as well (see "Start-up and size").
`;
}

// ---------------------------------------------------------------- token reads (--token-reads)

/** One step's figures in `npm run bench -- --token-reads`: warm, c=1, every round's requests pooled. */
export interface TokenReadsStep {
  requests: number;
  errors: number;
  latencyMs: Stats;
  nonUpstreamMs?: Stats;
  /** Each round's latency and non-upstream p50: how steady the figures were. */
  roundLatencyP50s: number[];
  roundNonUpstreamP50s: number[];
  /** digi.me (mock API) calls per request, from the mock's journal over the timed requests only. */
  upstreamCallsPerRequest: number;
  objectCallsPerRequest?: number;
  objectCallsMax?: number;
  objectsWokenPerRequest?: number;
  cpuMsPerRequest?: number;
  mockTimePerCallMs: number;
}

/** What a run of the reads' steps (`--token-reads`, `--file-reads`) records of itself and its machine, and its steps' figures. */
interface ReadsRunRecord {
  date: string;
  delayMs: number;
  rounds: number;
  requestsPerRound: number;
  command: string;
  commit: string;
  dirty: boolean;
  /** What differed from the commit under src/, bench/ and wrangler.toml when the bundle was built. */
  dirtyPaths?: string[];
  machine: { loadAverageBefore: number[]; loadAverageAfter: number[] } & Record<string, string | number | number[]>;
  steps: Partial<Record<MeasuredStep, TokenReadsStep>>;
}

/** `npm run bench -- --token-reads`: the token reads beside the flow steps, on the lean runtime (bench/token-reads.json). */
export interface TokenReadsRun extends ReadsRunRecord {
  /** The refreshing read's `minValidity` (s) and its users' access-token lifetime (ms). */
  refreshMinValiditySeconds: number;
  shortAccessTokenMs: number;
  tokenReadUsers: number;
  /** What the token reads must do (TOKEN_READ_EXPECTED), held or not, and how not. */
  expectations: Record<TokenStepName, { held: boolean; breaches: string[] }>;
  notes?: string;
}

/** BENCHMARKS.md's "Token reads" section from bench/token-reads.json. */
export function tokenReadsSection(run: TokenReadsRun): string {
  const { machine } = run;
  const date = run.date.slice(0, 16).replace("T", " ");
  const rows = Object.entries(run.steps)
    .map(([step, s]) => {
      const nonUpstream = step.startsWith("baseline") || !s.nonUpstreamMs ? "—" : `${s.nonUpstreamMs.p50} / ${s.nonUpstreamMs.p95}`;
      return `| ${TOKEN_STEPS.includes(step as TokenStepName) ? `**${step}**` : step} | ${s.requests} | ${s.latencyMs.p50} | ${s.latencyMs.p95} / ${s.latencyMs.p99} | ${nonUpstream} | ${s.upstreamCallsPerRequest} | ${s.objectCallsPerRequest ?? "—"}${s.objectCallsMax !== undefined && s.objectCallsMax !== s.objectCallsPerRequest ? ` (at most ${s.objectCallsMax})` : ""} | ${s.objectsWokenPerRequest ?? "—"} | ${s.cpuMsPerRequest ?? "—"} | ${s.errors} |`;
    })
    .join("\n");
  const fresh = run.steps["token read (fresh)"];
  const refresh = run.steps["token read (refresh)"];
  const expectation = (step: TokenStepName) => {
    const e = TOKEN_READ_EXPECTED[step];
    const x = run.expectations[step];
    return `| ${step} | ${e.objectCalls} | ${e.upstreamCalls} | ${e.refreshed} | ${run.steps[step]?.objectCallsPerRequest ?? "?"} / ${run.steps[step]?.upstreamCallsPerRequest ?? "?"} / ${run.steps[step]?.errors ?? "?"} | ${x.held ? "held" : `**missed**: ${x.breaches.join("; ")}`} |`;
  };
  const spread = (step: MeasuredStep) => {
    const s = run.steps[step];
    return s ? `- ${step}: latency ${s.roundLatencyP50s.join(", ")}; non-upstream ${s.roundNonUpstreamP50s.join(", ")}` : "";
  };
  return `## Token reads (issue 23)

\`GET /v1/users/{userId}/token\` answers the user's current token from the user's object. A
token **fresh enough** (its access token valid for at least \`minValidity\` seconds, default
300) costs one object call and no digi.me call; one that is not is refreshed by the object
first (one \`oauth/token\` call, single flight), stored with a new version, and answered
with \`refreshed: true\`.

Measured by \`${run.command}\` on ${date} UTC (tree ${run.commit}${run.dirty ? ` + uncommitted work${run.dirtyPaths?.length ? ` in ${run.dirtyPaths.join(", ")}` : ""}` : ", nothing uncommitted"}): the lean runtime (workerd through Miniflare,
the objects' SQLite storage on disk), the standalone mock with every digi.me call delayed
**${run.delayMs} ms**, warm, **c=1**, ${run.rounds} round${run.rounds === 1 ? "" : "s"} of ${run.requestsPerRound} requests per step, the
steps taking turns within each round. **token read (fresh)**: the tokens of ${run.tokenReadUsers} users,
imported with digi.me's 1-hour access token, read in turn (each read once, uncounted,
before each round, so their objects are in memory). **token read (refresh)**: a new user
per read, given at the mock a token whose access token lives ${run.shortAccessTokenMs / 60_000} minutes and imported
(\`PUT\`, outside the timing, ${REFRESH_BATCH} users at a time just before their reads), then read
with \`?minValidity=${run.refreshMinValiditySeconds}\`: every read refreshes once. The flow steps ran in the same
rounds, for comparison. digi.me calls come from the mock's journal over the timed
requests only; object calls and objects woken from the lean runtime's count per request.
Machine: ${machine.cpu} × ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}, workerd ${machine.workerd}.
**Load average (1/5/15 min) before ${machine.loadAverageBefore.join(" / ")}, after ${machine.loadAverageAfter.join(" / ")}.**

| step (warm, c=1) | requests | latency p50 ms | p95 / p99 ms | non-upstream p50 / p95 ms | digi.me calls / request | object calls / request | objects woken / request | CPU ms / request | errors |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows}

${fresh ? `A fresh read: **${fresh.latencyMs.p50} ms** latency p50 (non-upstream ${fresh.nonUpstreamMs?.p50 ?? "?"} ms), against ${run.steps["baseline (/healthz)"]?.latencyMs.p50 ?? "?"} ms for \`/healthz\` (the harness). ` : ""}${refresh ? `A read that refreshes: **${refresh.latencyMs.p50} ms** (non-upstream ${refresh.nonUpstreamMs?.p50 ?? "?"} ms): the ${run.delayMs} ms digi.me call, the object's work and its commit of the new token.` : ""}

What the reads must do, every time (\`--token-reads\` exits 1 and \`--compare\` reports a regression otherwise):

| step | object calls | digi.me calls | \`refreshed\` | measured (object calls / digi.me calls / errors) | result |
| --- | --- | --- | --- | --- | --- |
${TOKEN_STEPS.map(expectation).join("\n")}

Each round's p50 (ms), to show the spread:
${Object.keys(run.steps)
  .map((step) => spread(step as MeasuredStep))
  .filter(Boolean)
  .join("\n")}
${run.notes ? `\n${run.notes.trim()}\n` : ""}
Raw numbers: [\`bench/token-reads.json\`](bench/token-reads.json).
`;
}

// ---------------------------------------------------------------- file reads (--file-reads)

/** Reads of one 20 MiB file in one upstream mode (bench/lean-worker.ts's `/__bench/upstream`). */
export interface LargeRead {
  /** The file's compression, or `answer`: 20 MiB from the benchmark entry, no service code, no upstream (the harness's floor). */
  kind: "none" | "gzip" | "answer";
  /** `buffer`: the body read whole before the Worker sees it (its transfer is upstream time); `stream`: as production, headers only are upstream. */
  mode: "buffer" | "stream";
  plaintextBytes: number;
  memorySampled: boolean;
  runs: Array<{
    latencyMs: number;
    upstreamMs: number;
    objectCalls: number;
    /** workerd's resident set just before the read, its peak during it (VmHWM reset before, or the 2 ms samples' highest), KiB. */
    rssBeforeKiB?: number;
    peakKiB?: number;
    sampledPeakKiB?: number;
    rssAfterKiB?: number;
    /** The Worker's isolate just after the read (inspector): V8 heap in use, and ArrayBuffers' backing stores, KiB. */
    heapUsedAfterKiB?: number;
    backingAfterKiB?: number;
  }>;
  /** Medians over the runs. */
  latencyMs: number;
  upstreamMs: number;
  nonUpstreamMs: number;
  /** Plaintext MB (10^6 bytes) per second: over the whole request, and over what is not upstream time. */
  endToEndMbPerS: number;
  afterUpstreamMbPerS: number;
}

/** `npm run bench -- --file-reads` (bench/file-reads.json). */
export interface FileReadsRun extends ReadsRunRecord {
  fileReadUsers: number;
  fileReadBytes: number;
  expectations: Record<FileStepName, { held: boolean; breaches: string[] }>;
  large: LargeRead[];
  /** Each memory runtime's RSS after boot and once set up and warm (KiB); whether VmHWM could be reset before each read. */
  memory: {
    /** Per runtime: RSS after boot and once warm; the isolate's heap and backing stores before the reads and after 5 s idle past them, with the RSS then. */
    runtimes: Array<{
      compression: string;
      bootKiB?: number;
      warmKiB?: number;
      heapUsedBeforeKiB?: number;
      backingBeforeKiB?: number;
      idleHeapUsedKiB?: number;
      idleBackingKiB?: number;
      idleRssKiB?: number;
    }>;
    peakReset: boolean;
    workerLimitMiB: number;
  };
  node: NodeDecryptRun;
  bundle: { rawBytes: number; gzipBytes: number };
  notes?: string;
}

/** The issue's claim: a file read costs at most this much non-upstream time more than the digi.me call itself. */
export const FILE_READ_CLAIM_MS = 2;

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** BENCHMARKS.md's "File reads" section from bench/file-reads.json. */
export function fileReadsSection(run: FileReadsRun): string {
  const { machine } = run;
  const date = run.date.slice(0, 16).replace("T", " ");
  const step = (name: MeasuredStep) => run.steps[name];
  const healthz = step("baseline (/healthz)")?.latencyMs.p50 ?? Number.NaN;
  const answerFloor = step("baseline (1 MiB answer)")?.latencyMs.p50 ?? Number.NaN;
  const rows = Object.entries(run.steps)
    .map(([name, s]) => {
      const nonUpstream = name.startsWith("baseline") || !s.nonUpstreamMs ? "—" : `${s.nonUpstreamMs.p50} / ${s.nonUpstreamMs.p95}`;
      return `| ${FILE_STEPS.includes(name as FileStepName) ? `**${name}**` : name} | ${s.requests} | ${s.latencyMs.p50} | ${s.latencyMs.p95} / ${s.latencyMs.p99} | ${nonUpstream} | ${s.upstreamCallsPerRequest} | ${s.mockTimePerCallMs || "—"} | ${s.objectCallsPerRequest ?? "—"}${s.objectCallsMax !== undefined && s.objectCallsMax !== s.objectCallsPerRequest ? ` (at most ${s.objectCallsMax})` : ""} | ${s.cpuMsPerRequest ?? "—"} | ${s.errors} |`;
    })
    .join("\n");
  const expectation = (name: FileStepName) => {
    const e = FILE_READ_EXPECTED[name];
    const x = run.expectations[name];
    const s = step(name);
    return `| ${name} | ${e.objectCalls} | ${e.upstreamCalls} | ${s?.objectCallsPerRequest ?? "?"}${s?.objectCallsMax !== undefined ? ` (at most ${s.objectCallsMax})` : ""} / ${s?.upstreamCallsPerRequest ?? "?"} / ${s?.errors ?? "?"} | ${x.held ? "held" : `**missed**: ${x.breaches.join("; ")}`} |`;
  };
  const claimRow = (name: FileStepName) => {
    const s = step(name);
    const twin = step(DIRECT_TWIN[name]);
    const own = s?.nonUpstreamMs?.p50 ?? Number.NaN;
    const call = twin?.nonUpstreamMs?.p50 ?? Number.NaN;
    const more = r2(own - call);
    const verdict = more <= FILE_READ_CLAIM_MS ? "held" : `**missed** by ${r2(more - FILE_READ_CLAIM_MS)} ms`;
    return `| ${name} | ${s?.objectCallsPerRequest ?? "?"} (call: ${twin?.objectCallsPerRequest ?? "?"}) | ${own} | ${call} | ${more} | ${verdict} | ${s?.cpuMsPerRequest ?? "—"} / ${twin?.cpuMsPerRequest ?? "—"} |`;
  };
  const largeRows = run.large
    .map((l) => `| ${l.kind === "answer" ? "20 MiB answer, no service code (floor)" : l.kind} | ${l.mode}${l.memorySampled ? " (memory sampled)" : ""} | ${l.runs.length} | ${l.latencyMs} | ${l.upstreamMs} | ${l.nonUpstreamMs} | ${l.endToEndMbPerS} | ${l.afterUpstreamMbPerS} | ${l.runs.map((r) => r.latencyMs).join(", ")} |`)
    .join("\n");
  const memoryRuns = run.large.filter((l) => l.memorySampled);
  const memoryRows = memoryRuns
    .flatMap((l) =>
      l.runs.map((r, i) => {
        const peak = r.peakKiB ?? r.sampledPeakKiB;
        return `| ${l.kind} | ${i + 1} | ${r.rssBeforeKiB !== undefined ? mib(r.rssBeforeKiB) : "?"} | ${peak !== undefined ? mib(peak) : "?"} | ${r.sampledPeakKiB !== undefined ? mib(r.sampledPeakKiB) : "?"} | ${peak !== undefined && r.rssBeforeKiB !== undefined ? `+${mib(peak - r.rssBeforeKiB)}` : "?"} | ${r.rssAfterKiB !== undefined ? mib(r.rssAfterKiB) : "?"} | ${r.heapUsedAfterKiB !== undefined ? mib(r.heapUsedAfterKiB) : "?"} / ${r.backingAfterKiB !== undefined ? mib(r.backingAfterKiB) : "?"} |`;
      }),
    )
    .join("\n");
  const deltas = memoryRuns.flatMap((l) => l.runs.map((r) => ((r.peakKiB ?? r.sampledPeakKiB) ?? Number.NaN) - (r.rssBeforeKiB ?? Number.NaN)));
  const peaks = memoryRuns.flatMap((l) => l.runs.map((r) => (r.peakKiB ?? r.sampledPeakKiB) ?? Number.NaN));
  const maxDelta = mib(Math.max(...deltas));
  const maxPeak = mib(Math.max(...peaks));
  const nodeRows = run.node.figures.map((f) => `| ${f.compression} | ${f.plaintextBytes} | ${f.encryptedBytes} | ${f.medianMs} | **${f.mbPerS}** | ${f.runsMs.join(", ")} | ${f.maxBufferedBytes} |`).join("\n");
  return `## File reads (issue 24)

\`GET /v1/users/{userId}/sessions/{sessionKey}/files\` answers a session's file list, and
\`…/files/{fileName}\` a file, decrypted at the edge with the contract key (RSA-OAEP data key,
then AES-256-CBC 64 KiB at a time as the body arrives) and decompressed, streamed. Each read
takes the user's token from the user's object (one object call) and calls digi.me from the
Worker (one call).

Measured by \`${run.command}\` on ${date} UTC (tree ${run.commit}${run.dirty ? ` + uncommitted work${run.dirtyPaths?.length ? ` in ${run.dirtyPaths.join(", ")}` : ""}` : ", nothing uncommitted"}): the lean runtime
(workerd through Miniflare, the objects' SQLite storage on disk), the standalone mock with every
digi.me call delayed **${run.delayMs} ms** (the file read's too), warm, **c=1**, ${run.rounds} rounds of ${run.requestsPerRound} requests per step,
the steps taking turns within each round, on ${run.fileReadUsers} users' own sessions (the mock's \`sessionKey\`
of each user: always finished, so the list answers at once). **file read (small)**: the
account's default uncompressed file (about 100 bytes). **file read (1 MiB)**: a file of exactly
${run.fileReadBytes} bytes of JSON put on each user's account with the mock's admin API
(\`POST /__mock/users/:userId/files/large\`), **uncompressed**, so what the edge adds is the
decryption, not a decompression; every answer's length is checked. **baseline (1 MiB answer)**:
\`/__bench/bytes\` of the benchmark entry, 1 MiB in 64 KiB chunks with no service code and no
upstream: what carrying a 1 MiB answer to the load generator costs here. The lean runtime reads
each digi.me answer whole before handing it on (bench/lean-worker.ts, \`buffer\` mode), so the
1 MiB body's transfer from the mock is upstream time and its decryption is the Worker's own
(production decrypts as the body arrives, overlapping the two: these figures are the
non-overlapped upper bound).
Machine: ${machine.cpu} × ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}, workerd ${machine.workerd}.
**Load average (1/5/15 min) before ${machine.loadAverageBefore.join(" / ")}, after ${machine.loadAverageAfter.join(" / ")}** (others' test runs share the 2 cores).

| step (warm, c=1) | requests | latency p50 ms | p95 / p99 ms | non-upstream p50 / p95 ms | digi.me calls / request | mock ms / call | object calls / request | CPU ms / request | errors |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows}

What the reads must do, every time (\`--file-reads\` exits 1 and \`--compare\` reports a regression otherwise; \`npm run bench\` measures them at c=1 too):

| step | object calls | digi.me calls | measured (object calls / digi.me calls / errors) | result |
| --- | --- | --- | --- | --- |
${FILE_STEPS.map(expectation).join("\n")}

**The claim (issue 24): "a file read through the edge costs at most one object call and ${FILE_READ_CLAIM_MS} ms
non-upstream more than the digi.me call itself."** Non-upstream = latency − the time the Worker
waited on digi.me (the whole body, in this mode), as for every step here. **The digi.me call
itself** is its twin above (\`digi.me call (…)\`): the same call made as a backend on digi.me's
SDK makes it, the request signed with the contract key and the file decrypted and
decompressed as it streams, by the service's own digi.me client in the same runtime, with the
user's access token in hand (\`/__bench/direct/…\` of the benchmark entry: no API key, no route,
no user object). Both carry the same answer over the same harness (\`/healthz\` ${healthz} ms, a
1 MiB answer ${answerFloor} ms), so the difference is the edge's part: the API key, the route,
the object call for the token. Every request asks for its answer uncompressed
(\`Accept-Encoding: identity\`): Miniflare's entry Worker gzips an answer for a client that
accepts gzip, as Cloudflare's front line does in production outside the Worker, and here that
would count as the Worker's CPU (about 25 ms for the 1 MiB JSON file).

| read | object calls | non-upstream p50 ms | the digi.me call itself: non-upstream p50 ms | more than the call ms | ≤ ${FILE_READ_CLAIM_MS} ms | CPU ms / request (read / call) |
| --- | --- | --- | --- | --- | --- | --- |
${claimRow("file list read")}
${claimRow("file read (small)")}
${claimRow("file read (1 MiB)")}

### 20 MiB files: throughput and workerd's memory

One user with a 20 MiB file (${LARGE_MIB_NOTE}, put with \`POST /__mock/users/:userId/files/large\`)
uncompressed and one gzip-compressed (the mock generates, compresses and encrypts each read as
it sends it, in Node); the read path warmed with small reads first. **stream**: as production,
the body handed to the Worker as it arrives, decrypted and answered as it streams (upstream =
the wait for digi.me's headers, the ${run.delayMs} ms included; the rest is the transfer, the
mock's generation and the edge's work overlapped, so the slower end sets the pace).
**buffer**: the benchmark entry reads the body whole first (upstream = the mock's whole
delivery), so non-upstream is the edge alone: decryption (and gunzip) and the 20 MiB answer
to the load generator. **20 MiB answer (floor)**: \`/__bench/bytes\`, as many bytes (zeros) in 64 KiB
chunks from the benchmark entry with no service code and no upstream: what carrying 20 MiB to
the load generator costs here, part of every row. The rows marked "memory sampled" ran
first, each compression on a new runtime of its own (below); the others take turns, one read each
per round, ${run.large.find((l) => !l.memorySampled)?.runs.length ?? "?"} rounds, on a third runtime. MB = 10^6 bytes of plaintext.

| compression | mode | reads | latency p50 ms | upstream ms | non-upstream ms | MB/s end to end | MB/s of the non-upstream part | each read's latency ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${largeRows}

**workerd's resident memory** (the whole process: the Worker's isolate, Miniflare's entry Worker,
the objects, workerd itself) while it serves one 20 MiB read in stream mode, read from
\`/proc/<pid>/status\`: VmRSS just before the read, then the peak during it (${run.memory.peakReset ? "VmHWM, reset to the current RSS just before the read (`clear_refs` 5), and VmRSS sampled every 2 ms" : "VmRSS sampled every 2 ms: VmHWM could not be reset here"}), MiB.
A new runtime per compression; its RSS after boot / once set up and warm: ${run.memory.runtimes.map((m) => `${m.compression} ${m.bootKiB !== undefined ? mib(m.bootKiB) : "?"} / ${m.warmKiB !== undefined ? mib(m.warmKiB) : "?"} MiB`).join("; ")}.
The Worker's isolate (workerd's inspector, \`Runtime.getHeapUsage\`: the V8 heap in use, and the backing stores of its ArrayBuffers, where file bytes live), before the reads and after 5 s idle past them (workerd does not answer \`HeapProfiler.collectGarbage\`, so no collection was forced), with the process's RSS then: ${run.memory.runtimes
  .map((m) => `${m.compression}: heap ${m.heapUsedBeforeKiB !== undefined ? mib(m.heapUsedBeforeKiB) : "?"} → ${m.idleHeapUsedKiB !== undefined ? mib(m.idleHeapUsedKiB) : "?"} MiB, backing stores ${m.backingBeforeKiB !== undefined ? mib(m.backingBeforeKiB) : "?"} → ${m.idleBackingKiB !== undefined ? mib(m.idleBackingKiB) : "?"} MiB, RSS then ${m.idleRssKiB !== undefined ? mib(m.idleRssKiB) : "?"} MiB`)
  .join("; ")}.

| compression | read | RSS before | peak | highest 2 ms sample | peak − before | RSS after | isolate after: V8 heap in use / ArrayBuffer backing stores |
| --- | --- | --- | --- | --- | --- | --- | --- |
${memoryRows}

Highest peak ${maxPeak} MiB, largest rise over the RSS before a read **+${maxDelta} MiB** for a 20 MiB file (the Worker's limit is ${run.memory.workerLimitMiB} MB per isolate; this is the whole process).

**The decryption alone in Node** (\`node bench/decrypt.ts\`, ${run.node.node}): \`decryptFileStream\` (and
\`decompress\`) of src/digime/files.ts over an encrypted body held in memory, made by the mock's
own encryption (mock-server/data.ts) and handed over 64 KiB at a time; median of ${run.node.figures[0]?.runs ?? "?"} runs after one
warm-up. Node's WebCrypto (OpenSSL) and streams, not workerd's (BoringSSL): the code's cost on
this CPU, not the Worker's.

| compression | plaintext bytes | encrypted bytes | median ms | MB/s | runs ms | most ciphertext held at once (bytes) |
| --- | --- | --- | --- | --- | --- | --- |
${nodeRows}
${
  run.node.aes
    ? `
The cipher alone (Node's WebCrypto, AES-256-CBC over ${run.node.aes.bytes} bytes, no stream): in 64 KiB calls as
\`decryptFileStream\` makes them (with its one-block encryption per chunk) ${run.node.aes.chunkedMs} ms (${run.node.aes.chunkedMbPerS} MB/s); in one
call ${run.node.aes.oneCallMs} ms (${run.node.aes.oneCallMbPerS} MB/s). So of the stream's time for the uncompressed file the
cipher calls are the smaller part; the rest is the stream around them (reads, copies, promises).
`
    : ""
}
Production bundle (\`wrangler deploy --dry-run\`, this run): ${kib(run.bundle.rawBytes)} KiB raw, ${kib(run.bundle.gzipBytes)} KiB gzip.
${run.notes ? `\n${run.notes.trim()}\n` : ""}
Raw numbers: [\`bench/file-reads.json\`](bench/file-reads.json).
`;
}

const LARGE_MIB_NOTE = "20,971,520 bytes of JSON records";


// ---------------------------------------------------------------- --compare (bench/baseline.json)

/** Margins of `--compare`: a figure regresses when it is worse than the baseline's by more than this. */
export const COMPARE_MARGINS = {
  /** Warm non-upstream p50 at c=1 (c=16 measures the machine's saturation more than the Worker): ×1.5 and 1 ms more. */
  nonUpstreamFactor: 1.5,
  nonUpstreamSlackMs: 1,
  /** First request on a fresh isolate (median): ×1.3 and 15 ms more. */
  coldFactor: 1.3,
  coldSlackMs: 15,
  /**
   * Script start-up (median boot difference): ×1.3 and 15 ms more, as a first request. Two runs
   * on one tree, minutes apart on a quiet machine, read 109 and 136 ms: 10 ms was inside the noise.
   */
  startupFactor: 1.3,
  startupSlackMs: 15,
  /** Bundle: 5% more bytes. */
  bundleFactor: 1.05,
  /** Upstream calls and object calls per request: any increase. */
};

/** `npm run bench -- --record-baseline` (bench/baseline.json): what `--compare` measures, of the current design. */
export interface CompareBaseline {
  date: string;
  delayMs: number;
  command: string;
  commit: string;
  dirty: boolean;
  dirtyPaths?: string[];
  machine: { loadAverageBefore: number[]; loadAverageAfter: number[] } & Record<string, string | number | number[]>;
  /** What the figures are of: a baseline of another design is refused, not compared. */
  design: { userObjects: boolean };
  bundle: { rawBytes: number; gzipBytes: number };
  startup: Results["startup"];
  lean: Pick<Results["lean"], "levels" | "counts" | "objectCounts" | "cold">;
  /** What to know about the baseline or the comparisons made against it (`--notes` with `--record-baseline`, or edited in). */
  notes?: string;
}

/** BENCHMARKS.md's `--compare` section: how the check works and the baseline it uses. */
export function compareSection(baseline?: CompareBaseline): string {
  const m = COMPARE_MARGINS;
  const at = (name: MeasuredStep) => baseline?.lean.levels.find((l) => l.step === name && l.concurrency === 1);
  const steps = baseline ? [...new Set(baseline.lean.levels.filter((l) => !l.step.startsWith("baseline")).map((l) => l.step))] : [];
  const rows = steps
    .map((name) => {
      const l = at(name);
      return l ? `| ${name} | ${l.nonUpstreamMs.p50} | ${r2(l.nonUpstreamMs.p50 * m.nonUpstreamFactor + m.nonUpstreamSlackMs)} | ${l.upstreamCallsPerRequest} | ${l.objectCallsPerRequest ?? "—"} |` : "";
    })
    .filter(Boolean)
    .join("\n");
  const cold = baseline
    ? (["user start", "account start", "user callback", "account callback"] as const)
        .map((name) => `${name} ${baseline.lean.cold.fresh?.[name]?.firstRequestMs ?? "?"} / ${baseline.lean.cold.warm?.[name]?.firstRequestMs ?? "?"}`)
        .join("; ")
    : "";
  return `## \`--compare\`: the regression check

\`npm run bench -- --compare\` measures the lean figures again (c=1 and 16 with the token reads
and the reads of issue 24 at c=1, cold boots, start-up, bundle; no profile) and exits 1 when one is
worse than **\`bench/baseline.json\`** beyond these margins: warm non-upstream p50 at c=1
× ${m.nonUpstreamFactor} + ${m.nonUpstreamSlackMs} ms; first request on a fresh isolate × ${m.coldFactor} + ${m.coldSlackMs} ms; start-up × ${m.startupFactor} + ${m.startupSlackMs} ms; bundle
+ ${Math.round((m.bundleFactor - 1) * 100)}%; any added upstream call or object call, at any concurrency; and, whatever the
baseline says, a token read or a read of issue 24 making other than its one object call and its
digi.me calls. It writes nothing (but docs/speed.md's bundle figure) and prints which baseline it
used (its commit and date) and both load averages, with a warning when the machine is busier now
than then (the 1-minute load more than 1 higher): timing regressions may then be the machine's, the
counts never are.

**The baseline is of the current design, not \`bench/results.json\`.** \`bench/results.json\` is the
full run's record, measured before the user objects (tokens and flows in KV, no object calls):
comparing today's code against it reported as regressions what the design changed on purpose
(each step's object call and durable commit, about +1.5 ms; "User objects" above), not slips. So
\`npm run bench -- --record-baseline\` measures exactly what \`--compare\` measures and writes
\`bench/baseline.json\` (commit, date, load, design); record it again whenever the design changes
on purpose. \`--compare\` exits 2 without comparing when there is no baseline or the baseline is
of another design (user objects bound in one and not the other), and lists as "not compared"
every step the baseline has not measured or measured with another design (object calls counted in
one run only), rather than judging it against figures of other work.

${
  baseline
    ? `The baseline now: recorded by \`${baseline.command}\` on ${baseline.date.slice(0, 16).replace("T", " ")} UTC, tree ${baseline.commit}${baseline.dirty ? ` + uncommitted work${baseline.dirtyPaths?.length ? ` in ${baseline.dirtyPaths.join(", ")}` : ""}` : ""}, user objects ${baseline.design.userObjects ? "bound" : "not bound"}, load average before ${baseline.machine.loadAverageBefore.join(" / ")}, after ${baseline.machine.loadAverageAfter.join(" / ")}. Bundle ${kib(baseline.bundle.rawBytes)} KiB (${kib(baseline.bundle.gzipBytes)} KiB gzip); start-up ${baseline.startup.startupMs} ms; first request on a fresh isolate, fresh / warm location (ms): ${cold}.

| step (c=1) | baseline non-upstream p50 ms | regression above ms | digi.me calls / request | object calls / request |
| --- | --- | --- | --- | --- |
${rows}
${baseline.notes ? `\n${baseline.notes.trim()}\n` : ""}`
    : "No baseline is recorded: `--compare` refuses to run until `npm run bench -- --record-baseline` writes one.\n"
}
The margins are wide, and c=16 latency is not compared, because this machine is small and
shared: a run while other test suites ran (load 6 against 2.6) read the c=16 callbacks twice as
slow and cold requests 30–65 ms slower with no change to the code. They catch a lost overlap or
an added round trip (+50 ms), a heavy dependency or a slow code path, not a few per cent.

Raw numbers: [\`bench/baseline.json\`](bench/baseline.json).
`;
}
