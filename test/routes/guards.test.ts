import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.ts";
import { API_KEY, APP, TestBrowser, enrollUser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

/**
 * Guards an adversarial review broke by hand without any test noticing
 * (issue 11, point 8): each is held here by a behaviour a user would notice.
 */
const testMock = useTestMock();
let clock = Date.now();
const { api, request } = testApp({ now: () => clock });

describe("FLOW_TTL_SECONDS", () => {
  it("gives a pending flow the configured lifetime, not the default", async () => {
    clock = Date.now();
    const env: Env = { ...testEnv, FLOW_TTL_SECONDS: "120" };
    const call = (path: string, body?: unknown) =>
      request(path, { method: body ? "POST" : "GET", headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined }, env);
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await call("/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x` })).json()) as { flowId: string; expiresAt: string; launchUrl: string };
    expect(Date.parse(started.expiresAt) - clock).toBe(120_000);
    const browser = new TestBrowser((path, init) => request(path, init, env));
    const launch = await browser.get(started.launchUrl);
    expect(launch.headers.get("Set-Cookie")).toMatch(/Max-Age=120;/);
    clock += 121_000; // past 120 s, well within the default 600 s
    expect(await (await call(`/v1/flows/${started.flowId}`)).json()).toMatchObject({ status: "expired" });
    expect((await browser.get(started.launchUrl)).status).toBe(404);
  });
});

describe("locale", () => {
  it.each(["en;x", "english-language-tag-too-long", "e", "en_US", "en-", "../en", "<b>"])("refuses %j at start and calls digi.me for nothing", async (locale) => {
    const { user } = await enrollUser(testMock.mock, api);
    for (const [path, body] of [
      ["/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x`, locale }],
      ["/v1/reauth/account", { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x`, locale }],
    ] as const) {
      const response = await api(path, { body });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_request", message: expect.stringContaining("locale") } });
    }
    expect(testMock.mock.journal).toHaveLength(0);
  });

  it("passes a valid language tag on to digi.me's page as lng", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x`, locale: "pt-BR" } })).json()) as { launchUrl: string };
    const launch = await new TestBrowser(request).get(started.launchUrl);
    expect(new URL(launch.headers.get("Location")!).searchParams.get("lng")).toBe("pt-BR");
  });
});

describe("GET /v1/users/:userId/reauth-status", () => {
  it("reads the accounts and the sync status at the same time, not one after the other", async () => {
    clock = Date.now();
    const { user } = await enrollUser(testMock.mock, api);
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "delay", ms: 150, endpoints: ["permission-access/accounts", "permission-access/query"] }] });
    const before = testMock.mock.journal.length;
    expect((await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`)).status).toBe(200);
    // Each journal entry is written when the mock answers; its duration says when it arrived.
    const reads = testMock.mock.journal.slice(before).map((e) => ({ endpoint: e.endpoint, end: Date.parse(e.time), start: Date.parse(e.time) - e.durationMs }));
    expect(reads.map((r) => r.endpoint).sort()).toEqual(["permission-access/accounts", "permission-access/query"]);
    const [first, second] = reads.sort((a, b) => a.end - b.end) as [(typeof reads)[0], (typeof reads)[0]];
    expect(second.start, "the second read only started after the first had been answered").toBeLessThan(first.end - 50);
  });
});
