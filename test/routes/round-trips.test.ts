import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../src/env.ts";
import { APP, TestBrowser, testApp, testEnv } from "../support/app.ts";
import { startMock, type TestMock } from "../support/mock.ts";

/**
 * The round-trip budget, counted from the mock's journal: per step, how many
 * requests reach digi.me, on a cold isolate (nothing cached) and warm.
 * DESIGN.md: user start 1, account start 1 (two calls in parallel), callback 1
 * (the user callback's exchange; the account callback's confirming read).
 */
let testMock: TestMock;
beforeAll(async () => {
  testMock = await startMock();
});
afterAll(() => testMock.stop());

/** Endpoints called by `action`, in the order digi.me received them. */
async function upstreamCalls(action: () => unknown): Promise<string[]> {
  const before = testMock.mock.journal.length;
  await action();
  return testMock.mock.journal.slice(before).map((e) => e.endpoint);
}

function stack() {
  // A fresh env object means fresh configuration and services: a cold isolate's caches.
  const env: Env = { ...testEnv };
  const { request } = testApp();
  const api = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
    request(path, { method, headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }, env);
  return { env, api, browser: () => new TestBrowser((path, init) => request(path, init, env)) };
}

async function prepared(s: ReturnType<typeof stack>, kind: "user" | "account") {
  const { user, token } = testMock.mock.createUser();
  await s.api(`/v1/users/${user.id}/token`, token, "PUT");
  const body = kind === "user" ? { userId: user.id, returnTo: `${APP}/x` } : { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` };
  return { user, body };
}

describe("upstream round trips per step", () => {
  it("cold: user start fetches the key set once besides its one call; warm: one call", async () => {
    const s = stack();
    const first = await prepared(s, "user");
    expect(await upstreamCalls(() => s.api("/v1/reauth/user", first.body))).toEqual(["oauth/token/reference", "jwks/oauth"]);
    const second = await prepared(s, "user");
    expect(await upstreamCalls(() => s.api("/v1/reauth/user", second.body))).toEqual(["oauth/token/reference"]);
  });

  it("cold: account start makes its two calls and one key-set fetch; warm: just the two, in parallel", async () => {
    const s = stack();
    const first = await prepared(s, "account");
    expect((await upstreamCalls(() => s.api("/v1/reauth/account", first.body))).sort()).toEqual(["jwks/oauth", "oauth/token/reference", "reference"]);
    const second = await prepared(s, "account");
    testMock.mock.setUserScenario(second.user, { ...testMock.mock.scenarioFor(second.user), faults: [{ type: "delay", ms: 120, endpoints: ["oauth/token/reference", "reference"] }] });
    const began = performance.now();
    expect((await upstreamCalls(() => s.api("/v1/reauth/account", second.body))).sort()).toEqual(["oauth/token/reference", "reference"]);
    expect(performance.now() - began).toBeLessThan(235); // one round trip of 120 ms, not two
  });

  it("warm: the user callback makes exactly one call (the exchange), the account callback one (reading the accounts to confirm)", async () => {
    const s = stack();
    await s.api("/v1/reauth/user", (await prepared(s, "user")).body); // warms the key set
    for (const kind of ["user", "account"] as const) {
      const { body } = await prepared(s, kind);
      const started = (await (await s.api(`/v1/reauth/${kind}`, body)).json()) as { launchUrl: string };
      const browser = s.browser();
      const launch = await browser.get(started.launchUrl);
      const consent = await browser.get(launch.headers.get("Location")!);
      const callback = consent.headers.get("Location")!;
      const calls = await upstreamCalls(() => browser.get(callback));
      expect(calls).toEqual(kind === "user" ? ["oauth/token"] : ["permission-access/accounts"]);
    }
  });

  it("cold: the user callback in a fresh isolate fetches the key set once besides the exchange", async () => {
    const warm = stack();
    const { body } = await prepared(warm, "user");
    const started = (await (await warm.api("/v1/reauth/user", body)).json()) as { launchUrl: string };
    const browser = warm.browser();
    const launch = await browser.get(started.launchUrl);
    const callback = (await browser.get(launch.headers.get("Location")!)).headers.get("Location")!;
    // Same KV, new isolate caches: the callback lands on an isolate that never verified a token.
    const cold = stack();
    const coldBrowser = cold.browser();
    for (const [name, value] of browser.cookies) coldBrowser.cookies.set(name, value);
    const calls = await upstreamCalls(() => coldBrowser.get(callback));
    expect(calls).toEqual(["oauth/token", "jwks/oauth"]);
  });

  it("warm: reauth-status reads accounts and sync status in parallel, nothing else", async () => {
    const s = stack();
    const { user } = await prepared(s, "user");
    const calls = await upstreamCalls(() => s.api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`));
    expect(calls.sort()).toEqual(["permission-access/accounts", "permission-access/query"]);
  });
});
