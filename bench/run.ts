/**
 * `npm run bench`: the Worker's speed, measured two ways against the
 * standalone mock digi.me (its own Node process, loopback, every API call
 * delayed by `--delay` ms):
 *
 * - **lean runtime** (the Worker's own figures): workerd through Miniflare's
 *   API, the production Worker with an in-memory KV (bench/lean-worker.ts).
 *   Per step: upstream round trips, p50/p99 at each concurrency, non-upstream
 *   time, workerd CPU per request; the first request on a fresh isolate
 *   (median of `--boots` boots, in a fresh and in a warm location); script
 *   start-up; the production bundle's size.
 * - **dev stack**: the same steps under `wrangler dev` (its proxy and local KV
 *   simulator included), as `npm start` runs it; plus crypto CPU per operation.
 *
 *   npm run bench -- [--delay 50] [--levels 1,16,64] [--boots 5] [--skip-dev] [--notes "..."]
 *   npm run bench -- --compare     # lean figures only; exit 1 on a regression beyond the margins
 *   npm run bench -- --report-only # rewrite BENCHMARKS.md from bench/results.json
 *
 * Writes bench/results.json and BENCHMARKS.md (except with --compare).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEV_CONTRACT } from "../mock-server/standalone.ts";
import { DEV_API_KEY, freePort, ROOT, startMockProcess, startStack, waitForHealth, WRANGLER, type MockHandle } from "../scripts/stack.ts";
import { bootLean, buildBundle, type Bundle } from "./lean.ts";
import {
  client,
  EXPECTED_STATUS,
  journalSeq,
  journalSince,
  measure,
  median,
  prepareCallbacks,
  processCpuMs,
  round,
  sendStep,
  setUp,
  STEPS,
  versionOf,
  type BenchUser,
  type Client,
  type LevelResult,
  type PreparedCallback,
  type StepName,
} from "./lib.ts";
import { profileSteps } from "./profile.ts";
import { markdown, type Results } from "./report.ts";

const WORK_STEPS = STEPS.filter((s) => !s.startsWith("baseline")) as Exclude<StepName, "baseline (/healthz)">[];

/** Margins of `--compare`: a figure regresses when it is worse than the committed one by more than this. */
export const COMPARE_MARGINS = {
  /** Warm non-upstream p50 at c=1 (c=16 measures the machine's saturation more than the Worker): ×1.5 and 1 ms more. */
  nonUpstreamFactor: 1.5,
  nonUpstreamSlackMs: 1,
  /** First request on a fresh isolate (median): ×1.3 and 15 ms more. */
  coldFactor: 1.3,
  coldSlackMs: 15,
  /** Script start-up (median boot difference): 10 ms more. */
  startupSlackMs: 10,
  /** Bundle: 5% more bytes. */
  bundleFactor: 1.05,
  /** Upstream calls per request: any increase. */
};

// ---------------------------------------------------------------- lean runtime

const BARE_WORKER = `export default { fetch() { return new Response("ok"); } };`;

/** Script start-up: boot time of workerd with the production bundle minus with a bare Worker. */
async function measureStartup(production: Bundle, mock: MockHandle, boots: number): Promise<Results["startup"]> {
  const port = await freePort();
  const bootOnce = async (script: { path: string } | { source: string }) => {
    const began = performance.now();
    const runtime = await bootLean({ script, port, mock });
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
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", `const t = performance.now(); await import(${JSON.stringify(mjs)}); console.log(performance.now() - t);`], { encoding: "utf8" });
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
  /** KV contents and prepared callbacks for the cold boots. */
  kv: Array<[string, string]>;
  coldCallbacks: Record<"user" | "account", PreparedCallback[]>;
  users: BenchUser[];
}

async function runLeanWarm(bundle: Bundle, mock: MockHandle, levels: number[], requestsFor: (c: number) => number, delay: number, boots: number): Promise<LeanRun> {
  const port = await freePort();
  const runtime = await bootLean({ script: { path: bundle.path }, port, mock });
  try {
    const c = client(runtime.url, DEV_API_KEY, mock.origin);
    const users = await setUp(c, 64, delay, `lean-${Date.now()}`);
    const cpu = () => (runtime.pid ? processCpuMs(runtime.pid) : undefined);
    // Warm-up: the isolate fetches the key set and imports keys once; then every step is warm.
    for (const step of STEPS) await measure(c, step, 1, 3, delay, users);
    const results: LevelResult[] = [];
    for (const concurrency of levels) {
      for (const step of STEPS) {
        const level = await measure(c, step, concurrency, requestsFor(concurrency), delay, users, cpu);
        results.push(level);
        console.log(`lean ${step.padEnd(19)} c=${String(concurrency).padStart(2)} n=${level.requests}  p50 ${level.latencyMs.p50}  p99 ${level.latencyMs.p99}  non-upstream p50 ${level.nonUpstreamMs.p50}  cpu ${level.cpuMsPerRequest ?? "?"} ms  calls/req ${level.upstreamCallsPerRequest}  errors ${level.errors}`);
      }
    }
    const warm = (step: StepName) => results.filter((r) => r.step === step).reduce((max, r) => Math.max(max, r.upstreamCallsPerRequest), 0);
    const counts: Record<string, number> = {};
    for (const step of WORK_STEPS) counts[step] = warm(step);
    // Flows for the cold boots' callbacks, started and consented to here; their KV goes to each fresh isolate.
    // Disjoint users: a cold user callback's exchange revokes its user's tokens, and an account
    // callback's confirming read with such a token would measure a refresh as well.
    const coldCallbacks = {
      user: await prepareCallbacks(c, users.slice(0, boots * 2), "user", boots * 2),
      account: await prepareCallbacks(c, users.slice(boots * 2, boots * 4), "account", boots * 2),
    };
    const kv = (await (await fetch(`${runtime.url}/__bench/kv`)).json()) as Array<[string, string]>;
    return { levels: results, counts, kv, coldCallbacks, users };
  } finally {
    await runtime.close();
  }
}

/** The first request of each step on a fresh isolate, in a fresh location (empty Cache API) and a warm one. */
async function runLeanCold(bundle: Bundle, mock: MockHandle, warm: LeanRun, boots: number): Promise<Results["lean"]["cold"]> {
  // Every cold isolate must serve the callback URLs the warm one prepared: same port.
  const port = Number(new URL(warm.coldCallbacks.user[0]!.url).port);
  const keySetUrl = `${mock.apiBaseUrl}jwks/oauth`;
  const cold: Results["lean"]["cold"] = {} as Results["lean"]["cold"];
  let used = 0;
  // Starts use users no callback touches: a cold callback's exchange revokes its user's tokens, which the seed still holds.
  let nextStartUser = warm.users.length - 1;
  // Callbacks first: digi.me's authorization codes in their URLs live 2 minutes from the preparation.
  for (const step of ["user callback", "account callback", "user start", "account start"] as const) {
    for (const location of ["fresh", "warm"] as const) {
      const times: number[] = [];
      const ownTimes: number[] = [];
      const calls: string[][] = [];
      for (let boot = 0; boot < boots; boot++) {
        const runtime = await bootLean({ script: { path: bundle.path }, port, mock });
        try {
          const keySet = location === "warm" ? { url: keySetUrl, body: await (await fetch(keySetUrl)).json(), fetchedAt: Date.now() } : undefined;
          const seeded = await fetch(`${runtime.url}/__bench/seed`, { method: "POST", body: JSON.stringify({ kv: warm.kv, keySet }) });
          if (seeded.status !== 204) throw new Error(`seeding answered ${seeded.status}`);
          const c = client(runtime.url, DEV_API_KEY, mock.origin);
          const since = await journalSeq(c);
          const kind = step === "user callback" ? "user" : "account";
          const callback = step.endsWith("callback") ? warm.coldCallbacks[kind][used % warm.coldCallbacks[kind].length] : undefined;
          if (callback) used++;
          const user = warm.users[callback ? 0 : nextStartUser--]!;
          const t0 = performance.now();
          const answer = await sendStep(c, step, user, callback);
          const elapsed = performance.now() - t0;
          times.push(elapsed);
          ownTimes.push(elapsed - (answer.upstreamMs ?? 0));
          if (answer.status !== EXPECTED_STATUS[step] || (callback && !answer.location?.includes("status=succeeded"))) {
            throw new Error(`cold ${step}: answered ${answer.status} ${answer.location ?? ""}`);
          }
          const entries = await journalSince(c, since);
          calls.push(entries.map((e) => e.endpoint).sort());
        } finally {
          await runtime.close();
        }
      }
      const firstMs = median(times);
      cold[location] ??= {} as Results["lean"]["cold"]["fresh"];
      cold[location][step] = {
        firstRequestMs: firstMs,
        runs: times.map((t) => round(t)),
        nonUpstreamMs: median(ownTimes),
        upstreamCalls: calls[0] ?? [],
        upstreamCallsConsistent: calls.every((c) => JSON.stringify(c) === JSON.stringify(calls[0])),
      };
      console.log(`lean cold (${location} location) ${step.padEnd(16)} first request median ${firstMs} ms  calls ${JSON.stringify(calls[0])}`);
    }
  }
  return cold;
}

async function runLean(levels: number[], requestsFor: (c: number) => number, delay: number, boots: number): Promise<Results["lean"] & { bundle: Results["bundle"]; startup: Results["startup"] }> {
  const mock = await startMockProcess("127.0.0.1", await freePort());
  const production = buildBundle();
  const lean = buildBundle(join(ROOT, "bench", "lean.wrangler.toml"));
  try {
    console.log(`bench: production bundle ${production.rawBytes} bytes (${production.gzipBytes} gzip); start-up over ${boots} boots…`);
    const startup = await measureStartup(production, mock, boots);
    console.log(`bench: start-up ${startup.startupMs} ms (workerd boot ${startup.workerdBootMs.bundle} vs bare ${startup.workerdBootMs.bare}); Node import ${startup.nodeImportMs.net} ms net`);
    const warm = await runLeanWarm(lean, mock, levels, requestsFor, delay, boots);
    const cold = await runLeanCold(lean, mock, warm, boots);
    console.log("bench: CPU profile of the isolate per step…");
    const profile = await profileSteps(lean, mock, delay);
    return { levels: warm.levels, counts: warm.counts, cold, profile, bundle: { rawBytes: production.rawBytes, gzipBytes: production.gzipBytes }, startup };
  } finally {
    production.dispose();
    lean.dispose();
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

/** Regressions of `now` against `before`, beyond `COMPARE_MARGINS`. */
export function regressions(before: Results, now: Pick<Results, "lean" | "bundle" | "startup">): string[] {
  const found: string[] = [];
  const m = COMPARE_MARGINS;
  for (const level of now.lean.levels) {
    if (level.step.startsWith("baseline")) continue;
    const old = before.lean.levels.find((l) => l.step === level.step && l.concurrency === level.concurrency);
    if (!old) continue;
    const limit = round(old.nonUpstreamMs.p50 * m.nonUpstreamFactor + m.nonUpstreamSlackMs);
    if (level.concurrency === 1 && level.nonUpstreamMs.p50 > limit) found.push(`${level.step} c=${level.concurrency}: non-upstream p50 ${level.nonUpstreamMs.p50} ms > ${limit} (was ${old.nonUpstreamMs.p50})`);
    if (level.upstreamCallsPerRequest > old.upstreamCallsPerRequest) found.push(`${level.step} c=${level.concurrency}: ${level.upstreamCallsPerRequest} upstream calls per request (was ${old.upstreamCallsPerRequest})`);
  }
  // Callbacks first: digi.me's authorization codes in their URLs live 2 minutes from the preparation.
  for (const step of ["user callback", "account callback", "user start", "account start"] as const) {
    for (const location of ["fresh", "warm"] as const) {
      const a = before.lean.cold[location]?.[step];
      const b = now.lean.cold[location]?.[step];
      if (!a || !b) continue;
      const limit = round(a.firstRequestMs * m.coldFactor + m.coldSlackMs);
      if (b.firstRequestMs > limit) found.push(`cold (${location} location) ${step}: first request ${b.firstRequestMs} ms > ${limit} (was ${a.firstRequestMs})`);
      if (b.upstreamCalls.length > a.upstreamCalls.length) found.push(`cold (${location} location) ${step}: ${b.upstreamCalls.length} upstream calls (was ${a.upstreamCalls.length})`);
    }
  }
  if (now.startup.startupMs > before.startup.startupMs + m.startupSlackMs) found.push(`start-up ${now.startup.startupMs} ms > ${round(before.startup.startupMs + m.startupSlackMs)} (was ${before.startup.startupMs})`);
  if (now.bundle.rawBytes > before.bundle.rawBytes * m.bundleFactor) found.push(`bundle ${now.bundle.rawBytes} bytes > ${Math.round(before.bundle.rawBytes * m.bundleFactor)} (was ${before.bundle.rawBytes})`);
  return found;
}

// ---------------------------------------------------------------- main

/** Writes BENCHMARKS.md, keeping the soak's section (npm run soak writes it). */
function writeReport(text: string): void {
  const path = join(ROOT, "BENCHMARKS.md");
  const soak = existsSync(path) ? (/\n## Soak\n[\s\S]*$/.exec(readFileSync(path, "utf8"))?.[0] ?? "") : "";
  writeFileSync(path, `${text.trimEnd()}\n${soak}`);
}

const RESULTS_PATH = join(ROOT, "bench", "results.json");

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
    },
  });
  if (values["report-only"]) {
    writeReport(markdown(JSON.parse(readFileSync(RESULTS_PATH, "utf8")) as Results));
    return;
  }
  const delay = Number(values.delay);
  const boots = Math.max(5, Number(values.boots));
  const levels = values.compare ? [1, 16] : values.levels.split(",").map(Number);
  const requestsFor = (c: number) => Number(values.requests) || (values.quick ? Math.max(8, c * 2) : Math.max(100, c * 8));
  const loadBefore = loadavg().map((n) => round(n));

  const lean = await runLean(levels, requestsFor, delay, boots);
  if (values.compare) {
    const before = JSON.parse(readFileSync(RESULTS_PATH, "utf8")) as Results;
    const found = regressions(before, { lean: { levels: lean.levels, counts: lean.counts, cold: lean.cold, profile: lean.profile }, bundle: lean.bundle, startup: lean.startup });
    const recorded = (before.machine.loadAverageBefore as number[] | undefined)?.join(", ") ?? "?";
    console.log(`bench --compare against bench/results.json of ${before.date} (load average then ${recorded}, now ${loadavg().map((n) => round(n)).join(", ")}; a busier machine reads slower):`);
    if (found.length === 0) {
      console.log("no regression beyond the margins");
      return;
    }
    for (const line of found) console.log(`  REGRESSION ${line}`);
    process.exitCode = 1;
    return;
  }
  const dev = values["skip-dev"] ? undefined : await runDev(levels, requestsFor, delay);
  console.log("bench: crypto CPU in workerd…");
  const crypto = values["skip-dev"] ? undefined : await cryptoBench();
  const results: Results = {
    date: new Date().toISOString(),
    delayMs: delay,
    machine: {
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
    },
    bundle: lean.bundle,
    startup: lean.startup,
    lean: { levels: lean.levels, counts: lean.counts, cold: lean.cold, profile: lean.profile },
    ...(dev ? { dev } : {}),
    ...(crypto ? { cryptoMsPerOp: crypto } : {}),
    notes: values["notes-file"] ? readFileSync(values["notes-file"], "utf8") : values.notes,
  };
  writeFileSync(RESULTS_PATH, JSON.stringify(results, null, 2) + "\n");
  writeReport(markdown(results));
  console.log("bench: wrote bench/results.json and BENCHMARKS.md");
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
