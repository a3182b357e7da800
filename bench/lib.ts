/**
 * What both benchmark runtimes share: the load generator, percentiles, the
 * mock's journal, and the steps measured (user start, account start, user
 * callback, account callback, and a no-I/O baseline).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mockAdmin, type MockAdmin } from "../harness/mock-admin.ts";
import { ROOT } from "../harness/stack.ts";

/** Where flows return to; never fetched (redirects are not followed). */
export const RETURN_TO = "http://127.0.0.1:8788/bench-return";
/** The mock's API endpoints (the journal also records onboarding pages and admin calls). */
export const API_ENDPOINTS = ["oauth/token/reference", "reference", "oauth/token", "oauth/authorize", "permission-access/accounts", "permission-access/query", "jwks/oauth"];

export type StepName = "baseline (/healthz)" | "user start" | "account start" | "user callback" | "account callback";
export const STEPS: StepName[] = ["baseline (/healthz)", "user start", "account start", "user callback", "account callback"];
/** Upstream round trips on each step's critical path (the account start's two calls overlap). */
export const ROUND_TRIPS: Record<StepName, number> = { "baseline (/healthz)": 0, "user start": 1, "account start": 1, "user callback": 1, "account callback": 1 };

export interface Stats {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

/** One step at one concurrency. */
export interface LevelResult {
  step: StepName;
  concurrency: number;
  requests: number;
  errors: number;
  latencyMs: Stats;
  /** Latency − round trips × the injected delay. */
  overheadMs: Stats;
  /**
   * Latency − time waiting on digi.me: as the Worker measured it (lean runtime:
   * every outbound fetch, overlaps counted once), else round trips × the mock's
   * median time per call. The Worker's own time plus the harness's HTTP.
   */
  nonUpstreamMs: Stats;
  throughputPerS: number;
  upstreamCallsPerRequest: number;
  /**
   * RPC calls to user objects (Durable Objects) per request, as the lean
   * runtime counts them (X-Bench-Object-Calls); absent where not counted (the
   * dev stack, or code before the objects).
   */
  objectCallsPerRequest?: number;
  mockTimePerCallMs: number;
  /** workerd's CPU (user + system) per request, when the runtime's process is known. */
  cpuMsPerRequest?: number;
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)), mean: round(values.reduce((a, b) => a + b, 0) / values.length) };
}

export function median(values: number[]): number {
  return stats(values).p50;
}

export async function pool<T>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

/** The edge and the mock's admin API, as the load generator calls them. */
export interface Client {
  edgeUrl: string;
  api: (path: string, body?: unknown, method?: string) => Promise<Response>;
  /** The mock's admin API (harness/mock-admin.ts). */
  admin: MockAdmin;
}

export function client(edgeUrl: string, apiKey: string, mockOrigin: string): Client {
  const api = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
    fetch(`${edgeUrl}${path}`, { method, headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { edgeUrl, api, admin: mockAdmin(mockOrigin) };
}

export async function journalSeq(c: Client): Promise<number> {
  const { entries } = (await (await c.admin.journal({ limit: 1 })).json()) as { entries: Array<{ seq: number }> };
  return entries.at(-1)?.seq ?? 0;
}

export async function journalSince(c: Client, since: number): Promise<Array<{ endpoint: string; durationMs: number }>> {
  const { entries } = (await (await c.admin.journal({ since, limit: 5000 })).json()) as { entries: Array<{ endpoint: string; durationMs: number }> };
  return entries.filter((e) => API_ENDPOINTS.includes(e.endpoint));
}

export interface BenchUser {
  id: string;
  account: string;
}

/** Creates users at the mock, stores their tokens at the edge, and delays every upstream call. */
export async function setUp(c: Client, count: number, delayMs: number, prefix = "bench"): Promise<BenchUser[]> {
  const users: BenchUser[] = [];
  for (let i = 0; i < count; i++) {
    const created = (await (await c.admin.createUser({ userId: `${prefix}-${i}`, accounts: 1 })).json()) as { userId: string; accounts: Array<{ id: string }>; token: unknown };
    const stored = await c.api(`/v1/users/${created.userId}/token`, created.token, "PUT");
    if (stored.status !== 204) throw new Error(`storing a token answered ${stored.status}: ${await stored.text()}`);
    users.push({ id: created.userId, account: created.accounts[0]!.id });
  }
  await c.admin.setScenario({ faults: [{ type: "delay", ms: delayMs, endpoints: API_ENDPOINTS }] });
  return users;
}

/** A browser-side cookie for a launched flow, and its callback URL. */
export interface PreparedCallback {
  url: string;
  cookie: string;
}

export async function prepareCallbacks(c: Client, users: BenchUser[], kind: "user" | "account", count: number): Promise<PreparedCallback[]> {
  const prepared: PreparedCallback[] = [];
  await pool(Array.from({ length: count }, (_, i) => i), 16, async (i) => {
    const user = users[i % users.length]!;
    const body = kind === "user" ? { userId: user.id, returnTo: RETURN_TO } : { userId: user.id, accountId: user.account, returnTo: RETURN_TO };
    const response = await c.api(`/v1/reauth/${kind}`, body);
    if (response.status !== 201) throw new Error(`starting a ${kind} flow answered ${response.status}: ${await response.text()}`);
    const started = (await response.json()) as { launchUrl: string };
    const launch = await fetch(started.launchUrl, { redirect: "manual" });
    const cookie = launch.headers.getSetCookie()[0]!.split(";")[0]!;
    const consent = await fetch(launch.headers.get("Location")!, { redirect: "manual" });
    prepared.push({ url: consent.headers.get("Location")!, cookie });
  });
  return prepared;
}

/** What one request answered: its status and, from the lean runtime, its time spent waiting on upstream calls. */
export interface StepAnswer {
  status: number;
  upstreamMs?: number;
  /** From the lean runtime: the request's RPC calls to user objects. */
  objectCalls?: number;
  /** From the lean runtime: of those calls, how many woke their object (constructed for the call). */
  objectsWoken?: number;
  /** A callback's redirect, which says whether the flow succeeded. */
  location?: string;
}

/** Sends one request of `step`; resolves once the body is read. */
export async function sendStep(c: Client, step: StepName, user: BenchUser, callback?: PreparedCallback): Promise<StepAnswer> {
  let response: Response;
  if (step === "baseline (/healthz)") response = await fetch(`${c.edgeUrl}/healthz`);
  else if (step === "user start") response = await c.api("/v1/reauth/user", { userId: user.id, returnTo: RETURN_TO });
  else if (step === "account start") response = await c.api("/v1/reauth/account", { userId: user.id, accountId: user.account, returnTo: RETURN_TO });
  else response = await fetch(callback!.url, { redirect: "manual", headers: { Cookie: callback!.cookie } });
  await response.arrayBuffer();
  const upstream = response.headers.get("X-Bench-Upstream-Ms");
  const objectCalls = response.headers.get("X-Bench-Object-Calls");
  const objectsWoken = response.headers.get("X-Bench-Objects-Woken");
  const location = response.headers.get("Location");
  return {
    status: response.status,
    ...(upstream === null ? {} : { upstreamMs: Number(upstream) }),
    ...(objectCalls === null ? {} : { objectCalls: Number(objectCalls) }),
    ...(objectsWoken === null ? {} : { objectsWoken: Number(objectsWoken) }),
    ...(location === null ? {} : { location }),
  };
}

export const EXPECTED_STATUS: Record<StepName, number> = { "baseline (/healthz)": 200, "user start": 201, "account start": 201, "user callback": 303, "account callback": 303 };

/** Every request's figures, for pooling several runs of a step (`--baseline`). */
export interface Samples {
  latencies: number[];
  nonUpstream: number[];
  objectCalls: number[];
  /** Per request, the object calls that woke their object (lean runtime with user objects only). */
  objectsWoken?: number[];
}

/**
 * Measures one step at one concurrency; `cpu` reads the runtime's CPU time in ms, if known;
 * `samples` receives every request's figures.
 */
export async function measure(c: Client, step: StepName, concurrency: number, requests: number, delay: number, users: BenchUser[], cpu?: () => number | undefined, samples?: Samples): Promise<LevelResult> {
  let callbacks: PreparedCallback[] = [];
  if (step === "user callback") callbacks = await prepareCallbacks(c, users, "user", requests);
  if (step === "account callback") callbacks = await prepareCallbacks(c, users, "account", requests);
  const since = await journalSeq(c);
  const latencies: number[] = [];
  const upstreamTimes: number[] = [];
  const objectCalls: number[] = [];
  const objectsWoken: number[] = [];
  let errors = 0;
  const cpuBefore = cpu?.();
  const began = performance.now();
  await pool(Array.from({ length: requests }, (_, i) => i), concurrency, async (i) => {
    const t0 = performance.now();
    const answer = await sendStep(c, step, users[i % users.length]!, callbacks[i]);
    const latency = performance.now() - t0;
    latencies.push(latency);
    if (answer.upstreamMs !== undefined) upstreamTimes.push(latency - answer.upstreamMs);
    if (answer.objectCalls !== undefined) objectCalls.push(answer.objectCalls);
    if (answer.objectsWoken !== undefined) objectsWoken.push(answer.objectsWoken);
    if (answer.status !== EXPECTED_STATUS[step]) errors++;
  });
  if (samples) {
    samples.latencies.push(...latencies);
    if (upstreamTimes.length === latencies.length) samples.nonUpstream.push(...upstreamTimes);
    samples.objectCalls.push(...objectCalls);
    if (objectsWoken.length) (samples.objectsWoken ??= []).push(...objectsWoken);
  }
  const wall = performance.now() - began;
  const cpuAfter = cpu?.();
  const calls = await journalSince(c, since);
  const mockMedian = calls.length ? median(calls.map((e) => e.durationMs)) : 0;
  return {
    step,
    concurrency,
    requests,
    errors,
    latencyMs: stats(latencies),
    overheadMs: stats(latencies.map((l) => l - ROUND_TRIPS[step] * delay)),
    nonUpstreamMs: upstreamTimes.length === latencies.length ? stats(upstreamTimes) : stats(latencies.map((l) => l - ROUND_TRIPS[step] * mockMedian)),
    throughputPerS: round((requests / wall) * 1000, 1),
    upstreamCallsPerRequest: round(calls.length / requests),
    ...(objectCalls.length === requests ? { objectCallsPerRequest: round(objectCalls.reduce((a, b) => a + b, 0) / requests) } : {}),
    mockTimePerCallMs: calls.length ? round(calls.reduce((a, e) => a + e.durationMs, 0) / calls.length) : 0,
    ...(cpuBefore !== undefined && cpuAfter !== undefined ? { cpuMsPerRequest: round((cpuAfter - cpuBefore) / requests, 3) } : {}),
  };
}

export function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

/** User + system CPU time of a process, in ms (Linux /proc; 10 ms ticks). */
export function processCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return undefined;
  }
}
