/**
 * Reads through the edge (issue 24): a backend reads its users' digi.me data
 * with its API key alone. A 511 comes back with the request that starts the
 * account's reauthorization; an access token digi.me says expired is
 * refreshed once in the user's object and the read retried once; the token
 * appears in no answer and no log line.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { scenarioSchema, type MockDigime } from "../../mock-server/index.ts";
import { APP, enrollUser, testApp, TestBrowser } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { faultyStorage, restoreObjectWiringAfterEach, wireObjects, type StorageFault } from "../support/objects.ts";
import { USER_KEYS } from "../../src/storage/user-store.ts";

const testMock = useTestMock();
afterEach(() => vi.restoreAllMocks());
restoreObjectWiringAfterEach();

function refreshes(mock: MockDigime) {
  return mock.journal.filter((e) => e.endpoint === "oauth/token" && e.claims?.grant_type === "refresh_token");
}

type AccountsAnswer = { userId: string; accounts: Array<{ id: string; reauth: { needed: boolean; reason?: string; start?: { userId: string; accountId: string } } }>; syncState?: string };
type FileListAnswer = { state: string; accounts: Array<{ accountId: string; state: string; reauth: AccountsAnswer["accounts"][number]["reauth"] }>; fileList: Array<{ name: string }> };

describe("GET /v1/users/{userId}/accounts", () => {
  it("lists digi.me's accounts, a 511 account with the exact body of POST /v1/reauth/account that starts its reauthorization", async () => {
    const { api, request } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { scenario: { name: "account-511", accounts: [] }, accounts: 2 });
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "account-511", accounts: [user.accounts[1]!.id] }));
    const answer = await api(`/v1/users/${user.id}/accounts?sessionKey=${user.sessionKey}`);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as AccountsAnswer;
    expect(body.syncState).toBe("partial");
    expect(body.accounts.map((a) => a.id)).toEqual(user.accounts.map((a) => a.id));
    expect(body.accounts[0]!.reauth).toEqual({ needed: false });
    expect(body.accounts[1]!.reauth).toMatchObject({ needed: true, reason: "ServiceAuthorizationError" });
    // The default contract's start names none.
    expect(body.accounts[1]!.reauth.start).toEqual({ userId: user.id, accountId: user.accounts[1]!.id });

    // The ready body, with returnTo added, starts the account's reauthorization.
    const started = await api("/v1/reauth/account", { body: { ...body.accounts[1]!.reauth.start, returnTo: `${APP}/back` } });
    expect(started.status).toBe(201);
    const { final } = await new TestBrowser(request).navigate(((await started.json()) as { launchUrl: string }).launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    const after = (await (await api(`/v1/users/${user.id}/accounts?sessionKey=${user.sessionKey}`)).json()) as AccountsAnswer;
    expect(after.accounts.every((a) => !a.reauth.needed)).toBe(true);
  });

  it("names an account digi.me reports unauthorized, without a session", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    user.accounts[0]!.needsReauth = true;
    const body = (await (await api(`/v1/users/${user.id}/accounts`)).json()) as AccountsAnswer;
    expect(body.accounts[0]!.reauth).toMatchObject({ needed: true, reason: "unauthorized", start: { userId: user.id, accountId: user.accounts[0]!.id } });
    expect(body).not.toHaveProperty("syncState");
  });

  it("refreshes an access token digi.me says expired once, in the user's object, and answers the read", async () => {
    const { api } = testApp();
    const { user } = testMock.mock.createUser({ accounts: 1 });
    // The edge thinks it has a minute left; digi.me's clock says it is over.
    const token = testMock.mock.issueToken(user, { accessTokenMs: 60_000 });
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token })).status).toBe(204);
    testMock.mock.advanceClock(61_000);
    const answer = await api(`/v1/users/${user.id}/accounts?minValidity=0`);
    expect(answer.status).toBe(200);
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([201]);
    const reads = testMock.mock.journal.filter((e) => e.endpoint === "permission-access/accounts").map((e) => e.status);
    expect(reads).toEqual([401, 202]);
  });

  it("answers 409 refresh_token_expired with the hint when digi.me refuses the refresh", async () => {
    const { api } = testApp();
    const { user } = testMock.mock.createUser({ accounts: 1 });
    const token = testMock.mock.issueToken(user, { accessTokenMs: 60_000 });
    await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "refresh-expired" }));
    const answer = await api(`/v1/users/${user.id}/accounts?minValidity=900`);
    expect(answer.status).toBe(409);
    expect(await answer.json()).toMatchObject({
      error: { code: "refresh_token_expired", hint: expect.stringContaining("/v1/reauth/user"), reason: "expired", next: { method: "POST", path: "/v1/reauth/user", body: { userId: user.id } } },
    });
  });

  it("answers 503 token_not_stored without the token when a refresh could not be stored (the token went out with token.rotated)", async () => {
    const faults: StorageFault[] = [];
    wireObjects(faultyStorage(faults));
    const { api } = testApp();
    const { user } = testMock.mock.createUser({ accounts: 1 });
    await api(`/v1/users/${user.id}/token`, { method: "PUT", body: testMock.mock.issueToken(user, { accessTokenMs: 60_000 }) });
    faults.push({ op: "put", prefix: USER_KEYS.token });
    const answer = await api(`/v1/users/${user.id}/accounts?minValidity=900`);
    expect(answer.status).toBe(503);
    const body = (await answer.json()) as { error: Record<string, unknown> };
    expect(body.error.code).toBe("token_not_stored");
    expect(body.error).not.toHaveProperty("token");
    expect(JSON.stringify(body)).not.toMatch(/mat_|mrt_/);
  });

  it("answers 404 token_not_found for a user the edge keeps no token for, pointing at the first connection", async () => {
    const { api } = testApp();
    const answer = await api(`/v1/users/nobody-${crypto.randomUUID()}/accounts`);
    expect(answer.status).toBe(404);
    expect(await answer.json()).toMatchObject({ error: { code: "token_not_found", hint: expect.stringContaining("/v1/authorize") } });
  });

  it("passes digi.me's Retry-After on when digi.me is unavailable", async () => {
    const { api } = testApp();
    // 30 s: more than the GET retries' deadline allows to wait, so the edge answers at once, with digi.me's wait.
    const { user } = await enrollUser(testMock.mock, api, { scenario: { faults: [{ type: "http-error", status: 503, retryAfterSeconds: 30, endpoints: ["permission-access/accounts"] }] } });
    const answer = await api(`/v1/users/${user.id}/accounts`);
    expect(answer.status).toBe(502);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("upstream_error");
    expect(answer.headers.get("Retry-After")).toBe("30");
  });
});

describe("sessions and file lists", () => {
  it("sends sessionOptions as the trigger's body, with a scope sent beside them winning over theirs", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    const scope = { timeRanges: [{ last: "7d" }] };
    const started = await api(`/v1/users/${user.id}/sessions`, { body: { scope, sessionOptions: { scope: { timeRanges: [{ last: "1y" }] }, sourceFetch: true } } });
    expect(started.status).toBe(201);
    const trigger = testMock.mock.journal.findLast((e) => e.endpoint === "permission-access/trigger");
    expect(trigger?.body).toMatchObject({ scope, sourceFetch: true });
  });

  it("starts a sync session and long-polls its file list until the sync is no longer running", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { scenario: { syncMs: 1500 } });
    const started = await api(`/v1/users/${user.id}/sessions`, { body: { sessionOptions: { limits: { duration: { sourceFetch: 30 } } } } });
    expect(started.status).toBe(201);
    const { sessionKey, expiry } = (await started.json()) as { sessionKey: string; expiry: number };
    expect(expiry).toBeGreaterThan(Date.now());
    const trigger = testMock.mock.journal.find((e) => e.endpoint === "permission-access/trigger");
    expect(trigger?.body).toMatchObject({ limits: { duration: { sourceFetch: 30 } }, agent: { sdk: { name: "nodejs" } } });

    const now = await api(`/v1/users/${user.id}/sessions/${sessionKey}/files`);
    expect(((await now.json()) as FileListAnswer).state).toBe("running");
    const began = Date.now();
    const waited = (await (await api(`/v1/users/${user.id}/sessions/${sessionKey}/files?wait=10`)).json()) as FileListAnswer;
    expect(waited.state).toBe("completed");
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(waited.accounts.map((a) => a.state)).toEqual(user.accounts.map(() => "completed"));
  });

  it("reports a 511 account in the sync with its reauthorization ready", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "account-511", accounts: [user.accounts[0]!.id], shape: "flat" }));
    const list = (await (await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files`)).json()) as FileListAnswer;
    expect(list.state).toBe("partial");
    expect(list.accounts.find((a) => a.accountId === user.accounts[0]!.id)).toMatchObject({
      state: "partial",
      reauth: { needed: true, reason: "ServiceAuthorizationError", start: { userId: user.id, accountId: user.accounts[0]!.id } },
    });
  });

  it("answers 404 session_not_found for a session digi.me does not know for this user, and 400 for a wait over 25 s", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    const unknown = await api(`/v1/users/${user.id}/sessions/not-a-session/files`);
    expect(unknown.status).toBe(404);
    const refused = (await unknown.json()) as { error: { code: string; hint: string } };
    expect(refused.error.code).toBe("session_not_found");
    expect(refused.error.hint).toContain("POST /v1/users/{userId}/sessions");
    const tooLong = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files?wait=26`);
    expect(tooLong.status).toBe(400);
    // The field named once, then what is wrong with it.
    expect(((await tooLong.json()) as { error: { message: string } }).error.message).toBe("wait: must be at most 25 seconds");
  });
});

describe("POST /v1/authorize", () => {
  it("connects a user the edge keeps no token for: the flow ends awaiting confirmation with identity new, and confirming stores the token", async () => {
    const { api, request } = testApp();
    const { user } = testMock.mock.createUser({ accounts: 1 });
    const userId = `new-${crypto.randomUUID()}`;
    const started = await api("/v1/authorize", { body: { userId, returnTo: `${APP}/connected`, locale: "en" } });
    expect(started.status).toBe(201);
    const { flowId, launchUrl, kind } = (await started.json()) as { flowId: string; launchUrl: string; kind: string };
    expect(kind).toBe("authorize");
    expect(testMock.mock.journal.some((e) => e.endpoint === "oauth/authorize")).toBe(true);
    // The mock's authorize page onboards a digi.me user of its own; which one is digi.me's business.
    void user;
    const { final } = await new TestBrowser(request).navigate(launchUrl);
    expect(Object.fromEntries(final.searchParams)).toMatchObject({ flowId, status: "awaiting_confirmation", kind: "authorize", identity: "new" });
    expect((await api(`/v1/users/${userId}/token`)).status).toBe(404);
    expect(await (await api(`/v1/flows/${flowId}/confirm`, { method: "POST" })).json()).toMatchObject({ status: "succeeded", identity: "new" });
    expect((await api(`/v1/users/${userId}/accounts`)).status).toBe(200);
  });

  it("answers 409 token_exists, with a hint, for a user whose token the edge keeps", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    const answer = await api("/v1/authorize", { body: { userId: user.id, returnTo: `${APP}/x` } });
    expect(answer.status).toBe(409);
    expect(await answer.json()).toMatchObject({ error: { code: "token_exists", hint: expect.stringContaining("/v1/reauth/user") } });
    expect(testMock.mock.journal.some((e) => e.endpoint === "oauth/authorize")).toBe(false);
  });
});
