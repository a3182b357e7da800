import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, CHROMIUM_PATH, hasChromium, NO_CHROMIUM } from "../../harness/chromium.ts";
import { scenarioSchema } from "../../mock-server/scenarios.ts";
import { startStandaloneMock, type StandaloneMock } from "../../mock-server/standalone.ts";

let running: StandaloneMock;
let browser: Browser | undefined;

beforeAll(async () => {
  running = await startStandaloneMock({ port: 0 });
  if (hasChromium()) {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  }
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await running?.close();
});

const admin = (path: string, method = "GET", body?: unknown) =>
  fetch(`${running.origin}/__mock/${path}`, { method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

describe("the mock's control panel at /__mock/", () => {
  it("answers a browser with the HTML page and an API client with the admin JSON", async () => {
    const page = await fetch(`${running.origin}/__mock/`, { headers: { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("<title>Mock digi.me · control panel</title>");
    const json = await fetch(`${running.origin}/__mock/`);
    expect(json.headers.get("Content-Type")).toMatch(/json/);
    expect(await json.json()).toHaveProperty("apiBaseUrl", running.apiBaseUrl);
  });

  it("serves the users, their tokens, scenarios and armed faults as JSON for the page", async () => {
    await admin("users", "POST", { userId: "panel-json", scenario: { name: "failure", faults: [{ type: "delay", ms: 10, endpoints: ["oauth/token"], times: 2 }] } });
    const state = (await (await admin("state")).json()) as { users: Array<{ userId: string; scenarioScope: string; faults: unknown[]; tokens: Array<{ kind: string; state: string }> }> };
    const user = state.users.find((u) => u.userId === "panel-json")!;
    expect(user.scenarioScope).toBe("user");
    expect(user.faults).toEqual([{ type: "delay", endpoints: ["oauth/token"], remaining: 2, ms: 10 }]);
    expect(user.tokens.map((t) => `${t.kind} ${t.state}`).sort()).toEqual(["access valid", "refresh unused"]);
  });

  it("offers every scenario the schema knows, sdk-version-invalid included", async () => {
    const html = await (await fetch(`${running.origin}/__mock/`, { headers: { Accept: "text/html" } })).text();
    const offered = JSON.parse(/const names = (\[[^\]]*\]);/.exec(html)![1]!) as string[];
    expect(offered).toEqual(scenarioSchema.shape.name.unwrap().options);
    expect(offered).toContain("sdk-version-invalid");
  });

  it("in Chromium: shows a user's newest tokens and folds the earlier ones away, so the journal keeps its place", async ({ skip }) => {
    skip(!hasChromium(), NO_CHROMIUM);
    await admin("users", "POST", { userId: "panel-tokens" });
    for (let i = 0; i < 6; i++) expect((await admin("users/panel-tokens/token", "POST", {})).status).toBe(201);
    const page: Page = await browser!.newPage();
    try {
      await page.goto(`${running.origin}/__mock/`);
      const cell = page.locator('tr[data-user="panel-tokens"] td.tokens');
      await cell.waitFor();
      // One access and one refresh token in view; the 12 issued before folded, and folded they stay across the page's polls.
      expect(await cell.locator(".latest code").count()).toBe(2);
      expect(await cell.locator(".latest .tag").allTextContents()).toEqual(["access valid", "refresh unused"]);
      expect(await cell.locator("details summary").textContent()).toBe("12 issued before");
      expect(await cell.locator("details").getAttribute("open")).toBeNull();
      // Folded, the row is as tall as one with a single token pair: the journal below keeps its place.
      const rowHeight = () => page.locator('tr[data-user="panel-tokens"]').evaluate((el) => el.getBoundingClientRect().height);
      expect(await rowHeight()).toBeLessThan(100);
      await cell.locator("details summary").click();
      await page.waitForTimeout(1500); // past a refresh of the page
      expect(await cell.locator("details").getAttribute("open")).not.toBeNull();
      expect(await cell.locator("details code").count()).toBe(12);
      expect(await rowHeight()).toBeGreaterThan(100);
    } finally {
      await page.close();
    }
  }, 60_000);

  it("in Chromium: switches a user's scenario and shows the journal grow, live", async ({ skip }) => {
    skip(!hasChromium(), NO_CHROMIUM);
    await admin("users", "POST", { userId: "panel-user" });
    const page: Page = await browser!.newPage();
    try {
      await page.goto(`${running.origin}/__mock/`);
      const row = page.locator('tr[data-user="panel-user"]');
      await row.waitFor();
      const index = await page.locator("#users tr").evaluateAll((rows) => rows.findIndex((r) => r.getAttribute("data-user") === "panel-user"));
      await page.selectOption(`#user-scenario-${index}`, "failure");
      await page.click(`button[data-apply="${index}"]`);
      await expect.poll(() => running.mock.scenarioFor(running.mock.users.get("panel-user")).name).toBe("failure");
      await expect.poll(() => row.locator(".tag").first().textContent()).toBe("user");

      const before = await page.locator("tr.entry").count();
      await fetch(`${running.apiBaseUrl}jwks/oauth`);
      await fetch(`${running.apiBaseUrl}permission-access/accounts`); // unsigned: refused, and journaled so
      await expect.poll(() => page.locator("tr.entry").count(), { timeout: 5000 }).toBe(before + 2);
      await expect.poll(() => page.locator("#journal").textContent()).toContain("/v1.7/permission-access/accounts");
      await page.locator("tr.entry").first().click();
      await expect.poll(() => page.locator("#journal pre").count()).toBe(1);

      await page.selectOption("#journal-user", "panel-user");
      await expect.poll(() => page.locator("tr.entry").count()).toBe(0); // neither request named a user
    } finally {
      await page.close();
    }
  }, 60_000);
});
