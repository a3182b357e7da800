/**
 * docs/reading-data.md's examples (docs/examples/reading-data.ts), run against
 * the local stack: the mock digi.me and the Worker under wrangler dev. Reads
 * through the edge go with the API key alone; the mock's consent is automatic,
 * and `HttpBrowser` (a cookie jar) follows launch URLs. For the SDK part, digi.me's
 * official SDK is not installable here, so `sdkOver` plays it with the project's
 * own client (src/digime/): the same requests, refresh on 401 `InvalidToken`
 * (`withTokenRefresh`, the SDK's rule), the token handed back beside the data,
 * and a refused refresh thrown as the SDK's `ServerError` shape. The page and
 * the file must agree: every example on the page is a region of the file, verbatim.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpBrowser } from "../../harness/http-browser.ts";
import { mockAdmin, type MockAdmin } from "../../harness/mock-admin.ts";
import { DEV_RETURN_SIGNING_SECRET, ROOT, startStack, type Stack } from "../../harness/stack.ts";
import { DEV_CONTRACT } from "../../mock-server/standalone.ts";
import { DigimeClient, DigimeError, withTokenRefresh, type UserAccessToken as ClientToken } from "../../src/digime/index.ts";
import {
  accountReauthorizations,
  afterReadError,
  confirmNewUser,
  connectNewUser,
  EdgeError,
  flowOutcome,
  isGenuineReturn,
  keepRefreshedToken,
  onTokenEvent,
  readBatch,
  readFlowFiles,
  readOrReauthorize,
  readAccountsThroughEdge,
  readFileList,
  readFileThroughEdge,
  readToken,
  reauthorizeLastMonth,
  reauthorizeWithoutSync,
  startAccountReauthFrom511,
  startAccountReauthorization,
  startSession,
  startUserReauthorization,
  syncAndReadFiles,
  type DigimeSdk,
  type EdgeClient,
  type TokenCopies,
  type TokenEvent,
  type UserAccessToken,
} from "../../docs/examples/reading-data.ts";

const RETURN_TO = "http://127.0.0.1:8788/reading-data-return";
const EXAMPLES = join(ROOT, "docs", "examples", "reading-data.ts");
const PAGE = join(ROOT, "docs", "reading-data.md");

let stack: Stack;
let mock: MockAdmin;
let edge: EdgeClient;
let client: DigimeClient;

beforeAll(async () => {
  stack = await startStack({ returnOrigins: [new URL(RETURN_TO).origin], timeoutMs: 5000, logLevel: "error" });
  mock = mockAdmin(stack.mock.origin, { throwOnError: true });
  edge = { baseUrl: stack.edgeUrl, apiKey: stack.apiKey };
  client = new DigimeClient({
    applicationId: DEV_CONTRACT.applicationId,
    contractId: DEV_CONTRACT.contractId,
    privateKey: readFileSync(DEV_CONTRACT.privateKeyPath, "utf8"),
    apiBaseUrl: stack.mock.apiBaseUrl,
    onboardBaseUrl: stack.mock.onboardBaseUrl,
    timeoutMs: 5000,
  });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

/** What the SDK does around each read; `before` runs first (the test's other writers, a slow batch). */
interface SdkHooks {
  before?: (call: "readAccounts" | "readFileList", token: UserAccessToken) => Promise<void>;
}

/** digi.me's official SDK as the examples see it, played by the project's client. */
function sdkOver(hooks: SdkHooks = {}): DigimeSdk & { refreshes: ClientToken[] } {
  const refreshes: ClientToken[] = [];
  const run = async <T>(name: "readAccounts" | "readFileList", token: UserAccessToken, call: (accessToken: string) => Promise<T>) => {
    await hooks.before?.(name, token);
    try {
      const held: ClientToken = { ...token, user: token.user ?? { id: "" } };
      return await withTokenRefresh(client, held, call, { onRefreshed: (rotated) => void refreshes.push(rotated) });
    } catch (error) {
      // The SDK's refresh wrapper: a refused refresh comes out as a ServerError carrying digi.me's error body.
      if (error instanceof DigimeError && error.kind === "api") {
        throw Object.assign(new Error(error.message), { name: "ServerError", error: { code: error.code, message: error.message, reference: error.reference, statusCode: error.status } });
      }
      throw error;
    }
  };
  return {
    refreshes,
    async readAccounts({ userAccessToken }) {
      const { result, token } = await run("readAccounts", userAccessToken, (accessToken) => client.readAccounts(accessToken));
      return { accounts: result, userAccessToken: token };
    },
    async readFileList({ sessionKey, userAccessToken }) {
      const { result, token } = await run("readFileList", userAccessToken, (accessToken) => client.readFileList({ sessionKey, userAccessToken: accessToken }));
      return { ...result, userAccessToken: token };
    },
  };
}

interface SeededUser {
  userId: string;
  sessionKey: string;
  accounts: Array<{ id: string }>;
  token: UserAccessToken;
  version: number;
}

let users = 0;

/** A user in the mock digi.me whose token (optionally one with a short-lived access token) the edge keeps. */
async function seedUser(name: string, accessTokenLifetimeMs?: number): Promise<SeededUser> {
  const userId = `reading-${name}-${process.pid}-${++users}`;
  const created = (await (await mock.createUser({ userId })).json()) as { sessionKey: string; accounts: Array<{ id: string }>; token: UserAccessToken };
  const token = accessTokenLifetimeMs === undefined ? created.token : ((await (await mock.newToken(userId, { accessTokenLifetimeMs })).json()) as { token: UserAccessToken }).token;
  const version = await storeAtEdge(userId, token, { "If-None-Match": "*" });
  return { userId, sessionKey: created.sessionKey, accounts: created.accounts, token, version };
}

/** PUT /v1/users/:userId/token with a precondition; the new version. */
async function storeAtEdge(userId: string, token: UserAccessToken, precondition: Record<string, string>): Promise<number> {
  const response = await fetch(`${stack.edgeUrl}/v1/users/${encodeURIComponent(userId)}/token`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json", ...precondition },
    body: JSON.stringify(token),
  });
  expect(response.status, await response.clone().text()).toBe(204);
  return Number((response.headers.get("ETag") ?? "").replaceAll('"', ""));
}

/** The first delivery of `type` for `userId` at the stack's webhook receiver. */
async function webhook(type: string, userId: string, timeoutMs = 15_000): Promise<TokenEvent> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = stack.webhooks.received.find((r) => r.verified && r.event?.type === type && r.event.data.userId === userId);
    if (found) return found.event as unknown as TokenEvent;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${type} for ${userId} within ${timeoutMs / 1000} s`);
}

/** A backend's own token copies, in memory. */
function memoryCopies(): TokenCopies & { copies: Map<string, { token: UserAccessToken; version: number }>; stopped: Map<string, unknown> } {
  const copies = new Map<string, { token: UserAccessToken; version: number }>();
  const stopped = new Map<string, unknown>();
  return {
    copies,
    stopped,
    get: async (userId) => copies.get(userId),
    put: async (userId, token, version) => void copies.set(userId, { token, version }),
    needsReauthorization: async (userId, next) => void stopped.set(userId, next),
  };
}

const sleepUntil = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));

describe("docs/reading-data.md", () => {
  it("shows each example exactly as docs/examples/reading-data.ts has it, and every region of the file", () => {
    const source = readFileSync(EXAMPLES, "utf8");
    const regions = new Map<string, string>();
    for (const match of source.matchAll(/^\/\/ #region (\S+)\n([\s\S]*?)^\/\/ #endregion \1$/gm)) regions.set(match[1]!, match[2]!.trimEnd());
    const page = readFileSync(PAGE, "utf8");
    const shown = [...page.matchAll(/^<!-- example: (\S+) -->\n```ts\n([\s\S]*?)\n```$/gm)].map((m) => ({ name: m[1]!, code: m[2]! }));
    expect(shown.map((s) => s.name).sort()).toEqual([...regions.keys()].sort());
    for (const { name, code } of shown) expect(code, `region ${name}`).toBe(regions.get(name));
  });
});

describe("reading with the edge's token (docs/examples/reading-data.ts against the local stack)", () => {
  it("(a) reads the token just before the batch and reads with it: nothing to write back", async () => {
    const user = await seedUser("fresh");
    const sdk = sdkOver();
    const { accounts, fileList, held } = await readBatch(edge, sdk, user.userId, { sessionKey: user.sessionKey });
    expect(accounts.map((a) => a.id)).toEqual(user.accounts.map((a) => a.id));
    expect(fileList?.status.state).toBe("completed");
    expect(sdk.refreshes).toEqual([]);
    expect(held).toEqual({ token: expect.objectContaining({ accessToken: user.token.accessToken }), version: user.version, outcome: "unchanged" });
    const read = await readToken(edge, user.userId);
    expect(read.version).toBe(user.version);
    expect(read.refreshed).toBe(false);
  }, 60_000);

  it("(b) a write-back over a version someone replaced meanwhile gets 412: the example keeps the edge's token", async () => {
    const user = await seedUser("stale");
    // digi.me refuses the access token the batch reads with, and accepts the refreshed one: the SDK refreshes.
    await mock.setScenario({ name: "invalid-token", recoverOnRefresh: true }, user.userId);
    let theirs: { token: UserAccessToken; version: number } | undefined;
    const sdk = sdkOver({
      // Another writer (a reauthorization, another worker) stores a newer token while the batch reads.
      before: async () => {
        if (theirs) return;
        const { token } = (await (await mock.newToken(user.userId)).json()) as { token: UserAccessToken };
        theirs = { token, version: await storeAtEdge(user.userId, token, { "If-Match": `"${user.version}"` }) };
      },
    });
    const { held } = await readBatch(edge, sdk, user.userId);
    expect(sdk.refreshes).toHaveLength(1);
    expect(held.outcome).toBe("superseded");
    expect(held.version).toBe(theirs!.version);
    expect(held.token.accessToken.value).toBe(theirs!.token.accessToken.value);
    // The edge kept the other writer's token, not the SDK's pair.
    const read = await readToken(edge, user.userId);
    expect(read.version).toBe(theirs!.version);
    expect(read.token.accessToken.value).toBe(theirs!.token.accessToken.value);
    // And the 412 the example met, by hand.
    const response = await fetch(`${stack.edgeUrl}/v1/users/${user.userId}/token`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json", "If-Match": `"${user.version}"` },
      body: JSON.stringify(sdk.refreshes[0]),
    });
    expect(response.status).toBe(412);
    expect(await response.json()).toMatchObject({ error: { code: "token_changed", currentVersion: theirs!.version } });
    // keepRefreshedToken alone: the same answer.
    expect((await keepRefreshedToken(edge, user.userId, { token: user.token, version: user.version }, sdk.refreshes[0]!)).outcome).toBe("superseded");
  }, 60_000);

  it("(c) an access token that expires during the batch: the SDK refreshes, the example writes the pair back with If-Match, the edge keeps it", async () => {
    const user = await seedUser("expired", 6000);
    const sdk = sdkOver({
      // A slow batch: the SDK's first read comes after the access token expired at digi.me.
      before: async (call, token) => {
        if (call === "readAccounts") await sleepUntil(token.accessToken.expiry * 1000 + 300);
      },
    });
    // minValidity 0: the edge hands out the token as it is (a default read would have refreshed it).
    const { accounts, held } = await readBatch(edge, sdk, user.userId, { minValidity: 0, sessionKey: user.sessionKey });
    expect(accounts).toHaveLength(2);
    expect(sdk.refreshes).toHaveLength(1);
    const rotated = sdk.refreshes[0]!;
    expect(rotated.accessToken.value).not.toBe(user.token.accessToken.value);
    expect(held).toEqual({ token: rotated, version: expect.any(Number), outcome: "stored" });
    expect(held.version).toBeGreaterThan(user.version);
    const read = await readToken(edge, user.userId);
    expect(read.version).toBe(held.version);
    expect(read.token.accessToken.value).toBe(rotated.accessToken.value);
    expect(read.token.refreshToken.value).toBe(rotated.refreshToken.value);
    expect(read.refreshed).toBe(false);
    expect(await (await mock.checkToken(read.token.accessToken.value)).json()).toMatchObject({ valid: true });
  }, 60_000);

  it("(d) an account partial with ServiceAuthorizationError / 511: the example produces the POST /v1/reauth/account body, in both of digi.me's shapes", async () => {
    const user = await seedUser("account-511");
    const accountId = user.accounts[1]!.id;
    for (const shape of ["nested", "flat"]) {
      await mock.setScenario({ name: "account-511", accounts: [accountId], shape }, user.userId);
      const { fileList } = await readBatch(edge, sdkOver(), user.userId, { sessionKey: user.sessionKey });
      expect(fileList?.status.state).toBe("partial");
      expect(accountReauthorizations(user.userId, fileList!, RETURN_TO), shape).toEqual([{ userId: user.userId, accountId, returnTo: RETURN_TO }]);
    }
    const [body] = accountReauthorizations(user.userId, (await readBatch(edge, sdkOver(), user.userId, { sessionKey: user.sessionKey })).fileList!, RETURN_TO);
    const started = await startAccountReauthorization(edge, body!);
    expect(started.launchUrl).toContain("/reauth/launch/");
  }, 60_000);

  it("(e) the edge's refresh refused (409 refresh_token_expired): the example picks user reauthorization, and token.refresh_failed says the same", async () => {
    // An access token within the default minValidity: the edge refreshes it on read, and digi.me refuses the refresh token.
    const user = await seedUser("edge-refused", 60_000);
    await mock.setScenario({ name: "refresh-expired" }, user.userId);
    const outcome = await readOrReauthorize(edge, sdkOver(), user.userId, RETURN_TO);
    expect(outcome).toEqual({ reauthorize: { userId: user.userId, returnTo: RETURN_TO } });
    const started = await startUserReauthorization(edge, outcome.reauthorize!);
    expect(started.kind).toBe("user");

    const event = await webhook("token.refresh_failed", user.userId);
    expect(event.data).toMatchObject({ userId: user.userId, reason: "expired", version: user.version, next: { method: "POST", path: "/v1/reauth/user", body: { userId: user.userId } } });
    const copies = memoryCopies();
    await copies.put(user.userId, user.token, user.version);
    await onTokenEvent(event, copies);
    expect(copies.stopped.get(user.userId)).toEqual(expect.objectContaining({ body: { userId: user.userId } }));
  }, 60_000);

  it("(e) the SDK's refresh refused (refresh_token expired) with the edge's latest token: user reauthorization", async () => {
    const user = await seedUser("sdk-refused");
    await mock.setScenario({ name: "refresh-expired" }, user.userId);
    const outcome = await readOrReauthorize(edge, sdkOver(), user.userId, RETURN_TO);
    expect(outcome).toEqual({ reauthorize: { userId: user.userId, returnTo: RETURN_TO } });
  }, 60_000);

  it("(e) the SDK's refresh refused (refresh_token invalid, a spent one): full authorization allowed", async () => {
    const user = await seedUser("sdk-invalid");
    // The pair the edge keeps is spent elsewhere: its refresh token is used, its access token retired.
    await client.refreshToken({ ...user.token, user: user.token.user ?? { id: "" } });
    const outcome = await readOrReauthorize(edge, sdkOver(), user.userId, RETURN_TO);
    expect(outcome).toEqual({ reauthorize: { userId: user.userId, returnTo: RETURN_TO, allowFullAuthorization: true } });
  }, 60_000);

  it("(e) the SDK's refresh refused because the edge rotated the token meanwhile: the example reads again and goes on; token.rotated updates a copy", async () => {
    // 20 minutes left: a read asking for 30 makes the edge refresh.
    const user = await seedUser("rotated-meanwhile", 20 * 60_000);
    let rotatedByEdge = false;
    const sdk = sdkOver({
      before: async () => {
        if (rotatedByEdge) return;
        rotatedByEdge = true;
        expect((await readToken(edge, user.userId, 1800)).refreshed).toBe(true); // another caller
      },
    });
    const outcome = await readOrReauthorize(edge, sdk, user.userId, RETURN_TO);
    expect(outcome.accounts).toHaveLength(2);
    expect(outcome.held?.version).toBeGreaterThan(user.version);
    expect(outcome.held?.outcome).toBe("unchanged");

    const event = await webhook("token.rotated", user.userId);
    const copies = memoryCopies();
    await copies.put(user.userId, user.token, user.version);
    await onTokenEvent(event, copies);
    expect(copies.copies.get(user.userId)?.version).toBe(outcome.held!.version);
    // A repeat (or an older event arriving late) does not move the copy back.
    await onTokenEvent({ type: "token.rotated", data: { userId: user.userId, token: user.token, version: user.version, rotatedAt: new Date().toISOString() } }, copies);
    expect(copies.copies.get(user.userId)?.version).toBe(outcome.held!.version);
  }, 60_000);

  it("reads the file list with the session a user reauthorization opened (the flow read and flow.succeeded carry it)", async () => {
    const user = await seedUser("flow-session");
    const started = await startUserReauthorization(edge, { userId: user.userId, returnTo: RETURN_TO });
    const landed = await new HttpBrowser(RETURN_TO).navigate(started.launchUrl, "follow");
    expect(landed.landed).toBe(true);
    expect(landed.url.searchParams.get("status")).toBe("succeeded");
    const read = await readFlowFiles(edge, sdkOver(), started.flowId);
    expect(read?.fileList.status.state).toBe("completed");
    const stored = await readToken(edge, user.userId);
    expect(read?.held.version).toBe(stored.version);

    const event = await webhook("flow.succeeded", user.userId);
    expect(event.data).toMatchObject({ session: { key: user.sessionKey }, version: stored.version });
    const copies = memoryCopies();
    await onTokenEvent(event, copies);
    expect(copies.copies.get(user.userId)).toEqual({ token: expect.objectContaining({ accessToken: stored.token.accessToken }), version: stored.version });
  }, 60_000);

  it("triggerQuery: false goes to digi.me's user-reauth page; sessionOptions go to digi.me as the reference call's actions", async () => {
    const user = await seedUser("flow-options");
    const quiet = await reauthorizeWithoutSync(edge, user.userId, RETURN_TO);
    const launch = await new HttpBrowser(RETURN_TO).request(quiet.launchUrl);
    expect(launch.status).toBe(302);
    const upstream = new URL(launch.headers.get("Location")!);
    expect(upstream.pathname).toMatch(/\/user-reauth$/);
    expect(upstream.searchParams.get("triggerQuery")).toBe("false");

    await reauthorizeLastMonth(edge, user.userId, RETURN_TO);
    const { entries } = (await (await mock.journal({ userId: user.userId })).json()) as { entries: Array<{ endpoint: string; body?: { actions?: unknown } }> };
    const references = entries.filter((e) => e.endpoint === "oauth/token/reference");
    expect(references.map((e) => e.body?.actions)).toEqual([
      undefined,
      { pull: { scope: { timeRanges: [{ last: "30d" }] }, limits: { duration: { sourceFetch: 60 } } } },
    ]);
  }, 60_000);
});

interface MockFileView {
  name: string;
  accountId: string;
  compression: string;
  mimetype: string;
  content?: unknown;
}

/** The files the mock keeps for a user (GET /__mock/users/:userId/files), by name. */
async function mockFiles(userId: string): Promise<Map<string, MockFileView>> {
  const { files } = (await (await mock.call(`users/${encodeURIComponent(userId)}/files`)).json()) as { files: MockFileView[] };
  return new Map(files.map((file) => [file.name, file]));
}

/** What a read through the edge threw, as the example's afterReadError reads it. */
async function failure(read: Promise<unknown>, userId: string) {
  const error = await read.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(EdgeError);
  return { error: error as EdgeError, next: afterReadError(error, userId, RETURN_TO) };
}

/** The edge client with every request it sends recorded (method and path). */
function recordingEdge(): EdgeClient & { calls: string[] } {
  const calls: string[] = [];
  return {
    ...edge,
    calls,
    fetch: (input, init) => {
      calls.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    },
  };
}

/** Reads every file of a fresh sync through the example; each file's content as JSON, by name. */
async function syncAll(userId: string, client: EdgeClient = edge) {
  const contents = new Map<string, { value: unknown; mimeType: string; metadata: Record<string, unknown> }>();
  const outcome = await syncAndReadFiles(
    client,
    userId,
    async (file, opened) => {
      const value: unknown = JSON.parse(await new Response(opened.content).text());
      contents.set(file.name, { value, mimeType: opened.mimeType, metadata: opened.metadata });
    },
  );
  return { outcome, contents };
}

describe("reading through the edge (docs/examples/reading-data.ts against the local stack)", () => {
  it("reads the accounts with the API key alone: each with its reauthorization, a 511 with the ready start, and no token in the answer", async () => {
    const user = await seedUser("through-accounts");
    const plain = await readAccountsThroughEdge(edge, user.userId);
    expect(plain.accounts.map((a) => a.id)).toEqual(user.accounts.map((a) => a.id));
    expect(plain.accounts.map((a) => a.reauth)).toEqual([{ needed: false }, { needed: false }]);
    expect(plain).not.toHaveProperty("syncState");
    for (const secret of [user.token.accessToken.value, user.token.refreshToken.value]) expect(JSON.stringify(plain)).not.toContain(secret);

    const lost = user.accounts[1]!.id;
    await mock.setScenario({ name: "account-511", accounts: [lost] }, user.userId);
    // Without a session: digi.me lists the account unauthorized. With one: its sync reported the 511.
    expect((await readAccountsThroughEdge(edge, user.userId)).accounts[1]!.reauth).toMatchObject({ needed: true, reason: "unauthorized" });
    const read = await readAccountsThroughEdge(edge, user.userId, { sessionKey: user.sessionKey });
    expect(read.syncState).toBe("partial");
    expect(read.accounts[0]!.reauth).toEqual({ needed: false });
    expect(read.accounts[1]!.reauth).toMatchObject({ needed: true, reason: "ServiceAuthorizationError", start: { userId: user.userId, accountId: lost } });
  }, 60_000);

  it("syncs and reads each file as a stream: a session, the file list long-polled, every file decrypted and decompressed at the edge", async () => {
    const user = await seedUser("through-files");
    const put = { hello: "world", at: Date.now(), nested: { list: [1, 2, 3] } };
    const { name } = (await (await mock.call(`users/${encodeURIComponent(user.userId)}/files`, { accountId: user.accounts[0]!.id, content: put, compression: "gzip" })).json()) as {
      name: string;
    };
    // digi.me takes 3 s to fetch the two accounts: the first call of the example's long poll answers once the sync is done.
    await mock.setScenario({ name: "success", syncMs: 3000 }, user.userId);
    const client = recordingEdge();
    const began = Date.now();
    const { outcome, contents } = await syncAll(user.userId, client);
    expect(Date.now() - began).toBeGreaterThanOrEqual(2500);
    expect(outcome).toMatchObject({ state: "completed", needReauthorization: [] });
    const kept = await mockFiles(user.userId);
    expect([...contents.keys()].sort()).toEqual([...kept.keys()].sort());
    expect(new Set([...kept.values()].map((f) => f.compression))).toEqual(new Set(["none", "gzip", "brotli"]));
    for (const [fileName, read] of contents) {
      expect(read.value, fileName).toEqual(kept.get(fileName)!.content);
      expect(read.mimeType).toMatch(/^application\/json/);
      expect(read.metadata).toMatchObject({ mimetype: "application/json", accounts: [{ accountid: kept.get(fileName)!.accountId }] });
    }
    expect(contents.get(name)!.value).toEqual(put);

    // One session, one long poll of the file list while digi.me synced, then one call per file.
    const base = `/v1/users/${encodeURIComponent(user.userId)}`;
    expect(client.calls.filter((c) => !c.includes("/files/"))).toEqual([`POST ${base}/sessions`, `GET ${base}/sessions/${outcome.sessionKey}/files`]);
    expect(client.calls.filter((c) => c.includes("/files/"))).toHaveLength(contents.size);
  }, 60_000);

  it("the 511 story: a read reports an account's 511, its reauthorization starts from the ready body and is approved in the mock, and a new session's read completes", async () => {
    const user = await seedUser("through-511");
    const lost = user.accounts[1]!.id;
    await mock.setScenario({ name: "account-511", accounts: [lost], syncMs: 1500 }, user.userId);

    // 1. The read: the first account's files, and the second account's 511 with its start.
    const before = await syncAll(user.userId);
    expect(before.outcome.state).toBe("partial");
    expect(before.outcome.needReauthorization).toEqual([
      expect.objectContaining({ accountId: lost, state: "partial", reauth: expect.objectContaining({ needed: true, reason: "ServiceAuthorizationError", start: { userId: user.userId, accountId: lost } }) }),
    ]);
    const kept = await mockFiles(user.userId);
    const ofAccount = (accountId: string) => [...kept.values()].filter((f) => f.accountId === accountId).map((f) => f.name).sort();
    expect([...before.contents.keys()].sort()).toEqual(ofAccount(user.accounts[0]!.id));
    // The accounts read says the same of that session.
    const accounts = await readAccountsThroughEdge(edge, user.userId, { sessionKey: before.outcome.sessionKey });
    expect(accounts.accounts.find((a) => a.id === lost)!.reauth.start).toEqual({ userId: user.userId, accountId: lost });

    // 2. Its reauthorization, from the ready body; the user approves at digi.me (the mock's automatic consent).
    const started = await startAccountReauthFrom511(edge, before.outcome.needReauthorization[0]!, RETURN_TO);
    expect(started).toMatchObject({ kind: "account", launchUrl: expect.stringContaining("/reauth/launch/") });
    const landed = await new HttpBrowser(RETURN_TO).navigate(started!.launchUrl, "follow");
    expect(landed.landed).toBe(true);
    expect(Object.fromEntries(landed.url.searchParams)).toMatchObject({ flowId: started!.flowId, status: "succeeded", kind: "account" });
    expect(await isGenuineReturn(landed.url, { flowId: started!.flowId, userId: user.userId }, DEV_RETURN_SIGNING_SECRET)).toBe(true);
    expect(await flowOutcome(edge, started!.flowId)).toMatchObject({ status: "succeeded" });

    // 3. The same read, in a new session: complete, the reconnected account's files too.
    const after = await syncAll(user.userId);
    expect(after.outcome).toMatchObject({ state: "completed", needReauthorization: [] });
    expect([...after.contents.keys()].sort()).toEqual([...ofAccount(user.accounts[0]!.id), ...ofAccount(lost)].sort());
    for (const name of ofAccount(lost)) expect(after.contents.get(name)!.value).toEqual(kept.get(name)!.content);
    expect((await readAccountsThroughEdge(edge, user.userId, { sessionKey: after.outcome.sessionKey })).accounts.every((a) => !a.reauth.needed)).toBe(true);
  }, 90_000);

  it("reads a file list and a file by hand: a sync still running, file_not_found, session_not_found, a foreign file's file_undecryptable", async () => {
    const user = await seedUser("through-errors");
    await mock.setScenario({ name: "success", syncMs: 60_000 }, user.userId);
    const { sessionKey } = await startSession(edge, user.userId);
    const running = await readFileList(edge, user.userId, sessionKey);
    expect(running).toMatchObject({ userId: user.userId, sessionKey, state: "running", fileList: [] });
    expect(running.accounts.map((a) => a.state)).toEqual(["running", "running"]);

    // A file the session does not list (yet): read the file list again.
    const [first] = (await mockFiles(user.userId)).keys();
    expect((await failure(readFileThroughEdge(edge, user.userId, sessionKey, first!), user.userId)).next).toEqual({ next: "read-the-file-list-again" });
    const unknown = await failure(readFileList(edge, user.userId, "not-a-session"), user.userId);
    expect([unknown.error.status, unknown.error.code, unknown.next]).toEqual([404, "session_not_found", { next: "start-a-new-session" }]);

    // A file encrypted to another key than the contract's: 502 naming it, not retried.
    const { name } = (await (await mock.call(`users/${encodeURIComponent(user.userId)}/files/foreign`, { accountId: user.accounts[0]!.id })).json()) as { name: string };
    const foreign = await failure(readFileThroughEdge(edge, user.userId, user.sessionKey, name), user.userId);
    expect([foreign.error.status, foreign.error.code]).toEqual([502, "file_undecryptable"]);
    expect(foreign.error.message).toContain(name);
    expect(foreign.next).toEqual({ next: "check-the-contract-key", fileName: name });
  }, 60_000);

  it("turns each refusal into what to do next: token_not_found → connect, refresh_token_expired and invalid_token → reauthorize, 502 → retry after digi.me's Retry-After", async () => {
    const nobody = `reading-nobody-${process.pid}`;
    const missing = await failure(readAccountsThroughEdge(edge, nobody), nobody);
    expect([missing.error.status, missing.error.code]).toEqual([404, "token_not_found"]);
    expect(missing.next).toEqual({ next: "connect-user", start: { path: "/v1/authorize", body: { userId: nobody, returnTo: RETURN_TO } } });

    // An access token within the default minValidity: the edge refreshes it first, and digi.me refuses the refresh token.
    const expired = await seedUser("through-refused", 60_000);
    await mock.setScenario({ name: "refresh-expired" }, expired.userId);
    const refused = await failure(readAccountsThroughEdge(edge, expired.userId), expired.userId);
    expect([refused.error.status, refused.error.code]).toEqual([409, "refresh_token_expired"]);
    expect(refused.next).toEqual({ next: "reauthorize-user", start: { path: "/v1/reauth/user", body: { userId: expired.userId, returnTo: RETURN_TO } } });

    // digi.me refuses the access token, and the refreshed one too: the edge refreshed once, retried once, and gives up.
    const invalid = await seedUser("through-invalid");
    await mock.setScenario({ name: "invalid-token" }, invalid.userId);
    const lost = await failure(readAccountsThroughEdge(edge, invalid.userId), invalid.userId);
    expect([lost.error.status, lost.error.code]).toEqual([409, "invalid_token"]);
    expect(lost.next).toEqual({ next: "reauthorize-user", start: { path: "/v1/reauth/user", body: { userId: invalid.userId, returnTo: RETURN_TO, allowFullAuthorization: true } } });

    const busy = await seedUser("through-busy");
    await mock.setScenario({ faults: [{ type: "http-error", status: 503, retryAfterSeconds: 30, endpoints: ["permission-access/accounts"] }] }, busy.userId);
    const unavailable = await failure(readAccountsThroughEdge(edge, busy.userId), busy.userId);
    expect([unavailable.error.status, unavailable.error.code, unavailable.error.retryAfterSeconds]).toEqual([502, "upstream_error", 30]);
    expect(unavailable.next).toEqual({ next: "retry", afterSeconds: 30 });
  }, 60_000);

  it("connects a new user with POST /v1/authorize: a genuine return awaiting confirmation with identity new is confirmed, a forged one is not; then the user's data reads", async () => {
    const userId = `reading-new-${process.pid}-${++users}`;
    const started = await connectNewUser(edge, { userId, returnTo: RETURN_TO, locale: "en" });
    expect(started.kind).toBe("authorize");
    const landed = await new HttpBrowser(RETURN_TO).navigate(started.launchUrl, "follow");
    expect(landed.landed).toBe(true);
    expect(Object.fromEntries(landed.url.searchParams)).toMatchObject({ flowId: started.flowId, status: "awaiting_confirmation", kind: "authorize", identity: "new" });

    // Checked against the wrong signed-in user, or tampered with: nothing is confirmed.
    expect(await confirmNewUser(edge, landed.url, { flowId: started.flowId, userId: "someone-else" }, DEV_RETURN_SIGNING_SECRET)).toMatchObject({ connected: false });
    const tampered = new URL(landed.url);
    tampered.searchParams.set("identity", "confirmed");
    expect(await isGenuineReturn(tampered, { flowId: started.flowId, userId }, DEV_RETURN_SIGNING_SECRET)).toBe(false);
    const garbled = new URL(landed.url);
    garbled.searchParams.set("sig", "a");
    expect(await isGenuineReturn(garbled, { flowId: started.flowId, userId }, DEV_RETURN_SIGNING_SECRET)).toBe(false);
    expect((await failure(readAccountsThroughEdge(edge, userId), userId)).error.code).toBe("token_not_found");

    const confirmed = await confirmNewUser(edge, landed.url, { flowId: started.flowId, userId }, DEV_RETURN_SIGNING_SECRET);
    expect(confirmed).toMatchObject({ connected: true, flow: { flowId: started.flowId, userId, status: "succeeded", tokenVersion: expect.any(Number) } });
    // The new user's data, through the edge, with the token it stored on confirmation.
    const accounts = await readAccountsThroughEdge(edge, userId);
    expect(accounts.accounts.length).toBeGreaterThan(0);
    const { outcome, contents } = await syncAll(userId);
    expect(outcome.state).toBe("completed");
    expect(contents.size).toBeGreaterThan(0);
    for (const { value } of contents.values()) expect(Array.isArray(value)).toBe(true);

    // Connected now: a second first connection is refused.
    const again = await failure(connectNewUser(edge, { userId, returnTo: RETURN_TO }), userId);
    expect([again.error.status, again.error.code]).toEqual([409, "token_exists"]);
  }, 60_000);
});
