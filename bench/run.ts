/**
 * `npm run bench`: the Worker's speed, measured two ways against the
 * standalone mock digi.me (its own Node process, loopback, every API call
 * delayed by `--delay` ms):
 *
 * - **lean runtime** (the Worker's own figures): workerd through Miniflare's
 *   API, the production Worker with an in-memory KV (bench/lean-worker.ts).
 *   Per step: upstream round trips, p50/p99 at each concurrency, non-upstream
 *   time, workerd CPU per request (at c=1 also the token reads of issue 23: a
 *   fresh read, and one that refreshes at digi.me first; and the reads of issue 24:
 *   a file list, a small file, a 1 MiB file); the first request on a fresh isolate
 *   (median of `--boots` boots, in a fresh and in a warm location); script
 *   start-up; the production bundle's size.
 * - **dev stack**: the same steps under `wrangler dev` (its proxy and local KV
 *   simulator included), as `npm start` runs it; plus crypto CPU per operation.
 *
 *   npm run bench -- [--delay 50] [--levels 1,16,64] [--boots 5] [--skip-dev] [--notes "..."]
 *   npm run bench -- --compare     # lean figures only, against bench/baseline.json (the current design's); exit 1 on a
 *       # regression beyond the margins, exit 2 when there is no baseline or it is of another design
 *   npm run bench -- --record-baseline # measures what --compare measures and writes bench/baseline.json
 *   npm run bench -- --report-only # rewrite BENCHMARKS.md from bench/results.json (and bench/side-by-side.json, bench/token-reads.json)
 *   npm run bench -- --token-reads [--rounds 5] [--requests 20]
 *       # the token reads (issue 23: a fresh read, a read that refreshes) beside the other steps,
 *       # lean runtime, warm c=1, steps taking turns round by round; writes bench/token-reads.json
 *       # and the "Token reads" section of BENCHMARKS.md; exit 1 if a read makes other than one
 *       # object call, or other than 0 (fresh) / 1 (refresh) digi.me calls, or answers otherwise
 *   npm run bench -- --file-reads [--rounds 5] [--requests 20]
 *       # the reads of issue 24 (a file list, a small file, a 1 MiB file) beside /healthz, a 1 MiB answer
 *       # with no service code and the fresh token read, lean runtime, warm c=1, in rounds; then 20 MiB files
 *       # (uncompressed and gzip) end to end with workerd's resident memory, and the decryption alone in
 *       # Node (bench/decrypt.ts); writes bench/file-reads.json and the "File reads" section of
 *       # BENCHMARKS.md; exit 1 if a read makes other than one object call and one digi.me call
 *   npm run bench -- --baseline <dir> [--rounds 10] [--requests 20] [--users 200] [--skip-cold] [--profile] [--tmpfs /dev/shm]
 *       # this tree and the one at <dir> (a git worktree with node_modules) side by side in one run:
 *       # both lean bundles on one mock, warm c=1 steps alternating round by round, then cold
 *       # first requests alternating boot by boot; writes bench/side-by-side.json and the
 *       # "User objects" section of BENCHMARKS.md; exit 1 if warm non-upstream p50 at c=1
 *       # grows by more than SIDE_BY_SIDE_GATE_MS on any step. --tmpfs <dir>: a third runtime, this
 *       # tree with its objects' storage in <dir> (tmpfs: no fsync), to show what durable commits cost
 *
 * Writes bench/results.json and BENCHMARKS.md (except with --compare, --record-baseline and --baseline).
 * Every run that builds the production bundle also writes its size into docs/speed.md.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEV_CONTRACT } from "../mock-server/standalone.ts";
import { DEV_API_KEY, freePort, ROOT, startMockProcess, startStack, waitForHealth, WRANGLER, type MockHandle } from "../harness/stack.ts";
import { bootLean, buildBundle, objectState, type Bundle, type LeanRuntime, type ObjectState } from "./lean.ts";
import {
  client,
  DIRECT_TWIN,
  EXPECTED_STATUS,
  FILE_READ_BYTES,
  FILE_READ_EXPECTED,
  FILE_READ_NAME,
  FILE_STEPS,
  journalSeq,
  journalSince,
  measure,
  median,
  prepareCallbacks,
  processCpuMs,
  putLargeFile,
  REFRESH_MIN_VALIDITY_S,
  round,
  sendStep,
  setUp,
  UNCOMPRESSED,
  SHORT_ACCESS_TOKEN_MS,
  stats,
  STEPS,
  TOKEN_READ_EXPECTED,
  TOKEN_STEPS,
  versionOf,
  type BenchUser,
  type Client,
  type FileStepName,
  type LevelResult,
  type MeasuredStep,
  type PreparedCallback,
  type Samples,
  type StepName,
  type TokenStepName,
} from "./lib.ts";
import { cdp, profileSteps, type StepProfile } from "./profile.ts";
import { nodeDecryptThroughput } from "./decrypt.ts";
import {
  COMPARE_MARGINS,
  compareSection,
  fileReadsSection,
  markdown,
  SIDE_BY_SIDE_GATE_MS,
  tokenReadsSection,
  userObjectsSection,
  type ColdFigure,
  type CompareBaseline,
  type FileReadsRun,
  type Floor,
  type LargeRead,
  type Results,
  type SideBySide,
  type SideBySideTree,
  type TokenReadsRun,
  type TokenReadsStep,
} from "./report.ts";

const WORK_STEPS = STEPS.filter((s) => !s.startsWith("baseline")) as Exclude<StepName, "baseline (/healthz)">[];

/** The machine a run measured on, with the load average before it and now. */
function machineFacts(loadBefore: number[]) {
  return {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    workerd: versionOf("workerd"),
    wrangler: versionOf("wrangler"),
    miniflare: versionOf("miniflare"),
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg().map((n) => round(n)),
  };
}

// ---------------------------------------------------------------- lean runtime

const BARE_WORKER = `export default { fetch() { return new Response("ok"); } };`;

/**
 * For evaluating a bundle in Node: `cloudflare:workers` (the user object's base class,
 * `DurableObject`) resolved to a stub, registered before the timed import.
 */
const CLOUDFLARE_MODULE_STUB = `import { registerHooks } from "node:module"; registerHooks({ resolve: (specifier, context, next) => specifier === "cloudflare:workers" ? { url: "data:text/javascript,export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } } export class WorkerEntrypoint {}", shortCircuit: true } : next(specifier, context) });`;

/** Script start-up: boot time of workerd with the production bundle minus with a bare Worker. */
async function measureStartup(production: Bundle, mock: MockHandle, boots: number): Promise<Results["startup"]> {
  const port = await freePort();
  const bootOnce = async (script: { path: string } | { source: string }) => {
    const began = performance.now();
    const runtime = await bootLean({ script, port, mock, userObjects: "path" in script && production.userObjects });
    const ms = performance.now() - began;
    await runtime.close();
    return ms;
  };
  const bundleRuns: number[] = [];
  const bareRuns: number[] = [];
  for (let i = 0; i < Math.max(boots, 9); i++) {
    // Interleaved, so a change in the machine's load hits both alike.
    bareRuns.push(await bootOnce({ source: BARE_WORKER }));
    bundleRuns.push(await bootOnce({ path: production.path }));
  }
  // The same bundle's module evaluation in Node (same V8), without workerd around it.
  const nodeImport = (path: string) => {
    const runs: number[] = [];
    const mjs = join(mkdtempSync(join(tmpdir(), "edge-bench-import-")), "worker.mjs");
    writeFileSync(mjs, readFileSync(path));
    for (let i = 0; i < Math.max(boots, 7); i++) {
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", `${CLOUDFLARE_MODULE_STUB} const t = performance.now(); await import(${JSON.stringify(mjs)}); console.log(performance.now() - t);`], { encoding: "utf8" });
      runs.push(Number(out.trim()));
    }
    rmSync(join(mjs, ".."), { recursive: true, force: true });
    return median(runs);
  };
  const emptyPath = join(mkdtempSync(join(tmpdir(), "edge-bench-empty-")), "empty.js");
  writeFileSync(emptyPath, BARE_WORKER);
  const nodeBundle = nodeImport(production.path);
  const nodeEmpty = nodeImport(emptyPath);
  rmSync(join(emptyPath, ".."), { recursive: true, force: true });
  // Load from other processes only ever adds time, so the fastest boot of each kind is the
  // cleanest view of its own cost; the medians are kept beside them.
  return {
    boots: bundleRuns.length,
    workerdBootMs: { bundle: median(bundleRuns), bare: median(bareRuns), bundleMin: round(Math.min(...bundleRuns)), bareMin: round(Math.min(...bareRuns)), runsBundle: bundleRuns.map((n) => round(n)), runsBare: bareRuns.map((n) => round(n)) },
    startupMs: round(Math.min(...bundleRuns) - Math.min(...bareRuns)),
    nodeImportMs: { bundle: nodeBundle, empty: nodeEmpty, net: round(nodeBundle - nodeEmpty) },
  };
}

interface LeanRun {
  levels: LevelResult[];
  counts: Record<string, number>;
  /** Object calls per request, the most of any concurrency, per step (absent for code without user objects). */
  objectCounts?: Record<string, number>;
  /** KV contents and prepared callbacks for the cold boots. */
  kv: Array<[string, string]>;
  coldCallbacks: Record<"user" | "account", PreparedCallback[]>;
  users: BenchUser[];
}

async function runLeanWarm(bundle: Bundle, mock: MockHandle, levels: number[], requestsFor: (c: number) => number, delay: number, boots: number, objects: ObjectState): Promise<LeanRun> {
  const port = await freePort();
  const persistDir = objects.fresh();
  const runtime = await bootLean({ script: { path: bundle.path }, port, mock, userObjects: bundle.userObjects, persistDir });
  try {
    const c = client(runtime.url, DEV_API_KEY, mock.origin);
    const prefix = `lean-${Date.now()}`;
    const users = await setUp(c, 64, delay, prefix);
    // The fresh token read's users: their own, so no flow step changes their tokens.
    const tokenUsers = bundle.userObjects ? await setUp(c, TOKEN_READ_USERS, delay, `${prefix}-tokens`) : [];
    const tokenReads = tokenUsers.length > 0 && (await readsTokensWithVersions(c, tokenUsers[0]!));
    if (tokenUsers.length > 0 && !tokenReads) console.log("bench: token reads skipped: this Worker's token read answers no version (it predates issue 23)");
    // The reads of issue 24: their own users, each with a 1 MiB file on its account.
    const fileUsers = bundle.userObjects ? await setUpFileUsers(c, delay, `${prefix}-files`) : [];
    const fileReads = fileUsers.length > 0 && (await readsFiles(c, fileUsers[0]!));
    if (fileUsers.length > 0 && !fileReads) console.log("bench: file reads skipped: this Worker has no GET /v1/users/{id}/sessions/{key}/files (it predates issue 24)");
    const cpu = () => (runtime.pid ? processCpuMs(runtime.pid) : undefined);
    // Warm-up: the isolate fetches the key set and imports keys once; then every step is warm.
    for (const step of STEPS) await measure(c, step, 1, 3, delay, users);
    if (tokenReads) for (const step of TOKEN_STEPS) await measure(c, step, 1, 3, delay, tokenUsers);
    if (fileReads) for (const step of ["baseline (1 MiB answer)", ...FILE_STEPS] as const) await measure(c, step, 1, 3, delay, fileUsers);
    const results: LevelResult[] = [];
    for (const concurrency of levels) {
      for (const step of STEPS) {
        const level = await measure(c, step, concurrency, requestsFor(concurrency), delay, users, cpu);
        results.push(level);
        logLevel("lean", level);
      }
      // The token reads (issue 23) beside them, at c=1 only.
      if (concurrency === 1 && tokenReads) {
        for (const step of TOKEN_STEPS) {
          const level = await measureTokenRead(c, step, requestsFor(1), delay, tokenUsers, cpu);
          results.push(level);
          logLevel("lean", level);
        }
      }
      // The reads of issue 24 beside them, at c=1 only, after the floor of a 1 MiB answer.
      if (concurrency === 1 && fileReads) {
        for (const step of ["baseline (1 MiB answer)", ...FILE_STEPS] as const) {
          const level = await measure(c, step, 1, requestsFor(1), delay, fileUsers, cpu);
          results.push(level);
          logLevel("lean", level);
        }
      }
    }
    const warm = (step: MeasuredStep) => results.filter((r) => r.step === step).reduce((max, r) => Math.max(max, r.upstreamCallsPerRequest), 0);
    const counts: Record<string, number> = {};
    for (const step of [...WORK_STEPS, ...TOKEN_STEPS, ...FILE_STEPS]) if (results.some((r) => r.step === step)) counts[step] = warm(step);
    const objectCounts = objectCallCounts(results);
    // Flows for the cold boots' callbacks, started and consented to here; their KV goes to each fresh isolate.
    // Disjoint users: a cold user callback's exchange revokes its user's tokens, and an account
    // callback's confirming read with such a token would measure a refresh as well.
    const coldCallbacks = {
      user: await prepareCallbacks(c, users.slice(0, boots * 2), "user", boots * 2),
      account: await prepareCallbacks(c, users.slice(boots * 2, boots * 4), "account", boots * 2),
    };
    const kv = (await (await fetch(`${runtime.url}/__bench/kv`)).json()) as Array<[string, string]>;
    return { levels: results, counts, ...(objectCounts ? { objectCounts } : {}), kv, coldCallbacks, users };
  } finally {
    await runtime.close();
    // The objects' storage (tokens, flows) for the cold boots, as the KV contents are seeded.
    objects.snapshot(persistDir);
  }
}

/** Object calls per request per step (the most at any concurrency), when the runtime counted them. */
function objectCallCounts(levels: LevelResult[]): Record<string, number> | undefined {
  if (!levels.some((l) => l.objectCallsPerRequest !== undefined)) return undefined;
  const counts: Record<string, number> = {};
  for (const step of [...WORK_STEPS, ...TOKEN_STEPS, ...FILE_STEPS]) {
    if (levels.some((l) => l.step === step)) counts[step] = levels.filter((l) => l.step === step).reduce((max, l) => Math.max(max, l.objectCallsPerRequest ?? 0), 0);
  }
  return counts;
}

/** Whether the Worker reads tokens as issue 23's contract says (a `version` in the answer): older trees skip the token reads. */
async function readsTokensWithVersions(c: Client, user: BenchUser): Promise<boolean> {
  const response = await c.api(`/v1/users/${user.id}/token`);
  const body = (await response.json()) as { version?: unknown; refreshed?: unknown };
  return response.status === 200 && typeof body.version === "number" && typeof body.refreshed === "boolean";
}

/** Users whose tokens the fresh token read reads, in turn. */
const TOKEN_READ_USERS = 16;

/** Users whose files the reads of issue 24 read, in turn (each has the 1 MiB file). */
const FILE_READ_USERS = 8;

/** Users for the reads of issue 24: `FILE_READ_USERS` users, each with `FILE_READ_NAME` (1 MiB, uncompressed) on its account. */
async function setUpFileUsers(c: Client, delay: number, prefix: string, count = FILE_READ_USERS): Promise<BenchUser[]> {
  const users = await setUp(c, count, delay, prefix);
  for (const user of users) {
    if (!user.sessionKey) throw new Error("the mock answered a user without its sessionKey");
    await putLargeFile(c, user, FILE_READ_NAME, FILE_READ_BYTES, "none");
  }
  return users;
}

/** Whether the Worker serves issue 24's reads (older trees skip them). */
async function readsFiles(c: Client, user: BenchUser): Promise<boolean> {
  const response = await c.api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files`);
  await response.arrayBuffer();
  return response.status === 200;
}

function logLevel(runtime: string, level: LevelResult): void {
  console.log(`${runtime} ${level.step.padEnd(20)} c=${String(level.concurrency).padStart(2)} n=${level.requests}  p50 ${level.latencyMs.p50}  p99 ${level.latencyMs.p99}  non-upstream p50 ${level.nonUpstreamMs.p50}  cpu ${level.cpuMsPerRequest ?? "?"} ms  calls/req ${level.upstreamCallsPerRequest}  object calls/req ${level.objectCallsPerRequest ?? "—"}  woken/req ${level.objectsWokenPerRequest ?? "—"}  errors ${level.errors}`);
}

/**
 * One token read's figures at c=1. The fresh read's users are read once each first (not
 * counted), so their objects are in memory, as a warm step's are; the refreshing read
 * prepares a new user per request (bench/lib.ts's measure).
 */
async function measureTokenRead(c: Client, step: TokenStepName, requests: number, delay: number, tokenUsers: BenchUser[], cpu?: () => number | undefined, samples?: Samples): Promise<LevelResult> {
  if (step === "token read (fresh)") await measure(c, step, 1, tokenUsers.length, delay, tokenUsers);
  return measure(c, step, 1, requests, delay, tokenUsers, cpu, samples);
}

/** What a token read's figures break of `TOKEN_READ_EXPECTED` (and errors), as lines; none when they hold. */
export function tokenReadBreaches(level: Pick<LevelResult, "step" | "errors" | "upstreamCallsPerRequest" | "objectCallsPerRequest" | "objectCallsMax">): string[] {
  const expected = TOKEN_READ_EXPECTED[level.step as TokenStepName] as (typeof TOKEN_READ_EXPECTED)[TokenStepName] | undefined;
  if (!expected) return [];
  const found: string[] = [];
  // The mean and the most: every request made exactly the one call (a digi.me call per request, on
  // average, with every answer refreshed: exactly one each).
  if (level.objectCallsPerRequest !== expected.objectCalls || (level.objectCallsMax ?? expected.objectCalls) !== expected.objectCalls) {
    found.push(`${level.step}: ${level.objectCallsPerRequest ?? "uncounted"} object calls per request, at most ${level.objectCallsMax ?? "?"} (must be ${expected.objectCalls})`);
  }
  if (level.upstreamCallsPerRequest !== expected.upstreamCalls) found.push(`${level.step}: ${level.upstreamCallsPerRequest} digi.me calls per request (must be ${expected.upstreamCalls})`);
  if (level.errors > 0) found.push(`${level.step}: ${level.errors} answers other than 200 with refreshed: ${expected.refreshed}`);
  return found;
}

/** What a read of issue 24's figures break of `FILE_READ_EXPECTED` (and errors), as lines; none when they hold. */
export function fileReadBreaches(level: Pick<LevelResult, "step" | "errors" | "upstreamCallsPerRequest" | "objectCallsPerRequest" | "objectCallsMax">): string[] {
  const expected = FILE_READ_EXPECTED[level.step as FileStepName] as (typeof FILE_READ_EXPECTED)[FileStepName] | undefined;
  if (!expected) return [];
  const found: string[] = [];
  if (level.objectCallsPerRequest !== expected.objectCalls || (level.objectCallsMax ?? expected.objectCalls) !== expected.objectCalls) {
    found.push(`${level.step}: ${level.objectCallsPerRequest ?? "uncounted"} object calls per request, at most ${level.objectCallsMax ?? "?"} (must be ${expected.objectCalls})`);
  }
  if (level.upstreamCallsPerRequest !== expected.upstreamCalls) found.push(`${level.step}: ${level.upstreamCallsPerRequest} digi.me calls per request (must be ${expected.upstreamCalls})`);
  if (level.errors > 0) found.push(`${level.step}: ${level.errors} answers other than 200${level.step === "file read (1 MiB)" ? ` with ${FILE_READ_BYTES} bytes` : ""}`);
  return found;
}

/** One runtime's cold boots: its bundle, what its warm run prepared, and where it is in the prepared users and callbacks. */
interface ColdTarget {
  bundle: Bundle;
  warm: LeanRun;
  objects: ObjectState;
  /** Callbacks used so far. */
  used: number;
  /** Starts use users no callback touches: a cold callback's exchange revokes its user's tokens, which the seed still holds. */
  nextStartUser: number;
}

function coldTarget(bundle: Bundle, warm: LeanRun, objects: ObjectState): ColdTarget {
  return { bundle, warm, objects, used: 0, nextStartUser: warm.users.length - 1 };
}

interface ColdRun {
  ms: number;
  ownMs: number;
  calls: string[];
  objectCalls?: number;
}

/** Boots a new workerd whose first request is `step`; its KV and its objects' storage come from the warm run. */
async function coldOnce(target: ColdTarget, mock: MockHandle, step: (typeof WORK_STEPS)[number], location: "fresh" | "warm"): Promise<ColdRun> {
  const { warm, bundle } = target;
  // Every cold isolate must serve the callback URLs the warm one prepared: same port.
  const port = Number(new URL(warm.coldCallbacks.user[0]!.url).port);
  const keySetUrl = `${mock.apiBaseUrl}jwks/oauth`;
  // A directory per boot: the objects' storage as the warm run left it, and an empty Cache API.
  const runtime = await bootLean({ script: { path: bundle.path }, port, mock, userObjects: bundle.userObjects, persistDir: target.objects.fresh() });
  try {
    const keySet = location === "warm" ? { url: keySetUrl, body: await (await fetch(keySetUrl)).json(), fetchedAt: Date.now() } : undefined;
    const seeded = await fetch(`${runtime.url}/__bench/seed`, { method: "POST", body: JSON.stringify({ kv: warm.kv, keySet }) });
    if (seeded.status !== 204) throw new Error(`seeding answered ${seeded.status}`);
    const c = client(runtime.url, DEV_API_KEY, mock.origin);
    const since = await journalSeq(c);
    const kind = step === "user callback" ? "user" : "account";
    const callback = step.endsWith("callback") ? warm.coldCallbacks[kind][target.used % warm.coldCallbacks[kind].length] : undefined;
    if (callback) target.used++;
    const user = warm.users[callback ? 0 : target.nextStartUser--]!;
    const t0 = performance.now();
    const answer = await sendStep(c, step, user, callback);
    const elapsed = performance.now() - t0;
    if (answer.status !== EXPECTED_STATUS[step] || (callback && !answer.location?.includes("status=succeeded"))) {
      throw new Error(`cold ${step}: answered ${answer.status} ${answer.location ?? ""}`);
    }
    const entries = await journalSince(c, since);
    return { ms: elapsed, ownMs: elapsed - (answer.upstreamMs ?? 0), calls: entries.map((e) => e.endpoint).sort(), ...(answer.objectCalls === undefined ? {} : { objectCalls: answer.objectCalls }) };
  } finally {
    await runtime.close();
  }
}

function coldFigure(runs: ColdRun[]): ColdFigure {
  const calls = runs.map((r) => r.calls);
  return {
    firstRequestMs: median(runs.map((r) => r.ms)),
    runs: runs.map((r) => round(r.ms)),
    nonUpstreamMs: median(runs.map((r) => r.ownMs)),
    upstreamCalls: calls[0] ?? [],
    upstreamCallsConsistent: calls.every((c) => JSON.stringify(c) === JSON.stringify(calls[0])),
    ...(runs.every((r) => r.objectCalls !== undefined) && runs.length ? { objectCalls: Math.max(...runs.map((r) => r.objectCalls!)) } : {}),
  };
}

/**
 * The first request of each step on a fresh isolate, in a fresh location (empty Cache API) and a warm one.
 * Several targets (`--baseline`): their boots alternate, one of each in turn, the order flipping every boot.
 */
async function runLeanCold(targets: ColdTarget[], mock: MockHandle, boots: number, label: (index: number) => string = () => ""): Promise<Array<Results["lean"]["cold"]>> {
  const colds = targets.map(() => ({}) as Results["lean"]["cold"]);
  // Callbacks first: digi.me's authorization codes in their URLs live 2 minutes from the preparation.
  for (const step of ["user callback", "account callback", "user start", "account start"] as const) {
    for (const location of ["fresh", "warm"] as const) {
      const runs: ColdRun[][] = targets.map(() => []);
      for (let boot = 0; boot < boots; boot++) {
        const order = targets.map((_, i) => i);
        if (boot % 2 === 1) order.reverse();
        for (const i of order) runs[i]!.push(await coldOnce(targets[i]!, mock, step, location));
      }
      targets.forEach((_, i) => {
        const figure = coldFigure(runs[i]!);
        colds[i]![location] ??= {} as Results["lean"]["cold"]["fresh"];
        colds[i]![location][step] = figure;
        console.log(`lean${label(i)} cold (${location} location) ${step.padEnd(16)} first request median ${figure.firstRequestMs} ms  non-upstream ${figure.nonUpstreamMs}  calls ${JSON.stringify(figure.upstreamCalls)}  object calls ${figure.objectCalls ?? "—"}`);
      });
    }
  }
  return colds;
}

async function runLean(levels: number[], requestsFor: (c: number) => number, delay: number, boots: number, withProfile = true): Promise<Results["lean"] & { bundle: Results["bundle"]; startup: Results["startup"]; userObjects: boolean }> {
  const mock = await startMockProcess("127.0.0.1", await freePort());
  const production = buildBundle();
  const lean = buildBundle(join(ROOT, "bench", "lean.wrangler.toml"));
  const objects = objectState();
  try {
    console.log(`bench: production bundle ${production.rawBytes} bytes (${production.gzipBytes} gzip); start-up over ${boots} boots…`);
    const startup = await measureStartup(production, mock, boots);
    console.log(`bench: start-up ${startup.startupMs} ms (workerd boot ${startup.workerdBootMs.bundle} vs bare ${startup.workerdBootMs.bare}); Node import ${startup.nodeImportMs.net} ms net`);
    const warm = await runLeanWarm(lean, mock, levels, requestsFor, delay, boots, objects);
    const [cold] = await runLeanCold([coldTarget(lean, warm, objects)], mock, boots);
    // --compare and --record-baseline compare no profile: they skip it.
    if (withProfile) console.log("bench: CPU profile of the isolate per step…");
    const profile = withProfile ? await profileSteps(lean, mock, delay) : undefined;
    return { levels: warm.levels, counts: warm.counts, ...(warm.objectCounts ? { objectCounts: warm.objectCounts } : {}), cold: cold!, ...(profile ? { profile } : {}), bundle: { rawBytes: production.rawBytes, gzipBytes: production.gzipBytes }, startup, userObjects: lean.userObjects };
  } finally {
    production.dispose();
    lean.dispose();
    objects.dispose();
    await mock.close();
  }
}

// ---------------------------------------------------------------- side by side (--baseline)

/** A tree's commit, and whether its code (src/, bench/'s code, wrangler.toml) differs from it (uncommitted work). */
function treeLabel(dir: string): { commit: string; dirty: boolean } {
  try {
    return { commit: execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim(), dirty: dirtyPaths(dir).length > 0 };
  } catch {
    return { commit: "?", dirty: false };
  }
}

/** The paths under src/, bench/ and wrangler.toml that differ from the tree's commit (bench/'s JSON figures aside). */
function dirtyPaths(dir: string): string[] {
  try {
    return execFileSync("git", ["-C", dir, "status", "--porcelain", "--", "src", "bench", "wrangler.toml"], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((line) => line.slice(3))
      // bench/'s figures (results.json, file-reads.json, …) are what runs write, not code.
      .filter((path) => !/^bench\/[^/]+\.json$/.test(path));
  } catch {
    return [];
  }
}

/**
 * This tree ("after") and the one at `baselineDir` ("before"), each with its own lean bundle
 * (its src/ behind its bench/lean-worker.ts), on one mock, in one run: warm c=1 steps
 * alternating round by round (the order flipping each round), then cold first requests
 * alternating boot by boot.
 */
async function runSideBySide(
  baselineDir: string,
  options: { delay: number; rounds: number; perRound: number; users: number; boots: number; cold: boolean; profile: boolean; tmpfs?: string },
): Promise<SideBySide> {
  const loadBefore = loadavg().map((n) => round(n));
  const mock = await startMockProcess("127.0.0.1", await freePort());
  const trees: Array<{ name: "after" | "before" | "afterTmpfs"; root: string; storageRoot?: string }> = [
    { name: "after", root: ROOT },
    { name: "before", root: baselineDir },
    // The same code as "after" with its objects' storage on tmpfs: what durable commits (fsync) cost here.
    ...(options.tmpfs ? [{ name: "afterTmpfs" as const, root: ROOT, storageRoot: options.tmpfs }] : []),
  ];
  console.log(`bench --baseline: building the lean and production bundles of ${[...new Set(trees.map((t) => t.root))].join(" and ")}…`);
  const built = trees.map((t) => ({
    ...t,
    ...treeLabel(t.root),
    lean: buildBundle(join(t.root, "bench", "lean.wrangler.toml"), t.root),
    production: buildBundle(join(t.root, "wrangler.toml"), t.root),
    objects: objectState(t.storageRoot),
  }));
  try {
    const runtimes = await Promise.all(
      built.map(async (t) => {
        const persistDir = t.objects.fresh();
        const runtime = await bootLean({ script: { path: t.lean.path }, port: await freePort(), mock, userObjects: t.lean.userObjects, persistDir });
        return { runtime, persistDir };
      }),
    );
    const warmRuns: LeanRun[] = [];
    const pooled = built.map(() => new Map<StepName, Samples>());
    const levels = built.map(() => new Map<StepName, LevelResult[]>());
    try {
      const sides = await Promise.all(
        built.map(async (t, i) => {
          const c = client(runtimes[i]!.runtime.url, DEV_API_KEY, mock.origin);
          return { c, users: await setUp(c, options.users, options.delay, `${t.name}-${Date.now()}`) };
        }),
      );
      for (const side of sides) for (const step of STEPS) await measure(side.c, step, 1, 3, options.delay, side.users); // warm-up
      for (let r = 0; r < options.rounds; r++) {
        const order = built.map((_, i) => i);
        if (r % 2 === 1) order.reverse();
        for (const step of STEPS) {
          for (const i of order) {
            const samples = pooled[i]!.get(step) ?? { latencies: [], nonUpstream: [], objectCalls: [] };
            pooled[i]!.set(step, samples);
            // Each round its own users (as many as there are): a user's object keeps a few flows, as in use, not hundreds.
            const users = sides[i]!.users;
            const offset = (r * options.perRound) % users.length;
            const rotated = [...users.slice(offset), ...users.slice(0, offset)];
            const level = await measure(sides[i]!.c, step, 1, options.perRound, options.delay, rotated, undefined, samples);
            levels[i]!.set(step, [...(levels[i]!.get(step) ?? []), level]);
          }
        }
        const line = STEPS.filter((s) => !s.startsWith("baseline"))
          .map((step) => `${step} ${built.map((_, i) => stats(pooled[i]!.get(step)!.nonUpstream).p50).join("/")}`)
          .join("  ");
        console.log(`round ${r + 1}/${options.rounds} (${built.map((t) => t.name).join("/")}, non-upstream p50 so far): ${line}`);
      }
      if (options.cold) {
        for (const [i, side] of sides.slice(0, 2).entries()) {
          const boots = options.boots;
          const coldCallbacks = {
            user: await prepareCallbacks(side.c, side.users.slice(0, boots * 2), "user", boots * 2),
            account: await prepareCallbacks(side.c, side.users.slice(boots * 2, boots * 4), "account", boots * 2),
          };
          const kv = (await (await fetch(`${runtimes[i]!.runtime.url}/__bench/kv`)).json()) as Array<[string, string]>;
          warmRuns.push({ levels: [], counts: {}, kv, coldCallbacks, users: side.users });
        }
      }
    } finally {
      for (const [i, { runtime, persistDir }] of runtimes.entries()) {
        await runtime.close();
        built[i]!.objects.snapshot(persistDir);
      }
    }
    const colds = options.cold ? await runLeanCold(built.slice(0, 2).map((t, i) => coldTarget(t.lean, warmRuns[i]!, t.objects)), mock, options.boots, (i) => ` ${built[i]!.name}`) : undefined;
    const profiles: StepProfile[][] | undefined = options.profile ? [] : undefined;
    if (profiles) {
      for (const t of built.slice(0, 2)) {
        console.log(`bench: CPU profile of the ${t.name} isolate per step…`);
        profiles.push(await profileSteps(t.lean, mock, options.delay));
      }
    }
    const tree = (i: number): SideBySideTree => {
      const t = built[i]!;
      const steps = {} as SideBySideTree["warm"];
      for (const step of STEPS) {
        const samples = pooled[i]!.get(step)!;
        const runs = levels[i]!.get(step)!;
        const requests = runs.reduce((a, l) => a + l.requests, 0);
        steps[step] = {
          requests,
          errors: runs.reduce((a, l) => a + l.errors, 0),
          latencyMs: stats(samples.latencies),
          nonUpstreamMs: samples.nonUpstream.length === samples.latencies.length ? stats(samples.nonUpstream) : undefined,
          roundP50s: runs.map((l) => l.nonUpstreamMs.p50),
          upstreamCallsPerRequest: round(runs.reduce((a, l) => a + l.upstreamCallsPerRequest * l.requests, 0) / requests),
          ...(samples.objectCalls.length === samples.latencies.length ? { objectCallsPerRequest: round(samples.objectCalls.reduce((a, b) => a + b, 0) / samples.objectCalls.length), objectCallsMax: Math.max(...samples.objectCalls) } : {}),
          ...(samples.objectsWoken?.length === samples.latencies.length ? { objectsWokenPerRequest: round(samples.objectsWoken.reduce((a, b) => a + b, 0) / samples.objectsWoken.length) } : {}),
        };
      }
      return {
        root: t.root,
        commit: t.commit,
        dirty: t.dirty,
        userObjects: t.lean.userObjects,
        bundle: { rawBytes: t.production.rawBytes, gzipBytes: t.production.gzipBytes },
        warm: steps,
        ...(colds?.[i] ? { cold: colds[i] } : {}),
        ...(profiles?.[i] ? { profile: profiles[i] } : {}),
        ...(t.storageRoot ? { storageRoot: t.storageRoot } : {}),
      };
    };
    const after = tree(0);
    const before = tree(1);
    const gate = Object.fromEntries(
      WORK_STEPS.map((step) => {
        const a = after.warm[step].nonUpstreamMs?.p50 ?? Number.NaN;
        const b = before.warm[step].nonUpstreamMs?.p50 ?? Number.NaN;
        return [step, { before: b, after: a, deltaMs: round(a - b), held: a - b <= SIDE_BY_SIDE_GATE_MS }];
      }),
    ) as SideBySide["gate"];
    return {
      date: new Date().toISOString(),
      delayMs: options.delay,
      rounds: options.rounds,
      requestsPerRound: options.perRound,
      usersPerRuntime: options.users,
      boots: options.boots,
      command: `npm run bench -- ${process.argv.slice(2).join(" ")}`,
      machine: machineFacts(loadBefore),
      after,
      before,
      ...(options.tmpfs ? { afterTmpfs: tree(2) } : {}),
      gate,
    };
  } finally {
    for (const t of built) {
      t.lean.dispose();
      t.production.dispose();
      t.objects.dispose();
    }
    await mock.close();
  }
}

// ---------------------------------------------------------------- token reads (--token-reads)

/** One step's figures over rounds: every request's latency and non-upstream time pooled, the counts weighted by requests. */
function pooledFigure(samples: Samples, runs: LevelResult[]): TokenReadsStep {
  const requests = runs.reduce((a, l) => a + l.requests, 0);
  const weighted = (value: (l: LevelResult) => number | undefined) => (runs.every((l) => value(l) !== undefined) ? round(runs.reduce((a, l) => a + value(l)! * l.requests, 0) / requests, 3) : undefined);
  const callsTotal = runs.reduce((a, l) => a + l.upstreamCallsPerRequest * l.requests, 0);
  const figure: TokenReadsStep = {
    requests,
    errors: runs.reduce((a, l) => a + l.errors, 0),
    latencyMs: stats(samples.latencies),
    ...(samples.nonUpstream.length === samples.latencies.length ? { nonUpstreamMs: stats(samples.nonUpstream) } : {}),
    roundLatencyP50s: runs.map((l) => l.latencyMs.p50),
    roundNonUpstreamP50s: runs.map((l) => l.nonUpstreamMs.p50),
    upstreamCallsPerRequest: round(callsTotal / requests),
    mockTimePerCallMs: callsTotal ? round(runs.reduce((a, l) => a + l.mockTimePerCallMs * l.upstreamCallsPerRequest * l.requests, 0) / callsTotal) : 0,
  };
  const objectCalls = weighted((l) => l.objectCallsPerRequest);
  if (objectCalls !== undefined && samples.objectCalls.length === requests) Object.assign(figure, { objectCallsPerRequest: round(objectCalls), objectCallsMax: Math.max(...samples.objectCalls) });
  const woken = weighted((l) => l.objectsWokenPerRequest);
  if (woken !== undefined) figure.objectsWokenPerRequest = round(woken);
  const cpuMs = weighted((l) => l.cpuMsPerRequest);
  if (cpuMs !== undefined) figure.cpuMsPerRequest = cpuMs;
  return figure;
}

/**
 * The token reads (issue 23) beside the flow steps, on the lean runtime, warm at c=1:
 * `rounds` rounds of `perRound` requests per step, the steps taking turns within each
 * round; writes nothing itself (main writes bench/token-reads.json and the section).
 */
async function runTokenReads(options: { delay: number; rounds: number; perRound: number }): Promise<TokenReadsRun> {
  const loadBefore = loadavg().map((n) => round(n));
  // The tree as it is built, not as it is when the run ends (others may edit it meanwhile).
  const tree = { ...treeLabel(ROOT), dirtyPaths: dirtyPaths(ROOT) };
  const mock = await startMockProcess("127.0.0.1", await freePort());
  const lean = buildBundle(join(ROOT, "bench", "lean.wrangler.toml"));
  const objects = objectState();
  const { delay } = options;
  try {
    if (!lean.userObjects) throw new Error("the lean Worker binds no user objects: nothing answers token reads");
    const runtime = await bootLean({ script: { path: lean.path }, port: await freePort(), mock, userObjects: true, persistDir: objects.fresh() });
    try {
      const c = client(runtime.url, DEV_API_KEY, mock.origin);
      const prefix = `token-reads-${Date.now()}`;
      const users = await setUp(c, 64, delay, prefix);
      const tokenUsers = await setUp(c, TOKEN_READ_USERS, delay, `${prefix}-tokens`);
      if (!(await readsTokensWithVersions(c, tokenUsers[0]!))) throw new Error("this Worker's token read answers no version and no refreshed: it predates issue 23's token reads");
      const cpu = () => (runtime.pid ? processCpuMs(runtime.pid) : undefined);
      const steps: MeasuredStep[] = [...STEPS, ...TOKEN_STEPS];
      for (const step of STEPS) await measure(c, step, 1, 3, delay, users); // warm-up
      for (const step of TOKEN_STEPS) await measure(c, step, 1, 3, delay, tokenUsers);
      const pooled = new Map<MeasuredStep, Samples>();
      const levels = new Map<MeasuredStep, LevelResult[]>();
      for (let r = 0; r < options.rounds; r++) {
        const order = r % 2 === 1 ? [...steps].reverse() : steps;
        for (const step of order) {
          const samples = pooled.get(step) ?? { latencies: [], nonUpstream: [], objectCalls: [] };
          pooled.set(step, samples);
          // Each round other users for the flow steps (an object keeps a few flows, as in use).
          const offset = (r * options.perRound) % users.length;
          const rotated = [...users.slice(offset), ...users.slice(0, offset)];
          const level = step === "token read (fresh)" || step === "token read (refresh)" ? await measureTokenRead(c, step, options.perRound, delay, tokenUsers, cpu, samples) : await measure(c, step, 1, options.perRound, delay, rotated, cpu, samples);
          levels.set(step, [...(levels.get(step) ?? []), level]);
        }
        console.log(`round ${r + 1}/${options.rounds} (latency p50 so far): ${steps.map((step) => `${step} ${stats(pooled.get(step)!.latencies).p50}`).join("  ")}`);
      }
      const figures: TokenReadsRun["steps"] = {};
      for (const step of steps) figures[step] = pooledFigure(pooled.get(step)!, levels.get(step)!);
      const expectations = Object.fromEntries(
        TOKEN_STEPS.map((step) => {
          const f = figures[step]!;
          const breaches = tokenReadBreaches({ step, errors: f.errors, upstreamCallsPerRequest: f.upstreamCallsPerRequest, ...(f.objectCallsPerRequest === undefined ? {} : { objectCallsPerRequest: f.objectCallsPerRequest }), ...(f.objectCallsMax === undefined ? {} : { objectCallsMax: f.objectCallsMax }) });
          return [step, { held: breaches.length === 0, breaches }];
        }),
      ) as TokenReadsRun["expectations"];
      return {
        date: new Date().toISOString(),
        delayMs: delay,
        rounds: options.rounds,
        requestsPerRound: options.perRound,
        refreshMinValiditySeconds: REFRESH_MIN_VALIDITY_S,
        shortAccessTokenMs: SHORT_ACCESS_TOKEN_MS,
        tokenReadUsers: TOKEN_READ_USERS,
        command: `npm run bench -- ${process.argv.slice(2).join(" ")}`,
        ...tree,
        machine: machineFacts(loadBefore),
        steps: figures,
        expectations,
      };
    } finally {
      await runtime.close();
    }
  } finally {
    lean.dispose();
    objects.dispose();
    await mock.close();
  }
}

// ---------------------------------------------------------------- file reads (--file-reads)

/** The large files' plaintext size: 20 MiB. */
const LARGE_FILE_BYTES = 20 * 1024 * 1024;
/** Rounds of 20 MiB reads for throughput (each kind once a round). */
const LARGE_READS = 5;
/** 20 MiB reads per compression with workerd's memory sampled. */
const MEMORY_READS = 5;

/** A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), if readable. */
function procStatusKiB(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the process's peak resident set (VmHWM) to its current one (Linux: `5` into clear_refs); false when refused. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

async function setUpstreamMode(url: string, mode: "buffer" | "stream"): Promise<void> {
  const response = await fetch(`${url}/__bench/upstream?mode=${mode}`, { method: "POST" });
  if (response.status !== 204) throw new Error(`setting the upstream mode answered ${response.status}`);
}

/**
 * One read of a large file through the edge, its body counted as it streams (never held);
 * with `pid`, workerd's resident memory sampled every 2 ms and its peak (VmHWM, reset just
 * before) read after.
 */
async function largeReadOnce(c: Client, user: BenchUser, name: string | undefined, pid?: number): Promise<LargeRead["runs"][number]> {
  let sampled = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let rssBeforeKiB: number | undefined;
  let reset = false;
  if (pid) {
    await sleep(300); // let the last read's garbage settle
    rssBeforeKiB = procStatusKiB(pid, "VmRSS");
    reset = resetPeak(pid);
    sampled = rssBeforeKiB ?? 0;
    timer = setInterval(() => (sampled = Math.max(sampled, procStatusKiB(pid, "VmRSS") ?? 0)), 2);
  }
  try {
    const began = performance.now();
    // No name: the floor, 20 MiB of answer from the benchmark entry (no service code, no upstream).
    const response = name ? await c.api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${name}`) : await fetch(`${c.edgeUrl}/__bench/bytes?n=${LARGE_FILE_BYTES}`, { headers: UNCOMPRESSED });
    let bytes = 0;
    for await (const part of response.body as unknown as AsyncIterable<Uint8Array>) bytes += part.length;
    const latencyMs = performance.now() - began;
    if (response.status !== 200 || bytes !== LARGE_FILE_BYTES) throw new Error(`reading ${name ?? "/__bench/bytes"} answered ${response.status} with ${bytes} bytes`);
    const upstreamMs = Number(response.headers.get("X-Bench-Upstream-Ms"));
    const run: LargeRead["runs"][number] = { latencyMs: round(latencyMs), upstreamMs: round(upstreamMs), objectCalls: Number(response.headers.get("X-Bench-Object-Calls")) };
    if (pid) {
      if (timer) clearInterval(timer);
      const peak = reset ? procStatusKiB(pid, "VmHWM") : undefined;
      Object.assign(run, { rssBeforeKiB, sampledPeakKiB: sampled, ...(peak !== undefined ? { peakKiB: Math.max(peak, sampled) } : {}), rssAfterKiB: procStatusKiB(pid, "VmRSS") });
    }
    return run;
  } finally {
    if (timer) clearInterval(timer);
  }
}

/**
 * The Worker's isolate (Miniflare's `core:user`) through workerd's inspector: its V8 heap in use
 * and its ArrayBuffers' backing stores (`Runtime.getHeapUsage`), KiB. (workerd does not answer
 * `HeapProfiler.collectGarbage`: no forced collection.) Every call gives up after 3 s.
 */
async function inspectIsolate(inspectorPort: number): Promise<{ heap: () => Promise<{ usedKiB: number; backingKiB?: number } | undefined>; close: () => void } | undefined> {
  try {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ id: string; webSocketDebuggerUrl: string }>;
    const target = targets.find((t) => t.id.startsWith("core:user"));
    if (!target) return undefined;
    const session = await cdp(target.webSocketDebuggerUrl);
    return {
      heap: async () => {
        const usage = (await Promise.race([session.send("Runtime.getHeapUsage"), sleep(3000).then(() => undefined)])) as { usedSize?: number; backingStorageSize?: number } | undefined;
        if (usage?.usedSize === undefined) return undefined;
        return { usedKiB: Math.round(usage.usedSize / 1024), ...(usage.backingStorageSize === undefined ? {} : { backingKiB: Math.round(usage.backingStorageSize / 1024) }) };
      },
      close: () => session.close(),
    };
  } catch {
    return undefined;
  }
}

/** Medians of one kind of 20 MiB read. */
function largeFigure(kind: LargeRead["kind"], mode: LargeRead["mode"], runs: LargeRead["runs"], memorySampled: boolean): LargeRead {
  const latency = median(runs.map((r) => r.latencyMs));
  const upstream = median(runs.map((r) => r.upstreamMs));
  const edge = median(runs.map((r) => r.latencyMs - r.upstreamMs));
  const mb = LARGE_FILE_BYTES / 1e6;
  const figure: LargeRead = {
    kind,
    mode,
    plaintextBytes: LARGE_FILE_BYTES,
    memorySampled,
    runs,
    latencyMs: latency,
    upstreamMs: upstream,
    nonUpstreamMs: edge,
    endToEndMbPerS: round(mb / (latency / 1000), 1),
    // buffer: the edge's own part (decrypt, decompress, answer) once the body is in; stream: everything after the headers.
    afterUpstreamMbPerS: round(mb / (edge / 1000), 1),
  };
  const memory = memorySampled ? `; RSS ${runs.map((r) => `${r.rssBeforeKiB} → peak ${r.peakKiB ?? r.sampledPeakKiB} KiB`).join(", ")}` : "";
  console.log(`bench --file-reads: 20 MiB ${kind} (${mode}): latency ${latency} ms, upstream ${upstream} ms, non-upstream ${edge} ms, ${figure.endToEndMbPerS} MB/s end to end, ${figure.afterUpstreamMbPerS} MB/s after the upstream part${memory}`);
  return figure;
}

/** A new lean runtime with one user holding a 20 MiB file of each compression, its read path warm. */
async function largeRuntime(lean: Bundle, mock: MockHandle, objects: ObjectState, delay: number, inspectorPort?: number): Promise<{ runtime: LeanRuntime; c: Client; user: BenchUser; bootKiB?: number; warmKiB?: number }> {
  const runtime = await bootLean({ script: { path: lean.path }, port: await freePort(), mock, userObjects: true, persistDir: objects.fresh(), ...(inspectorPort ? { inspectorPort } : {}) });
  try {
    const c = client(runtime.url, DEV_API_KEY, mock.origin);
    const bootKiB = runtime.pid ? procStatusKiB(runtime.pid, "VmRSS") : undefined;
    const [user] = await setUpFileUsers(c, delay, `large-${Date.now()}`, 1);
    for (const [name, compression] of LARGE_FILES) await putLargeFile(c, user!, name, LARGE_FILE_BYTES, compression);
    for (const step of FILE_STEPS) await measure(c, step, 1, 3, delay, [user!]); // the read's code warm
    const warmKiB = runtime.pid ? procStatusKiB(runtime.pid, "VmRSS") : undefined;
    return { runtime, c, user: user!, ...(bootKiB !== undefined ? { bootKiB } : {}), ...(warmKiB !== undefined ? { warmKiB } : {}) };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}

const LARGE_FILES = [
  ["bench-20mib.json", "none"],
  ["bench-20mib-gzip.json", "gzip"],
] as const;

/**
 * The reads of issue 24 on the lean runtime: warm, c=1, `rounds` rounds of `perRound` requests
 * per step (the steps taking turns, the order flipping every round); then, on a new runtime,
 * 20 MiB files (uncompressed and gzip) end to end with workerd's memory; then the decryption
 * alone in Node. Writes nothing itself (main writes bench/file-reads.json and the section).
 */
async function runFileReads(options: { delay: number; rounds: number; perRound: number }): Promise<FileReadsRun> {
  const loadBefore = loadavg().map((n) => round(n));
  const tree = { ...treeLabel(ROOT), dirtyPaths: dirtyPaths(ROOT) };
  const mock = await startMockProcess("127.0.0.1", await freePort());
  const lean = buildBundle(join(ROOT, "bench", "lean.wrangler.toml"));
  const production = buildBundle();
  const objects = objectState();
  const { delay } = options;
  try {
    if (!lean.userObjects) throw new Error("the lean Worker binds no user objects: the reads take their token from them");
    // Each read beside its digi.me call itself (DIRECT_TWIN), taking turns.
    const steps: MeasuredStep[] = ["baseline (/healthz)", "baseline (1 MiB answer)", "token read (fresh)", ...FILE_STEPS.flatMap((step) => [DIRECT_TWIN[step], step])];
    const pooled = new Map<MeasuredStep, Samples>();
    const levels = new Map<MeasuredStep, LevelResult[]>();
    const runtime = await bootLean({ script: { path: lean.path }, port: await freePort(), mock, userObjects: true, persistDir: objects.fresh() });
    try {
      const c = client(runtime.url, DEV_API_KEY, mock.origin);
      const prefix = `file-reads-${Date.now()}`;
      const fileUsers = await setUpFileUsers(c, delay, prefix);
      const tokenUsers = await setUp(c, TOKEN_READ_USERS, delay, `${prefix}-tokens`);
      if (!(await readsFiles(c, fileUsers[0]!))) throw new Error("this Worker has no GET /v1/users/{id}/sessions/{key}/files: it predates issue 24's reads");
      const cpu = () => (runtime.pid ? processCpuMs(runtime.pid) : undefined);
      for (const step of steps) await measure(c, step, 1, 3, delay, step === "token read (fresh)" ? tokenUsers : fileUsers); // warm-up
      for (let r = 0; r < options.rounds; r++) {
        const order = r % 2 === 1 ? [...steps].reverse() : steps;
        for (const step of order) {
          const samples = pooled.get(step) ?? { latencies: [], nonUpstream: [], objectCalls: [] };
          pooled.set(step, samples);
          const level = step === "token read (fresh)" ? await measureTokenRead(c, step, options.perRound, delay, tokenUsers, cpu, samples) : await measure(c, step, 1, options.perRound, delay, fileUsers, cpu, samples);
          levels.set(step, [...(levels.get(step) ?? []), level]);
        }
        console.log(`round ${r + 1}/${options.rounds} (latency / non-upstream p50 so far): ${steps.map((step) => `${step} ${stats(pooled.get(step)!.latencies).p50} / ${stats(pooled.get(step)!.nonUpstream).p50}`).join("  ")}`);
      }
    } finally {
      await runtime.close();
    }
    const figures: FileReadsRun["steps"] = {};
    for (const step of steps) figures[step] = pooledFigure(pooled.get(step)!, levels.get(step)!);
    const expectations = Object.fromEntries(
      FILE_STEPS.map((step) => {
        const f = figures[step]!;
        const breaches = fileReadBreaches({ step, errors: f.errors, upstreamCallsPerRequest: f.upstreamCallsPerRequest, ...(f.objectCallsPerRequest === undefined ? {} : { objectCallsPerRequest: f.objectCallsPerRequest }), ...(f.objectCallsMax === undefined ? {} : { objectCallsMax: f.objectCallsMax }) });
        return [step, { held: breaches.length === 0, breaches }];
      }),
    ) as FileReadsRun["expectations"];

    // workerd's memory: per compression a new runtime (its own RSS plus what these reads add), stream mode as production.
    const large: LargeRead[] = [];
    const memory: FileReadsRun["memory"] = { runtimes: [], peakReset: false, workerLimitMiB: 128 };
    for (const [name, compression] of LARGE_FILES) {
      console.log(`bench --file-reads: workerd's memory over ${MEMORY_READS} reads of the 20 MiB ${compression} file, on a new runtime…`);
      // The Worker's isolate through workerd's inspector: its V8 heap after each read, and a garbage collection at the end.
      const inspectorPort = await freePort();
      const { runtime, c, user, bootKiB, warmKiB } = await largeRuntime(lean, mock, objects, delay, inspectorPort);
      const isolate = await inspectIsolate(inspectorPort);
      try {
        await setUpstreamMode(c.edgeUrl, "stream");
        const runs: LargeRead["runs"] = [];
        const heapBefore = await isolate?.heap();
        for (let i = 0; i < MEMORY_READS; i++) {
          const run = await largeReadOnce(c, user, name, runtime.pid);
          const heap = await isolate?.heap();
          if (heap) Object.assign(run, { heapUsedAfterKiB: heap.usedKiB, ...(heap.backingKiB === undefined ? {} : { backingAfterKiB: heap.backingKiB }) });
          runs.push(run);
        }
        large.push(largeFigure(compression, "stream", runs, true));
        // Idle for 5 s (V8 collects garbage when idle), then the heap and the process's RSS again.
        await sleep(5000);
        const idleHeap = await isolate?.heap();
        const idleRss = runtime.pid ? procStatusKiB(runtime.pid, "VmRSS") : undefined;
        memory.runtimes.push({
          compression,
          ...(bootKiB !== undefined ? { bootKiB } : {}),
          ...(warmKiB !== undefined ? { warmKiB } : {}),
          ...(heapBefore ? { heapUsedBeforeKiB: heapBefore.usedKiB, ...(heapBefore.backingKiB === undefined ? {} : { backingBeforeKiB: heapBefore.backingKiB }) } : {}),
          ...(idleHeap ? { idleHeapUsedKiB: idleHeap.usedKiB, ...(idleHeap.backingKiB === undefined ? {} : { idleBackingKiB: idleHeap.backingKiB }) } : {}),
          ...(idleRss !== undefined ? { idleRssKiB: idleRss } : {}),
        });
        isolate?.close();
        memory.peakReset ||= runs.some((r) => r.peakKiB !== undefined);
      } finally {
        await runtime.close();
      }
    }
    // Throughput: a third runtime, the kinds of read taking turns round by round (the machine's load drifts).
    console.log(`bench --file-reads: 20 MiB throughput, ${LARGE_READS} rounds…`);
    {
      const { runtime, c, user } = await largeRuntime(lean, mock, objects, delay);
      try {
        const kinds: Array<{ kind: LargeRead["kind"]; mode: LargeRead["mode"]; name?: string }> = [
          { kind: "answer", mode: "stream" },
          ...LARGE_FILES.map(([name, compression]) => ({ kind: compression, mode: "stream" as const, name })),
          ...LARGE_FILES.map(([name, compression]) => ({ kind: compression, mode: "buffer" as const, name })),
        ];
        const runs = kinds.map(() => [] as LargeRead["runs"]);
        for (let r = 0; r < LARGE_READS; r++) {
          for (const [i, k] of kinds.entries()) {
            await setUpstreamMode(c.edgeUrl, k.mode);
            runs[i]!.push(await largeReadOnce(c, user, k.name));
          }
        }
        kinds.forEach((k, i) => large.push(largeFigure(k.kind, k.mode, runs[i]!, false)));
      } finally {
        await runtime.close();
      }
    }
    console.log("bench --file-reads: the decryption alone in Node…");
    const node = await nodeDecryptThroughput(LARGE_FILE_BYTES, 5);
    return {
      date: new Date().toISOString(),
      delayMs: delay,
      rounds: options.rounds,
      requestsPerRound: options.perRound,
      fileReadUsers: FILE_READ_USERS,
      fileReadBytes: FILE_READ_BYTES,
      command: `npm run bench -- ${process.argv.slice(2).join(" ")}`,
      ...tree,
      machine: machineFacts(loadBefore),
      steps: figures,
      expectations,
      large,
      memory,
      node,
      bundle: { rawBytes: production.rawBytes, gzipBytes: production.gzipBytes },
    };
  } finally {
    lean.dispose();
    production.dispose();
    objects.dispose();
    await mock.close();
  }
}

// ---------------------------------------------------------------- dev stack

async function runDev(levels: number[], requestsFor: (c: number) => number, delay: number): Promise<Results["dev"]> {
  console.log("bench: starting the dev stack (mock in its own process, wrangler dev)…");
  const stack = await startStack({ returnOrigins: ["http://127.0.0.1:8788"], timeoutMs: 10_000, logLevel: "error", separateMock: true, wranglerLogLevel: "error" });
  const c: Client = client(stack.edgeUrl, stack.apiKey, stack.mock.origin);
  try {
    const users = await setUp(c, 64, delay);
    const firstCalls = async (action: () => Promise<unknown>) => {
      const since = await journalSeq(c);
      await action();
      return (await journalSince(c, since)).length;
    };
    const counts: Record<string, number> = {};
    counts.userStartCold = await firstCalls(() => sendStep(c, "user start", users[0]!));
    const results: LevelResult[] = [];
    for (const concurrency of levels) {
      for (const step of STEPS) {
        const level = await measure(c, step, concurrency, requestsFor(concurrency), delay, users);
        results.push(level);
        console.log(`dev  ${step.padEnd(19)} c=${String(concurrency).padStart(2)} n=${level.requests}  p50 ${level.latencyMs.p50}  p99 ${level.latencyMs.p99}  non-upstream p50 ${level.nonUpstreamMs.p50}  calls/req ${level.upstreamCallsPerRequest}  errors ${level.errors}`);
      }
    }
    for (const step of WORK_STEPS) counts[step] = results.filter((r) => r.step === step).reduce((max, r) => Math.max(max, r.upstreamCallsPerRequest), 0);
    return { levels: results, counts };
  } finally {
    await stack.close();
  }
}

/** Crypto CPU per operation, measured in workerd from outside: (T(n) - T(0)) / n. */
async function cryptoBench(): Promise<Record<string, number>> {
  const port = await freePort();
  const wrangler = spawn(
    WRANGLER[0],
    [WRANGLER[1], "dev", "-c", join(ROOT, "bench", "wrangler.toml"), "--local", "--ip", "127.0.0.1", "--port", String(port), "--var", `PRIVATE_KEY:${readFileSync(DEV_CONTRACT.privateKeyPath, "utf8")}`, "--var", `PUBLIC_KEY:${readFileSync(DEV_CONTRACT.publicKeyPath, "utf8")}`, "--show-interactive-dev-session=false"],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, stdio: "ignore" },
  );
  try {
    const base = `http://127.0.0.1:${port}/`;
    await waitForHealth(`${base}?op=none&n=0`, wrangler, 60_000);
    const time = async (op: string, n: number) => {
      const runs: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        const response = await fetch(`${base}?op=${op}&n=${n}`);
        if (!response.ok) throw new Error(`crypto bench ${op}: ${response.status} ${await response.text()}`);
        runs.push(performance.now() - t0);
      }
      return median(runs);
    };
    const results: Record<string, number> = {};
    for (const [op, n] of [["sign", 200], ["verify", 500], ["seal", 2000], ["open", 2000], ["sha256", 2000], ["import", 50], ["callback", 200]] as const) {
      await time(op, n); // warm-up
      const base0 = await time("none", 0);
      results[op] = round(((await time(op, n)) - base0) / n, 3);
    }
    return results;
  } finally {
    wrangler.kill("SIGTERM");
  }
}

// ---------------------------------------------------------------- compare

/**
 * Regressions of `now` against `before` (bench/baseline.json), beyond `COMPARE_MARGINS`, and
 * what was not compared: a step the baseline has not measured, or whose design differs
 * (object calls counted in one run and not the other). The reads' counts (token reads,
 * reads of issue 24) are held whatever the baseline says.
 */
export function regressions(before: Pick<CompareBaseline, "lean" | "bundle" | "startup">, now: Pick<CompareBaseline, "lean" | "bundle" | "startup">): { found: string[]; notCompared: string[] } {
  const found: string[] = [];
  const notCompared: string[] = [];
  const m = COMPARE_MARGINS;
  for (const level of now.lean.levels) {
    if (level.step.startsWith("baseline")) continue;
    found.push(...tokenReadBreaches(level), ...fileReadBreaches(level));
    const old = before.lean.levels.find((l) => l.step === level.step && l.concurrency === level.concurrency);
    if (!old) {
      notCompared.push(`${level.step} c=${level.concurrency}: not in the baseline`);
      continue;
    }
    if ((old.objectCallsPerRequest === undefined) !== (level.objectCallsPerRequest === undefined)) {
      notCompared.push(`${level.step} c=${level.concurrency}: another design (object calls counted ${old.objectCallsPerRequest === undefined ? "now, not in the baseline" : "in the baseline, not now"})`);
      continue;
    }
    const limit = round(old.nonUpstreamMs.p50 * m.nonUpstreamFactor + m.nonUpstreamSlackMs);
    if (level.concurrency === 1 && level.nonUpstreamMs.p50 > limit) found.push(`${level.step} c=${level.concurrency}: non-upstream p50 ${level.nonUpstreamMs.p50} ms > ${limit} (was ${old.nonUpstreamMs.p50})`);
    if (level.upstreamCallsPerRequest > old.upstreamCallsPerRequest) found.push(`${level.step} c=${level.concurrency}: ${level.upstreamCallsPerRequest} upstream calls per request (was ${old.upstreamCallsPerRequest})`);
    if (level.objectCallsPerRequest !== undefined && old.objectCallsPerRequest !== undefined && level.objectCallsPerRequest > old.objectCallsPerRequest) {
      found.push(`${level.step} c=${level.concurrency}: ${level.objectCallsPerRequest} object calls per request (was ${old.objectCallsPerRequest})`);
    }
  }
  for (const step of ["user callback", "account callback", "user start", "account start"] as const) {
    for (const location of ["fresh", "warm"] as const) {
      const a = before.lean.cold[location]?.[step];
      const b = now.lean.cold[location]?.[step];
      if (!a || !b) continue;
      if ((a.objectCalls === undefined) !== (b.objectCalls === undefined)) {
        notCompared.push(`cold (${location} location) ${step}: another design (object calls counted in one run only)`);
        continue;
      }
      const limit = round(a.firstRequestMs * m.coldFactor + m.coldSlackMs);
      if (b.firstRequestMs > limit) found.push(`cold (${location} location) ${step}: first request ${b.firstRequestMs} ms > ${limit} (was ${a.firstRequestMs})`);
      if (b.upstreamCalls.length > a.upstreamCalls.length) found.push(`cold (${location} location) ${step}: ${b.upstreamCalls.length} upstream calls (was ${a.upstreamCalls.length})`);
    }
  }
  const startupLimit = before.startup.startupMs * m.startupFactor + m.startupSlackMs;
  if (now.startup.startupMs > startupLimit) found.push(`start-up ${now.startup.startupMs} ms > ${round(startupLimit)} (was ${before.startup.startupMs})`);
  if (now.bundle.rawBytes > before.bundle.rawBytes * m.bundleFactor) found.push(`bundle ${now.bundle.rawBytes} bytes > ${Math.round(before.bundle.rawBytes * m.bundleFactor)} (was ${before.bundle.rawBytes})`);
  return { found, notCompared };
}

/**
 * docs/speed.md's bundle figure, between `<!-- bundle -->` and `<!-- /bundle -->`: written by
 * every run that builds the production bundle, so the page never keeps an old size.
 */
function writeBundleFigure(bundle: { rawBytes: number; gzipBytes: number }, date: string): void {
  const path = join(ROOT, "docs", "speed.md");
  if (!existsSync(path)) return;
  const text = readFileSync(path, "utf8");
  const figure = `<!-- bundle -->about ${Math.round(bundle.rawBytes / 1024)} KiB (${Math.round(bundle.gzipBytes / 1024)} KiB gzip, measured ${date.slice(0, 10)})<!-- /bundle -->`;
  const next = text.replace(/<!-- bundle -->[\s\S]*?<!-- \/bundle -->/, figure);
  if (next !== text) writeFileSync(path, next);
}

// ---------------------------------------------------------------- main

const RESULTS_PATH = join(ROOT, "bench", "results.json");
const SIDE_BY_SIDE_PATH = join(ROOT, "bench", "side-by-side.json");
/** `npm run bench:floor`'s figures, shown beside the side-by-side run's. */
const FLOOR_PATH = join(ROOT, "bench", "floor.json");
const USER_OBJECTS_HEADING = "\n## User objects (Durable Objects)\n";
/** `npm run bench -- --token-reads`'s figures (bench/token-reads.json), BENCHMARKS.md's "Token reads" section. */
const TOKEN_READS_PATH = join(ROOT, "bench", "token-reads.json");
const TOKEN_READS_HEADING = "\n## Token reads (issue 23)\n";
/** `npm run bench -- --file-reads`'s figures (bench/file-reads.json), BENCHMARKS.md's "File reads" section. */
const FILE_READS_PATH = join(ROOT, "bench", "file-reads.json");
const FILE_READS_HEADING = "\n## File reads (issue 24)\n";
/** `npm run bench -- --record-baseline`'s figures: what `--compare` compares against (bench/baseline.json). */
const BASELINE_PATH = join(ROOT, "bench", "baseline.json");
const COMPARE_HEADING = "\n## `--compare`";

/**
 * Writes BENCHMARKS.md: `text` (the figures of bench/results.json; by default the file's
 * own, kept as they are), then the user objects' section from bench/side-by-side.json,
 * then the token reads' section from bench/token-reads.json, the file reads' from
 * bench/file-reads.json, `--compare`'s from bench/baseline.json, then the soak's section
 * (npm run soak writes it), kept.
 */
function writeReport(text?: string): void {
  const path = join(ROOT, "BENCHMARKS.md");
  const current = existsSync(path) ? readFileSync(path, "utf8") : "";
  const soak = /\n## Soak\n[\s\S]*$/.exec(current)?.[0] ?? "";
  let main = text ?? current.slice(0, current.length - soak.length);
  for (const heading of [USER_OBJECTS_HEADING, TOKEN_READS_HEADING, FILE_READS_HEADING, COMPARE_HEADING]) main = main.split(heading)[0]!;
  const floor = existsSync(FLOOR_PATH) ? (JSON.parse(readFileSync(FLOOR_PATH, "utf8")) as Floor) : undefined;
  const sideBySide = existsSync(SIDE_BY_SIDE_PATH) ? userObjectsSection(JSON.parse(readFileSync(SIDE_BY_SIDE_PATH, "utf8")) as SideBySide, floor) : "";
  const tokenReads = existsSync(TOKEN_READS_PATH) ? tokenReadsSection(JSON.parse(readFileSync(TOKEN_READS_PATH, "utf8")) as TokenReadsRun) : "";
  const fileReads = existsSync(FILE_READS_PATH) ? fileReadsSection(JSON.parse(readFileSync(FILE_READS_PATH, "utf8")) as FileReadsRun) : "";
  const compare = compareSection(existsSync(BASELINE_PATH) ? (JSON.parse(readFileSync(BASELINE_PATH, "utf8")) as CompareBaseline) : undefined);
  const sections = [sideBySide, tokenReads, fileReads, compare].filter(Boolean).map((section) => `\n${section.trim()}\n`);
  writeFileSync(path, `${main.trimEnd()}\n${sections.join("")}${soak}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      delay: { type: "string", default: "50" },
      levels: { type: "string", default: "1,16,64" },
      requests: { type: "string", default: "0" },
      boots: { type: "string", default: "5" },
      quick: { type: "boolean", default: false },
      "skip-dev": { type: "boolean", default: false },
      compare: { type: "boolean", default: false },
      notes: { type: "string", default: "" },
      "notes-file": { type: "string", default: "" },
      "report-only": { type: "boolean", default: false },
      baseline: { type: "string" },
      rounds: { type: "string" },
      users: { type: "string", default: "200" },
      "skip-cold": { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      tmpfs: { type: "string" },
      "token-reads": { type: "boolean", default: false },
      "file-reads": { type: "boolean", default: false },
      "record-baseline": { type: "boolean", default: false },
    },
  });
  if (values["report-only"]) {
    writeReport(markdown(JSON.parse(readFileSync(RESULTS_PATH, "utf8")) as Results));
    return;
  }
  if (values["token-reads"]) {
    const run = await runTokenReads({ delay: Number(values.delay), rounds: Number(values.rounds ?? "5"), perRound: Number(values.requests) || (values.quick ? 8 : 20) });
    const notesFile = values["notes-file"];
    if (notesFile || values.notes) run.notes = notesFile ? readFileSync(notesFile, "utf8") : values.notes;
    writeFileSync(TOKEN_READS_PATH, JSON.stringify(run, null, 2) + "\n");
    writeReport();
    console.log(`bench --token-reads (load average before ${run.machine.loadAverageBefore.join(", ")}, after ${run.machine.loadAverageAfter.join(", ")}), warm c=1:`);
    for (const [step, f] of Object.entries(run.steps)) {
      console.log(`  ${step.padEnd(20)} latency p50 ${f.latencyMs.p50} ms  non-upstream p50 ${f.nonUpstreamMs?.p50 ?? "—"} ms  digi.me calls/req ${f.upstreamCallsPerRequest}  object calls/req ${f.objectCallsPerRequest ?? "—"}  woken/req ${f.objectsWokenPerRequest ?? "—"}  errors ${f.errors}`);
    }
    const breaches = Object.values(run.expectations).flatMap((e) => e.breaches);
    for (const line of breaches) console.log(`  MISSED ${line}`);
    console.log("bench: wrote bench/token-reads.json and the token reads' section of BENCHMARKS.md");
    if (breaches.length) process.exitCode = 1;
    return;
  }
  if (values["file-reads"]) {
    const run = await runFileReads({ delay: Number(values.delay), rounds: Number(values.rounds ?? "5"), perRound: Number(values.requests) || (values.quick ? 8 : 20) });
    const notesFile = values["notes-file"];
    if (notesFile || values.notes) run.notes = notesFile ? readFileSync(notesFile, "utf8") : values.notes;
    writeFileSync(FILE_READS_PATH, JSON.stringify(run, null, 2) + "\n");
    writeReport();
    writeBundleFigure(run.bundle, run.date);
    console.log(`bench --file-reads (load average before ${run.machine.loadAverageBefore.join(", ")}, after ${run.machine.loadAverageAfter.join(", ")}), warm c=1:`);
    for (const [step, f] of Object.entries(run.steps)) {
      console.log(`  ${step.padEnd(24)} latency p50 ${f.latencyMs.p50} ms  non-upstream p50 ${f.nonUpstreamMs?.p50 ?? "—"} ms  cpu ${f.cpuMsPerRequest ?? "?"} ms  digi.me calls/req ${f.upstreamCallsPerRequest}  object calls/req ${f.objectCallsPerRequest ?? "—"}  errors ${f.errors}`);
    }
    for (const f of run.node.figures) console.log(`  Node ${run.node.node} decryptFileStream ${f.compression}: ${f.mbPerS} MB/s (median ${f.medianMs} ms for ${f.plaintextBytes} bytes)`);
    const breaches = Object.values(run.expectations).flatMap((e) => e.breaches);
    for (const line of breaches) console.log(`  MISSED ${line}`);
    console.log("bench: wrote bench/file-reads.json, the file reads' section of BENCHMARKS.md and docs/speed.md's bundle figure");
    if (breaches.length) process.exitCode = 1;
    return;
  }
  if (values.baseline) {
    const sideBySide = await runSideBySide(values.baseline, {
      delay: Number(values.delay),
      rounds: Number(values.rounds ?? "10"),
      perRound: Number(values.requests) || (values.quick ? 8 : 20),
      users: Number(values.users),
      boots: Math.max(5, Number(values.boots)),
      cold: !values["skip-cold"],
      profile: values.profile,
      ...(values.tmpfs ? { tmpfs: values.tmpfs } : {}),
    });
    const notesFile = values["notes-file"];
    if (notesFile || values.notes) sideBySide.notes = notesFile ? readFileSync(notesFile, "utf8") : values.notes;
    writeFileSync(SIDE_BY_SIDE_PATH, JSON.stringify(sideBySide, null, 2) + "\n");
    writeReport();
    console.log(`bench --baseline (load average before ${sideBySide.machine.loadAverageBefore.join(", ")}, after ${sideBySide.machine.loadAverageAfter.join(", ")}): warm non-upstream p50 at c=1, after vs before (${sideBySide.before.commit}):`);
    for (const [step, g] of Object.entries(sideBySide.gate)) {
      const latency = round(sideBySide.after.warm[step as StepName].latencyMs.p50 - sideBySide.before.warm[step as StepName].latencyMs.p50);
      console.log(`  ${step.padEnd(17)} ${g.after} vs ${g.before} ms: ${g.deltaMs >= 0 ? "+" : ""}${g.deltaMs} ms ${g.held ? "(within" : "(OVER"} the ${SIDE_BY_SIDE_GATE_MS} ms gate); latency p50 ${latency >= 0 ? "+" : ""}${latency} ms`);
    }
    console.log("bench: wrote bench/side-by-side.json and the user objects' section of BENCHMARKS.md");
    if (Object.values(sideBySide.gate).some((g) => !g.held)) process.exitCode = 1;
    return;
  }
  const delay = Number(values.delay);
  const boots = Math.max(5, Number(values.boots));
  const levels = values.compare || values["record-baseline"] ? [1, 16] : values.levels.split(",").map(Number);
  const requestsFor = (c: number) => Number(values.requests) || (values.quick ? Math.max(8, c * 2) : Math.max(100, c * 8));
  const loadBefore = loadavg().map((n) => round(n));

  if (values.compare || values["record-baseline"]) {
    const tree = { ...treeLabel(ROOT), dirtyPaths: dirtyPaths(ROOT) };
    const measured = await runLean(levels, requestsFor, delay, boots, false);
    const now: CompareBaseline = {
      date: new Date().toISOString(),
      delayMs: delay,
      command: `npm run bench -- ${process.argv.slice(2).join(" ")}`,
      ...tree,
      machine: machineFacts(loadBefore),
      design: { userObjects: measured.userObjects },
      bundle: measured.bundle,
      startup: measured.startup,
      lean: { levels: measured.levels, counts: measured.counts, ...(measured.objectCounts ? { objectCounts: measured.objectCounts } : {}), cold: measured.cold },
    };
    writeBundleFigure(now.bundle, now.date);
    if (values["record-baseline"]) {
      const notesFile = values["notes-file"];
      if (notesFile || values.notes) now.notes = notesFile ? readFileSync(notesFile, "utf8") : values.notes;
      writeFileSync(BASELINE_PATH, JSON.stringify(now, null, 2) + "\n");
      writeReport();
      const held = now.lean.levels.flatMap((l) => [...tokenReadBreaches(l), ...fileReadBreaches(l)]);
      for (const line of held) console.log(`  MISSED ${line}`);
      console.log(`bench: wrote bench/baseline.json (tree ${now.commit}${now.dirty ? " + uncommitted work" : ""}, load average before ${now.machine.loadAverageBefore.join(", ")}, after ${now.machine.loadAverageAfter.join(", ")}), BENCHMARKS.md's --compare section and docs/speed.md's bundle figure`);
      if (held.length) process.exitCode = 1;
      return;
    }
    if (!existsSync(BASELINE_PATH)) {
      console.error("bench --compare: no bench/baseline.json: record one of the current design first (npm run bench -- --record-baseline); bench/results.json is the full run's record, not a baseline");
      process.exitCode = 2;
      return;
    }
    const before = JSON.parse(readFileSync(BASELINE_PATH, "utf8")) as CompareBaseline;
    console.log(`bench --compare against bench/baseline.json: tree ${before.commit}${before.dirty ? " + uncommitted work" : ""}, ${before.date} (load average then ${before.machine.loadAverageBefore.join(", ")}, now ${loadavg().map((n) => round(n)).join(", ")}; a busier machine reads slower)`);
    if (before.design.userObjects !== now.design.userObjects) {
      console.error(`bench --compare: the baseline is of another design (user objects ${before.design.userObjects ? "bound" : "not bound"} then, ${now.design.userObjects ? "bound" : "not bound"} now): nothing compared; record a new baseline (npm run bench -- --record-baseline)`);
      process.exitCode = 2;
      return;
    }
    const loadNow = loadavg().map((n) => round(n));
    if ((loadNow[0] ?? 0) > (before.machine.loadAverageBefore[0] ?? 0) + 1) {
      console.log(`  warning: the machine is busier than when the baseline was recorded (1-minute load ${loadNow[0]} against ${before.machine.loadAverageBefore[0]}): a timing regression may be the machine's (run again when it is quieter); the counts are not`);
    }
    const { found, notCompared } = regressions(before, now);
    for (const line of notCompared) console.log(`  not compared: ${line}`);
    if (found.length === 0) {
      console.log("no regression beyond the margins");
      return;
    }
    for (const line of found) console.log(`  REGRESSION ${line}`);
    process.exitCode = 1;
    return;
  }
  const lean = await runLean(levels, requestsFor, delay, boots);
  const dev = values["skip-dev"] ? undefined : await runDev(levels, requestsFor, delay);
  console.log("bench: crypto CPU in workerd…");
  const crypto = values["skip-dev"] ? undefined : await cryptoBench();
  const results: Results = {
    date: new Date().toISOString(),
    delayMs: delay,
    machine: machineFacts(loadBefore),
    bundle: lean.bundle,
    startup: lean.startup,
    lean: { levels: lean.levels, counts: lean.counts, ...(lean.objectCounts ? { objectCounts: lean.objectCounts } : {}), cold: lean.cold, profile: lean.profile },
    ...(dev ? { dev } : {}),
    ...(crypto ? { cryptoMsPerOp: crypto } : {}),
    notes: values["notes-file"] ? readFileSync(values["notes-file"], "utf8") : values.notes,
  };
  writeFileSync(RESULTS_PATH, JSON.stringify(results, null, 2) + "\n");
  writeReport(markdown(results));
  writeBundleFigure(results.bundle, results.date);
  console.log("bench: wrote bench/results.json and BENCHMARKS.md");
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
