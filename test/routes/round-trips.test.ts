import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env.ts";
import { UserHandle } from "../../src/users/client.ts";
import { UserObject } from "../../src/users/object.ts";
import { APP, TestBrowser, testApp, testEnv } from "../support/app.ts";
import type { ENDPOINTS } from "../../mock-server/index.ts";
import { startMock, type TestMock } from "../support/mock.ts";
import { objectServicesFrom, restoreObjectWiringAfterEach, wireObjects } from "../support/objects.ts";

/**
 * The round-trip budget, counted from the mock's journal: per step, how many
 * requests reach digi.me, on a cold isolate (nothing cached) and warm.
 * docs/design.md: user start 1, account start 1 (two calls in parallel), callback 1
 * (the user callback's exchange; the account callback's confirming read).
 * Cold path: on a fresh isolate in a fresh location (empty Cache API) the key
 * set is fetched beside the call whose token needs it, not after it; on a
 * fresh isolate in a location that has it, not at all.
 *
 * And the user objects' budget: at most one RPC call to the user's Durable
 * Object on any step's critical path (issue 17), counted by spying on the
 * `UserObject` prototype (the objects run in the test's isolate).
 */
let testMock: TestMock;
beforeAll(async () => {
  testMock = await startMock();
});
afterAll(() => testMock.stop());
restoreObjectWiringAfterEach();

/** Endpoints called by `action`, in the order digi.me received them. */
async function upstreamCalls(action: () => unknown): Promise<string[]> {
  return (await upstreamEntries(action)).map((e) => e.endpoint);
}

async function upstreamEntries(action: () => unknown) {
  const before = testMock.mock.journal.length;
  await action();
  return testMock.mock.journal.slice(before);
}

/** Whether two journaled calls were in progress at the same time (time is when each ended). */
function overlapped(a: { time: string; durationMs: number }, b: { time: string; durationMs: number }): boolean {
  const end = (e: typeof a) => Date.parse(e.time);
  return end(a) - a.durationMs < end(b) && end(b) - b.durationMs < end(a);
}

/** A Cloudflare location's Cache API, empty: what a fresh location offers. */
async function freshLocation(): Promise<Cache> {
  return caches.open(`location-${crypto.randomUUID()}`);
}

/** Delays the key set (a global fault: it is fetched without a user) and the user's own calls. */
function slowUpstream(user: Parameters<TestMock["mock"]["setUserScenario"]>[0], endpoints: Array<(typeof ENDPOINTS)[number]>, ms: number): () => void {
  const global = testMock.mock.globalScenario;
  testMock.mock.setGlobalScenario({ ...global, faults: [{ type: "delay", ms, endpoints: ["jwks/oauth"] }] });
  testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "delay", ms, endpoints }] });
  return () => testMock.mock.setGlobalScenario(global);
}

function stack(location: Cache | null = null) {
  // A fresh env object means fresh configuration and services: a cold isolate's caches.
  // `location` is the Cache API the isolate shares with others of its location (none by default).
  const env: Env = { ...testEnv };
  const { request } = testApp({ keySetCache: location });
  // The user's object makes the upstream calls: it is as cold (or warm) as the Worker here.
  wireObjects(objectServicesFrom(env, { keySetCache: location }));
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

/** A user flow launched and consented to in a browser; the callback not yet followed. */
async function launchedUserFlow() {
  const warm = stack();
  const prepared_ = await prepared(warm, "user");
  const started = (await (await warm.api("/v1/reauth/user", prepared_.body)).json()) as { launchUrl: string };
  const browser = warm.browser();
  const launch = await browser.get(started.launchUrl);
  const callback = (await browser.get(launch.headers.get("Location")!)).headers.get("Location")!;
  return { callback, cookies: browser.cookies, user: prepared_.user };
}

describe("upstream round trips per step", () => {
  it("cold: user start fetches the key set once besides its one call; warm: one call", async () => {
    const s = stack();
    const first = await prepared(s, "user");
    expect((await upstreamCalls(() => s.api("/v1/reauth/user", first.body))).sort()).toEqual(["jwks/oauth", "oauth/token/reference"]);
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
    const { callback, cookies, user } = await launchedUserFlow();
    // Same KV, new isolate caches: the callback lands on an isolate that never verified a token.
    const cold = stack();
    const coldBrowser = cold.browser();
    for (const [name, value] of cookies) coldBrowser.cookies.set(name, value);
    const restore = slowUpstream(user, ["oauth/token"], 120);
    try {
      const entries = await upstreamEntries(async () => expect((await coldBrowser.get(callback)).status).toBe(303));
      expect(entries.map((e) => e.endpoint).sort()).toEqual(["jwks/oauth", "oauth/token"]);
      // Both took 120 ms at the mock; in progress at once means one round trip, not two.
      expect(overlapped(entries[0]!, entries[1]!)).toBe(true);
    } finally {
      restore();
    }
  });

  it("cold: on a fresh isolate in a fresh location, user start fetches the key set beside its call, not after it", async () => {
    const s = stack(await freshLocation());
    const { user, body } = await prepared(s, "user");
    const restore = slowUpstream(user, ["oauth/token/reference"], 120);
    try {
      const entries = await upstreamEntries(async () => expect((await s.api("/v1/reauth/user", body)).status).toBe(201));
      expect(entries.map((e) => e.endpoint).sort()).toEqual(["jwks/oauth", "oauth/token/reference"]);
      expect(overlapped(entries[0]!, entries[1]!)).toBe(true);
    } finally {
      restore();
    }
  });

  it("cold isolate, warm location: the key set comes from the location's cache, so each step makes only its own calls", async () => {
    const location = await freshLocation();
    const first = stack(location);
    await first.api("/v1/reauth/user", (await prepared(first, "user")).body); // one isolate fetched the key set
    const second = stack(location); // another isolate of the same location
    expect(await upstreamCalls(async () => expect((await second.api("/v1/reauth/user", (await prepared(second, "user")).body)).status).toBe(201))).toEqual(["oauth/token/reference"]);
    const { callback, cookies } = await launchedUserFlow();
    const third = stack(location);
    const browser = third.browser();
    for (const [name, value] of cookies) browser.cookies.set(name, value);
    expect(await upstreamCalls(async () => expect((await browser.get(callback)).status).toBe(303))).toEqual(["oauth/token"]);
  });

  it("cold isolate, other location: a key set cached elsewhere is not seen", async () => {
    const first = stack(await freshLocation());
    await first.api("/v1/reauth/user", (await prepared(first, "user")).body);
    const elsewhere = stack(await freshLocation());
    const { body } = await prepared(elsewhere, "user");
    expect((await upstreamCalls(() => elsewhere.api("/v1/reauth/user", body))).sort()).toEqual(["jwks/oauth", "oauth/token/reference"]);
  });

  it("warm: reauth-status reads accounts and sync status in parallel, nothing else", async () => {
    const s = stack();
    const { user } = await prepared(s, "user");
    const calls = await upstreamCalls(() => s.api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`));
    expect(calls.sort()).toEqual(["permission-access/accounts", "permission-access/query"]);
  });
});

/** The object's RPC methods: every method on its prototype but the constructor and the alarm (not a call). */
const OBJECT_METHODS = Object.getOwnPropertyNames(UserObject.prototype).filter(
  (name) => name !== "constructor" && name !== "alarm" && typeof Object.getOwnPropertyDescriptor(UserObject.prototype, name)?.value === "function",
);

/** The user-object methods `action` called, in order (every object, every caller). */
async function objectCalls(action: () => unknown): Promise<string[]> {
  const calls: string[] = [];
  const prototype = UserObject.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const spies = OBJECT_METHODS.map((name) => {
    const original = prototype[name]!;
    return vi.spyOn(prototype, name).mockImplementation(function (this: unknown, ...args: unknown[]) {
      calls.push(name);
      return original.apply(this, args);
    });
  });
  try {
    await action();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return calls;
}

/** The guard: the step made exactly the one object call named. */
async function expectOneObjectCall(method: string, step: () => Response | Promise<Response>, status: number): Promise<void> {
  let answered: Response | undefined;
  const calls = await objectCalls(async () => (answered = await step()));
  expect(answered?.status, `${method}: ${await answered?.clone().text()}`).toBe(status);
  expect(calls, `object calls of the step expecting only ${method}`).toEqual([method]);
}

describe("user-object calls per step (at most one on any step's critical path)", () => {
  it("counts the object's RPC methods", () => {
    expect(OBJECT_METHODS).toEqual(expect.arrayContaining(["beginUserFlow", "beginAccountFlow", "launch", "completeUser", "completeAccount", "flow", "confirm", "reauthStatus", "readToken", "importToken"]));
    expect(OBJECT_METHODS).not.toContain("alarm");
  });

  for (const isolate of ["warm", "cold"] as const) {
    it(`${isolate} isolate: user start 1, account start 1, launch 1, user callback 1, account callback 1, flow read 1, confirm 1, reauth-status 1`, async () => {
      const setup = stack();
      if (isolate === "warm") await setup.api("/v1/reauth/user", (await prepared(setup, "user")).body); // the key set and the contract key, loaded
      const user = await prepared(setup, "user");
      const account = await prepared(setup, "account");
      // A flow awaiting confirmation: no token stored, the start passes the user's access token (identity `new`).
      const { user: newcomer, token: newcomerToken } = testMock.mock.createUser();
      const unconfirmed = (await (await setup.api("/v1/reauth/user", { userId: newcomer.id, returnTo: `${APP}/x`, userAccessToken: newcomerToken.accessToken.value })).json()) as { flowId: string; launchUrl: string };
      expect((await setup.browser().navigate(unconfirmed.launchUrl)).final.searchParams.get("status")).toBe("awaiting_confirmation");
      // Cold: a fresh env (configuration, services, the objects' services) for the steps measured.
      const s = isolate === "warm" ? setup : stack();

      let userStarted: { flowId: string; launchUrl: string } | undefined;
      await expectOneObjectCall("beginUserFlow", async () => {
        const response = await s.api("/v1/reauth/user", user.body);
        userStarted = (await response.clone().json()) as typeof userStarted;
        return response;
      }, 201);
      let accountStarted: { flowId: string; launchUrl: string } | undefined;
      await expectOneObjectCall("beginAccountFlow", async () => {
        const response = await s.api("/v1/reauth/account", account.body);
        accountStarted = (await response.clone().json()) as typeof accountStarted;
        return response;
      }, 201);

      for (const [kind, started, callbackMethod] of [["user", userStarted!, "completeUser"], ["account", accountStarted!, "completeAccount"]] as const) {
        const browser = s.browser();
        let launch: Response | undefined;
        await expectOneObjectCall("launch", async () => (launch = await browser.get(started.launchUrl)), 302);
        const consent = await browser.get(launch!.headers.get("Location")!); // at digi.me (the mock): no object call
        const callback = consent.headers.get("Location")!;
        expect(callback, kind).toContain(`/reauth/${kind}/callback`);
        await expectOneObjectCall(callbackMethod, () => browser.get(callback), 303);
        await expectOneObjectCall("flow", () => s.api(`/v1/flows/${started.flowId}`), 200);
      }
      await expectOneObjectCall("confirm", () => s.api(`/v1/flows/${unconfirmed.flowId}/confirm`, undefined, "POST"), 200);
      await expectOneObjectCall("reauthStatus", () => s.api(`/v1/users/${user.user.id}/reauth-status?sessionKey=${user.user.sessionKey}`), 200);
      await expectOneObjectCall("readToken", () => s.api(`/v1/users/${user.user.id}/token`), 200);
      // Reads through the edge, on a fresh token: the token from the object, digi.me from the Worker.
      const id = user.user.id;
      await expectOneObjectCall("readToken", () => s.api(`/v1/users/${id}/accounts?sessionKey=${user.user.sessionKey}`), 200);
      let session: { sessionKey: string } | undefined;
      await expectOneObjectCall("readToken", async () => {
        const response = await s.api(`/v1/users/${id}/sessions`, {});
        session = (await response.clone().json()) as typeof session;
        return response;
      }, 201);
      await expectOneObjectCall("readToken", () => s.api(`/v1/users/${id}/sessions/${session!.sessionKey}/files`), 200);
      const [file] = ((await (await s.api(`/v1/users/${id}/sessions/${user.user.sessionKey}/files`)).json()) as { fileList: Array<{ name: string }> }).fileList;
      expect(file).toBeDefined();
      await expectOneObjectCall("readToken", async () => {
        const response = await s.api(`/v1/users/${id}/sessions/${user.user.sessionKey}/files/${file!.name}`);
        await response.clone().arrayBuffer(); // the whole body: no object call while it streams either
        return response;
      }, 200);
    });
  }

  it("the guard fails a step that makes a second object call", async () => {
    const s = stack();
    const { body } = await prepared(s, "user");
    const started = (await (await s.api("/v1/reauth/user", body)).json()) as { launchUrl: string; flowId: string };
    // A launch that first reads the flow, as a second round trip to the object would.
    const launch = UserHandle.prototype.launch;
    const twice = vi.spyOn(UserHandle.prototype, "launch").mockImplementation(async function (this: UserHandle, flowId: string, presented?: string) {
      await this.flow(flowId);
      return launch.call(this, flowId, presented);
    });
    try {
      const browser = s.browser();
      expect(await objectCalls(() => browser.get(started.launchUrl))).toEqual(["flow", "launch"]);
      // The same browser launching again (302), through the guard: two calls fail it.
      await expect(expectOneObjectCall("launch", () => browser.get(started.launchUrl), 302)).rejects.toThrow(/object calls/);
    } finally {
      twice.mockRestore();
    }
  });
});
