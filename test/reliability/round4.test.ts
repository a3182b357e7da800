/**
 * Reliability, round 4 (issue 25): nothing digi.me issued is lost to a storage
 * fault, every transition is announced once (the alarm's included, and it
 * never spins), a user can be erased and reads of unknown users leave no
 * ghost objects, and the takeover of a KV record opens it first.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { scenarioSchema, type MockDigime } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { Sealer } from "../../src/storage/crypto.ts";
import { USER_KEYS } from "../../src/storage/user-store.ts";
import { EXCHANGE_RECHECK_MS } from "../../src/users/alarm.ts";
import { UserObject } from "../../src/users/object.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import type { OutboundEvent } from "../../src/webhooks/outbox.ts";
import { WebhookEventSchema, type WebhookEvent } from "../../src/webhooks/events.ts";
import { getServices } from "../../src/services.ts";
import { APP, apiCaller, TestBrowser, testEnv, upToCallback } from "../support/app.ts";
import { faultyKv } from "../support/faulty-kv.ts";
import { useTestMock } from "../support/mock.ts";
import { faultyStorage, objectServicesFrom, restoreObjectWiringAfterEach, userObject, wireObjects, type StorageFault } from "../support/objects.ts";
import { quietConsole } from "../support/quiet.ts";
import { appWithWaitUntil, webhookEnv } from "../support/webhooks.ts";

const testMock = useTestMock();
quietConsole();
restoreObjectWiringAfterEach();
const FLOW_TTL_MS = parseConfig(testEnv).flowTtlSeconds * 1000;

/** An edge with webhooks on, on `now`, with the objects' storage failing as `faults` says; its events readable. */
function edge(options: { now?: () => number; env?: Partial<Env> } = {}) {
  const faults: StorageFault[] = [];
  const { env, queue } = webhookEnv(options.env);
  // The objects talk to digi.me on the real clock (the mock checks request timestamps); the Worker's clock
  // (`now`) is what the requests tell them. A copy of the bindings gets the objects services of their own.
  wireObjects({ ...objectServicesFrom({ ...env } as Env), ...faultyStorage(faults) });
  const { request, settled } = appWithWaitUntil(options.now ? { now: options.now } : {});
  const call = (path: string, init?: RequestInit) => request(path, init, env);
  // getServices memoises per bindings: built here as the Worker's middleware builds them.
  const services = getServices(parseConfig(env), env, { webhookQueue: env.WEBHOOK_QUEUE, ...(options.now ? { now: options.now } : {}) });
  const events = async (): Promise<WebhookEvent[]> => {
    await settled();
    const sent = queue.sent.filter((m) => m.body.kind === "deliver").map((m) => m.body as DeliverMessage);
    return Promise.all(sent.map(async (m) => WebhookEventSchema.parse(JSON.parse(await services.webhooks.openPayload(m)))));
  };
  return { env, faults, call, api: apiCaller(call), browser: () => new TestBrowser(call), events };
}

type Edge = ReturnType<typeof edge>;

/** The sealed token a recovery page carries. */
function sealedOf(html: string): string {
  const match = /name="sealed" value="([^"]+)"/.exec(html);
  expect(match, "a recovery page with its form").not.toBeNull();
  return match![1]!.replace(/&#43;/g, "+").replace(/&#x2F;/g, "/").replace(/&amp;/g, "&").replace(/&quot;/g, '"');
}

async function recover(e: Edge, browser: TestBrowser, flowId: string, sealed: string): Promise<Response> {
  const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  return e.call("/reauth/recover", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie }, body: new URLSearchParams({ flow: flowId, sealed }).toString() });
}

const exchanges = (mock: MockDigime) => mock.journal.filter((j) => j.endpoint === "oauth/token" && j.claims?.grant_type === "authorization_code");
const statusOf = async (e: Edge, flowId: string) => ((await (await e.api(`/v1/flows/${flowId}`)).json()) as { status: string }).status;

describe("nothing digi.me issued is lost", () => {
  it("answers the recovery page when the flow's outcome cannot be written after the token was stored; a reload never exchanges the code again, and recovery ends the flow succeeded with that token, never failed", async () => {
    const e = edge();
    const { user, token: old } = testMock.mock.createUser({ accounts: 1 });
    await e.api(`/v1/users/${user.id}/token`, { method: "PUT", body: old });
    const { flowId, launchUrl } = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { flowId: string; launchUrl: string };
    const browser = e.browser();
    const callback = await upToCallback(browser, launchUrl);
    // The token write works; the outcome's write fails (twice: the callback and its reload).
    e.faults.push({ op: "put", prefix: USER_KEYS.flowPrefix, times: 2 });
    const first = await browser.get(callback);
    expect(first.status).toBe(503);
    const sealed = sealedOf(await first.text());
    const stored = ((await (await e.api(`/v1/users/${user.id}/token`)).json()) as { token: { accessToken: { value: string } } }).token;
    expect(stored.accessToken.value).not.toBe(old.accessToken.value);
    // A reload of the callback uses the token the edge holds, not the spent code.
    expect((await browser.get(callback)).status).toBe(503);
    expect(exchanges(testMock.mock)).toHaveLength(1);
    const recovered = await recover(e, browser, flowId, sealed);
    expect(recovered.status).toBe(303);
    expect(new URL(recovered.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    expect(await statusOf(e, flowId)).toBe("succeeded");
    expect(exchanges(testMock.mock)).toHaveLength(1);
    const types = (await e.events()).map((event) => event.type);
    expect(types).not.toContain("flow.failed");
    expect(types.filter((t) => t === "flow.succeeded")).toHaveLength(1);
  });

  it("answers the recovery page when an awaiting-confirmation outcome cannot be written, and recovery ends the flow awaiting confirmation with nothing stored under the user", async () => {
    const e = edge();
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    // No token stored: the backend passes its own, so digi.me's identity is `new`.
    const { flowId, launchUrl } = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done`, userAccessToken: token.accessToken.value } })).json()) as {
      flowId: string;
      launchUrl: string;
    };
    const browser = e.browser();
    const callback = await upToCallback(browser, launchUrl);
    e.faults.push({ op: "put", prefix: USER_KEYS.flowPrefix, times: 1 });
    const first = await browser.get(callback);
    expect(first.status).toBe(503);
    const recovered = await recover(e, browser, flowId, sealedOf(await first.text()));
    expect(recovered.status).toBe(303);
    expect(new URL(recovered.headers.get("Location")!).searchParams.get("status")).toBe("awaiting_confirmation");
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(404);
    expect(exchanges(testMock.mock)).toHaveLength(1);
    expect(await (await e.api(`/v1/flows/${flowId}/confirm`, { method: "POST" })).json()).toMatchObject({ status: "succeeded", identity: "new" });
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(200);
  });

  it("answers the recovery page again, with the same token, when KV fails at 'Try again'", async () => {
    const kv = faultyKv(testEnv.REAUTH_KV);
    const e = edge({ env: { REAUTH_KV: kv.kv } });
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    await e.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
    const { flowId, launchUrl } = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { flowId: string; launchUrl: string };
    const browser = e.browser();
    const callback = await upToCallback(browser, launchUrl);
    e.faults.push({ op: "put", prefix: USER_KEYS.token, times: 1 });
    const page = await browser.get(callback);
    expect(page.status, await page.clone().text()).toBe(503);
    const sealed = sealedOf(await page.text());
    kv.faults.push({ op: "get", times: 1 });
    const again = await recover(e, browser, flowId, sealed);
    expect(again.status, await again.clone().text()).toBe(503);
    expect(sealedOf(await again.text())).toBe(sealed);
    const recovered = await recover(e, browser, flowId, sealed);
    expect(recovered.status).toBe(303);
    expect(await statusOf(e, flowId)).toBe("succeeded");
  });

  it("confirms a flow with its token and its outcome in one write: a failed confirm leaves neither, and a retry does both", async () => {
    const e = edge();
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    const { flowId, launchUrl } = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done`, userAccessToken: token.accessToken.value } })).json()) as {
      flowId: string;
      launchUrl: string;
    };
    const { final } = await e.browser().navigate(launchUrl);
    expect(final.searchParams.get("status")).toBe("awaiting_confirmation");
    // The outcome's part of the write fails: the token must not be stored without it.
    e.faults.push({ op: "put", prefix: USER_KEYS.flowPrefix, times: 1 });
    expect((await e.api(`/v1/flows/${flowId}/confirm`, { method: "POST" })).status).toBe(503);
    expect(await statusOf(e, flowId)).toBe("awaiting_confirmation");
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(404);
    expect((await e.api(`/v1/flows/${flowId}/confirm`, { method: "POST" })).status).toBe(200);
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(200);
  });
});

/** Records the events the alarm of `userId`'s object publishes. */
async function recordAlarmEvents(userId: string): Promise<OutboundEvent[]> {
  const recorded: OutboundEvent[] = [];
  await runInDurableObject(userObject(userId), (instance) => {
    instance.publishAlarmEvents = async (events) => void recorded.push(...events);
  });
  return recorded;
}

/**
 * A user flow started on a clock set so that it expires `expiresInMs` from now, launched up
 * to digi.me's callback, whose code exchange digi.me will hold `heldMs`.
 */
async function exchangeHeldPastExpiry({ expiresInMs, heldMs }: { expiresInMs: number; heldMs: number }) {
  const e = edge({ now: () => Date.now() - FLOW_TTL_MS + expiresInMs });
  const { user, token } = testMock.mock.createUser({ accounts: 1 });
  await e.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
  const { launchUrl } = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { launchUrl: string };
  const browser = e.browser();
  const callback = await upToCallback(browser, launchUrl);
  testMock.mock.setUserScenario(user, scenarioSchema.parse({ faults: [{ type: "delay", ms: heldMs, endpoints: ["oauth/token"], times: 1 }] }));
  return { user, browser, callback };
}

describe("the alarm", () => {
  it("announces every expired flow exactly once when its second flow's write fails once and the alarm is retried", async () => {
    const e = edge();
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    const recorded = await recordAlarmEvents(user.id);
    await e.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
    const flowIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      flowIds.push(((await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/${i}` } })).json()) as { flowId: string }).flowId);
    }
    // All three due now, in one run of the alarm (held back from running by itself until the test runs it).
    await runInDurableObject(userObject(user.id), async (_instance, state) => {
      for (const [key, flow] of await state.storage.list<{ expiresAt: number }>({ prefix: USER_KEYS.flowPrefix })) await state.storage.put(key, { ...flow, expiresAt: Date.now() - 1_000 });
      await state.storage.setAlarm(Date.now() + 3_600_000);
    });
    // The alarm's second write of a flow fails, once: the run fails after expiring one flow.
    e.faults.push({ op: "put", prefix: USER_KEYS.flowPrefix, skip: 1, times: 1 });
    await expect(runDurableObjectAlarm(userObject(user.id))).rejects.toThrow();
    expect(recorded.filter((r) => r.event.type === "flow.expired")).toHaveLength(1);
    // The runtime retries a failed alarm; here, the test does.
    await runInDurableObject(userObject(user.id), (_instance, state) => state.storage.setAlarm(Date.now() + 3_600_000));
    await runDurableObjectAlarm(userObject(user.id));
    const expired = recorded.filter((r) => r.event.type === "flow.expired").map((r) => (r.event.data as { flowId: string }).flowId);
    expect(expired.sort()).toEqual([...flowIds].sort());
  });

  it("does not spin while a callback exchanges past the flow's expiry: it runs again only after its recheck", async () => {
    // The flow expires about 0.8 s from now; its exchange is held 1.8 s (the edge's deadline is 2 s).
    const { browser, callback } = await exchangeHeldPastExpiry({ expiresInMs: 800, heldMs: 1_800 });
    const runs = vi.spyOn(UserObject.prototype, "alarm");
    const answer = await browser.get(callback);
    expect(answer.status).toBe(303);
    // One run at the expiry (which leaves the busy flow alone), perhaps one recheck: never a loop.
    expect(runs.mock.calls.length).toBeLessThanOrEqual(2);
    runs.mockRestore();
  });

  it("looks again at a flow it met exchanging after its recheck, not at the token's next notice", async () => {
    // The flow expires about 0.3 s from now; its exchange is held 1.5 s.
    const { user, browser, callback } = await exchangeHeldPastExpiry({ expiresInMs: 300, heldMs: 1_500 });
    const runs = vi.spyOn(UserObject.prototype, "alarm");
    const answered = browser.get(callback);
    // The alarm rang at the expiry and left the exchanging flow alone…
    await vi.waitFor(() => expect(runs).toHaveBeenCalled(), { timeout: 1_200, interval: 20 });
    await vi.waitFor(async () => expect(await runInDurableObject(userObject(user.id), (_instance, state) => state.storage.getAlarm())).not.toBe(null), { timeout: 500, interval: 20 });
    // …and set itself to look again within the recheck: were the callback to die, the flow would still end.
    const at = await runInDurableObject(userObject(user.id), (_instance, state) => state.storage.getAlarm());
    expect(at).toBeLessThanOrEqual(Date.now() + EXCHANGE_RECHECK_MS);
    expect((await answered).status).toBe(303);
    runs.mockRestore();
  });

  it("reports confirmBy on the flow.expired of a flow that expired awaiting confirmation", async () => {
    const e = edge({ now: () => Date.now() - 2 * FLOW_TTL_MS - 60_000 });
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    const recorded = await recordAlarmEvents(user.id);
    const started = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done`, userAccessToken: token.accessToken.value } })).json()) as { flowId: string; launchUrl: string };
    // Completed in time (by the past clock), never confirmed.
    const { final } = await e.browser().navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("awaiting_confirmation");
    await runDurableObjectAlarm(userObject(user.id));
    const expired = recorded.find((r) => r.event.type === "flow.expired");
    expect(expired?.event.data).toMatchObject({ flowId: started.flowId, confirmBy: expect.any(String) });
  });
});

describe("erasure, and no ghosts", () => {
  it("DELETE /v1/users/{userId} erases the token, the flows and the object's storage; a pending flow ends failed / USER_ERASED, its browser gets the not-found page, and its code is never exchanged", async () => {
    const e = edge();
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    await e.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
    const { flowId, launchUrl } = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { flowId: string; launchUrl: string };
    const browser = e.browser();
    const callback = await upToCallback(browser, launchUrl);
    expect((await e.api(`/v1/users/${user.id}`, { method: "DELETE" })).status).toBe(204);
    const failed = (await e.events()).find((event) => event.type === "flow.failed");
    expect(failed?.data).toMatchObject({ flowId, errorCode: "USER_ERASED" });
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(404);
    const page = await browser.get(callback);
    expect(page.status).toBe(404);
    expect(exchanges(testMock.mock)).toHaveLength(0);
    const kept = await runInDurableObject(userObject(user.id), async (_instance, state) => ({ keys: [...(await state.storage.list()).keys()], alarm: await state.storage.getAlarm() }));
    expect(kept).toEqual({ keys: [], alarm: null });
    // A user the edge never knew: 204 as well.
    expect((await e.api(`/v1/users/never-${crypto.randomUUID()}`, { method: "DELETE" })).status).toBe(204);
  });

  it("keeps no storage in the object of a user the edge does not know, whatever is read", async () => {
    const e = edge();
    const userId = `unknown-${crypto.randomUUID()}`;
    expect((await e.api(`/v1/users/${userId}/token`)).status).toBe(404);
    expect((await e.api(`/v1/users/${userId}/reauth-status`)).status).toBe(404);
    expect((await e.api(`/v1/users/${userId}/accounts`)).status).toBe(404);
    expect((await e.api(`/v1/users/${userId}/sessions/abc/files`)).status).toBe(404);
    const kept = await runInDurableObject(userObject(userId), async (_instance, state) => ({ keys: [...(await state.storage.list()).keys()], alarm: await state.storage.getAlarm() }));
    expect(kept).toEqual({ keys: [], alarm: null });
  });
});

describe("the takeover of a KV token record", () => {
  async function legacyRecord(userId: string, sealedFor: string, token: unknown) {
    const key = `token:v1:${encodeURIComponent(sealedFor)}`;
    const sealer = new Sealer(parseConfig(testEnv).encryptionKeys);
    const record = { v: 1, sealed: await sealer.seal(JSON.stringify(token), key), accessTokenExpiry: 2_000_000_000, refreshTokenExpiry: 2_000_000_000, updatedAt: Date.now() };
    await testEnv.REAUTH_KV.put(`token:v1:${encodeURIComponent(userId)}`, JSON.stringify(record), { expirationTtl: 3600 });
  }

  it("leaves a record that does not open (sealed for another user) in KV, logged, and answers as for no token", async () => {
    const e = edge();
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    await legacyRecord(user.id, `someone-else-${user.id}`, token);
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(404);
    expect((await e.api(`/v1/users/${user.id}/reauth-status`)).status).toBe(404);
    expect(await testEnv.REAUTH_KV.get(`token:v1:${encodeURIComponent(user.id)}`)).not.toBeNull();
  });

  it("answers the call when the KV delete fails, and deletes the record at the next call", async () => {
    const kv = faultyKv(testEnv.REAUTH_KV);
    const e = edge();
    wireObjects(objectServicesFrom({ ...e.env, REAUTH_KV: kv.kv } as Env));
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    await legacyRecord(user.id, user.id, token);
    kv.faults.push({ op: "delete", times: 1 });
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(200);
    expect(await testEnv.REAUTH_KV.get(`token:v1:${encodeURIComponent(user.id)}`)).not.toBeNull();
    expect((await e.api(`/v1/users/${user.id}/token`)).status).toBe(200);
    expect(await testEnv.REAUTH_KV.get(`token:v1:${encodeURIComponent(user.id)}`)).toBeNull();
  });
});

describe("a flow's outcome is readable for its hour", () => {
  it("keeps the flow's start entry until an hour after the latest a flow can end, confirmation included", async () => {
    const e = edge();
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    await e.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
    const before = Math.floor(Date.now() / 1000);
    const { flowId } = (await (await e.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { flowId: string };
    const [listed] = (await testEnv.REAUTH_KV.list({ prefix: `flow:v2:${flowId}` })).keys;
    // Expiry + the confirmation's flow TTL + the outcome's hour.
    expect(listed?.expiration).toBeGreaterThanOrEqual(before + (2 * FLOW_TTL_MS) / 1000 + 3600);
  });
});
