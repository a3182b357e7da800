import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { UserObject } from "../../src/users/object.ts";
import type { OutboundEvent } from "../../src/webhooks/outbox.ts";
import { APP, enrollUser, TestBrowser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { userObject } from "../support/objects.ts";

/**
 * Races forced by firing requests at once, or by an alarm that comes while a
 * callback is still talking to digi.me.
 */
const testMock = useTestMock();
const { api, request } = testApp();
const enrolled = () => enrollUser(testMock.mock, api);

async function storedToken(userId: string) {
  return ((await (await api(`/v1/users/${userId}/token`)).json()) as { token: { accessToken: { value: string }; refreshToken: { value: string } } }).token;
}

describe("races", () => {
  it("five concurrent callbacks for one flow: one exchange wins, every answer is the winner's outcome", async () => {
    const { user } = await enrolled();
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).json()) as { flowId: string; launchUrl: string };
    const browser = new TestBrowser(request);
    const launch = await browser.get(started.launchUrl);
    const callback = (await browser.get(launch.headers.get("Location")!)).headers.get("Location")!;
    const answers = await Promise.all(Array.from({ length: 5 }, () => browser.get(callback)));
    for (const answer of answers) {
      expect(answer.status).toBe(303);
      expect(new URL(answer.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    }
    const exchanges = testMock.mock.journal.filter((e) => e.endpoint === "oauth/token");
    expect(exchanges.filter((e) => e.status === 201)).toHaveLength(1);
    expect(testMock.mock.checkAccessToken((await storedToken(user.id)).accessToken.value, "dev-app_dev-contract").ok).toBe(true);
  });

  it("concurrent refreshes for one user leave a live refresh token stored", async () => {
    const { user } = await enrolled();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "invalid-token", recoverOnRefresh: true });
    const starts = await Promise.all(
      Array.from({ length: 3 }, () => api("/v1/reauth/account", { body: { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` } })),
    );
    expect(starts.map((s) => s.status)).toEqual([201, 201, 201]);
    const refreshes = testMock.mock.journal.filter((e) => e.endpoint === "oauth/token");
    // The user's object sent the refresh token once; the other starts waited for that refresh and used its token.
    expect(refreshes.map((e) => e.status)).toEqual([201]);
    const stored = await storedToken(user.id);
    expect(testMock.mock.refreshTokens.get(stored.refreshToken.value)?.used).toBe(false);
    expect(testMock.mock.checkAccessToken(stored.accessToken.value, "dev-app_dev-contract").ok).toBe(true);
  });

  it("concurrent starts for one user make independent flows that each complete", async () => {
    const { user } = await enrolled();
    const starts = await Promise.all(Array.from({ length: 8 }, (_, i) => api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x?n=${i}` } })));
    const flows = (await Promise.all(starts.map((s) => s.json()))) as Array<{ flowId: string; launchUrl: string }>;
    expect(new Set(flows.map((f) => f.flowId)).size).toBe(8);
    // Complete them in another order, each in its own browser: none disturbs another.
    for (const [i, flow] of [...flows.entries()].reverse()) {
      const { final } = await new TestBrowser(request).navigate(flow.launchUrl);
      expect(Object.fromEntries(final.searchParams)).toEqual({ n: String(i), flowId: flow.flowId, status: "succeeded", kind: "user", contractId: "dev-contract", identity: "confirmed", ts: expect.any(String), sig: expect.any(String) });
    }
  });

  it("two flows launched in one browser keep separate bindings", async () => {
    const { user } = await enrolled();
    const a = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/a` } })).json()) as { launchUrl: string };
    const b = (await (await api("/v1/reauth/account", { body: { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/b` } })).json()) as { launchUrl: string };
    const browser = new TestBrowser(request);
    const launchA = await browser.get(a.launchUrl);
    const launchB = await browser.get(b.launchUrl);
    const callbackA = (await browser.get(launchA.headers.get("Location")!)).headers.get("Location")!;
    const callbackB = (await browser.get(launchB.headers.get("Location")!)).headers.get("Location")!;
    expect((await browser.get(callbackB)).status).toBe(303);
    expect((await browser.get(callbackA)).status).toBe(303);
  });

  it("an expiry that comes while the callback is exchanging never announces the flow expired: it succeeds, once", async () => {
    // The flow's clock: started 599.5 s ago, so it expires (600 s) while its exchange is in flight.
    let clock = Date.now() - 599_500;
    const { api: apiAt, request: requestAt } = testApp({ now: () => clock });
    const { user } = await enrollUser(testMock.mock, apiAt);
    const started = (await (await apiAt("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).json()) as { flowId: string; launchUrl: string };
    const browser = new TestBrowser(requestAt);
    const launch = await browser.get(started.launchUrl);
    const callback = (await browser.get(launch.headers.get("Location")!)).headers.get("Location")!;
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "delay", ms: 1500, endpoints: ["oauth/token"] }] });
    const stub = userObject(user.id);
    const alarmEvents: OutboundEvent[] = [];
    await runInDurableObject(stub, (instance: UserObject) => {
      instance.publishAlarmEvents = async (events) => void alarmEvents.push(...events);
    });

    const answer = browser.get(callback); // passes the checks before the expiry, then waits on digi.me
    await new Promise((resolve) => setTimeout(resolve, 900)); // now past the flow's expiry, exchange still in flight
    clock = Date.now();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(alarmEvents).toEqual([]); // the alarm left the flow to its callback

    const response = await answer;
    expect(new URL(response.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    await runDurableObjectAlarm(stub);
    expect(alarmEvents.filter((e) => e.event.type === "flow.expired")).toEqual([]);
    expect(await (await apiAt(`/v1/flows/${started.flowId}`)).json()).toMatchObject({ status: "succeeded" });
  });
});
