import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Env } from "../../src/env.ts";
import { APP, TestBrowser, testApp, testEnv } from "../support/app.ts";
import { faultyKv } from "../support/faulty-kv.ts";
import { useTestMock } from "../support/mock.ts";
import { faultyStorage, restoreObjectWiringAfterEach, wireObjects, type StorageFault } from "../support/objects.ts";
import { quietConsole } from "../support/quiet.ts";

const testMock = useTestMock();
quietConsole();
const broken = faultyKv(testEnv.REAUTH_KV);
const env: Env = { ...testEnv, REAUTH_KV: broken.kv };
const { request } = testApp();
const call = (path: string, init: RequestInit = {}) => request(path, init, env);
const api = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
  call(path, { method, headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

/** The user objects' storage, failing on demand (tokens and flow states live there). */
const objectFaults: StorageFault[] = [];
restoreObjectWiringAfterEach();
beforeEach(() => wireObjects(faultyStorage(objectFaults)));
afterEach(() => {
  broken.faults.length = 0;
  objectFaults.length = 0;
});

async function enrolled() {
  const { user, token } = testMock.mock.createUser();
  expect((await api(`/v1/users/${user.id}/token`, token, "PUT")).status).toBe(204);
  return { user, token };
}

async function started(kind: "user" | "account" = "user") {
  const { user, token } = await enrolled();
  const body = kind === "user" ? { userId: user.id, returnTo: `${APP}/x` } : { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` };
  const response = await api(`/v1/reauth/${kind}`, body);
  expect(response.status).toBe(201);
  return { user, token, flow: (await response.json()) as { flowId: string; launchUrl: string } };
}

function expectRetryablePage(response: Response, status = 503) {
  expect(response.status).toBe(status);
  expect(response.headers.get("Location")).toBeNull();
  expect(response.headers.get("Content-Type")).toMatch(/text\/html/);
  expect(response.headers.get("Retry-After")).toBe("5");
}

describe("KV or the user object's storage failing or throttled", () => {
  it("absorbs a throttled write (429) with a retry", async () => {
    const { user } = await enrolled();
    broken.faults.push({ op: "put", prefix: "flow:", times: 1, message: "KV PUT failed: 429 Too Many Requests" });
    const response = await api("/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x` });
    expect(response.status).toBe(201);
    expect(broken.calls.filter((c) => c.op === "put" && c.key.startsWith("flow:")).map((c) => c.failed)).toEqual([true, false]);
  });

  it("answers a start with 503 storage_unavailable, retryable, when writes keep failing", async () => {
    const { user } = await enrolled();
    broken.faults.push({ op: "put", prefix: "flow:" });
    const response = await api("/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x` });
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(await response.json()).toEqual({ error: { code: "storage_unavailable", message: expect.any(String), retryable: true } });
  });

  it("never sends the browser to digi.me when the launch cannot read or bind the flow", async () => {
    const { flow } = await started();
    const browser = new TestBrowser(call);
    broken.faults.push({ op: "get", prefix: "flow:" });
    expectRetryablePage(await browser.get(flow.launchUrl));
    broken.faults.length = 0;
    objectFaults.push({ op: "put", prefix: "flow:" }); // the binding is the object's to write
    expectRetryablePage(await browser.get(flow.launchUrl));
    expect(browser.cookies.size).toBe(0);
    objectFaults.length = 0;
    expect((await browser.get(flow.launchUrl)).status).toBe(302); // works again once storage does
  });

  it("keeps the flow pending when the callback cannot read it, and completes it afterwards", async () => {
    const { flow } = await started("account");
    const browser = new TestBrowser(call);
    const launch = await browser.get(flow.launchUrl);
    const callback = (await browser.get(launch.headers.get("Location")!)).headers.get("Location")!;
    broken.faults.push({ op: "get", prefix: "flow:" });
    expectRetryablePage(await browser.get(callback));
    broken.faults.length = 0;
    expect((await browser.get(callback)).status).toBe(303);
  });

  it("recovers a token whose storage failed after the exchange: the browser carries it back sealed", async () => {
    const { user, token, flow } = await started();
    const browser = new TestBrowser(call);
    const launch = await browser.get(flow.launchUrl);
    const callback = (await browser.get(launch.headers.get("Location")!)).headers.get("Location")!;
    objectFaults.push({ op: "put", prefix: "token:" });
    const page = await browser.get(callback);
    expectRetryablePage(page);
    expect(page.headers.get("Content-Security-Policy")).toContain("form-action 'self'");
    const html = await page.text();
    const sealed = /name="sealed" value="([^"]+)"/.exec(html)![1]!;
    expect(html).not.toContain("mat_"); // the token is not readable in the page
    const exchange = testMock.mock.journal.filter((e) => e.endpoint === "oauth/token");
    expect(exchange).toHaveLength(1);

    const post = (fields: Record<string, string>, b = browser) => {
      const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
      return call("/reauth/recover", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie }, body: new URLSearchParams(fields).toString() });
    };
    const retried = await post({ flow: flow.flowId, sealed }); // storage still down: the same page again
    expectRetryablePage(retried);
    const page2 = await retried.text(); // the form is still there, with the token sealed again
    expect(page2).toMatch(/<form method="post" action="\/reauth\/recover">/);
    expect(/name="sealed" value="([^"]+)"/.exec(page2)?.[1]).toBeTruthy();
    objectFaults.length = 0;
    expect((await post({ flow: flow.flowId, sealed: btoa('{"kid":"k2","iv":"AAAA","ct":"AAAA"}') })).status).toBe(400);
    expect((await post({ flow: flow.flowId, sealed }, new TestBrowser(call))).status).toBe(403);
    const done = await post({ flow: flow.flowId, sealed });
    expect(done.status).toBe(303);
    expect(new URL(done.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { accessToken: { value: string } } };
    expect(stored.token.accessToken.value).not.toBe(token.accessToken.value);
    expect(testMock.mock.checkAccessToken(stored.token.accessToken.value, "dev-app_dev-contract").ok).toBe(true);
    // Single use: posting it again stores nothing; its own browser is sent to the recorded outcome, another gets 409.
    const again = await post({ flow: flow.flowId, sealed });
    expect(again.status).toBe(303);
    expect(again.headers.get("Location")).toBe(done.headers.get("Location"));
    expect((await post({ flow: flow.flowId, sealed }, new TestBrowser(call))).status).toBe(409);
    const after = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { accessToken: { value: string } } };
    expect(after.token.accessToken.value).toBe(stored.token.accessToken.value);
  });

  it("hands a refreshed token to the backend when it cannot be stored", async () => {
    const { user } = await enrolled();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "invalid-token", recoverOnRefresh: true });
    objectFaults.push({ op: "put", prefix: "token:" });
    const response = await api("/v1/reauth/account", { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { code: string; token: { accessToken: { value: string } } } };
    expect(body.error.code).toBe("token_not_stored");
    expect(testMock.mock.checkAccessToken(body.error.token.accessToken.value, "dev-app_dev-contract").ok).toBe(true);
  });
});
