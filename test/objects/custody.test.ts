/**
 * The user's object as the custodian of the user's token (issue 17): it takes
 * over a token the previous version kept in KV, never sends digi.me a
 * refresh token digi.me refused, and when its storage (or the object itself)
 * fails the API and the browser get the same retryable 503 as any storage
 * failure.
 */
import { describe, expect, it } from "vitest";
import { scenarioSchema, type MockDigime } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import type { UserAccessToken } from "../../src/digime/index.ts";
import type { Env } from "../../src/env.ts";
import { Sealer } from "../../src/storage/crypto.ts";
import { APP, TestBrowser, enrollUser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { faultyStorage, keptFlowIds, objectServicesFrom, restoreObjectWiringAfterEach, wireObjects, type StorageFault } from "../support/objects.ts";
import { quietConsole } from "../support/quiet.ts";

const testMock = useTestMock();
quietConsole();
restoreObjectWiringAfterEach();
const CLIENT_ID = "dev-app_dev-contract";

/** The refreshes digi.me received (`oauth/token` with grant_type refresh_token). */
function refreshes(mock: MockDigime) {
  return mock.journal.filter((e) => e.endpoint === "oauth/token" && e.claims?.grant_type === "refresh_token");
}

type Status = { token: { status: string } };

describe("upgrade without loss", () => {
  it("takes over a token the previous version kept in KV on the user's first request, and deletes it from KV", async () => {
    const { api } = testApp();
    // An id that encodeURIComponent changes, as the previous version's KV key did.
    const { user, token } = testMock.mock.createUser({ userId: `legacy:${crypto.randomUUID().slice(0, 8)}@example.test` });
    const key = `token:v1:${encodeURIComponent(user.id)}`;
    const updatedAt = Date.now() - 86_400_000;
    const sealer = new Sealer(parseConfig(testEnv).encryptionKeys);
    const record = { v: 1, sealed: await sealer.seal(JSON.stringify(token), key), accessTokenExpiry: token.accessToken.expiry, refreshTokenExpiry: token.refreshToken.expiry, updatedAt };
    await testEnv.REAUTH_KV.put(key, JSON.stringify(record), { expirationTtl: 90 * 24 * 60 * 60 });

    const read = await api(`/v1/users/${user.id}/token`);
    expect(read.status).toBe(200);
    // Under a new version: the first the object writes (a record from before versions reads as 1).
    expect(await read.json()).toEqual({ userId: user.id, token, version: 1, updatedAt: new Date(updatedAt).toISOString(), accessTokenExpiresIn: expect.any(Number), refreshed: false });
    expect(read.headers.get("ETag")).toBe('"1"');
    expect(await testEnv.REAUTH_KV.get(key)).toBeNull();

    // Kept by the object from now on, and it works at digi.me.
    expect(((await (await api(`/v1/users/${user.id}/token`)).json()) as { token: UserAccessToken }).token).toEqual(token);
    const status = await api(`/v1/users/${user.id}/reauth-status`);
    expect(status.status).toBe(200);
    expect(((await status.json()) as Status).token.status).toBe("valid");
  });
});

describe("the takeover of a KV token record, racing", () => {
  it("never brings back a token deleted while a second first call was still reading KV, and reads KV once per user", async () => {
    const { api } = testApp();
    const { user, token } = testMock.mock.createUser({});
    const key = `token:v1:${encodeURIComponent(user.id)}`;
    const sealer = new Sealer(parseConfig(testEnv).encryptionKeys);
    const record = { v: 1, sealed: await sealer.seal(JSON.stringify(token), key), accessTokenExpiry: token.accessToken.expiry, refreshTokenExpiry: token.refreshToken.expiry, updatedAt: Date.now() };
    await testEnv.REAUTH_KV.put(key, JSON.stringify(record), { expirationTtl: 3600 });
    // The objects' KV answers its second read late: a second takeover would still hold the record after the delete.
    let reads = 0;
    const slowKv = new Proxy(testEnv.REAUTH_KV, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property !== "get") return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        return async (...args: unknown[]) => {
          reads += 1;
          if (reads === 2) await new Promise((resolve) => setTimeout(resolve, 300));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    wireObjects(objectServicesFrom({ ...testEnv, REAUTH_KV: slowKv } as Env));
    const deleting = api(`/v1/users/${user.id}/token`, { method: "DELETE" });
    const reading = api(`/v1/users/${user.id}/token`);
    expect((await deleting).status).toBe(204);
    await reading;
    expect((await api(`/v1/users/${user.id}/token`)).status).toBe(404);
    expect(reads).toBe(1);
  });
});

describe("a refresh token digi.me refused", () => {
  it("is never sent again: the second reauth-status answers needs_user_reauth without asking digi.me to refresh", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "refresh-expired" }));

    const first = await api(`/v1/users/${user.id}/reauth-status`);
    expect(first.status).toBe(200);
    expect(((await first.json()) as Status).token.status).toBe("needs_user_reauth");
    expect(refreshes(testMock.mock).map((e) => e.errorCode)).toEqual(["InvalidToken"]);

    const second = await api(`/v1/users/${user.id}/reauth-status`);
    expect(second.status).toBe(200);
    expect(((await second.json()) as Status).token.status).toBe("needs_user_reauth");
    const start = await api("/v1/reauth/account", { body: { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` } });
    expect(start.status).toBe(409);
    expect(((await start.json()) as { error: { code: string } }).error.code).toBe("refresh_token_expired");
    expect(refreshes(testMock.mock)).toHaveLength(1);

    // Only that refresh token is refused: a new token the backend stores is used.
    const fresh = testMock.mock.issueToken(user);
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: fresh, headers: { "If-Match": "*" } })).status).toBe(204);
    const after = await api(`/v1/users/${user.id}/reauth-status`);
    expect(((await after.json()) as Status).token.status).toBe("valid");
  });
});

describe("the user's object failing", () => {
  function expectRetryablePage(response: Response) {
    expect(response.status).toBe(503);
    expect(response.headers.get("Location")).toBeNull();
    expect(response.headers.get("Content-Type")).toMatch(/text\/html/);
    expect(response.headers.get("Retry-After")).toBe("5");
  }

  async function expectStorageUnavailable(response: Response) {
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(await response.json()).toEqual({ error: { code: "storage_unavailable", message: expect.any(String), retryable: true } });
  }

  it("answers 503 storage_unavailable, retryable, on the API and a retryable page at launch when its storage fails", async () => {
    const faults: StorageFault[] = [];
    wireObjects(faultyStorage(faults));
    const { api, request } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    const started = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } });
    expect(started.status).toBe(201);
    const { flowId, launchUrl } = (await started.json()) as { flowId: string; launchUrl: string };

    faults.push({ op: "get" }, { op: "put" }, { op: "list" }, { op: "delete" });
    await expectStorageUnavailable(await api(`/v1/users/${user.id}/token`));
    await expectStorageUnavailable(await api(`/v1/users/${user.id}/reauth-status`));
    await expectStorageUnavailable(await api(`/v1/flows/${flowId}`));
    const browser = new TestBrowser(request);
    expectRetryablePage(await browser.get(launchUrl));
    expect(browser.cookies.size).toBe(0);

    // Once storage works again, so does everything, and nothing was lost.
    faults.length = 0;
    expect((await api(`/v1/users/${user.id}/token`)).status).toBe(200);
    const { final } = await browser.navigate(launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
  });

  it("answers a start 503 storage_unavailable, and keeps no flow, when the flow's record cannot be made durable", async () => {
    const faults: StorageFault[] = [];
    wireObjects(faultyStorage(faults));
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    // The record is written before the call to digi.me without holding it; the start answers only once it is durable.
    faults.push({ op: "sync", times: 1 });
    await expectStorageUnavailable(await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } }));
    expect(await keptFlowIds(user.id)).toEqual([]);
    expect((await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).status).toBe(201);
  });

  it("answers the same retryable 503 when the object cannot be reached (overloaded)", async () => {
    const { api, request } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    const started = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } });
    const { launchUrl } = (await started.json()) as { launchUrl: string };

    // Bindings whose user objects refuse every call, as an overloaded Durable Object does.
    const overloaded = Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), { overloaded: true, retryable: true });
    const refusingStub = new Proxy({}, { get: (_target, property) => (property === "then" ? undefined : () => Promise.reject(overloaded)) });
    const users = testEnv.USERS!;
    const env: Env = { ...testEnv, USERS: { idFromName: (name: string) => users.idFromName(name), get: () => refusingStub } as unknown as DurableObjectNamespace };
    const { request: requestDown } = testApp();
    const apiDown = (path: string) => requestDown(path, { headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" } }, env);

    await expectStorageUnavailable(await apiDown(`/v1/users/${user.id}/token`));
    await expectStorageUnavailable(await apiDown(`/v1/users/${user.id}/reauth-status`));
    expectRetryablePage(await new TestBrowser((path, init) => requestDown(path, init, env)).get(launchUrl));

    // The object itself is fine: through the usual bindings the flow goes on.
    const { final } = await new TestBrowser(request).navigate(launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    expect(testMock.mock.checkAccessToken(((await (await api(`/v1/users/${user.id}/token`)).json()) as { token: UserAccessToken }).token.accessToken.value, CLIENT_ID).ok).toBe(true);
  });
});
