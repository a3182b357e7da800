/**
 * The pages a person's browser may see from the edge: one plain sentence, a
 * way back to the application when the flow is known, and the request id.
 */
import { describe, expect, it } from "vitest";
import { APP, TestBrowser, enrollUser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const { api, request } = testApp();

async function launchedFlow() {
  const { user } = await enrollUser(testMock.mock, api);
  const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/settings?tab=digime` } })).json()) as { flowId: string; launchUrl: string };
  const browser = new TestBrowser(request);
  const launch = await browser.get(started.launchUrl);
  const consent = await fetch(launch.headers.get("Location")!, { redirect: "manual" });
  return { ...started, browser, callback: consent.headers.get("Location")! };
}

function message(html: string): string {
  return /<p id="message">([^<]*)<\/p>/.exec(html)?.[1] ?? "";
}

describe("edge error pages", () => {
  it("shows a truncated launch link the expired-or-unknown page, not validation text", async () => {
    const { launchUrl } = await launchedFlow();
    const response = await request(launchUrl.slice(0, -5));
    expect(response.status).toBe(404);
    const html = await response.text();
    expect(message(html)).toMatch(/expired or is unknown/);
    expect(html).not.toMatch(/not a flow id|Invalid input|FlowId/i);
    expect(html).toContain("flow_not_found");
  });

  it.each([
    ["no parameters", ""],
    ["success missing", "flow=AAAAAAAAAAAAAAAAAAAAAA"],
    ["success not a boolean", "flow=AAAAAAAAAAAAAAAAAAAAAA&success=yes"],
  ])("shows a malformed callback (%s) one human sentence, never the validation text", async (_what, query) => {
    const response = await request(`/reauth/user/callback?${query}`);
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(message(html)).toBe("This link is incomplete or damaged. Please go back to the application and start again.");
    expect(html).not.toMatch(/Invalid input|expected string|Invalid option|received undefined/);
  });

  it("links back to the flow's returnTo and quotes the request id when the flow is known", async () => {
    const { callback } = await launchedFlow();
    const response = await new TestBrowser(request).get(callback); // another browser: not bound
    expect(response.status).toBe(403);
    const html = await response.text();
    expect(message(html)).toMatch(/completed in another browser than the one that started it/);
    expect(html).toContain(`<a class="back" id="back" href="${APP}/settings?tab=digime">Back to the application</a>`);
    const requestId = response.headers.get("X-Request-Id");
    expect(requestId).toBeTruthy();
    expect(html).toContain(`<code id="request-id">${requestId}</code>`);
    expect(html).toContain(`<code id="code">browser_not_bound</code>`);
  });

  it.each([
    ["GET /reauth/recover", "/reauth/recover", 405, "This page cannot be opened this way."],
    ["an unknown browser path", "/reauth/nowhere", 404, "There is no such page here."],
  ])("answers %s with a sentence for a person, not the API's message", async (_what, path, status, sentence) => {
    const response = await request(path);
    expect(response.status).toBe(status);
    const html = await response.text();
    expect(message(html)).toContain(sentence);
    expect(html).not.toMatch(/not allowed on this path|no such route/);
  });

  it("shows a user callback for an account flow the damaged-link sentence with the back link", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/account", { body: { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/back` } })).json()) as { flowId: string };
    const html = await (await request(`/reauth/user/callback?flow=${started.flowId}&success=true&state=s&code=c`)).text();
    expect(message(html)).toBe("This link is incomplete or damaged. Please go back to the application and start again.");
    expect(html).toContain(`href="${APP}/back"`);
    expect(html).not.toContain("account flow");
  });

  it("has no back link when the flow is unknown", async () => {
    const html = await (await request(`/reauth/launch/AAAAAAAAAAAAAAAAAAAAAA`)).text();
    expect(html).not.toContain('id="back"');
    expect(html).toContain('id="request-id"');
  });

  it("uses the same plain layout for every page", async () => {
    const { callback } = await launchedFlow();
    const pages = [await request(`/reauth/launch/AAAAAAAAAAAAAAAAAAAAAA`), await new TestBrowser(request).get(callback), await request(`/reauth/user/callback?flow=x`)];
    for (const page of pages) {
      const html = await page.text();
      expect(html).toMatch(/^<!doctype html><html lang="en">/);
      expect(html).toContain("<h1>We could not finish this step</h1>");
      expect(html).not.toMatch(/<script/i);
    }
  });
});

describe("edge error pages link to the application and back", () => {
  it("sends the flow's own browser from a reloaded launch link to the outcome once completed", async () => {
    const { launchUrl, browser, callback } = await launchedFlow();
    expect((await browser.get(callback)).status).toBe(303);
    const again = await browser.get(launchUrl);
    expect(again.status).toBe(302);
    expect(again.headers.get("Location")).toMatch(new RegExp(`^${APP}/settings\\?tab=digime&flowId=.+&status=succeeded&kind=user&contractId=dev-contract&identity=confirmed&ts=\\d+&sig=[\\w-]+$`)); // signed like the first return
    expect((await new TestBrowser(request).get(launchUrl)).status).toBe(409);
  });
});
