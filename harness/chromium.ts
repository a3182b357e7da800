/**
 * The real-browser engine: Debian's Chromium driven by playwright-core. It
 * clicks through the mock's interactive consent page and saves a screenshot
 * when a step fails.
 */
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import type { ConsentAction, Navigation } from "./http-browser.ts";

/** Where Debian's chromium package installs the browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Flags for a headless Chromium on a machine with no outside network. */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Whether Chromium is installed. */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Why a test that needs Chromium is skipped (the note vitest shows beside the skip). */
export const NO_CHROMIUM = `Chromium is not installed (${CHROMIUM_PATH}; set CHROMIUM_PATH, or let .ci/run install Debian's chromium)`;

let shared: Promise<Browser> | undefined;

/** One Chromium for the whole run. */
export async function chromium(): Promise<Browser> {
  if (!shared) {
    const { chromium: launcher } = await import("playwright-core");
    shared = launcher.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  }
  return shared;
}

/** Closes the shared Chromium, if one was started. */
export async function closeChromium(): Promise<void> {
  if (shared) await (await shared).close();
  shared = undefined;
}

/** A Chromium navigation: where it ended, and a screenshot of that page. */
export interface ChromiumNavigation extends Navigation {
  screenshot?: Buffer;
}

/**
 * Opens `url` in a fresh browser context, acts on the consent page, and
 * waits until the browser reaches `returnTo`'s origin (answered by a stub, so
 * no application needs to run) or stops on another page. The caller keeps the
 * screenshot when the step fails.
 */
export async function chromiumNavigate(url: string, returnTo: string, action: ConsentAction, errorCode: string | undefined): Promise<ChromiumNavigation> {
  const context = await (await chromium()).newContext();
  const page = await context.newPage();
  const returnOrigin = new URL(returnTo).origin;
  let lastStatus: number | undefined;
  page.on("response", (response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) lastStatus = response.status();
  });
  await page.route(`${returnOrigin}/**`, (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<p>back at the application</p>" }));
  try {
    await page.goto(url, { timeout: 20_000 });
    if (action !== "follow" && new URL(page.url()).origin !== returnOrigin && (await page.locator("#approve").count()) > 0) {
      if (action === "deny") {
        if (errorCode !== undefined) await page.selectOption("#errorCode", errorCode);
        await page.click("#deny");
      } else {
        await page.click("#approve");
      }
    }
    // Not reaching returnTo is an outcome too (an error page): the step's expectations judge it.
    await page.waitForURL((u) => u.origin === returnOrigin, { timeout: 15_000 }).catch(() => undefined);
    const finalUrl = new URL(page.url());
    const screenshot = await page.screenshot({ fullPage: true });
    if (finalUrl.origin === returnOrigin) return { url: finalUrl, landed: true, screenshot };
    return { url: finalUrl, landed: false, status: lastStatus, body: await page.content(), screenshot };
  } finally {
    await context.close();
  }
}
