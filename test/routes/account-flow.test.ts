import { describe, expect, it } from "vitest";
import type { ScenarioInput } from "../../mock-server/index.ts";
import { APP, enrollUser, TestBrowser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const { api, request } = testApp();

const enrolledUser = (scenario?: ScenarioInput, accounts = 2) => enrollUser(testMock.mock, api, { scenario, accounts });

async function startAccount(userId: string, accountId: string) {
  const response = await api("/v1/reauth/account", { body: { userId, accountId, returnTo: `${APP}/accounts` } });
  return { response, body: (await response.json()) as { flowId: string; launchUrl: string; error?: { code: string; hint?: string } } };
}

const journal = (endpoint: string, userId?: string) => testMock.mock.journal.filter((e) => e.endpoint === endpoint && (!userId || e.userId === userId));

describe("account reauthorization, end to end", () => {
  it("finds the 511 account, reauthorizes it and reports it fixed", async () => {
    const { user } = await enrolledUser(undefined, 3);
    const broken = user.accounts[1]!.id;
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "account-511", accounts: [broken] });

    const status = await (await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`)).json();
    expect(status).toMatchObject({
      userId: user.id,
      token: { status: "valid" },
      syncState: "partial",
      accounts: [{ accountId: broken, reason: "ServiceAuthorizationError", message: "Service authorization required" }],
    });

    const { response, body } = await startAccount(user.id, broken);
    expect(response.status).toBe(201);
    const { final, hops } = await new TestBrowser(request).navigate(body.launchUrl);
    expect(hops.map((h) => h.status)).toEqual([302, 302, 303]);
    expect(Object.fromEntries(final.searchParams)).toEqual({ flowId: body.flowId, status: "succeeded", kind: "account", contractId: "dev-contract", ts: expect.any(String), sig: expect.any(String) });
    expect(await (await api(`/v1/flows/${body.flowId}`)).json()).toMatchObject({ kind: "account", accountId: broken, status: "succeeded" });
    const after = await (await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`)).json();
    expect(after).toMatchObject({ syncState: "completed", accounts: [] });
  });

  it("puts the edge's own flow id into the callback URL it gives digi.me", async () => {
    const { user } = await enrolledUser();
    const { body } = await startAccount(user.id, user.accounts[0]!.id);
    const [reference] = journal("oauth/token/reference", user.id);
    expect(reference?.claims?.redirect_uri).toBe(`https://edge.test/reauth/account/callback?flow=${body.flowId}`);
  });

  it("records a failed account reauthorization with digi.me's errorCode", async () => {
    const { user } = await enrolledUser({ name: "failure", errorCode: "ONBOARD_ERROR" });
    const { body } = await startAccount(user.id, user.accounts[0]!.id);
    const { final } = await new TestBrowser(request).navigate(body.launchUrl);
    expect(Object.fromEntries(final.searchParams)).toEqual({ flowId: body.flowId, status: "failed", kind: "account", contractId: "dev-contract", errorCode: "ONBOARD_ERROR", errorSource: "browser", ts: expect.any(String), sig: expect.any(String) });
  });

  it("refreshes on InvalidToken, stores the rotated token and retries once", async () => {
    const { user, token } = await enrolledUser({ name: "invalid-token", recoverOnRefresh: true });
    const { response } = await startAccount(user.id, user.accounts[0]!.id);
    expect(response.status).toBe(201);
    expect(journal("oauth/token", user.id)).toHaveLength(1);
    expect(journal("oauth/token/reference", user.id).map((e) => e.status)).toEqual([401, 201]);
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { refreshToken: { value: string } } };
    expect(stored.token.refreshToken.value).not.toBe(token.refreshToken.value);
    expect(testMock.mock.refreshTokens.get(stored.token.refreshToken.value)?.used).toBe(false);
  });

  it("answers 409 refresh_token_expired, pointing at user reauthorization, when the refresh token has expired", async () => {
    const { user } = await enrolledUser({ name: "refresh-expired" });
    const { response, body } = await startAccount(user.id, user.accounts[0]!.id);
    expect(response.status).toBe(409);
    expect(body.error).toMatchObject({ code: "refresh_token_expired", hint: expect.stringContaining("/v1/reauth/user") });
  });

  it("keeps the rotated token even when the retry is refused too", async () => {
    const { user, token } = await enrolledUser({ name: "invalid-token" });
    const { response, body } = await startAccount(user.id, user.accounts[0]!.id);
    expect(response.status).toBe(409);
    expect(body.error?.code).toBe("invalid_token");
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { refreshToken: { value: string } } };
    expect(stored.token.refreshToken.value).not.toBe(token.refreshToken.value);
    expect(testMock.mock.refreshTokens.get(stored.token.refreshToken.value)?.used).toBe(false);
  });
});

describe("reauth-status", () => {
  it("refreshes a refused token once and says so", async () => {
    const { user } = await enrolledUser({ name: "invalid-token", recoverOnRefresh: true });
    expect(await (await api(`/v1/users/${user.id}/reauth-status`)).json()).toMatchObject({ token: { status: "refreshed" }, accounts: [] });
  });

  it("lists accounts digi.me reports as unauthorized even without a session key", async () => {
    const { user } = await enrolledUser({ name: "account-511" });
    const status = await (await api(`/v1/users/${user.id}/reauth-status`)).json();
    expect(status).toMatchObject({ accounts: [{ accountId: user.accounts[0]!.id, reason: "unauthorized" }] });
    expect(journal("permission-access/query", user.id)).toHaveLength(0);
  });

  it("reads the flat 511 shape too", async () => {
    const { user } = await enrolledUser({ name: "account-511", shape: "flat" });
    const status = (await (await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`)).json()) as { accounts: Array<{ reason: string }> };
    expect(status.accounts).toEqual([expect.objectContaining({ accountId: user.accounts[0]!.id, reason: "ServiceAuthorizationError" })]);
  });

  it("says full authorization is needed when even the refreshed token is refused", async () => {
    const { user } = await enrolledUser({ name: "invalid-token" });
    expect(await (await api(`/v1/users/${user.id}/reauth-status`)).json()).toMatchObject({ token: { status: "needs_full_authorization" } });
  });

  it("answers 404 for a user without a stored token", async () => {
    const response = await api("/v1/users/nobody/reauth-status");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "token_not_found" } });
  });
});
