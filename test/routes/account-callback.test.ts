import { describe, expect, it } from "vitest";
import { APP, EDGE, TestBrowser, enrollUser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { quietConsole } from "../support/quiet.ts";

/**
 * The account callback: `success=true` is only the browser's word (any page
 * can navigate there with the SameSite=Lax cookie), so it is confirmed with
 * digi.me before the flow succeeds.
 */
const testMock = useTestMock();
const { api, request } = testApp();
quietConsole();

async function flow(flowId: string) {
  return (await (await api(`/v1/flows/${flowId}`)).json()) as { status: string; errorCode?: string };
}

/** A user whose first account needs reauthorization (511), an account flow for it, launched in a browser. */
async function launchedAccountFlow() {
  const { user } = await enrollUser(testMock.mock, api, { scenario: { name: "account-511" } });
  const accountId = user.accounts[0]!.id;
  const response = await api("/v1/reauth/account", { body: { userId: user.id, accountId, returnTo: `${APP}/back` } });
  expect(response.status).toBe(201);
  const started = (await response.json()) as { flowId: string; launchUrl: string };
  const browser = new TestBrowser(request);
  const launch = await browser.get(started.launchUrl);
  expect(launch.status).toBe(302);
  return { user, accountId, started, browser, onboarding: launch.headers.get("Location")! };
}

describe("GET /reauth/account/callback confirms success with digi.me", () => {
  it("succeeds once digi.me lists the account as authorized again, with one read of the accounts", async () => {
    const { user, started, browser, onboarding } = await launchedAccountFlow();
    const consent = await browser.get(onboarding);
    const before = testMock.mock.journal.length;
    const callback = await browser.get(consent.headers.get("Location")!);
    expect(callback.status).toBe(303);
    expect(new URL(callback.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    expect(testMock.mock.journal.slice(before).map((e) => e.endpoint)).toEqual(["permission-access/accounts"]);
    expect(await flow(started.flowId)).toMatchObject({ status: "succeeded" });
    const status = (await (await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`)).json()) as { accounts: unknown[] };
    expect(status.accounts).toEqual([]);
  });

  it("fails NOT_REAUTHORIZED when success=true arrives but the account still needs reauthorization", async () => {
    const { user, accountId, started, browser } = await launchedAccountFlow();
    // A forged success: the browser is sent straight to the callback, digi.me never saw a consent.
    const forged = await browser.get(`${EDGE}/reauth/account/callback?flow=${started.flowId}&success=true`);
    expect(forged.status).toBe(303);
    const back = new URL(forged.headers.get("Location")!);
    expect(back.searchParams.get("status")).toBe("failed");
    expect(back.searchParams.get("errorCode")).toBe("NOT_REAUTHORIZED");
    expect(await flow(started.flowId)).toMatchObject({ status: "failed", errorCode: "NOT_REAUTHORIZED" });
    const status = (await (await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`)).json()) as { accounts: Array<{ accountId: string }> };
    expect(status.accounts.map((a) => a.accountId)).toContain(accountId);
  });

  it("fails NOT_REAUTHORIZED for an account digi.me does not list", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/account", { body: { userId: user.id, accountId: user.accounts[1]!.id, returnTo: `${APP}/back` } })).json()) as {
      flowId: string;
      launchUrl: string;
    };
    const browser = new TestBrowser(request);
    await browser.get(started.launchUrl);
    user.accounts.splice(1, 1); // the account is gone at digi.me by the time the browser comes back
    const response = await browser.get(`${EDGE}/reauth/account/callback?flow=${started.flowId}&success=true`);
    expect(new URL(response.headers.get("Location")!).searchParams.get("errorCode")).toBe("NOT_REAUTHORIZED");
  });

  it("answers a retryable page and keeps the flow pending while digi.me cannot be reached, then completes on reload", async () => {
    const { user, started, browser, onboarding } = await launchedAccountFlow();
    const consent = await browser.get(onboarding);
    const callbackUrl = consent.headers.get("Location")!;
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "success", faults: [{ type: "network-error", endpoints: ["permission-access/accounts"], times: 2 }] });
    const unreachable = await browser.get(callbackUrl);
    expect(unreachable.status).toBe(502);
    expect(unreachable.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(unreachable.headers.get("Retry-After")).toBe("5");
    expect(await flow(started.flowId)).toMatchObject({ status: "pending" });
    const reload = await browser.get(callbackUrl);
    expect(reload.status).toBe(303);
    expect(new URL(reload.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
  });

  it("refreshes a stored access token digi.me refuses, stores the rotated one, then confirms", async () => {
    const { user, started, browser, onboarding } = await launchedAccountFlow();
    const consent = await browser.get(onboarding);
    const before = ((await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { refreshToken: { value: string } } }).token.refreshToken.value;
    testMock.mock.revokeAccessTokens(user.id); // the stored access token dies while the user is at digi.me
    const callback = await browser.get(consent.headers.get("Location")!);
    expect(new URL(callback.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    expect(testMock.mock.journal.slice(-3).map((e) => e.endpoint)).toEqual(["permission-access/accounts", "oauth/token", "permission-access/accounts"]);
    const after = ((await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { refreshToken: { value: string } } }).token.refreshToken.value;
    expect(after).not.toBe(before);
    expect(await flow(started.flowId)).toMatchObject({ status: "succeeded" });
  });

  it("confirms with the access token the backend passed at start when none is stored", async () => {
    const { user, token } = testMock.mock.createUser();
    const started = (await (await api("/v1/reauth/account", {
      body: { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/back`, userAccessToken: token.accessToken.value },
    })).json()) as { flowId: string; launchUrl: string };
    const { final } = await new TestBrowser(request).navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    const read = testMock.mock.journal.filter((e) => e.endpoint === "permission-access/accounts");
    expect(read.map((e) => e.claims?.access_token)).toEqual([token.accessToken.value]);
  });

  it("records a failure without errorCode as failed UNKNOWN, never as success", async () => {
    const { started, browser } = await launchedAccountFlow();
    const response = await browser.get(`${EDGE}/reauth/account/callback?flow=${started.flowId}&success=false`);
    const back = new URL(response.headers.get("Location")!);
    expect(back.searchParams.get("status")).toBe("failed");
    expect(back.searchParams.get("errorCode")).toBe("UNKNOWN");
    expect(await flow(started.flowId)).toMatchObject({ status: "failed", errorCode: "UNKNOWN" });
    expect(testMock.mock.journal.filter((e) => e.endpoint === "permission-access/accounts")).toHaveLength(0);
  });
});
