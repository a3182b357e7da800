/**
 * Behaviours an outside mutation test of the guards found no test noticing,
 * each written as what a user (or the backend) would notice when the guard
 * goes: an old outcome read back as `expired`, a reload that spends the code
 * again, a read that expires a flow whose code is being exchanged, a second
 * refresh token never warned about, two contracts sharing a user's object,
 * a link scanner's HEAD completing a callback.
 *
 * The alarm runs on the real clock (Date.now), the requests on the app's
 * injected clock (test/objects/outcomes.test.ts explains the recorders).
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { scenarioSchema, type MockDigime, type MockUser } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { USER_KEYS, type FlowState } from "../../src/storage/user-store.ts";
import { userObjectName } from "../../src/users/client.ts";
import type { UserObject } from "../../src/users/object.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import type { OutboundEvent } from "../../src/webhooks/outbox.ts";
import { API_KEY, APP, EDGE, TestBrowser, testApp, testEnv, upToCallback } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { objectServicesFrom, restoreObjectWiringAfterEach, userObject, wireObjects } from "../support/objects.ts";
import { appWithWaitUntil, webhookEnv, type RecordingQueue } from "../support/webhooks.ts";

const testMock = useTestMock();
restoreObjectWiringAfterEach();
const FLOW_TTL_MS = parseConfig(testEnv).flowTtlSeconds * 1000;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Records the events the alarm of `userId`'s object publishes (instead of enqueuing them). */
async function recordAlarmEvents(userId: string): Promise<OutboundEvent[]> {
  const recorded: OutboundEvent[] = [];
  await runInDurableObject(userObject(userId), (instance: UserObject) => {
    instance.publishAlarmEvents = async (events) => void recorded.push(...events);
  });
  return recorded;
}

const typesOf = (events: OutboundEvent[]) => events.map((e) => e.event.type);

/** The event types the Worker enqueued (deliveries only). */
const enqueuedTypes = (queue: RecordingQueue) => queue.sent.filter((m) => m.body.kind === "deliver").map((m) => (m.body as DeliverMessage).type);

/** An app with webhooks on (a recording queue) and its own clock, and a browser for it. */
function appAt(now: () => number) {
  const { env: bindings, queue } = webhookEnv();
  const { request, settled } = appWithWaitUntil({ now });
  const call = (path: string, init: RequestInit = {}, over: Env = bindings) => request(path, init, over);
  const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    call(path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { Authorization: `Bearer ${API_KEY}`, ...(init.body === undefined ? {} : { "Content-Type": "application/json" }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  return { api, call, queue, settled, browser: () => new TestBrowser(call) };
}

type Api = ReturnType<typeof appAt>["api"];

async function enroll(api: Api, mock: MockDigime) {
  const { user, token } = mock.createUser({ accounts: 1 });
  expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token })).status).toBe(204);
  return { user, token };
}

async function started(response: Response): Promise<{ flowId: string; launchUrl: string; expiresAt: string }> {
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { flowId: string; launchUrl: string; expiresAt: string };
}

async function flowOf(api: Api, flowId: string): Promise<{ status: string }> {
  const response = await api(`/v1/flows/${flowId}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { status: string };
}

const exchanges = () => testMock.mock.journal.filter((e) => e.endpoint === "oauth/token");

describe("a finished flow past its outcome's hour, before the alarm forgets it", () => {
  it("reads back as what it ended as (or as gone), never as expired, and no flow.expired is ever sent", async () => {
    const { api, browser, queue, settled } = appAt(Date.now);
    const { user } = await enroll(api, testMock.mock);
    const recorded = await recordAlarmEvents(user.id);
    const { flowId, launchUrl } = await started(await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } }));
    const { final } = await browser().navigate(launchUrl);
    await settled();
    expect(final.searchParams.get("status")).toBe("succeeded");

    // The outcome was recorded an hour and a minute ago: its hour is over, the alarm has not run yet.
    await runInDurableObject(userObject(user.id), async (_instance, state) => {
      const key = USER_KEYS.flowPrefix + flowId;
      const flow = (await state.storage.get<FlowState>(key))!;
      expect(flow.status).toBe("succeeded");
      await state.storage.put(key, { ...flow, completedAt: Date.now() - HOUR_MS - 60_000 });
    });

    const read = await api(`/v1/flows/${flowId}`);
    await settled();
    expect([200, 404]).toContain(read.status);
    if (read.status === 200) expect(await read.json()).toMatchObject({ flowId, status: "succeeded" });

    await runDurableObjectAlarm(userObject(user.id)); // the alarm forgets it
    expect((await api(`/v1/flows/${flowId}`)).status).toBe(404);
    await settled();
    expect(typesOf(recorded)).not.toContain("flow.expired");
    expect(enqueuedTypes(queue).filter((t) => t.startsWith("flow."))).toEqual(["flow.succeeded"]);
  });
});

describe("reloading the callback of a flow awaiting confirmation", () => {
  it("sends the browser to the same signed return again, and never exchanges the spent code a second time", async () => {
    const { api, browser, settled } = appAt(Date.now);
    // No token stored; the backend passes the user's access token: the identity is `new`.
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    const { flowId, launchUrl } = await started(await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/back`, userAccessToken: token.accessToken.value } }));
    const b = browser();
    const callback = await upToCallback(b, launchUrl);

    const first = await b.get(callback);
    await settled();
    expect(first.status).toBe(303);
    const back = first.headers.get("Location")!;
    expect(new URL(back).searchParams.get("status")).toBe("awaiting_confirmation");
    expect(new URL(back).searchParams.get("identity")).toBe("new");

    const reload = await b.get(callback);
    await settled();
    expect(reload.status).toBe(303);
    expect(reload.headers.get("Location")).toBe(back);
    expect(exchanges()).toHaveLength(1);
    expect(await flowOf(api, flowId)).toMatchObject({ status: "awaiting_confirmation" });
  });
});

describe("reads of a flow whose callback is exchanging the code past the flow's expiry", () => {
  it("GET, a long poll, the launch link and confirm each leave it pending (or answer the callback's outcome), and it succeeds, never expired", async () => {
    // digi.me takes 5 s to exchange each code; the objects allow it (10 s deadline).
    wireObjects(objectServicesFrom({ ...testEnv, DIGIME_TIMEOUT_MS: "10000" }, { keySetCache: null }));
    const LEAD_MS = 2_000;
    let clock = Date.now() - FLOW_TTL_MS + LEAD_MS; // the flows expire about LEAD_MS from now, real time
    const { api, browser, queue, settled } = appAt(() => clock);
    // One flow per kind of read, each in its own user's object: a read that expired its flow shows on its own.
    const reads = ["GET", "long poll", "launch", "confirm"] as const;
    const flows = [];
    for (const read of reads) {
      const { user } = await enroll(api, testMock.mock);
      testMock.mock.setUserScenario(user, scenarioSchema.parse({ faults: [{ type: "delay", ms: 5_000, endpoints: ["oauth/token"], times: 1 }] }));
      const recorded = await recordAlarmEvents(user.id);
      const { flowId, launchUrl, expiresAt } = await started(await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } }));
      const b = browser();
      const callback = await upToCallback(b, launchUrl);
      flows.push({ read, user, recorded, flowId, launchUrl, due: Date.parse(expiresAt), b, callback });
    }
    const due = Math.max(...flows.map((f) => f.due));
    expect(Date.now(), "the launches took longer than the flows' lead").toBeLessThan(Math.min(...flows.map((f) => f.due)));

    // Each callback passes its checks before the expiry, then waits on digi.me.
    const answers = flows.map((f) => f.b.get(f.callback));
    await sleep(due - Date.now() + 200);
    clock = Date.now(); // the reads come after the flows' expiry, the exchanges still in flight
    expect(exchanges(), "an exchange ended before the reads").toEqual([]);

    const [get, poll, launch, confirm] = flows;
    await Promise.all([
      (async () => expect.soft(await flowOf(api, get!.flowId), "GET").toMatchObject({ status: "pending" }))(),
      (async () => {
        const polled = await api(`/v1/flows/${poll!.flowId}?wait=1`);
        expect.soft(polled.status, "long poll").toBe(200);
        expect.soft(await polled.json(), "long poll").toMatchObject({ status: "pending" });
      })(),
      (async () => {
        // The user's browser opens the launch link again: still on its way to digi.me, not "unknown or expired".
        const relaunch = await launch!.b.get(launch!.launchUrl);
        expect.soft(relaunch.status, "launch").toBe(302);
        expect.soft(relaunch.headers.get("Location"), "launch").toMatch(/^https:\/\/api\.digi\.me\//);
      })(),
      (async () => {
        // Nothing to confirm: still pending, or (confirm waits for the callback, one at a time per flow) the callback's outcome.
        const confirmed = await api(`/v1/flows/${confirm!.flowId}/confirm`, { method: "POST" });
        expect.soft(confirmed.status, "confirm").toBe(409);
        const { error } = (await confirmed.json()) as { error: { code: string; status: string } };
        expect.soft(error.code, "confirm").toBe("flow_not_awaiting_confirmation");
        expect.soft(["pending", "succeeded"], "confirm").toContain(error.status);
      })(),
    ]);

    const done = await Promise.all(answers);
    await settled();
    for (const [i, f] of flows.entries()) {
      expect(done[i]!.status, f.read).toBe(303);
      expect(new URL(done[i]!.headers.get("Location")!).searchParams.get("status"), f.read).toBe("succeeded");
      await runDurableObjectAlarm(userObject(f.user.id));
      expect(await flowOf(api, f.flowId), f.read).toMatchObject({ status: "succeeded" });
      expect(typesOf(f.recorded), f.read).not.toContain("flow.expired");
    }
    await settled();
    expect(enqueuedTypes(queue).filter((t) => t.startsWith("flow."))).toEqual(reads.map(() => "flow.succeeded"));
  }, 30_000);
});

describe("token.expiring per refresh token", () => {
  it("warns again about a new refresh token stored after the old one was warned about: two notices, one per refresh token", async () => {
    const { api } = appAt(Date.now);
    const userId = `renewed-${crypto.randomUUID().slice(0, 8)}`;
    const recorded = await recordAlarmEvents(userId);
    const { user } = testMock.mock.createUser({ userId, accounts: 1 });
    const old = testMock.mock.issueToken(user, { refreshTokenMs: 3 * DAY_MS });
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: old })).status).toBe(204);
    await runDurableObjectAlarm(userObject(user.id));
    expect(typesOf(recorded)).toEqual(["token.expiring"]);

    // The backend stores a new pair (refreshed on its side), whose refresh token also expires within the notice period.
    const current = await api(`/v1/users/${user.id}/token`);
    expect(current.status).toBe(200);
    const renewed = testMock.mock.issueToken(user, { refreshTokenMs: 2 * DAY_MS });
    expect(renewed.refreshToken.expiry).not.toBe(old.refreshToken.expiry);
    const put = await api(`/v1/users/${user.id}/token`, { method: "PUT", body: renewed, headers: { "If-Match": current.headers.get("ETag")! } });
    expect(put.status, await put.clone().text()).toBe(204);
    await runDurableObjectAlarm(userObject(user.id));
    await runDurableObjectAlarm(userObject(user.id));

    const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
    expect(recorded.map((e) => [e.event.type, (e.event.data as { refreshTokenExpiresAt?: string }).refreshTokenExpiresAt])).toEqual([
      ["token.expiring", iso(old.refreshToken.expiry)],
      ["token.expiring", iso(renewed.refreshToken.expiry)],
    ]);
  });
});

describe("one user id under two contracts", () => {
  it("reaches two different user objects: a token stored under one contract is not the other's", async () => {
    const namespace = (env as unknown as { USERS: DurableObjectNamespace<UserObject> }).USERS;
    const id = (name: string) => namespace.idFromName(name);
    // The names, written out: a change of userObjectName that drops the contract would merge them.
    expect.soft(id(userObjectName("c1", "u")).equals(id("user:v1:c1:u"))).toBe(true);
    expect.soft(id(userObjectName("c2", "u")).equals(id("user:v1:c2:u"))).toBe(true);
    expect.soft(id(userObjectName("c1", "u")).equals(id(userObjectName("c2", "u")))).toBe(false);

    // Two deployments (contracts) on one USERS namespace, the same user id.
    const userId = `two-contracts-${crypto.randomUUID().slice(0, 8)}`;
    const { token } = testMock.mock.createUser({ userId, accounts: 1 });
    const { request } = testApp();
    const asContract = (contractId: string) => (path: string, init: RequestInit = {}) =>
      request(path, { ...init, headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json", ...init.headers } }, { ...testEnv, DIGIME_CONTRACT_ID: contractId });
    const first = asContract("dev-contract");
    const second = asContract("second-contract");
    expect((await first(`/v1/users/${userId}/token`, { method: "PUT", body: JSON.stringify(token) })).status).toBe(204);
    expect((await first(`/v1/users/${userId}/token`)).status).toBe(200);
    expect((await second(`/v1/users/${userId}/token`)).status).toBe(404);
    const stored = (name: string) => runInDurableObject(namespace.get(id(name)), async (_instance, state) => (await state.storage.get(USER_KEYS.token)) !== undefined);
    expect(await stored(`user:v1:dev-contract:${userId}`)).toBe(true);
    expect(await stored(`user:v1:second-contract:${userId}`)).toBe(false);
  });
});

describe("HEAD on digi.me's callbacks (a link scanner)", () => {
  /**
   * Starts a flow (`path`, `body` for the user made here), follows it to digi.me's callback, and
   * sends a link scanner's HEAD there (with the browser's cookies, as a scanner in the user's
   * browser would): it must read nothing at digi.me, redirect nowhere and leave the flow
   * pending. Then the browser's GET: it must complete the flow. Answers the callback's URL and
   * the digi.me calls made from the HEAD on.
   */
  async function scannedThenCompleted(path: string, body: (user: MockUser) => Record<string, unknown>) {
    const { api, call, browser, settled } = appAt(Date.now);
    const { user } = await enroll(api, testMock.mock);
    const { flowId, launchUrl } = await started(await api(path, { body: { ...body(user), returnTo: `${APP}/done` } }));
    const b = browser();
    const callback = await upToCallback(b, launchUrl);

    const before = testMock.mock.journal.length;
    const scanned = await call(callback, { method: "HEAD", headers: { Cookie: [...b.cookies].map(([name, value]) => `${name}=${value}`).join("; ") } });
    await settled();
    expect(scanned.headers.get("Location")).toBeNull();
    expect(testMock.mock.journal.slice(before).map((e) => e.endpoint)).toEqual([]);
    expect(await flowOf(api, flowId)).toMatchObject({ status: "pending" });

    const answer = await b.get(callback);
    await settled();
    expect(answer.status).toBe(303);
    expect(new URL(answer.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    expect(await flowOf(api, flowId)).toMatchObject({ status: "succeeded" });
    return { callback, calls: testMock.mock.journal.slice(before).map((e) => e.endpoint) };
  }

  it("HEAD /reauth/user/callback exchanges nothing and leaves the flow pending; the browser's GET then completes it", async () => {
    const { callback } = await scannedThenCompleted("/v1/reauth/user", (user) => ({ userId: user.id }));
    expect(new URL(callback).pathname).toBe("/reauth/user/callback");
    expect(callback.startsWith(EDGE)).toBe(true);
    expect(exchanges()).toHaveLength(1);
  });

  it("HEAD /reauth/account/callback reads nothing at digi.me and leaves the flow pending; the browser's GET then completes it", async () => {
    const { callback, calls } = await scannedThenCompleted("/v1/reauth/account", (user) => ({ userId: user.id, accountId: user.accounts[0]!.id }));
    expect(new URL(callback).pathname).toBe("/reauth/account/callback");
    expect(calls).toEqual(["permission-access/accounts"]);
  });
});
