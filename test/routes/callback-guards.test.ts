/**
 * The browser callbacks' refusals that a hand-made mutation sweep found
 * unwatched (docs/mutation-sweep.md): each test breaks when its guard does.
 */
import { describe, expect, it } from "vitest";
import { APP, EDGE, TestBrowser, enrollUser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
let clock = Date.now();
const { api, request } = testApp({ now: () => clock });

async function startedFlow(kind: "user" | "account") {
  const { user } = await enrollUser(testMock.mock, api);
  const body = kind === "user" ? { userId: user.id, returnTo: `${APP}/back` } : { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/back` };
  const response = await api(`/v1/reauth/${kind}`, { body });
  expect(response.status).toBe(201);
  return { user, flow: (await response.json()) as { flowId: string; launchUrl: string } };
}

/** Launches in `browser` and returns the callback URL digi.me sends it to, unfollowed. */
async function launchToCallback(browser: TestBrowser, launchUrl: string): Promise<URL> {
  const launch = await browser.get(launchUrl);
  expect(launch.status).toBe(302);
  const consent = await browser.get(launch.headers.get("Location")!);
  expect(consent.status).toBe(302);
  return new URL(consent.headers.get("Location")!);
}

async function flowOf(flowId: string) {
  return (await (await api(`/v1/flows/${flowId}`)).json()) as { status: string; errorCode?: string };
}

describe("GET /reauth/user/callback refusals", () => {
  it("refuses a failure callback carrying another flow's state, and the flow stays pending", async () => {
    const a = await startedFlow("user");
    const b = await startedFlow("user");
    const browser = new TestBrowser(request);
    const callbackA = await launchToCallback(browser, a.flow.launchUrl);
    const callbackB = await launchToCallback(browser, b.flow.launchUrl);
    const forged = `${EDGE}/reauth/user/callback?flow=${a.flow.flowId}&success=false&errorCode=USER_CANCEL&state=${callbackB.searchParams.get("state")}`;
    const response = await browser.get(forged);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("state_mismatch");
    expect((await flowOf(a.flow.flowId)).status).toBe("pending");
    expect((await browser.get(callbackA.toString())).status).toBe(303);
    expect((await flowOf(a.flow.flowId)).status).toBe("succeeded");
  });

  it("keeps the flow pending when digi.me's token endpoint answers 500, so reloading the callback succeeds", async () => {
    const { user, flow } = await startedFlow("user");
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "http-error", status: 500, endpoints: ["oauth/token"], times: 1 }] } as never);
    const failed = await browser.get(callback.toString());
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await flowOf(flow.flowId)).status).toBe("pending");
    const retried = await browser.get(callback.toString());
    expect(retried.status).toBe(303);
    expect((await flowOf(flow.flowId)).status).toBe("succeeded");
  });

  it.each([
    ["a 64-character errorCode as it came", "E".repeat(64), "E".repeat(64)],
    ["a 65-character errorCode as UNKNOWN", "E".repeat(65), "UNKNOWN"],
    ["an errorCode with a space as UNKNOWN", "NO WAY", "UNKNOWN"],
  ])("records %s", async (_what, sent, recorded) => {
    const { flow } = await startedFlow("user");
    const browser = new TestBrowser(request);
    await launchToCallback(browser, flow.launchUrl);
    const response = await browser.get(`${EDGE}/reauth/user/callback?flow=${flow.flowId}&success=false&errorCode=${encodeURIComponent(sent)}`);
    expect(response.status).toBe(303);
    expect(new URL(response.headers.get("Location")!).searchParams.get("errorCode")).toBe(recorded);
    expect(await flowOf(flow.flowId)).toMatchObject({ status: "failed", errorCode: recorded });
  });
});

describe("GET /reauth/account/callback refusals", () => {
  it("refuses an account callback for a user flow, and the flow stays pending", async () => {
    const { flow } = await startedFlow("user");
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    const response = await browser.get(`${EDGE}/reauth/account/callback?flow=${flow.flowId}&success=true`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("wrong_callback");
    expect((await flowOf(flow.flowId)).status).toBe("pending");
    expect((await browser.get(callback.toString())).status).toBe(303);
  });
});

describe("GET /reauth/launch/:flowId cookie lifetime", () => {
  it("binds the browser even when launched in the flow's last second (Max-Age never 0, which would delete the cookie)", async () => {
    clock = Date.now();
    const { flow } = await startedFlow("user");
    const started = (await (await api(`/v1/flows/${flow.flowId}`)).json()) as { expiresAt: string };
    clock = Date.parse(started.expiresAt) - 400;
    try {
      const browser = new TestBrowser(request);
      const launch = await browser.get(flow.launchUrl);
      expect(launch.status).toBe(302);
      expect(launch.headers.get("Set-Cookie")).toMatch(/Max-Age=1;/);
      expect(browser.cookies.has(`__Host-reauth-${flow.flowId}`)).toBe(true);
    } finally {
      clock = Date.now();
    }
  });
});

describe("HTML pages", () => {
  it("may not be framed by another site (CSP frame-ancestors 'none')", async () => {
    const page = await new TestBrowser(request).get(`${EDGE}/reauth/user/callback?flow=${"A".repeat(22)}&success=true`);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(page.headers.get("Content-Security-Policy")).toMatch(/frame-ancestors 'none'/);
  });
});
