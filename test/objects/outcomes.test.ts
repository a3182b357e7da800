/**
 * How flows end and what the backend hears (issue 17): a long poll answered
 * the moment a flow ends, expiry by the user object's alarm (once, and never
 * after or instead of a success), and the alarm's notices before and when a
 * user's refresh token runs out.
 *
 * The alarm runs on the real clock (Date.now), the requests on the app's
 * injected clock. A flow started with the app's clock a flow lifetime in the
 * past is due at once; workerd then fires the object's alarm by itself soon
 * after, so each test installs its recorder of the alarm's events before the
 * object has anything to do, and `runDurableObjectAlarm` runs whatever alarm
 * is left (a run that finds nothing due sends nothing).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { scenarioSchema, type IssuedToken, type MockDigime } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import type { OutboundEvent } from "../../src/webhooks/outbox.ts";
import { API_KEY, APP, TestBrowser, testEnv, upToCallback } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { keptFlowIds, objectServicesFrom, restoreObjectWiringAfterEach, userObject, wireObjects } from "../support/objects.ts";
import { appWithWaitUntil, webhookEnv, type RecordingQueue } from "../support/webhooks.ts";

const testMock = useTestMock();
restoreObjectWiringAfterEach();
const FLOW_TTL_MS = parseConfig(testEnv).flowTtlSeconds * 1000;
const DAY_S = 24 * 60 * 60;

/** Records the events the alarm of `userId`'s object publishes (instead of enqueuing them). */
async function recordAlarmEvents(userId: string): Promise<OutboundEvent[]> {
  const recorded: OutboundEvent[] = [];
  await runInDurableObject(userObject(userId), (instance) => {
    instance.publishAlarmEvents = async (events) => void recorded.push(...events);
  });
  return recorded;
}

const typesOf = (events: OutboundEvent[]) => events.map((e) => e.event.type);

/** The event types the Worker enqueued (deliveries only). */
const enqueuedTypes = (queue: RecordingQueue) => queue.sent.filter((m) => m.body.kind === "deliver").map((m) => (m.body as DeliverMessage).type);

/** An app with webhooks on (a recording queue) and its own clock, and a browser for it. */
function appAt(now: () => number) {
  const { env, queue } = webhookEnv();
  const { request, settled } = appWithWaitUntil({ now });
  const call = (path: string, init: RequestInit = {}, bindings: Env = env) => request(path, init, bindings);
  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    call(path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { Authorization: `Bearer ${API_KEY}`, ...(init.body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  return { api, call, queue, settled, browser: () => new TestBrowser(call) };
}

type Api = ReturnType<typeof appAt>["api"];

async function enroll(api: Api, mock: MockDigime, token?: (issued: IssuedToken) => IssuedToken) {
  const { user, token: issued } = mock.createUser({ accounts: 1 });
  const stored = token ? token(issued) : issued;
  expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: stored })).status).toBe(204);
  return { user, token: stored };
}

async function startUserFlow(api: Api, userId: string): Promise<{ flowId: string; launchUrl: string; expiresAt: string }> {
  const response = await api("/v1/reauth/user", { body: { userId, returnTo: `${APP}/done` } });
  expect(response.status).toBe(201);
  return (await response.json()) as { flowId: string; launchUrl: string; expiresAt: string };
}

async function statusOf(api: Api, flowId: string): Promise<string> {
  const response = await api(`/v1/flows/${flowId}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { status: string }).status;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** How far ahead of the real clock a "soon due" flow expires: time enough to launch it first. */
const LEAD_MS = 2_500;

describe("the long poll", () => {
  it("answers succeeded as soon as the browser completes the flow, well before the wait is over", async () => {
    const { api, browser } = appAt(Date.now);
    const { user } = await enroll(api, testMock.mock);
    const { flowId, launchUrl } = await startUserFlow(api, user.id);

    const asked = Date.now();
    let answeredAt: number | undefined;
    const poll = Promise.resolve(api(`/v1/flows/${flowId}?wait=5`)).then((response) => {
      answeredAt = Date.now();
      return response;
    });
    await sleep(400);
    expect(answeredAt, "the long poll answered a pending flow before its wait").toBeUndefined();

    const { final } = await browser().navigate(launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    const response = await poll;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ flowId, status: "succeeded" });
    expect(answeredAt! - asked).toBeLessThan(3_000);
  });

  it("answers pending after about the wait when the flow does not end, and refuses a wait over 25 s or not a number", async () => {
    const { api } = appAt(Date.now);
    const { user } = await enroll(api, testMock.mock);
    const { flowId } = await startUserFlow(api, user.id);

    const asked = Date.now();
    const response = await api(`/v1/flows/${flowId}?wait=1`);
    const took = Date.now() - asked;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ flowId, status: "pending" });
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(2_500);

    expect((await api(`/v1/flows/${flowId}?wait=26`)).status).toBe(400);
    expect((await api(`/v1/flows/${flowId}?wait=abc`)).status).toBe(400);
    const atOnce = Date.now();
    expect(await (await api(`/v1/flows/${flowId}?wait=0`)).json()).toMatchObject({ status: "pending" });
    expect(Date.now() - atOnce).toBeLessThan(900);
  });
});

describe("expiry by the user object's alarm", () => {
  it("expires a due flow once, with one flow.expired from the alarm", async () => {
    const past = Date.now() - FLOW_TTL_MS - 60_000; // the flow expired a minute ago
    const { api } = appAt(() => past);
    const { user } = await enroll(api, testMock.mock);
    const recorded = await recordAlarmEvents(user.id);
    const { flowId } = await startUserFlow(api, user.id);

    await runDurableObjectAlarm(userObject(user.id));
    // Read with the app's clock still in the past: the alarm expired it, not the read.
    expect(await statusOf(api, flowId)).toBe("expired");
    await runDurableObjectAlarm(userObject(user.id));
    expect(recorded.filter((e) => e.event.type === "flow.expired")).toEqual([
      { id: `msg_${flowId}_expired`, event: expect.objectContaining({ type: "flow.expired", data: expect.objectContaining({ flowId, userId: user.id, status: "expired" }) }) },
    ]);
    expect(typesOf(recorded)).toEqual(["flow.expired"]);
  });

  it("keeps nothing of a start digi.me refused: no flow to read, and the alarm never announces it expired", async () => {
    const past = Date.now() - FLOW_TTL_MS - 60_000; // had it been kept, it would be due now
    const { api } = appAt(() => past);
    const { user } = await enroll(api, testMock.mock);
    const recorded = await recordAlarmEvents(user.id);
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "http-error", status: 500, endpoints: ["oauth/token/reference"], times: 1 }] } as never);
    expect((await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).status).toBe(502);

    expect(await keptFlowIds(user.id)).toEqual([]);
    await runDurableObjectAlarm(userObject(user.id));
    expect(typesOf(recorded)).toEqual([]);
    // The next start works as usual.
    await startUserFlow(api, user.id);
  });

  it("refuses a callback that comes after the alarm expired the flow: a 404 page, the code never exchanged, no flow.succeeded", async () => {
    const startedAt = Date.now() - FLOW_TTL_MS + LEAD_MS; // due LEAD_MS from now, real time
    const { api, browser, queue, settled } = appAt(() => startedAt);
    const { user } = await enroll(api, testMock.mock);
    const recorded = await recordAlarmEvents(user.id);
    const { flowId, launchUrl, expiresAt } = await startUserFlow(api, user.id);
    const b = browser();
    const callback = await upToCallback(b, launchUrl);
    const due = Date.parse(expiresAt);
    expect(Date.now(), "the launch took longer than the flow's lead").toBeLessThan(due);

    await sleep(due - Date.now() + 100);
    await runDurableObjectAlarm(userObject(user.id));
    expect(await statusOf(api, flowId)).toBe("expired");

    const answer = await b.get(callback);
    await settled();
    expect(answer.status).toBe(404);
    expect(answer.headers.get("Content-Type")).toMatch(/text\/html/);
    expect(answer.headers.get("Location")).toBeNull();
    expect(await statusOf(api, flowId)).toBe("expired");
    expect(testMock.mock.journal.filter((e) => e.endpoint === "oauth/token")).toEqual([]);
    expect(typesOf(recorded)).toEqual(["flow.expired"]);
    expect(enqueuedTypes(queue)).not.toContain("flow.succeeded");
  });

  it("never announces a flow that succeeded as expired, however late the alarm runs", async () => {
    const startedAt = Date.now() - FLOW_TTL_MS + LEAD_MS;
    const { api, browser, queue, settled } = appAt(() => startedAt);
    const { user } = await enroll(api, testMock.mock);
    const recorded = await recordAlarmEvents(user.id);
    const { flowId, launchUrl, expiresAt } = await startUserFlow(api, user.id);
    const { final } = await browser().navigate(launchUrl);
    await settled();
    expect(final.searchParams.get("status")).toBe("succeeded");
    const due = Date.parse(expiresAt);
    expect(Date.now(), "the flow took longer than its lead").toBeLessThan(due);

    await sleep(due - Date.now() + 100);
    await runDurableObjectAlarm(userObject(user.id));
    await runDurableObjectAlarm(userObject(user.id));
    expect(await statusOf(api, flowId)).toBe("succeeded");
    expect(typesOf(recorded)).not.toContain("flow.expired");
    expect(enqueuedTypes(queue).filter((t) => t.startsWith("flow."))).toEqual(["flow.succeeded"]);
  });

  it("does not expire a flow whose callback is still exchanging the code when the alarm runs: it succeeds, never expired", async () => {
    // digi.me takes 5 s to exchange the code; the objects allow it (10 s deadline).
    wireObjects(objectServicesFrom({ ...testEnv, DIGIME_TIMEOUT_MS: "10000" }, { keySetCache: null }));
    const startedAt = Date.now() - FLOW_TTL_MS + LEAD_MS;
    const { api, browser, queue, settled } = appAt(() => startedAt);
    const { user } = await enroll(api, testMock.mock);
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ faults: [{ type: "delay", ms: 5_000, endpoints: ["oauth/token"], times: 1 }] }));
    const recorded = await recordAlarmEvents(user.id);
    const { flowId, launchUrl, expiresAt } = await startUserFlow(api, user.id);
    const b = browser();
    const callback = await upToCallback(b, launchUrl);
    const due = Date.parse(expiresAt);
    expect(Date.now(), "the launch took longer than the flow's lead").toBeLessThan(due);

    const answer = b.get(callback);
    await sleep(due - Date.now() + 200);
    await runDurableObjectAlarm(userObject(user.id)); // the flow is due, its code still being exchanged
    const done = await answer;
    await settled();
    expect(done.status).toBe(303);
    expect(new URL(done.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    await runDurableObjectAlarm(userObject(user.id));
    expect(await statusOf(api, flowId)).toBe("succeeded");
    expect(typesOf(recorded)).not.toContain("flow.expired");
    expect(enqueuedTypes(queue).filter((t) => t.startsWith("flow."))).toEqual(["flow.succeeded"]);
  }, 20_000);
});

describe("notices before and when a user's refresh token runs out", () => {
  const expiringIn = (seconds: number) => (issued: IssuedToken): IssuedToken => ({
    ...issued,
    refreshToken: { ...issued.refreshToken, expiry: Math.floor(Date.now() / 1000) + seconds },
  });

  it("sends one token.expiring for a refresh token that expires in 3 days, however often the alarm runs", async () => {
    const { api } = appAt(Date.now);
    const userId = `expiring-${crypto.randomUUID().slice(0, 8)}`;
    const recorded = await recordAlarmEvents(userId);
    const { user, token } = testMock.mock.createUser({ userId, accounts: 1 });
    const stored = expiringIn(3 * DAY_S)(token);
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: stored })).status).toBe(204);

    await runDurableObjectAlarm(userObject(user.id));
    await runDurableObjectAlarm(userObject(user.id));
    expect(recorded).toEqual([
      {
        id: expect.any(String),
        event: expect.objectContaining({
          type: "token.expiring",
          data: {
            contractId: "dev-contract",
            userId: user.id,
            refreshTokenExpiresAt: new Date(stored.refreshToken.expiry * 1000).toISOString(),
            accessTokenExpiresAt: new Date(stored.accessToken.expiry * 1000).toISOString(),
          },
        }),
      },
    ]);
  });

  it("sends token.expired (and no token.expiring) for a refresh token that has expired", async () => {
    const { api } = appAt(Date.now);
    const userId = `expired-${crypto.randomUUID().slice(0, 8)}`;
    const recorded = await recordAlarmEvents(userId);
    const { user, token } = testMock.mock.createUser({ userId, accounts: 1 });
    const stored = expiringIn(-DAY_S)(token);
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: stored })).status).toBe(204);

    await runDurableObjectAlarm(userObject(user.id));
    await runDurableObjectAlarm(userObject(user.id));
    expect(recorded).toEqual([
      {
        id: expect.any(String),
        event: expect.objectContaining({ type: "token.expired", data: { contractId: "dev-contract", userId: user.id, refreshTokenExpiresAt: new Date(stored.refreshToken.expiry * 1000).toISOString() } }),
      },
    ]);
  });

  it("warns 7 days ahead by default: a refresh token 8 days from expiry gets no notice now, its alarm is set for 7 days before", async () => {
    const { api } = appAt(Date.now);
    const userId = `later-${crypto.randomUUID().slice(0, 8)}`;
    const recorded = await recordAlarmEvents(userId);
    const { user, token } = testMock.mock.createUser({ userId, accounts: 1 });
    const stored = expiringIn(8 * DAY_S)(token);
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: stored })).status).toBe(204);

    const alarm = await runInDurableObject(userObject(user.id), (_instance, state) => state.storage.getAlarm());
    expect(alarm).toBe((stored.refreshToken.expiry - 7 * DAY_S) * 1000);
    await runDurableObjectAlarm(userObject(user.id)); // run now, a day before the notice is due
    expect(recorded).toEqual([]);
  });

  it("warns as far ahead as TOKEN_EXPIRING_NOTICE_SECONDS says", async () => {
    wireObjects(objectServicesFrom({ ...testEnv, TOKEN_EXPIRING_NOTICE_SECONDS: String(10 * DAY_S) }));
    const { api } = appAt(Date.now);
    const userId = `notice-${crypto.randomUUID().slice(0, 8)}`;
    const recorded = await recordAlarmEvents(userId);
    const { user, token } = testMock.mock.createUser({ userId, accounts: 1 });
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: expiringIn(8 * DAY_S)(token) })).status).toBe(204);

    await runDurableObjectAlarm(userObject(user.id));
    expect(typesOf(recorded)).toEqual(["token.expiring"]);
  });
});
