/**
 * docs/reading-data.md's examples (docs/examples/reading-data.ts), run against
 * the local stack: the mock digi.me and the Worker under wrangler dev. digi.me's
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
import { ROOT, startStack, type Stack } from "../../harness/stack.ts";
import { DEV_CONTRACT } from "../../mock-server/standalone.ts";
import { DigimeClient, DigimeError, withTokenRefresh, type UserAccessToken as ClientToken } from "../../src/digime/index.ts";
import {
  accountReauthorizations,
  keepRefreshedToken,
  onTokenEvent,
  readBatch,
  readFlowFiles,
  readOrReauthorize,
  readToken,
  reauthorizeLastMonth,
  reauthorizeWithoutSync,
  startAccountReauthorization,
  startUserReauthorization,
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
