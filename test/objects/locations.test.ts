/**
 * Across Cloudflare locations (issue 17). The backend calls the edge from
 * location A, the user's browser from location B (and, for the concurrency
 * test, a third location C). What stays in KV (a flow's start entry) goes
 * through KV's per-location caches, modelled by LocationKv (60 s); the
 * user's token and the flows' outcomes live in the user's Durable Object,
 * which every location reaches. Each of these tests failed on the code that
 * kept tokens and outcomes in KV (02c8688): A read its cache, for up to 60 s.
 */
import { describe, expect, it } from "vitest";
import type { MockDigime } from "../../mock-server/index.ts";
import type { UserAccessToken } from "../../src/digime/index.ts";
import type { Env } from "../../src/env.ts";
import { API_KEY, APP, TestBrowser, testApp, testEnv } from "../support/app.ts";
import { LocationKv } from "../support/location-kv.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const CLIENT_ID = "dev-app_dev-contract";

/** Locations sharing one KV (each with its own cache) and one clock; the backend's API and browsers at any of them. */
function world() {
  let clock = Date.now();
  const kv = new LocationKv(() => clock);
  const { request } = testApp({ now: () => clock });
  // One bindings object per location, as an isolate there would have (configuration and services are memoised per object).
  const envs = new Map<string, Env>();
  const envAt = (location: string): Env => {
    let env = envs.get(location);
    if (!env) envs.set(location, (env = { ...testEnv, REAUTH_KV: kv.at(location) }));
    return env;
  };
  const api = (location: string, path: string, init: { method?: string; body?: unknown } = {}) =>
    request(
      path,
      {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: { Authorization: `Bearer ${API_KEY}`, ...(init.body === undefined ? {} : { "Content-Type": "application/json" }) },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      },
      envAt(location),
    );
  const tokenAt = async (location: string, userId: string): Promise<UserAccessToken> => {
    const response = await api(location, `/v1/users/${userId}/token`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { token: UserAccessToken }).token;
  };
  return {
    api,
    tokenAt,
    browser: (location: string) => new TestBrowser((path, init) => request(path, init, envAt(location))),
    advance: (ms: number) => void (clock += ms),
  };
}

/** The refreshes digi.me received (`oauth/token` with grant_type refresh_token). */
function refreshes(mock: MockDigime) {
  return mock.journal.filter((e) => e.endpoint === "oauth/token" && e.claims?.grant_type === "refresh_token");
}

/** Calls digi.me refused for the access token (not refreshes). */
function refusedAccessTokens(mock: MockDigime) {
  return mock.journal.filter((e) => e.endpoint !== "oauth/token" && e.status === 401 && e.errorCode === "InvalidToken");
}

/** Makes digi.me consider an access token expired from now on (its hour is up). */
function expireAccessToken(mock: MockDigime, value: string): void {
  const record = mock.accessTokens.get(value);
  if (!record) throw new Error("the mock never issued this access token");
  record.expiresAt = mock.now();
}

type Status = { token: { status: string; accessTokenExpiry: number; refreshTokenExpiry: number } };

describe("a user's token and flows seen from several locations", () => {
  it("answers succeeded and the new token at the backend's location at once after the user's browser succeeds elsewhere", async () => {
    const w = world();
    const { user, token: oldToken } = testMock.mock.createUser({ accounts: 1 });
    expect((await w.api("A", `/v1/users/${user.id}/token`, { method: "PUT", body: oldToken })).status).toBe(204);
    const started = await w.api("A", "/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } });
    expect(started.status).toBe(201);
    const { flowId, launchUrl } = (await started.json()) as { flowId: string; launchUrl: string };
    // The backend looks while the flow is pending: whatever A read, A's KV would now serve from its cache.
    expect(await (await w.api("A", `/v1/flows/${flowId}`)).json()).toMatchObject({ status: "pending" });
    expect(await w.tokenAt("A", user.id)).toEqual(oldToken);

    w.advance(5_000);
    const { final } = await w.browser("B").navigate(launchUrl);
    expect(final.origin).toBe(APP);
    expect(final.searchParams.get("status")).toBe("succeeded");

    // Two seconds later, well inside KV's 60 s cache at A: A answers the outcome and the token digi.me just issued.
    w.advance(2_000);
    expect(await (await w.api("A", `/v1/flows/${flowId}`)).json()).toMatchObject({ flowId, status: "succeeded", identity: "confirmed" });
    const atA = await w.tokenAt("A", user.id);
    expect(atA.accessToken.value).not.toBe(oldToken.accessToken.value);
    expect(testMock.mock.checkAccessToken(atA.accessToken.value, CLIENT_ID).ok).toBe(true);
    expect(testMock.mock.checkAccessToken(oldToken.accessToken.value, CLIENT_ID).ok).toBe(false); // digi.me retired the old one
    expect(await w.tokenAt("B", user.id)).toEqual(atA);
  });

  it("keeps a user who just reauthorized an account at B valid at A: reauth-status is valid and the next account start is 201", async () => {
    const w = world();
    const { user, token } = testMock.mock.createUser({ accounts: 2 });
    const [first, second] = user.accounts;
    expect((await w.api("A", `/v1/users/${user.id}/token`, { method: "PUT", body: token })).status).toBe(204);
    const started = await w.api("A", "/v1/reauth/account", { body: { userId: user.id, accountId: first!.id, returnTo: `${APP}/accounts` } });
    expect(started.status).toBe(201);
    const { launchUrl } = (await started.json()) as { launchUrl: string };

    // The backend reads the user's reauth-status at A.
    const before = await w.api("A", `/v1/users/${user.id}/reauth-status`);
    expect(before.status).toBe(200);
    expect(((await before.json()) as Status).token.status).toBe("valid");

    // 40 s later the user finishes the account reauthorization at B. The access token has expired
    // meanwhile, so the callback's confirming accounts read refreshes it and stores the new pair.
    w.advance(40_000);
    expireAccessToken(testMock.mock, token.accessToken.value);
    const { final } = await w.browser("B").navigate(launchUrl);
    expect(final.origin).toBe(APP);
    expect(final.searchParams.get("status")).toBe("succeeded");
    expect(refusedAccessTokens(testMock.mock).map((e) => e.endpoint)).toEqual(["permission-access/accounts"]);
    expect(refreshes(testMock.mock).map((e) => e.status < 300)).toEqual([true]);
    const rotated = await w.tokenAt("B", user.id);
    expect(rotated.refreshToken.value).not.toBe(token.refreshToken.value);

    // 5 s later the backend at A reads reauth-status again, then starts the next account reauthorization.
    w.advance(5_000);
    const after = await w.api("A", `/v1/users/${user.id}/reauth-status`);
    expect(after.status).toBe(200);
    const status = (await after.json()) as Status;
    expect(["valid", "refreshed"]).toContain(status.token.status);
    expect(status.token.refreshTokenExpiry).toBe(rotated.refreshToken.expiry);
    const next = await w.api("A", "/v1/reauth/account", { body: { userId: user.id, accountId: second!.id, returnTo: `${APP}/accounts` } });
    expect(next.status).toBe(201);

    // A never sent the spent refresh token: digi.me saw one refresh, and A holds the token B stored.
    expect(refreshes(testMock.mock)).toHaveLength(1);
    expect(await w.tokenAt("A", user.id)).toEqual(rotated);
    expect(testMock.mock.checkAccessToken(rotated.accessToken.value, CLIENT_ID).ok).toBe(true);
  });

  it("refreshes once for 20 concurrent requests that each need a refresh, spread over three locations, and all succeed", async () => {
    const w = world();
    const { user, token } = testMock.mock.createUser({ accounts: 2 });
    expect((await w.api("A", `/v1/users/${user.id}/token`, { method: "PUT", body: token })).status).toBe(204);
    expireAccessToken(testMock.mock, token.accessToken.value);

    const locations = ["A", "B", "C"];
    const requests = Array.from({ length: 20 }, (_, i) => {
      const location = locations[i % locations.length]!;
      const kind = i % 2 === 0 ? "status" : "start";
      const response =
        kind === "status"
          ? w.api(location, `/v1/users/${user.id}/reauth-status`)
          : w.api(location, "/v1/reauth/account", { body: { userId: user.id, accountId: user.accounts[i % 4 < 2 ? 0 : 1]!.id, returnTo: `${APP}/accounts` } });
      return Promise.resolve(response).then(async (r) => ({ location, kind, status: r.status, body: (await r.json()) as Record<string, unknown> }));
    });
    const answers = await Promise.all(requests);

    for (const answer of answers) {
      if (answer.kind === "status") {
        expect(answer.status, JSON.stringify(answer)).toBe(200);
        expect(["refreshed", "valid"], JSON.stringify(answer)).toContain((answer.body as Status).token.status);
      } else {
        expect(answer.status, JSON.stringify(answer)).toBe(201);
      }
    }
    expect(new Set(answers.map((a) => a.location))).toEqual(new Set(locations));
    // Each of the 20 met the expired access token at digi.me; one refresh served them all.
    expect(refusedAccessTokens(testMock.mock)).toHaveLength(20);
    expect(refreshes(testMock.mock).map((e) => e.status < 300)).toEqual([true]);

    // Every location reads the one rotated token, and it works.
    const atC = await w.tokenAt("C", user.id);
    expect(atC.refreshToken.value).not.toBe(token.refreshToken.value);
    expect(await w.tokenAt("A", user.id)).toEqual(atC);
    expect(await w.tokenAt("B", user.id)).toEqual(atC);
    expect(testMock.mock.checkAccessToken(atC.accessToken.value, CLIENT_ID).ok).toBe(true);
  });
});
