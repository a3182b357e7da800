/**
 * `node scripts/screenshots.ts`: Chromium screenshots of every edge error page
 * and of the mock's control panel, into docs/screenshots/. Starts its own
 * stack on free ports; needs /usr/bin/chromium. Development only.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH, hasChromium } from "../harness/chromium.ts";
import { recoveryPage } from "../src/pages.ts";
import { mockAdmin } from "../harness/mock-admin.ts";
import { freePort, ROOT, startStack } from "../harness/stack.ts";

const OUT = join(ROOT, "docs", "screenshots");

async function main(): Promise<void> {
  if (!hasChromium()) throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}`);
  mkdirSync(OUT, { recursive: true });
  const appOrigin = `http://127.0.0.1:${await freePort()}`;
  const returnTo = `${appOrigin}/settings/digime`;
  const stack = await startStack({ returnOrigins: [appOrigin], timeoutMs: 2000, logLevel: "error", onOutput: (line) => process.env.SHOTS_VERBOSE && console.error(`[edge] ${line}`) });
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const edge = (path: string, method = "GET", body?: unknown) =>
    fetch(`${stack.edgeUrl}${path}`, { method, headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const mock = mockAdmin(stack.mock.origin);

  /** A mock user whose token the edge holds, and a started user flow launched by an HTTP client (which keeps the binding cookie). */
  async function launched(userId: string, scenario: Record<string, unknown> = { name: "success" }) {
    const created = (await (await mock.createUser({ userId, scenario })).json()) as { token: unknown };
    await edge(`/v1/users/${userId}/token`, "PUT", created.token);
    const started = (await (await edge("/v1/reauth/user", "POST", { userId, returnTo })).json()) as { flowId: string; launchUrl: string };
    const launch = await fetch(started.launchUrl, { redirect: "manual" });
    const cookie = launch.headers.getSetCookie()[0]!.split(";")[0]!;
    const consent = await fetch(launch.headers.get("Location")!, { redirect: "manual" });
    return { ...started, cookie, callback: consent.headers.get("Location")! };
  }
  /** Starts a user flow and opens its launch URL in a fresh Chromium (which then holds the binding cookie). */
  async function inChromium(userId: string, scenario: Record<string, unknown>): Promise<{ page: Page; flowId: string }> {
    const created = (await (await mock.createUser({ userId, scenario })).json()) as { token: unknown };
    await edge(`/v1/users/${userId}/token`, "PUT", created.token);
    const started = (await (await edge("/v1/reauth/user", "POST", { userId, returnTo })).json()) as { flowId: string; launchUrl: string };
    const context = await browser.newContext({ viewport: { width: 760, height: 520 } });
    const page = await context.newPage();
    await page.goto(started.launchUrl);
    return { page, flowId: started.flowId };
  }
  async function shot(page: Page, name: string, url?: string, fullPage = false): Promise<void> {
    if (url) await page.goto(url);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
    console.log(`docs/screenshots/${name}.png  ${page.url()}`);
  }

  try {
    const stranger = await browser.newContext({ viewport: { width: 760, height: 520 } });
    const page = await stranger.newPage();

    await shot(page, "edge-flow-not-found", `${stack.edgeUrl}/reauth/launch/AAAAAAAAAAAAAAAAAAAAAA`);
    const a = await launched("shots-a");
    await shot(page, "edge-truncated-link", a.launchUrl.slice(0, -6));
    await shot(page, "edge-damaged-link", `${stack.edgeUrl}/reauth/user/callback?flow=${a.flowId}`);
    await shot(page, "edge-browser-not-bound", a.callback);
    await shot(page, "edge-flow-bound-elsewhere", a.launchUrl);
    // The interactive consent page stops the browser; it then brings back a callback whose state is not the flow's.
    const s = await inChromium("shots-s", { name: "success", consent: "interactive" });
    await shot(s.page, "edge-state-mismatch", `${stack.edgeUrl}/reauth/user/callback?flow=${s.flowId}&success=true&state=not-the-state&code=c`);
    await fetch(a.callback, { redirect: "manual", headers: { Cookie: a.cookie } }); // completes the flow
    await shot(page, "edge-flow-completed", a.callback);
    await shot(page, "edge-method-not-allowed", `${stack.edgeUrl}/reauth/recover`);

    await shot((await inChromium("shots-b", { name: "success", faults: [{ type: "http-error", status: 503, endpoints: ["oauth/token"] }] })).page, "edge-upstream-error");
    await shot((await inChromium("shots-c", { name: "success", faults: [{ type: "hang", endpoints: ["oauth/token"] }] })).page, "edge-upstream-timeout");

    // The recovery page needs KV to fail after an exchange; its HTML is rendered as the edge renders it.
    const recovery = await stranger.newPage();
    await recovery.setContent(recoveryPage("q0Vx0t6wz7N3b1k2R9yH1Q", "sealed", { requestId: "5d1c2a8e-0b7f-4c1e-9a53-2f6a7c1d9e40" }));
    await shot(recovery, "edge-token-not-stored");

    // The control panel, with some traffic in its journal and one entry opened.
    await mock.setScenario({ name: "account-511", faults: [{ type: "delay", ms: 200, endpoints: ["permission-access/query"], times: 3 }] }, "shots-a");
    await launched("shots-d", { name: "failure", errorCode: "USER_CANCEL" });
    const panelContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const panel = await panelContext.newPage();
    await panel.goto(`${stack.mock.origin}/__mock/`);
    await panel.locator("tr.entry").first().waitFor();
    await panel.locator("tr.entry").nth(1).click();
    await panel.waitForTimeout(300);
    await shot(panel, "mock-control-panel", undefined, true);
  } finally {
    await browser.close();
    await stack.close();
  }
}

main().catch((error: unknown) => {
  console.error(`screenshots failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
