/**
 * What both benchmark runtimes share: the load generator, percentiles, the
 * mock's journal, and the steps measured (user start, account start, user
 * callback, account callback, and a no-I/O baseline; on the lean runtime at c=1
 * also the token reads, fresh and refreshing, and the reads of issue 24: a
 * session's file list and a file, small and of 1 MiB).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mockAdmin, type MockAdmin } from "../harness/mock-admin.ts";
import { ROOT } from "../harness/stack.ts";

/** Where flows return to; never fetched (redirects are not followed). */
export const RETURN_TO = "http://127.0.0.1:8788/bench-return";
/** The mock's API endpoints (the journal also records onboarding pages and admin calls). */
export const API_ENDPOINTS = ["oauth/token/reference", "reference", "oauth/token", "oauth/authorize", "permission-access/accounts", "permission-access/query", "permission-access/query/file", "jwks/oauth"];

export type StepName = "baseline (/healthz)" | "user start" | "account start" | "user callback" | "account callback";
export const STEPS: StepName[] = ["baseline (/healthz)", "user start", "account start", "user callback", "account callback"];
/** Upstream round trips on each step's critical path (the account start's two calls overlap). */
/**
 * The token reads (issue 23), measured beside the flow steps at c=1 on the lean runtime:
 * `GET /v1/users/{id}/token` of a user whose access token is fresh (one object call, no
 * digi.me call), and `?minValidity=REFRESH_MIN_VALIDITY_S` of a user whose access token
 * expires within that (the object refreshes it once at digi.me first).
 */
export type TokenStepName = "token read (fresh)" | "token read (refresh)";
export const TOKEN_STEPS: TokenStepName[] = ["token read (fresh)", "token read (refresh)"];
/**
 * The reads of issue 24, measured beside the other steps at c=1 on the lean runtime, each
 * of a user's own session (`sessionKey` from the mock: always finished, so the list answers
 * at once): `GET /v1/users/{id}/sessions/{key}/files`, the account's default uncompressed
 * file (`18_<accountId>_1.json`, about 100 bytes) and a file of `FILE_READ_BYTES` put with the
 * mock's admin API, uncompressed, so what the edge adds to the digi.me call is the
 * decryption (and the answer's bytes), not a decompression.
 */
export type FileStepName = "file list read" | "file read (small)" | "file read (1 MiB)";
export const FILE_STEPS: FileStepName[] = ["file list read", "file read (small)", "file read (1 MiB)"];
/**
 * "The digi.me call itself" (issue 24's side by side), one beside each read: the same
 * digi.me call made the way a backend on digi.me's SDK makes it (the request signed with
 * the contract key; a file decrypted and decompressed as it streams), by the service's own
 * digi.me client in the same runtime, with the user's access token in hand: no API key, no
 * route, no user object (`/__bench/direct/…` of the benchmark entry). A read through the
 * edge costs what its twin does plus the edge's part, which the claim bounds.
 */
export type DirectStepName = "digi.me call (file list)" | "digi.me call (small file)" | "digi.me call (1 MiB file)";
export const DIRECT_STEPS: DirectStepName[] = ["digi.me call (file list)", "digi.me call (small file)", "digi.me call (1 MiB file)"];
/** Each read through the edge and the digi.me call it is measured against. */
export const DIRECT_TWIN: Record<FileStepName, DirectStepName> = {
  "file list read": "digi.me call (file list)",
  "file read (small)": "digi.me call (small file)",
  "file read (1 MiB)": "digi.me call (1 MiB file)",
};
/** The 1 MiB file's plaintext size (exactly), and its name on every file-reading user's account. */
export const FILE_READ_BYTES = 1024 * 1024;
/**
 * What the load generator asks of every answer: no content coding. Miniflare's entry
 * Worker gzips an answer for a client that accepts gzip (Node's fetch does), as
 * Cloudflare's front line does in production, outside the Worker and its CPU; here it
 * would run in workerd's process and count as the Worker's time (a 1 MiB JSON file:
 * about 25 ms of CPU, more than its decryption).
 */
export const UNCOMPRESSED = { "Accept-Encoding": "identity" } as const;
export const FILE_READ_NAME = "bench-1mib.json";
/** What a read must do, every time (issue 24): one object call (the token), one digi.me call, and no error. */
export const FILE_READ_EXPECTED: Record<FileStepName, { objectCalls: number; upstreamCalls: number }> = {
  "file list read": { objectCalls: 1, upstreamCalls: 1 },
  "file read (small)": { objectCalls: 1, upstreamCalls: 1 },
  "file read (1 MiB)": { objectCalls: 1, upstreamCalls: 1 },
};
/**
 * The harness's floor for an answer of `FILE_READ_BYTES` (bench/lean-worker.ts's
 * `/__bench/bytes`: 64 KiB chunks, no service code, no upstream): what carrying a 1 MiB
 * answer through Miniflare's entry Worker and loopback to the load generator costs.
 */
export type FloorStepName = "baseline (1 MiB answer)";
/** Any step the load generator sends. */
export type MeasuredStep = StepName | TokenStepName | FileStepName | FloorStepName | DirectStepName;
/** What a token read must do, every time: a regression in any of these fails `--compare` and `--token-reads`. */
export const TOKEN_READ_EXPECTED: Record<TokenStepName, { objectCalls: number; upstreamCalls: number; refreshed: boolean }> = {
  "token read (fresh)": { objectCalls: 1, upstreamCalls: 0, refreshed: false },
  "token read (refresh)": { objectCalls: 1, upstreamCalls: 1, refreshed: true },
};
/** The refreshing read's `minValidity` (s): the contract's largest. */
export const REFRESH_MIN_VALIDITY_S = 1800;
/** The access-token lifetime the refreshing read's users are given (under `REFRESH_MIN_VALIDITY_S`, so every first read refreshes). */
export const SHORT_ACCESS_TOKEN_MS = 10 * 60 * 1000;
/**
 * The refreshing read's users are prepared this many at a time, each batch just before its
 * reads, so their objects are still in memory when read (workerd evicts an object idle
 * for about 10 s), as the other steps' are.
 */
export const REFRESH_BATCH = 25;

export const isTokenStep = (step: MeasuredStep): step is TokenStepName => (TOKEN_STEPS as MeasuredStep[]).includes(step);
export const isFileStep = (step: MeasuredStep): step is FileStepName => (FILE_STEPS as MeasuredStep[]).includes(step);
export const isDirectStep = (step: MeasuredStep): step is DirectStepName => (DIRECT_STEPS as MeasuredStep[]).includes(step);

export const ROUND_TRIPS: Record<MeasuredStep, number> = {
  "baseline (/healthz)": 0,
  "baseline (1 MiB answer)": 0,
  "user start": 1,
  "account start": 1,
  "user callback": 1,
  "account callback": 1,
  "token read (fresh)": 0,
  "token read (refresh)": 1,
  "file list read": 1,
  "file read (small)": 1,
  "file read (1 MiB)": 1,
  "digi.me call (file list)": 1,
  "digi.me call (small file)": 1,
  "digi.me call (1 MiB file)": 1,
};

export interface Stats {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

/** One step at one concurrency. */
export interface LevelResult {
  step: MeasuredStep;
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
  /** The most object calls any one request made; where counted. */
  objectCallsMax?: number;
  /** Of those calls, how many met an object constructed for them (X-Bench-Objects-Woken), per request; where counted. */
  objectsWokenPerRequest?: number;
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
    fetch(`${edgeUrl}${path}`, { method, headers: { ...UNCOMPRESSED, Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
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
  /** The user's own session key at the mock (always finished: its file list answers at once). */
  sessionKey?: string;
  /** The access token stored for the user at the edge: what a backend holding the token would use (the direct digi.me calls). */
  accessToken?: string;
}

/** Creates users at the mock, stores their tokens at the edge, and delays every upstream call. */
export async function setUp(c: Client, count: number, delayMs: number, prefix = "bench"): Promise<BenchUser[]> {
  const users: BenchUser[] = [];
  for (let i = 0; i < count; i++) {
    const created = (await (await c.admin.createUser({ userId: `${prefix}-${i}`, accounts: 1 })).json()) as { userId: string; sessionKey?: string; accounts: Array<{ id: string }>; token: { accessToken?: { value?: string } } };
    const stored = await c.api(`/v1/users/${created.userId}/token`, created.token, "PUT");
    if (stored.status !== 204) throw new Error(`storing a token answered ${stored.status}: ${await stored.text()}`);
    const accessToken = created.token.accessToken?.value;
    users.push({ id: created.userId, account: created.accounts[0]!.id, ...(created.sessionKey ? { sessionKey: created.sessionKey } : {}), ...(accessToken ? { accessToken } : {}) });
  }
  await c.admin.setScenario({ faults: [{ type: "delay", ms: delayMs, endpoints: API_ENDPOINTS }] });
  return users;
}

/**
 * Puts a file of exactly `sizeBytes` bytes of plaintext on the user's first account with the
 * mock's admin API (`POST /__mock/users/:userId/files/large`: deterministic JSON records,
 * generated and encrypted to the contract's key on every read).
 */
export async function putLargeFile(c: Client, user: BenchUser, name: string, sizeBytes: number, compression: "none" | "gzip" | "brotli" = "none"): Promise<void> {
  const response = await c.admin.call(`users/${encodeURIComponent(user.id)}/files/large`, { accountId: user.account, name, sizeBytes, compression }, "POST");
  if (response.status !== 201) throw new Error(`putting ${name} (${sizeBytes} bytes, ${compression}) on ${user.id} answered ${response.status}: ${await response.text()}`);
}

/** The account's default uncompressed file (mock-server/README.md, "Data": the first account's `…_1.json`). */
export const smallFileName = (user: BenchUser): string => `18_${user.account}_1.json`;

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
  /** A token read's `refreshed`. */
  refreshed?: boolean;
  /** The answer's body length (bytes). */
  bytes?: number;
}

/** Users prepared so far for the refreshing token read (their ids must not repeat at the mock). */
let refreshUsers = 0;

/**
 * Users for the refreshing token read, one per read: each created at the mock, given a
 * token whose access token lives `SHORT_ACCESS_TOKEN_MS` (so it expires within
 * `REFRESH_MIN_VALIDITY_S`), and that token imported at the edge (a new user: no
 * precondition needed). Each user's first read refreshes; it is read once.
 */
export async function prepareRefreshUsers(c: Client, count: number): Promise<BenchUser[]> {
  const prepared: BenchUser[] = [];
  await pool(Array.from({ length: count }, (_, i) => i), 8, async () => {
    const id = `bench-refresh-${process.pid}-${refreshUsers++}`;
    const created = await c.admin.createUser({ userId: id, accounts: 1 });
    if (created.status !== 201) throw new Error(`creating ${id} at the mock answered ${created.status}: ${await created.text()}`);
    const { accounts } = (await created.json()) as { accounts: Array<{ id: string }> };
    const issued = await c.admin.newToken(id, { accessTokenLifetimeMs: SHORT_ACCESS_TOKEN_MS });
    if (issued.status !== 201) throw new Error(`a short-lived token for ${id} answered ${issued.status}: ${await issued.text()}`);
    const { token } = (await issued.json()) as { token: unknown };
    const stored = await c.api(`/v1/users/${id}/token`, token, "PUT");
    if (stored.status !== 204) throw new Error(`importing ${id}'s short-lived token answered ${stored.status}: ${await stored.text()}`);
    prepared.push({ id, account: accounts[0]!.id });
  });
  return prepared;
}

/** Sends one request of `step`; resolves once the body is read. */
export async function sendStep(c: Client, step: MeasuredStep, user: BenchUser, callback?: PreparedCallback): Promise<StepAnswer> {
  let response: Response;
  if (step === "baseline (/healthz)") response = await fetch(`${c.edgeUrl}/healthz`, { headers: UNCOMPRESSED });
  else if (step === "token read (fresh)") response = await c.api(`/v1/users/${user.id}/token`);
  else if (step === "token read (refresh)") response = await c.api(`/v1/users/${user.id}/token?minValidity=${REFRESH_MIN_VALIDITY_S}`);
  else if (step === "baseline (1 MiB answer)") response = await fetch(`${c.edgeUrl}/__bench/bytes?n=${FILE_READ_BYTES}`, { headers: UNCOMPRESSED });
  else if (step === "file list read") response = await c.api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files`);
  else if (step === "file read (small)") response = await c.api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${smallFileName(user)}`);
  else if (step === "file read (1 MiB)") response = await c.api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${FILE_READ_NAME}`);
  else if (isDirectStep(step)) {
    const name = step === "digi.me call (file list)" ? "" : `/${encodeURIComponent(step === "digi.me call (small file)" ? smallFileName(user) : FILE_READ_NAME)}`;
    response = await fetch(`${c.edgeUrl}/__bench/direct/${encodeURIComponent(user.sessionKey!)}${name}`, { headers: { ...UNCOMPRESSED, "X-Bench-Access-Token": user.accessToken! } });
  } else if (step === "user start") response = await c.api("/v1/reauth/user", { userId: user.id, returnTo: RETURN_TO });
  else if (step === "account start") response = await c.api("/v1/reauth/account", { userId: user.id, accountId: user.account, returnTo: RETURN_TO });
  else response = await fetch(callback!.url, { redirect: "manual", headers: { Cookie: callback!.cookie } });
  const body = await response.arrayBuffer();
  // A token read says whether it refreshed (issue 23's contract); parsed once the answer is whole.
  const refreshed = isTokenStep(step) && response.status === 200 ? (JSON.parse(new TextDecoder().decode(body)) as { refreshed?: unknown }).refreshed : undefined;
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
    ...(typeof refreshed === "boolean" ? { refreshed } : {}),
    bytes: body.byteLength,
  };
}

export const EXPECTED_STATUS: Record<MeasuredStep, number> = {
  "baseline (/healthz)": 200,
  "baseline (1 MiB answer)": 200,
  "user start": 201,
  "account start": 201,
  "user callback": 303,
  "account callback": 303,
  "token read (fresh)": 200,
  "token read (refresh)": 200,
  "file list read": 200,
  "file read (small)": 200,
  "file read (1 MiB)": 200,
  "digi.me call (file list)": 200,
  "digi.me call (small file)": 200,
  "digi.me call (1 MiB file)": 200,
};

/** Whether an answer is what its step must answer: the status and, for a token read, whether it refreshed; a 1 MiB answer, its length. */
export function answeredAsExpected(step: MeasuredStep, answer: StepAnswer): boolean {
  if (answer.status !== EXPECTED_STATUS[step]) return false;
  if ((step === "file read (1 MiB)" || step === "digi.me call (1 MiB file)" || step === "baseline (1 MiB answer)") && answer.bytes !== FILE_READ_BYTES) return false;
  return !isTokenStep(step) || answer.refreshed === TOKEN_READ_EXPECTED[step].refreshed;
}

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
 * `samples` receives every request's figures. The refreshing token read prepares its own
 * users (one per request, `REFRESH_BATCH` at a time, each batch just before its reads);
 * the clock, the CPU and the mock's journal count only the timed requests.
 */
export async function measure(c: Client, step: MeasuredStep, concurrency: number, requests: number, delay: number, users: BenchUser[], cpu?: () => number | undefined, samples?: Samples): Promise<LevelResult> {
  let callbacks: PreparedCallback[] = [];
  if (step === "user callback") callbacks = await prepareCallbacks(c, users, "user", requests);
  if (step === "account callback") callbacks = await prepareCallbacks(c, users, "account", requests);
  const perUser = step === "token read (refresh)";
  const latencies: number[] = [];
  const upstreamTimes: number[] = [];
  const objectCalls: number[] = [];
  const objectsWoken: number[] = [];
  const calls: Array<{ endpoint: string; durationMs: number }> = [];
  let errors = 0;
  let wall = 0;
  let cpuMs: number | undefined = 0;
  const batch = perUser ? REFRESH_BATCH : requests;
  for (let first = 0; first < requests; first += batch) {
    const count = Math.min(batch, requests - first);
    const batchUsers = perUser ? await prepareRefreshUsers(c, count) : users;
    const since = await journalSeq(c);
    const cpuBefore = cpu?.();
    const began = performance.now();
    await pool(Array.from({ length: count }, (_, i) => first + i), concurrency, async (i) => {
      const user = perUser ? batchUsers[i - first]! : users[i % users.length]!;
      const t0 = performance.now();
      const answer = await sendStep(c, step, user, callbacks[i]);
      const latency = performance.now() - t0;
      latencies.push(latency);
      if (answer.upstreamMs !== undefined) upstreamTimes.push(latency - answer.upstreamMs);
      if (answer.objectCalls !== undefined) objectCalls.push(answer.objectCalls);
      if (answer.objectsWoken !== undefined) objectsWoken.push(answer.objectsWoken);
      if (!answeredAsExpected(step, answer)) errors++;
    });
    wall += performance.now() - began;
    const cpuAfter = cpu?.();
    cpuMs = cpuMs !== undefined && cpuBefore !== undefined && cpuAfter !== undefined ? cpuMs + cpuAfter - cpuBefore : undefined;
    calls.push(...(await journalSince(c, since)));
  }
  if (samples) {
    samples.latencies.push(...latencies);
    if (upstreamTimes.length === latencies.length) samples.nonUpstream.push(...upstreamTimes);
    samples.objectCalls.push(...objectCalls);
    if (objectsWoken.length) (samples.objectsWoken ??= []).push(...objectsWoken);
  }
  const mockMedian = calls.length ? median(calls.map((e) => e.durationMs)) : 0;
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
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
    ...(objectCalls.length === requests ? { objectCallsPerRequest: round(sum(objectCalls) / requests), objectCallsMax: Math.max(...objectCalls) } : {}),
    ...(objectsWoken.length === requests ? { objectsWokenPerRequest: round(sum(objectsWoken) / requests) } : {}),
    mockTimePerCallMs: calls.length ? round(calls.reduce((a, e) => a + e.durationMs, 0) / calls.length) : 0,
    ...(cpu && cpuMs !== undefined ? { cpuMsPerRequest: round(cpuMs / requests, 3) } : {}),
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
