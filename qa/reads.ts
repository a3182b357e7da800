/**
 * Read steps of the QA runner: what a backend does when it reads through the
 * edge with its API key alone (docs/reading-data.md) — the user's accounts,
 * each with its reauthorization ready; a session; its file list, long-polled
 * while the sync runs; and files, decrypted and decompressed at the edge. A
 * read that flags an account may save its `start` body, which a later
 * `start: { flow: account, from: name }` sends as it is.
 */
import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { AccountsStep, FilesStep, FileStep, MockFileStep, SessionStep } from "./schema.ts";

/** The body of POST /v1/reauth/account a read hands out (`reauth.start`), less `returnTo`. */
export interface StartBody {
  userId: string;
  accountId: string;
}

/** What a read answers of an account's reauthorization. */
interface AccountReauth {
  needed?: boolean;
  reason?: string;
  message?: string;
  start?: StartBody;
}

/** What read steps remember between steps of one file. */
export interface ReadState {
  /** Session keys by the name a `session: start` step saved them under. */
  sessions: Map<string, string>;
  /** The last session started. */
  lastSession?: string;
  /** The names each session's last file list showed, by session key. */
  fileLists: Map<string, string[]>;
  /** `start` bodies saved by reads, by name. */
  starts: Map<string, StartBody>;
}

/** A fresh state for a file. */
export function newReadState(): ReadState {
  return { sessions: new Map(), fileLists: new Map(), starts: new Map() };
}

/** What read steps need from the runner. */
export interface ReadStepContext {
  userId: string;
  /** The user at the mock under the step's contract (left out: `userId`). */
  mockUserId?: string;
  failures: Array<{ where: string; expected: unknown; actual: unknown }>;
  /** A call of the edge's API with the runner's API key. */
  edge: (path: string, method?: string, body?: unknown) => Promise<Response>;
  /** An account by position, label or id. */
  accountId: (ref: string | number) => string;
  /** The mock's admin API: one call (POST with a body). */
  mockCall: (path: string, body: unknown) => Promise<Response>;
  reads: ReadState;
}

/** What a step did (the runner's StepOutcome, less what only flows have). */
interface ReadOutcome {
  label: string;
  summary: string;
}

type At = (field: string) => string;

function check(ctx: ReadStepContext, where: string, expected: unknown, actual: unknown): void {
  if (expected === undefined) return;
  if (!isDeepStrictEqual(expected, actual)) ctx.failures.push({ where, expected, actual });
}

/** A count expectation (`3`, `">=1"`) holds for `actual`. */
function countHolds(expected: number | string, actual: number): boolean {
  if (typeof expected === "number") return actual === expected;
  const [, op, n] = /^(>=|<=|>|<)(\d+)$/.exec(expected)!;
  const limit = Number(n);
  return op === ">=" ? actual >= limit : op === "<=" ? actual <= limit : op === ">" ? actual > limit : actual < limit;
}

function checkCount(ctx: ReadStepContext, where: string, expected: number | string | undefined, actual: number): void {
  if (expected !== undefined && !countHolds(expected, actual)) ctx.failures.push({ where, expected, actual });
}

/** An answer's JSON body, or its first 300 characters when it is not JSON (for a readable failure). */
export async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { _body: text.slice(0, 300) };
  }
}

const errorCodeOf = (body: Record<string, unknown>) => (body.error as { code?: string } | undefined)?.code;

/** The key of the session a step names (`session: name`), else of the last session started. */
function sessionKey(ctx: ReadStepContext, name: string | undefined): string {
  if (name !== undefined) {
    const key = ctx.reads.sessions.get(name);
    if (key === undefined) throw new Error(`no session was saved as "${name}" (its session: start failed?)`);
    return key;
  }
  if (ctx.reads.lastSession === undefined) throw new Error("no session was started before (session: start)");
  return ctx.reads.lastSession;
}

const sessionPath = (ctx: ReadStepContext, key: string) => `/v1/users/${encodeURIComponent(ctx.userId)}/sessions/${encodeURIComponent(key)}`;

/** Checks `reauth`, `reason` and `start` against the accounts a read answered; saves the first flagged account's `start` under `save`. */
function checkReauth(
  ctx: ReadStepContext,
  at: At,
  what: string,
  expect: { reauth?: Array<string | number>; reason?: string; start?: "present" | "absent" },
  accounts: Array<{ id: string; reauth?: AccountReauth }>,
  save: string | undefined,
): Array<{ id: string; reauth?: AccountReauth }> {
  const flagged = accounts.filter((account) => account.reauth?.needed === true);
  const expectedIds = expect.reauth?.map((ref) => ctx.accountId(ref));
  check(ctx, at(`${what}: accounts needing reauthorization`), expectedIds, flagged.map((account) => account.id));
  if ((expect.reason !== undefined || expect.start !== undefined) && flagged.length === 0) {
    ctx.failures.push({ where: at(`${what}: an account needing reauthorization (for reason / start)`), expected: "at least one", actual: "none" });
  }
  for (const account of flagged) {
    if (expect.reason !== undefined) check(ctx, at(`${what}: reauth.reason of ${account.id}`), expect.reason, account.reauth?.reason ?? "(none)");
    if (expect.start === "present") check(ctx, at(`${what}: reauth.start of ${account.id}`), { userId: ctx.userId, accountId: account.id }, account.reauth?.start ?? "(none)");
    if (expect.start === "absent") check(ctx, at(`${what}: reauth.start of ${account.id}`), "(none)", account.reauth?.start ?? "(none)");
  }
  if (save !== undefined) {
    // The first flagged account in the expectation's order, else in the answer's.
    const chosen = expectedIds?.map((id) => flagged.find((account) => account.id === id)).find((account) => account?.reauth?.start) ?? flagged.find((account) => account.reauth?.start);
    if (chosen?.reauth?.start) ctx.reads.starts.set(save, chosen.reauth.start);
    else ctx.failures.push({ where: at(`${what}: a start body to save as "${save}"`), expected: "an account with reauth.start", actual: "none" });
  }
  return flagged;
}

/** `accounts: read`: GET /v1/users/:userId/accounts[?sessionKey=]. */
export async function runAccountsStep(ctx: ReadStepContext, step: AccountsStep, at: At): Promise<ReadOutcome> {
  const key = step.session === undefined ? undefined : sessionKey(ctx, step.session);
  const response = await ctx.edge(`/v1/users/${encodeURIComponent(ctx.userId)}/accounts${key === undefined ? "" : `?sessionKey=${encodeURIComponent(key)}`}`);
  const body = await json(response);
  const expect = step.expect;
  const label = `accounts read${step.session === undefined ? "" : ` (session ${step.session})`}`;
  check(ctx, at("accounts: HTTP status"), expect.status, response.status);
  const code = errorCodeOf(body);
  if (expect.error !== undefined) check(ctx, at("accounts: error code"), expect.error, code);
  if (response.status !== 200) return { label, summary: `${response.status}${code ? ` ${code}` : ""}` };
  const accounts = Array.isArray(body.accounts) ? (body.accounts as Array<{ id: string; reauth?: AccountReauth }>) : [];
  checkCount(ctx, at("accounts: how many"), expect.accounts, accounts.length);
  check(ctx, at("accounts: syncState"), expect.syncState, body.syncState ?? "(none)");
  const flagged = checkReauth(ctx, at, "accounts", expect, accounts, step.save);
  const flags = flagged.map((account) => `${account.id} ${account.reauth?.reason ?? "?"}`).join(", ");
  return { label, summary: `200 ${accounts.length} accounts${flags ? `; reauth: ${flags}` : ""}${body.syncState ? ` syncState=${String(body.syncState)}` : ""}${step.save && ctx.reads.starts.has(step.save) ? ` (start saved as ${step.save})` : ""}` };
}

/** `session: start`: POST /v1/users/:userId/sessions. */
export async function runSessionStep(ctx: ReadStepContext, step: SessionStep, at: At): Promise<ReadOutcome> {
  const body = { ...(step.scope ? { scope: step.scope } : {}), ...(step.sessionOptions ? { sessionOptions: step.sessionOptions } : {}) };
  const response = await ctx.edge(`/v1/users/${encodeURIComponent(ctx.userId)}/sessions`, "POST", body);
  const answer = await json(response);
  check(ctx, at("session: HTTP status"), step.expect.status, response.status);
  const code = errorCodeOf(answer);
  if (step.expect.error !== undefined) check(ctx, at("session: error code"), step.expect.error, code);
  const label = "session start";
  if (response.status !== 201) return { label, summary: `${response.status}${code ? ` ${code}` : ""}` };
  if (typeof answer.sessionKey !== "string" || typeof answer.expiry !== "number") {
    ctx.failures.push({ where: at("session: { sessionKey, expiry }"), expected: "a key and an expiry", actual: answer });
    return { label, summary: "201 without a session key" };
  }
  ctx.reads.lastSession = answer.sessionKey;
  if (step.save) ctx.reads.sessions.set(step.save, answer.sessionKey);
  return { label, summary: `201${step.save ? ` (saved as ${step.save})` : ""}` };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** `files: list`: GET …/sessions/:sessionKey/files[?wait=N]. */
export async function runFilesStep(ctx: ReadStepContext, step: FilesStep, at: At): Promise<ReadOutcome> {
  const key = sessionKey(ctx, step.session);
  const sent = performance.now();
  const response = await ctx.edge(`${sessionPath(ctx, key)}/files${step.wait === undefined ? "" : `?wait=${step.wait}`}`);
  const body = await json(response);
  const held = performance.now() - sent;
  const expect = step.expect;
  const label = `file list${step.wait === undefined ? "" : ` (wait=${step.wait})`}${step.session === undefined ? "" : ` of ${step.session}`}`;
  check(ctx, at("files: HTTP status"), expect.status, response.status);
  const code = errorCodeOf(body);
  if (expect.error !== undefined) check(ctx, at("files: error code"), expect.error, code);
  if (response.status !== 200) return { label, summary: `${response.status}${code ? ` ${code}` : ""}` };
  const parts = Array.isArray(body.accounts) ? (body.accounts as Array<{ accountId: string; state?: string; reauth?: AccountReauth }>) : [];
  const names = (Array.isArray(body.fileList) ? (body.fileList as Array<{ name: string }>) : []).map((file) => file.name);
  ctx.reads.fileLists.set(key, names);
  check(ctx, at("files: state"), expect.state, body.state);
  if (expect.partial !== undefined) {
    check(ctx, at("files: accounts partial"), expect.partial.map((ref) => ctx.accountId(ref)), parts.filter((part) => part.state === "partial").map((part) => part.accountId));
  }
  checkCount(ctx, at("files: how many listed"), expect.files, names.length);
  for (const name of expect.names ?? []) if (!names.includes(name)) ctx.failures.push({ where: at(`files: ${name} listed`), expected: name, actual: names });
  if (expect.heldAtLeast !== undefined && held < expect.heldAtLeast * 1000) {
    ctx.failures.push({ where: at(`files: the long poll held at least ${expect.heldAtLeast} s`), expected: `>= ${expect.heldAtLeast} s`, actual: seconds(held) });
  }
  checkReauth(ctx, at, "files", expect, parts.map((part) => ({ id: part.accountId, reauth: part.reauth })), step.save);
  const states = parts.map((part) => `${part.accountId} ${part.state ?? "?"}`).join(", ");
  return { label, summary: `200 ${String(body.state)}: ${names.length} files (${states})${step.wait === undefined ? "" : ` after ${seconds(held)}`}${step.save && ctx.reads.starts.has(step.save) ? ` (start saved as ${step.save})` : ""}` };
}

/** One file read: its status, media type, compression, SHA-256 and content. */
interface ReadFile {
  status: number;
  code?: string;
  contentType: string | null;
  compression: string | null;
  bytes: Uint8Array;
}

async function readOne(ctx: ReadStepContext, key: string, name: string): Promise<ReadFile> {
  const response = await ctx.edge(`${sessionPath(ctx, key)}/files/${encodeURIComponent(name)}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let code: string | undefined;
  if (response.status !== 200) {
    try {
      code = errorCodeOf(JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>);
    } catch {
      code = undefined;
    }
  }
  const mediaType = response.headers.get("Content-Type")?.split(";")[0]?.trim() ?? null;
  return { status: response.status, code, contentType: mediaType, compression: response.headers.get("X-Digime-Compression"), bytes };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** The content as JSON, or undefined with the reason. */
function parseJson(bytes: Uint8Array): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** `file: read` (one file) or `file: all` (every file of the session's last list). */
export async function runFileStep(ctx: ReadStepContext, step: FileStep, at: At): Promise<ReadOutcome> {
  const key = sessionKey(ctx, step.session);
  const listed = ctx.reads.fileLists.get(key);
  if (step.file === "read") {
    let name: string;
    if (typeof step.name === "number") {
      if (!listed) throw new Error("file: read by position: no file list of this session was read before (files: list)");
      const found = listed[step.name];
      if (found === undefined) throw new Error(`file: read: the last file list has no file #${step.name} (it listed ${listed.length})`);
      name = found;
    } else {
      name = step.name;
    }
    const file = await readOne(ctx, key, name);
    const expect = step.expect;
    check(ctx, at(`file ${name}: HTTP status`), expect.status, file.status);
    if (expect.error !== undefined) check(ctx, at(`file ${name}: error code`), expect.error, file.code);
    const label = `file read ${name}`;
    if (file.status !== 200) return { label, summary: `${file.status}${file.code ? ` ${file.code}` : ""}` };
    check(ctx, at(`file ${name}: Content-Type`), expect.contentType, file.contentType);
    check(ctx, at(`file ${name}: X-Digime-Compression`), expect.compression, file.compression);
    check(ctx, at(`file ${name}: SHA-256 of the content`), expect.sha256, sha256(file.bytes));
    if (expect.json !== undefined) {
      const parsed = parseJson(file.bytes);
      if (parsed.error !== undefined) ctx.failures.push({ where: at(`file ${name}: content as JSON`), expected: expect.json, actual: `not JSON: ${parsed.error}` });
      else check(ctx, at(`file ${name}: content (JSON)`), expect.json, parsed.value);
    }
    return { label, summary: `200 ${file.contentType ?? "?"} ${file.compression ?? "?"} ${file.bytes.length} bytes` };
  }
  if (!listed) throw new Error("file: all: no file list of this session was read before (files: list)");
  const expect = step.expect;
  const seen = new Set<string>();
  let read = 0;
  for (const name of listed) {
    const file = await readOne(ctx, key, name);
    if (file.status !== 200) {
      ctx.failures.push({ where: at(`file ${name}: HTTP status`), expected: 200, actual: `${file.status}${file.code ? ` ${file.code}` : ""}` });
      continue;
    }
    read++;
    if (file.compression) seen.add(file.compression);
    check(ctx, at(`file ${name}: Content-Type`), expect.contentType, file.contentType);
    // JSON content must parse: proof it came decrypted and decompressed whole.
    if (file.contentType === "application/json") {
      const parsed = parseJson(file.bytes);
      if (parsed.error !== undefined) ctx.failures.push({ where: at(`file ${name}: content is JSON`), expected: "JSON", actual: `not JSON: ${parsed.error}` });
    }
  }
  checkCount(ctx, at("file all: how many read"), expect.files, read);
  for (const compression of expect.compressions ?? []) {
    if (!seen.has(compression)) ctx.failures.push({ where: at(`file all: a ${compression} file among those read`), expected: compression, actual: [...seen].sort() });
  }
  return { label: "file read (all listed)", summary: `${read} of ${listed.length} read (${[...seen].sort().join(", ") || "no compression header"})` };
}

/** `mockFile`: a file on one of the user's accounts at the mock. */
export async function runMockFileStep(ctx: ReadStepContext, step: MockFileStep): Promise<ReadOutcome> {
  const { account, ...file } = step.mockFile;
  const response = await ctx.mockCall(`users/${encodeURIComponent(ctx.mockUserId ?? ctx.userId)}/files`, { accountId: ctx.accountId(account), ...file });
  const answer = (await response.json()) as { name?: string };
  return { label: "mock file", summary: `${answer.name ?? "?"} on ${ctx.accountId(account)}${file.compression ? ` (${file.compression})` : ""}` };
}
