/**
 * Runs scenario files against a target edge and a mock digi.me: each file
 * gets its own mock user (so files run in parallel without disturbing each
 * other), its steps run in order, and every expectation that does not hold is
 * recorded with what was expected and what happened.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromiumNavigate, hasChromium } from "../harness/chromium.ts";
import { HttpBrowser, type Navigation } from "../harness/http-browser.ts";
import type { LoadedScenario } from "./load.ts";
import type { FlowStep, JournalExpectation, ScenarioFile, Step, TokenReadStep, TokenWriteStep } from "./schema.ts";
import { mockAdmin, type MockAdmin } from "../harness/mock-admin.ts";
import { checkSignedReturn } from "../harness/signed-return.ts";
import { json, newReadState, runAccountsStep, runFilesStep, runFileStep, runMockFileStep, runSessionStep, type ReadState, type ReadStepContext } from "./reads.ts";
import { describeVersion, versionHolds } from "./versions.ts";
import { runWebhookOutageStep, runWebhookStep, webhookSkipReason, type WebhookStepContext } from "./webhooks.ts";

/** Where and how to run. */
export interface RunnerOptions {
  /** The edge, e.g. http://127.0.0.1:8787. */
  target: string;
  /** The mock digi.me's origin, e.g. http://127.0.0.1:9090. */
  mock: string;
  apiKey: string;
  /** Where flows send the browser back; must be on an origin the target allows. */
  returnTo: string;
  /** Folder for failure screenshots. */
  artifacts: string;
  /** Called as each step finishes. */
  onStep?: (scenario: string, step: StepResult) => void;
  /** The recording webhook receiver's origin (webhook steps; harness/webhook-receiver.ts). */
  webhooks?: string;
  /** The target's RETURN_SIGNING_SECRET (browser steps' `signedReturn`). */
  returnSigningSecret?: string;
}

/** An expectation that did not hold. */
export interface Failure {
  where: string;
  expected: unknown;
  actual: unknown;
}

/** One step's result. */
export interface StepResult {
  index: number;
  label: string;
  ok: boolean;
  summary: string;
  durationMs: number;
  screenshot?: string;
}

/** One scenario file's result. */
export interface ScenarioResult {
  /** The file as shown (relative to the folder the run was started from). */
  file: string;
  /** Its absolute path (JUnit names the test case's class from it). */
  path?: string;
  name: string;
  status: "passed" | "failed" | "skipped";
  reason?: string;
  steps: StepResult[];
  failures: Failure[];
  durationMs: number;
}

/** A digi.me token pair as the edge stores and answers it. */
export interface TokenPair {
  accessToken: { value: string; expiry: number };
  refreshToken: { value: string; expiry: number };
  user?: { id: string };
  consentid?: string;
}

interface Context {
  options: RunnerOptions;
  scenario: ScenarioFile;
  userId: string;
  sessionKey: string;
  accounts: string[];
  /** Each account's label (its service name), by position. */
  accountLabels: string[];
  initialAccessToken?: string;
  flowId?: string;
  launchUrl?: string;
  lastCallback?: string;
  /** The started flow's expiresAt (ms), for expiry webhooks. */
  expiresAt?: number;
  /** The imported token's refresh-token expiry (ms), for token.expiring / token.expired. */
  refreshTokenExpiresAt?: number;
  browser: HttpBrowser;
  failures: Failure[];
  journalSince: number;
  /** Token versions saved by `save: name`. */
  versions: Map<string, number>;
  /** The pair the runner imported. */
  imported?: TokenPair;
  /** The pair the last `token: read` answered. */
  lastRead?: TokenPair;
  /** The pair the last `token: write` stored. */
  lastWritten?: TokenPair;
  /**
   * The pair (and version) the runner last saw stored: imported, read or written
   * by a token step; forgotten by any step that may change it (a flow, a status read).
   */
  knownStored?: { token: TokenPair; version?: number };
  /** Sessions, file lists and `start` bodies the read steps saved. */
  reads: ReadState;
  /** The active contract's `contractId` as the runner sends it (undefined: none, the target's default). */
  contractId?: string;
  /** The active contract's mock user (the file's user id under its main contract, `<userId>.<contractId>` under another). */
  mockUserId: string;
  /** The active contract's key: its id, or "" for the target's default when its id is unknown. */
  active: string;
  /** The other contracts' users, by key (the active one's fields live in the context itself). */
  contracts: Map<string, ContractUser>;
  /** The target's default contract (`/healthz`), looked up only when the file names a contract. */
  defaultContract?: string;
  /** Whether the file names a contract anywhere: then starts, flow reads and signed returns are checked for it. */
  namesContracts: boolean;
  /** The contract the last started flow was started under (its id, when known). */
  flowContract?: string;
}

/** What the file's user has under one contract: its own mock user, accounts, imported token and the pairs token steps saw. */
const PER_CONTRACT = [
  "contractId",
  "mockUserId",
  "sessionKey",
  "accounts",
  "accountLabels",
  "initialAccessToken",
  "refreshTokenExpiresAt",
  "imported",
  "lastRead",
  "lastWritten",
  "knownStored",
] as const;
type ContractUser = Pick<Context, (typeof PER_CONTRACT)[number]>;

function contractUserOf(ctx: Context): ContractUser {
  return Object.fromEntries(PER_CONTRACT.map((key) => [key, ctx[key]])) as unknown as ContractUser;
}

/** Makes the contract `key` the active one: its user's fields move into the context, the previous one's are kept. */
function useContract(ctx: Context, key: string): void {
  if (key === ctx.active) return;
  const next = ctx.contracts.get(key);
  if (!next) throw new Error(`contract "${key}": not set up for this file`);
  ctx.contracts.set(ctx.active, contractUserOf(ctx));
  ctx.contracts.delete(key);
  Object.assign(ctx, next);
  ctx.active = key;
}

/** The key of a contract a step or the file names (left out: the file's, else the target's default). */
function contractKey(ctx: Pick<Context, "scenario" | "defaultContract">, named: string | undefined): string {
  return named ?? ctx.scenario.contract ?? ctx.defaultContract ?? "";
}

/** Every contract a file names: the file's, its steps' and its journal expectations'. */
export function contractsNamed(scenario: ScenarioFile): Set<string> {
  const names = new Set<string>();
  if (scenario.contract) names.add(scenario.contract);
  for (const step of scenario.steps) {
    const named = (step as { contract?: string }).contract;
    if (named) names.add(named);
  }
  for (const expectation of scenario.expect.journal) if (expectation.contract) names.add(expectation.contract);
  return names;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40);
}

/** Whether the scenario needs the real browser. */
export function needsChromium(scenario: ScenarioFile): boolean {
  return scenario.steps.some((s) => "browser" in s && typeof s.browser === "object" && s.browser.engine === "chromium");
}


function check(ctx: Context, where: string, expected: unknown, actual: unknown): boolean {
  if (expected === undefined) return true;
  const same = JSON.stringify(expected) === JSON.stringify(actual);
  if (!same) ctx.failures.push({ where, expected, actual });
  return same;
}

/** The mock's admin API, throwing on a refused call (setup failing is the run's error, not a step's). */
function admin(ctx: Pick<Context, "options">): MockAdmin {
  return mockAdmin(ctx.options.mock, { throwOnError: true });
}

async function edge(ctx: Context, path: string, method = "GET", body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  // The user routes and the reads name their contract in the query; starts name it in the body.
  if (ctx.contractId !== undefined && path.startsWith("/v1/users/")) path += `${path.includes("?") ? "&" : "?"}contractId=${encodeURIComponent(ctx.contractId)}`;
  return fetch(`${ctx.options.target}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ctx.options.apiKey}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
}

/** An account by position (0 = first), label (service name, case-insensitive) or id. */
function accountId(ctx: Pick<Context, "accounts" | "accountLabels">, ref: string | number | undefined): string {
  if (typeof ref === "string") {
    if (ctx.accounts.includes(ref)) return ref;
    const byLabel = ctx.accountLabels.findIndex((label) => label.toLowerCase() === ref.toLowerCase());
    return byLabel >= 0 ? ctx.accounts[byLabel]! : ref; // an id the user does not have: the edge and the mock say so
  }
  const id = ctx.accounts[ref ?? 0];
  if (!id) throw new Error(`the user has no account #${ref} (it has ${ctx.accounts.length}: positions 0 to ${ctx.accounts.length - 1})`);
  return id;
}

/** How long a background long poll must stay unanswered before the next step runs: it has reached the edge and is held there. */
export const LONG_POLL_HELD_MS = 250;

/** What a step did; a background long poll also says how to check its answer once the next step has run. */
interface StepOutcome {
  label: string;
  summary: string;
  screenshot?: Buffer;
  /** Awaits the answer and checks it; `since`: when the next step ended (performance.now()). */
  settle?: (since: number) => Promise<string>;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** `flow: check`: a read, a long poll (`wait`), or a long poll held while the next step runs (`background`). */
async function runFlowStep(ctx: Context, step: FlowStep, at: (field: string) => string): Promise<StepOutcome> {
  if (!ctx.flowId) throw new Error("flow check: no flow was started before");
  const sent = performance.now();
  const answer = edge(ctx, `/v1/flows/${ctx.flowId}${step.wait ? `?wait=${step.wait}` : ""}`).then(async (response) => ({ response, body: await json(response), at: performance.now() }));
  const label = step.wait ? `flow long poll (wait=${step.wait}${step.background ? ", during the next step" : ""})` : "flow check";
  const judge = async (since: number): Promise<string> => {
    const { response, body, at: answeredAt } = await answer;
    check(ctx, at("flow: HTTP status"), step.expect.httpStatus ?? 200, response.status);
    check(ctx, at("flow: status"), step.expect.status, body.status);
    if (ctx.flowContract !== undefined && response.status === 200) check(ctx, at("flow: contractId (the contract it was started under)"), ctx.flowContract, body.contractId);
    if (step.expect.errorCode !== undefined) check(ctx, at("flow: errorCode"), step.expect.errorCode, body.errorCode ?? null);
    const held = answeredAt - sent;
    const late = answeredAt - since;
    if (step.expect.heldAtLeast !== undefined && held < step.expect.heldAtLeast * 1000) {
      ctx.failures.push({ where: at(`flow: the long poll held at least ${step.expect.heldAtLeast} s`), expected: `>= ${step.expect.heldAtLeast} s`, actual: seconds(held) });
    }
    if (step.expect.answeredWithin !== undefined && late > step.expect.answeredWithin * 1000) {
      const after = step.background ? "the next step ended" : "it was sent";
      ctx.failures.push({ where: at(`flow: answered within ${step.expect.answeredWithin} s after ${after}`), expected: `<= ${step.expect.answeredWithin} s`, actual: seconds(late) });
    }
    const outcome = `${response.status} ${body.status ?? ""}${body.errorCode ? ` ${String(body.errorCode)}` : ""}`;
    if (!step.wait) return outcome;
    return `${outcome} after ${seconds(held)}${step.background ? ` (${late <= 0 ? `${seconds(-late)} before` : `${seconds(late)} after`} the next step ended)` : ""}`;
  };
  if (!step.background) return { label, summary: await judge(sent) };
  // Held means: not answered after a moment, so it reached the edge before the next step can end the flow.
  const early = await Promise.race([answer, new Promise<undefined>((resolve) => setTimeout(resolve, LONG_POLL_HELD_MS))]);
  if (early) {
    ctx.failures.push({
      where: at("flow: the long poll was still waiting when the next step began"),
      expected: `no answer within ${LONG_POLL_HELD_MS} ms`,
      actual: `answered ${early.response.status} ${early.body.status ?? ""} after ${Math.round(early.at - sent)} ms`,
    });
  }
  return { label, summary: early ? "answered at once" : `held for ${LONG_POLL_HELD_MS} ms; the next step runs meanwhile`, settle: judge };
}

const errorCodeOf = (body: Record<string, unknown>) => (body.error as { code?: string } | undefined)?.code;

/** Whether two pairs are the same (both token values). */
function samePair(a: TokenPair | undefined, b: TokenPair | undefined): boolean {
  return a !== undefined && b !== undefined && a.accessToken?.value === b.accessToken?.value && a.refreshToken?.value === b.refreshToken?.value;
}

/** Which of the pairs the runner knows this one is: imported, lastRead, written — or new. */
function whichPair(ctx: Context, pair: TokenPair | undefined): string {
  const names = [
    ["imported", ctx.imported],
    ["lastRead", ctx.lastRead],
    ["written", ctx.lastWritten],
  ].flatMap(([name, known]) => (samePair(pair, known as TokenPair | undefined) ? [name as string] : []));
  return names.length ? names.join(" = ") : "new";
}

/** A comparison in seconds (`">=3000"`) holds for `actual`. */
function secondsHold(expected: string, actual: unknown): boolean {
  if (typeof actual !== "number") return false;
  const [, op, n] = /^(>=|<=|>|<)(\d+)$/.exec(expected)!;
  const limit = Number(n);
  return op === ">=" ? actual >= limit : op === "<=" ? actual <= limit : op === ">" ? actual > limit : actual < limit;
}

/** The version an ETag names (`"7"` → 7), or undefined for anything else. */
function etagVersion(etag: string | null): number | undefined {
  const match = /^"(\d+)"$/.exec(etag ?? "");
  return match ? Number(match[1]) : undefined;
}

/** Checks a version against its expectation, recording a failure with what it stood for. */
function checkVersion(ctx: Context, where: string, expected: Parameters<typeof versionHolds>[1] | undefined, actual: unknown): void {
  if (expected === undefined) return;
  if (!versionHolds(ctx.versions, expected, actual)) ctx.failures.push({ where, expected: describeVersion(ctx.versions, expected), actual: actual ?? "(none)" });
}

/** `token: read`: GET /v1/users/:userId/token[?minValidity=N]. */
async function runTokenRead(ctx: Context, step: TokenReadStep, at: (field: string) => string): Promise<StepOutcome> {
  const query = step.minValidity === undefined ? "" : `?minValidity=${step.minValidity}`;
  const response = await edge(ctx, `/v1/users/${ctx.userId}/token${query}`);
  const body = await json(response);
  const expect = step.expect;
  check(ctx, at("token read: HTTP status"), expect.status, response.status);
  const code = errorCodeOf(body);
  if (expect.error !== undefined) check(ctx, at("token read: error code"), expect.error, code);
  const label = `token read${step.minValidity === undefined ? "" : ` (minValidity=${step.minValidity})`}`;
  if (response.status !== 200) return { label, summary: `${response.status}${code ? ` ${code}` : ""}` };

  const version = body.version;
  const pair = body.token as TokenPair | undefined;
  // Every answer names its version twice: in the body and as a strong ETag.
  if (typeof version !== "number") ctx.failures.push({ where: at("token read: version (a number)"), expected: "a number", actual: version ?? "(none)" });
  else check(ctx, at("token read: ETag is the version in quotes"), `"${version}"`, response.headers.get("ETag"));
  checkVersion(ctx, at("token read: version"), expect.version, version);
  check(ctx, at("token read: refreshed"), expect.refreshed, body.refreshed);
  if (expect.accessTokenExpiresIn !== undefined && !secondsHold(expect.accessTokenExpiresIn, body.accessTokenExpiresIn)) {
    ctx.failures.push({ where: at("token read: accessTokenExpiresIn"), expected: expect.accessTokenExpiresIn, actual: body.accessTokenExpiresIn ?? "(none)" });
  }
  if (expect.token !== undefined) {
    const matches = expect.token === "new" ? whichPair(ctx, pair) === "new" : samePair(pair, { imported: ctx.imported, lastRead: ctx.lastRead, written: ctx.lastWritten }[expect.token]);
    if (!matches) ctx.failures.push({ where: at("token read: which pair"), expected: expect.token, actual: pair ? whichPair(ctx, pair) : "(no token)" });
  }
  if (expect.tokenWorks !== undefined) {
    const verdict = (await (await admin(ctx).checkToken(pair?.accessToken?.value ?? "")).json()) as { valid: boolean; message?: string };
    check(ctx, at("token read: the answered access token works at digi.me"), expect.tokenWorks, verdict.valid);
  }
  if (step.save && typeof version === "number") ctx.versions.set(step.save, version);
  if (pair) {
    ctx.lastRead = pair;
    ctx.knownStored = { token: pair, version: typeof version === "number" ? version : undefined };
  }
  const expiresIn = typeof body.accessTokenExpiresIn === "number" ? ` expiresIn=${body.accessTokenExpiresIn}s` : "";
  return { label, summary: `200 v${String(version)}${body.refreshed ? " refreshed" : ""}${expiresIn}${step.save ? ` (saved as ${step.save})` : ""}` };
}

/** `token: write`: PUT /v1/users/:userId/token with If-Match or If-None-Match. */
async function runTokenWrite(ctx: Context, step: TokenWriteStep, at: (field: string) => string): Promise<StepOutcome> {
  let pair: TokenPair | undefined;
  if (step.pair === "fresh") {
    pair = ((await (await admin(ctx).newToken(ctx.mockUserId)).json()) as { token: TokenPair }).token;
  } else {
    pair = ctx.lastRead;
    if (!pair) throw new Error("token write: no token was read before (pair: read writes back what a read answered; pair: fresh writes a new one)");
  }
  const headers: Record<string, string> = {};
  let precondition = "no precondition";
  if (step.ifMatch !== undefined) {
    const version = typeof step.ifMatch === "number" ? step.ifMatch : ctx.versions.get(step.ifMatch);
    if (version === undefined) throw new Error(`token write: no version was saved as "${step.ifMatch}"`);
    headers["If-Match"] = `"${version}"`;
    precondition = `If-Match "${version}"`;
  } else if (step.ifNoneMatch) {
    headers["If-None-Match"] = "*";
    precondition = "If-None-Match *";
  }
  const response = await edge(ctx, `/v1/users/${ctx.userId}/token`, "PUT", pair, headers);
  const body = response.status === 204 ? {} : await json(response);
  const expect = step.expect;
  check(ctx, at("token write: HTTP status"), expect.status, response.status);
  const code = errorCodeOf(body);
  if (expect.error !== undefined) check(ctx, at("token write: error code"), expect.error, code);
  const label = `token write (${step.pair}, ${precondition})`;
  if (response.status === 204) {
    const version = etagVersion(response.headers.get("ETag"));
    if (version === undefined) ctx.failures.push({ where: at('token write: ETag "<new version>"'), expected: 'a version in quotes, e.g. "8"', actual: response.headers.get("ETag") ?? "(none)" });
    checkVersion(ctx, at("token write: version (ETag)"), expect.version, version);
    if (step.save && version !== undefined) ctx.versions.set(step.save, version);
    ctx.lastWritten = pair;
    ctx.knownStored = { token: pair, version };
    return { label, summary: `204 v${version ?? "?"}${step.save ? ` (saved as ${step.save})` : ""}` };
  }
  const current = (body.error as { currentVersion?: number | null } | undefined)?.currentVersion;
  if (expect.currentVersion === null) check(ctx, at("token write: error.currentVersion"), null, current);
  else checkVersion(ctx, at("token write: error.currentVersion"), expect.currentVersion, current);
  return { label, summary: `${response.status}${code ? ` ${code}` : ""}${current !== undefined ? ` (current version ${String(current)})` : ""}` };
}

/**
 * The stored token and its version, for the runner's own checks. They read with
 * `minValidity=0`, which refreshes nothing still valid; a token whose access token
 * has already expired would be refreshed by any read, so for such a pair the
 * runner answers what it last saw stored and reads nothing.
 */
async function storedToken(ctx: Context): Promise<{ token?: TokenPair; version?: number }> {
  const known = ctx.knownStored;
  if (known && known.token.accessToken.expiry * 1000 <= Date.now()) return known;
  const body = await json(await edge(ctx, `/v1/users/${ctx.userId}/token?minValidity=0`));
  return { token: body.token as TokenPair | undefined, version: typeof body.version === "number" ? body.version : undefined };
}

async function runStep(ctx: Context, step: Step, index: number): Promise<StepOutcome> {
  const at = (field: string) => `steps[${index}] ${field}`;
  // The step's contract, else the file's: its calls pass that contractId and act on the user's token there.
  useContract(ctx, contractKey(ctx, (step as { contract?: string }).contract));
  // A flow, a confirmation, a status read or a read through the edge may store another token (a refresh).
  if ("start" in step || "browser" in step || "confirm" in step || "reauthStatus" in step || "accounts" in step || "session" in step || "files" in step || "file" in step) {
    ctx.knownStored = undefined;
    // A flow's callback or confirmation stores under the flow's contract, which may be another.
    if (!("reauthStatus" in step)) for (const other of ctx.contracts.values()) other.knownStored = undefined;
  }
  // Read steps first: `session` is also a field of the accounts, files and file steps.
  if ("accounts" in step) return runAccountsStep(readContext(ctx), step, at);
  if ("files" in step) return runFilesStep(readContext(ctx), step, at);
  if ("file" in step) return runFileStep(readContext(ctx), step, at);
  if ("session" in step) return runSessionStep(readContext(ctx), step, at);
  if ("mockFile" in step) return runMockFileStep(readContext(ctx), step);
  if ("token" in step) return step.token === "read" ? runTokenRead(ctx, step, at) : runTokenWrite(ctx, step, at);
  if ("pause" in step) {
    await new Promise((resolve) => setTimeout(resolve, step.pause * 1000));
    return { label: "pause", summary: `${step.pause} s` };
  }
  if ("start" in step) {
    const { flow, account, from, ...rest } = step.start;
    let body: Record<string, unknown>;
    if (flow === "user") body = { userId: ctx.userId, returnTo: ctx.options.returnTo, ...rest };
    else if (flow === "authorize") body = { userId: ctx.userId, returnTo: ctx.options.returnTo, ...(rest.locale ? { locale: rest.locale } : {}) };
    else if (from !== undefined) {
      // The body a read handed out, as it is, with returnTo (and a locale) added.
      const saved = ctx.reads.starts.get(from);
      if (!saved) throw new Error(`start: no start body was saved as "${from}" (the read that saves it found no account needing reauthorization?)`);
      body = { ...saved, returnTo: ctx.options.returnTo, ...(rest.locale ? { locale: rest.locale } : {}) };
    } else body = { userId: ctx.userId, accountId: accountId(ctx, account), returnTo: ctx.options.returnTo, locale: rest.locale };
    if (ctx.contractId !== undefined) body.contractId = ctx.contractId;
    const response = await edge(ctx, flow === "authorize" ? "/v1/authorize" : `/v1/reauth/${flow}`, "POST", body);
    const answer = await json(response);
    check(ctx, at("start: HTTP status"), step.expect.status, response.status);
    if (step.expect.error !== undefined) check(ctx, at("start: error code"), step.expect.error, (answer.error as { code?: string } | undefined)?.code);
    if (step.expect.kind !== undefined) check(ctx, at("start: kind"), step.expect.kind, answer.kind);
    if (response.status === 201) {
      // A file that names contracts checks each start answers the one it was made for.
      ctx.flowContract = ctx.namesContracts && ctx.active !== "" ? ctx.active : undefined;
      if (ctx.flowContract !== undefined) check(ctx, at("start: contractId"), ctx.flowContract, answer.contractId);
      ctx.flowId = answer.flowId as string;
      ctx.launchUrl = answer.launchUrl as string;
      ctx.expiresAt = Date.parse(answer.expiresAt as string);
    }
    const code = (answer.error as { code?: string } | undefined)?.code;
    return { label: `start ${flow}${from !== undefined ? ` from ${from}` : ""}${ctx.contractId !== undefined ? ` (${ctx.contractId})` : ""}`, summary: `${response.status}${code ? ` ${code}` : ""}` };
  }
  if ("browser" in step) {
    const spec = typeof step.browser === "string" ? { action: step.browser } : step.browser;
    const engine = ("engine" in spec && spec.engine) || "http";
    const errorCode = "errorCode" in spec ? spec.errorCode : undefined;
    let nav: Navigation & { screenshot?: Buffer };
    if (spec.action === "reload") {
      if (!ctx.lastCallback) throw new Error("reload: no callback was visited before");
      nav = await ctx.browser.navigate(ctx.lastCallback, "follow");
    } else {
      if (!ctx.launchUrl) throw new Error(`${spec.action}: no flow was started before`);
      nav = engine === "chromium" ? await chromiumNavigate(ctx.launchUrl, ctx.options.returnTo, spec.action, errorCode) : await ctx.browser.navigate(ctx.launchUrl, spec.action, errorCode);
    }
    if (nav.lastCallback) ctx.lastCallback = nav.lastCallback;
    const expect = step.expect;
    check(ctx, at("browser: came back to returnTo"), expect.landed, nav.landed);
    if (nav.landed) {
      check(ctx, at("browser: status in returnTo"), expect.outcome, nav.url.searchParams.get("status"));
      if (expect.identity !== undefined) check(ctx, at("browser: identity in returnTo"), expect.identity, nav.url.searchParams.get("identity"));
      if (expect.errorCode !== undefined) check(ctx, at("browser: errorCode in returnTo"), expect.errorCode, nav.url.searchParams.get("errorCode"));
      check(ctx, at("browser: flowId in returnTo"), ctx.flowId, nav.url.searchParams.get("flowId"));
      if (expect.signedReturn !== undefined) {
        if (!ctx.options.returnSigningSecret) throw new Error("signedReturn: the runner has no return-signing secret (--return-secret)");
        const verdict = checkSignedReturn(nav.url, { flowId: ctx.flowId ?? "", userId: ctx.userId, ...(ctx.flowContract !== undefined ? { contractId: ctx.flowContract } : {}) }, ctx.options.returnSigningSecret);
        check(ctx, at("browser: signed return verifies for this flow and user"), expect.signedReturn, verdict.ok ? true : verdict.reason);
      }
    } else {
      if (expect.httpStatus !== undefined) check(ctx, at("browser: page status"), expect.httpStatus, nav.status);
      if (expect.pageContains !== undefined && !nav.body?.includes(expect.pageContains)) {
        ctx.failures.push({ where: at("browser: page text"), expected: `contains "${expect.pageContains}"`, actual: (nav.body ?? "").replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200) });
      }
    }
    const summary = nav.landed ? `back: status=${nav.url.searchParams.get("status")}${nav.url.searchParams.get("errorCode") ? ` errorCode=${nav.url.searchParams.get("errorCode")}` : ""}` : `stopped at ${nav.status ?? "?"} ${nav.url.pathname}`;
    return { label: `browser ${spec.action}${engine === "chromium" ? " (chromium)" : ""}`, summary, screenshot: nav.screenshot };
  }
  if ("flow" in step) return runFlowStep(ctx, step, at);
  if ("confirm" in step) {
    if (!ctx.flowId) throw new Error("confirm: no flow was started before");
    const response = await edge(ctx, `/v1/flows/${ctx.flowId}/confirm`, "POST");
    const answer = await json(response);
    check(ctx, at("confirm: HTTP status"), step.expect.httpStatus, response.status);
    const status = (answer.status ?? (answer.error as { status?: string } | undefined)?.status) as string | undefined;
    check(ctx, at("confirm: status"), step.expect.status, status);
    return { label: "confirm", summary: `${response.status} ${status ?? ""}` };
  }
  if ("reauthStatus" in step) {
    const query = step.reauthStatus.sessionKey ? `?sessionKey=${ctx.sessionKey}` : "";
    const response = await edge(ctx, `/v1/users/${ctx.userId}/reauth-status${query}`);
    const answer = await json(response);
    check(ctx, at("reauthStatus: HTTP status"), step.expect.httpStatus, response.status);
    check(ctx, at("reauthStatus: token"), step.expect.token, (answer.token as { status?: string } | undefined)?.status);
    if (step.expect.accounts) {
      const listed = ((answer.accounts as Array<{ accountId: string }> | undefined) ?? []).map((a) => a.accountId);
      check(ctx, at("reauthStatus: accounts"), step.expect.accounts.map((a) => accountId(ctx, a)), listed);
    }
    return { label: "reauth-status", summary: `${response.status} token=${(answer.token as { status?: string } | undefined)?.status ?? "-"}` };
  }
  if ("webhook" in step) return runWebhookStep(webhookContext(ctx), step, at);
  if ("webhookOutage" in step) return runWebhookOutageStep(webhookContext(ctx), step);
  await admin(ctx).setScenario(withDefaultAccounts(ctx, step.setScenario), ctx.mockUserId);
  return { label: "set scenario", summary: step.setScenario.name };
}

/** What webhook steps need from the context. */
function webhookContext(ctx: Context): WebhookStepContext {
  return {
    receiver: ctx.options.webhooks ?? "",
    userId: ctx.userId,
    flowId: ctx.flowId,
    expiresAt: ctx.expiresAt,
    refreshTokenExpiresAt: ctx.refreshTokenExpiresAt,
    failures: ctx.failures,
    storedToken: async () => (await storedToken(ctx)).token,
    storedVersion: async () => (await storedToken(ctx)).version,
    versions: ctx.versions,
    ...(ctx.namesContracts && ctx.active !== "" ? { contractId: ctx.active } : {}),
  };
}

/** What read steps need from the context. */
function readContext(ctx: Context): ReadStepContext {
  return {
    userId: ctx.userId,
    mockUserId: ctx.mockUserId,
    failures: ctx.failures,
    edge: (path, method, body) => edge(ctx, path, method, body),
    accountId: (ref) => accountId(ctx, ref),
    mockCall: (path, body) => admin(ctx).call(path, body, "POST"),
    reads: ctx.reads,
  };
}

/** A scenario for the mock: accounts resolved to ids; `account-511` without `accounts` means the user's first account. */
function withDefaultAccounts<T extends { name: string; accounts?: Array<string | number> }>(ctx: Context, scenario: T): T & { accounts?: string[] } {
  if (scenario.accounts) return { ...scenario, accounts: scenario.accounts.map((ref) => accountId(ctx, ref)) };
  return scenario.name === "account-511" ? { ...scenario, accounts: [ctx.accounts[0]!] } : { ...scenario, accounts: undefined };
}

function matchesClaim(expected: unknown, actual: unknown): boolean {
  if (expected === "present") return actual !== undefined && actual !== null && actual !== "";
  if (expected === "absent") return actual === undefined;
  return JSON.stringify(expected) === JSON.stringify(actual);
}

function countHolds(expected: number | string | undefined, actual: number): boolean {
  if (expected === undefined) return actual >= 1;
  if (typeof expected === "number") return actual === expected;
  const [, op, n] = /^(>=|<=|>|<)(\d+)$/.exec(expected)!;
  const limit = Number(n);
  return op === ">=" ? actual >= limit : op === "<=" ? actual <= limit : op === ">" ? actual > limit : actual < limit;
}

async function checkJournal(ctx: Context, expectations: JournalExpectation[]): Promise<void> {
  if (expectations.length === 0) return;
  const response = await admin(ctx).journal({ since: ctx.journalSince, limit: 5000 });
  /** The file's mock users: every contract's, or one contract's. */
  const mockUsers = (contract: string | undefined): string[] => {
    const all = [contractUserOf(ctx), ...ctx.contracts.values()];
    if (contract === undefined) return all.map((user) => user.mockUserId);
    const key = contractKey(ctx, contract);
    return key === ctx.active ? [ctx.mockUserId] : [ctx.contracts.get(key)?.mockUserId ?? `(no user under ${contract})`];
  };
  const { entries } = (await response.json()) as { entries: Array<{ endpoint: string; userId?: string; status: number; claims?: Record<string, unknown>; signatureVerified?: boolean }> };
  expectations.forEach((expectation, i) => {
    const where = `journal[${i}]${expectation.says ? ` (${expectation.says})` : ""}`;
    const matching = entries.filter(
      (e) =>
        e.endpoint === expectation.endpoint &&
        // The key set is fetched without a user; everything else is scoped to this scenario's user.
        (expectation.endpoint === "jwks/oauth" || (e.userId !== undefined && mockUsers(expectation.contract).includes(e.userId))) &&
        (expectation.status === undefined || e.status === expectation.status) &&
        Object.entries(expectation.where ?? {}).every(([name, value]) => matchesClaim(value, e.claims?.[name])),
    );
    if (!countHolds(expectation.count, matching.length)) {
      ctx.failures.push({ where: `${where}: ${expectation.endpoint} requests`, expected: expectation.count ?? ">=1", actual: matching.length });
    }
    for (const [name, value] of Object.entries(expectation.claims ?? {})) {
      const bad = matching.find((e) => !matchesClaim(value, e.claims?.[name]));
      if (bad) ctx.failures.push({ where: `${where}: claim ${name}`, expected: value, actual: bad.claims?.[name] ?? "(absent)" });
    }
    if (expectation.signatureVerified !== undefined) {
      const bad = matching.find((e) => e.signatureVerified !== expectation.signatureVerified);
      if (bad) ctx.failures.push({ where: `${where}: signatureVerified`, expected: expectation.signatureVerified, actual: bad.signatureVerified });
    }
  });
}

/** The target's default contract, as its `/healthz` shows it to a caller with the API key (undefined when it does not). */
async function targetDefaultContract(options: RunnerOptions): Promise<string | undefined> {
  const response = await fetch(`${options.target}/healthz`, { headers: { Authorization: `Bearer ${options.apiKey}` }, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  const health = ((await response?.json().catch(() => undefined)) ?? {}) as { config?: { contractId?: unknown } };
  return typeof health.config?.contractId === "string" ? health.config.contractId : undefined;
}

/** The client ids (`<applicationId>_<contractId>`) the mock has registered. */
async function mockClientIds(options: RunnerOptions): Promise<string[]> {
  const state = (await (await admin({ options }).call("", undefined, "GET")).json()) as { contracts?: string[] };
  return state.contracts ?? [];
}

/** Runs one scenario file. */
export async function runScenario(loaded: LoadedScenario, options: RunnerOptions): Promise<ScenarioResult> {
  const began = performance.now();
  const { scenario, file, path } = loaded;
  const result: ScenarioResult = { file, path, name: scenario.name, status: "passed", steps: [], failures: [], durationMs: 0 };
  if (needsChromium(scenario) && !hasChromium()) {
    return { ...result, status: "skipped", reason: "Chromium is not installed (apt-get install chromium)", durationMs: 0 };
  }
  const webhookSkip = await webhookSkipReason(scenario, options.webhooks, options.target, options.apiKey);
  if (webhookSkip) return { ...result, status: "skipped", reason: webhookSkip, durationMs: 0 };
  const userId = `qa-${slug(scenario.name)}-${crypto.randomUUID().slice(0, 8)}`;
  const last = (await (await admin({ options }).journal({ limit: 1 })).json()) as { entries: Array<{ seq: number }> };
  // The contracts the file uses, by key: the main one (the file's, else the target's default) and every one a step names.
  const named = contractsNamed(scenario);
  const defaultContract = named.size > 0 ? await targetDefaultContract(options) : undefined;
  const mainKey = contractKey({ scenario, defaultContract }, undefined);
  const contracts = new Map<string, string | undefined>([[mainKey, scenario.contract]]);
  for (const name of named) contracts.set(name, name);
  const clientIds = named.size > 0 ? await mockClientIds(options) : [];
  /** One mock user per contract (a digi.me user belongs to one contract): the file's user id under the main one. */
  const createUser = async (key: string, contractId: string | undefined): Promise<ContractUser> => {
    const mockUserId = key === mainKey ? userId : `${userId}.${contractId ?? key}`;
    let clientId: string | undefined;
    if (contractId !== undefined) {
      clientId = clientIds.find((id) => id.endsWith(`_${contractId}`));
      if (!clientId) throw new Error(`contract "${contractId}": the mock has no such contract (its client ids: ${clientIds.join(", ") || "none"})`);
    }
    const created = (await (await admin({ options }).createUser({ userId: mockUserId, accounts: scenario.user.accounts, ...(clientId ? { clientId } : {}) })).json()) as {
      sessionKey: string;
      accounts: Array<{ id: string; serviceTypeName?: string }>;
      token: TokenPair;
    };
    return {
      contractId,
      mockUserId,
      sessionKey: created.sessionKey,
      accounts: created.accounts.map((a) => a.id),
      accountLabels: created.accounts.map((a) => a.serviceTypeName ?? ""),
      imported: created.token, // replaced below by what the runner stores (or dropped when it stores none)
    };
  };
  let main: ContractUser;
  try {
    main = await createUser(mainKey, contracts.get(mainKey));
  } catch (error) {
    // A contract the mock does not have: the file's setup failed, as any later setup failure does.
    if (!(error as Error).message.startsWith("contract ")) throw error;
    result.failures.push({ where: "setup", expected: "the scenario to run", actual: `error: ${(error as Error).message}` });
    return { ...result, status: "failed", durationMs: performance.now() - began };
  }
  const ctx: Context = {
    options,
    scenario,
    userId,
    ...main,
    browser: new HttpBrowser(options.returnTo),
    failures: result.failures,
    journalSince: last.entries.at(-1)?.seq ?? 0,
    versions: new Map(),
    reads: newReadState(),
    active: mainKey,
    contracts: new Map(),
    defaultContract,
    namesContracts: named.size > 0,
  };
  try {
    for (const [key, contractId] of contracts) if (key !== mainKey) ctx.contracts.set(key, await createUser(key, contractId));
    for (const key of contracts.keys()) {
      useContract(ctx, key);
      const created = ctx.imported!;
      ctx.imported = undefined;
      if (scenario.user.importToken) {
        let token = created;
        const { refreshTokenLifetime, accessTokenLifetime } = scenario.user;
        if (refreshTokenLifetime !== undefined || accessTokenLifetime !== undefined) {
          // A pair whose refresh token expires soon on the mock's clock (the edge's alarm announces it), or whose access token does (a read refreshes it).
          const issued = await admin(ctx).newToken(ctx.mockUserId, {
            ...(refreshTokenLifetime !== undefined ? { refreshTokenLifetimeMs: refreshTokenLifetime * 1000 } : {}),
            ...(accessTokenLifetime !== undefined ? { accessTokenLifetimeMs: accessTokenLifetime * 1000 } : {}),
          });
          token = ((await issued.json()) as { token: TokenPair }).token;
        }
        const stored = await edge(ctx, `/v1/users/${userId}/token`, "PUT", token);
        if (stored.status !== 204) throw new Error(`the target refused the user's token${ctx.contractId !== undefined ? ` on contract ${ctx.contractId}` : ""}: ${stored.status} ${await stored.text()}`);
        ctx.initialAccessToken = token.accessToken.value;
        ctx.refreshTokenExpiresAt = token.refreshToken.expiry * 1000;
        ctx.imported = token;
        ctx.knownStored = { token };
      }
      if (scenario.mock) await admin(ctx).setScenario(withDefaultAccounts(ctx, scenario.mock), ctx.mockUserId);
    }
    useContract(ctx, mainKey);
    if (scenario.global) await admin(ctx).setScenario(scenario.global);

    const report = (stepResult: StepResult) => {
      result.steps.push(stepResult);
      options.onStep?.(scenario.name, stepResult);
    };
    type HeldPoll = { index: number; label: string; began: number; failed: boolean; settle: (since: number) => Promise<string> };
    /** Checks a background long poll's answer and reports its step. */
    const settle = async (poll: HeldPoll, since: number) => {
      const before = ctx.failures.length;
      let summary: string;
      try {
        summary = await poll.settle(since);
      } catch (error) {
        ctx.failures.push({ where: `steps[${poll.index}]`, expected: "the long poll to answer", actual: `error: ${(error as Error).message}` });
        summary = "error";
      }
      report({ index: poll.index, label: poll.label, ok: !poll.failed && ctx.failures.length === before, summary, durationMs: performance.now() - poll.began });
    };
    /** A background long poll started by the previous step, held while this one runs. */
    let held: HeldPoll | undefined;
    for (const [index, step] of scenario.steps.entries()) {
      const stepBegan = performance.now();
      const before = ctx.failures.length;
      const during = held;
      held = undefined;
      let outcome: StepOutcome;
      try {
        outcome = await runStep(ctx, step, index);
      } catch (error) {
        ctx.failures.push({ where: `steps[${index}]`, expected: "the step to run", actual: `error: ${(error as Error).message}` });
        outcome = { label: Object.keys(step)[0] ?? "step", summary: "error" };
      }
      const ok = ctx.failures.length === before;
      if (outcome.settle) {
        held = { index, label: outcome.label, began: stepBegan, failed: !ok, settle: outcome.settle }; // reported once answered, after the next step
      } else {
        const stepResult: StepResult = { index, label: outcome.label, ok, summary: outcome.summary, durationMs: performance.now() - stepBegan };
        if (!ok && outcome.screenshot) {
          mkdirSync(options.artifacts, { recursive: true });
          stepResult.screenshot = join(options.artifacts, `${slug(scenario.name)}-step${index}.png`);
          writeFileSync(stepResult.screenshot, outcome.screenshot);
        }
        report(stepResult);
      }
      if (during) await settle(during, performance.now());
      if (!ok && ctx.failures.at(-1)?.actual?.toString().startsWith("error:")) break;
    }
    if (held) await settle(held, performance.now());
    result.steps.sort((a, b) => a.index - b.index);

    useContract(ctx, mainKey); // the file's expectations are its main contract's
    if (scenario.expect.tokenRotated !== undefined || scenario.expect.tokenWorks !== undefined) {
      const value = (await storedToken(ctx)).token?.accessToken?.value;
      if (scenario.expect.tokenRotated !== undefined) check(ctx, "expect: token rotated", scenario.expect.tokenRotated, value !== undefined && value !== ctx.initialAccessToken);
      if (scenario.expect.tokenWorks !== undefined) {
        const verdict = (await (await admin(ctx).checkToken(value ?? "")).json()) as { valid: boolean };
        check(ctx, "expect: stored token works at digi.me", scenario.expect.tokenWorks, verdict.valid);
      }
    }
    await checkJournal(ctx, scenario.expect.journal);
  } catch (error) {
    ctx.failures.push({ where: "setup", expected: "the scenario to run", actual: `error: ${(error as Error).message}` });
  } finally {
    if (scenario.global) await admin(ctx).clearScenario().catch(() => undefined);
  }
  result.status = result.failures.length ? "failed" : "passed";
  result.durationMs = performance.now() - began;
  return result;
}

/** Runs many files: per-user ones `concurrency` at a time, then the ones with a global scenario alone. */
export async function runAll(files: LoadedScenario[], options: RunnerOptions, concurrency = 4): Promise<ScenarioResult[]> {
  const results = new Map<LoadedScenario, ScenarioResult>();
  const parallel = files.filter((f) => !f.scenario.global);
  const exclusive = files.filter((f) => f.scenario.global);
  let next = 0;
  const worker = async () => {
    while (next < parallel.length) {
      const file = parallel[next++]!;
      results.set(file, await runScenario(file, options));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, parallel.length)) }, worker));
  for (const file of exclusive) results.set(file, await runScenario(file, options));
  return files.map((f) => results.get(f)!);
}
