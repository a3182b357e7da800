/**
 * HEAD on the launch link, against the real local stack (wrangler dev): a
 * link scanner's HEAD must not bind the flow and lock the user's browser out
 * (issue 18, item 6). Hono answers a HEAD with the GET route, so the browser
 * routes answer HEAD themselves (src/routes/browser.ts); without that, this
 * test fails: the HEAD sets the binding cookie.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../harness/stack.ts";

const RETURN_TO = "http://127.0.0.1:9/done";
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ returnOrigins: [new URL(RETURN_TO).origin], logLevel: "error", webhooks: false });
}, 120_000);
afterAll(() => stack?.close());

async function json(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method, headers: { "Content-Type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
}

describe("HEAD /reauth/launch/{flowId} on the local stack", () => {
  it("binds nothing: the user's browser launches the flow after a link scanner's HEAD", async () => {
    const userId = `head-${crypto.randomUUID().slice(0, 8)}`;
    const created = (await (await json("POST", `${stack.mock.origin}/__mock/users`, { userId })).json()) as { token: unknown };
    const auth = { Authorization: `Bearer ${stack.apiKey}` };
    expect((await json("PUT", `${stack.edgeUrl}/v1/users/${userId}/token`, created.token, auth)).status).toBe(204);
    const started = (await (await json("POST", `${stack.edgeUrl}/v1/reauth/user`, { userId, returnTo: RETURN_TO }, auth)).json()) as { launchUrl: string };

    const scanner = await fetch(started.launchUrl, { method: "HEAD", redirect: "manual" });
    console.warn("DEBUG", scanner.status, JSON.stringify([...scanner.headers]));
    expect(scanner.headers.get("Set-Cookie")).toBeNull();
    expect(scanner.headers.get("Location")).toBeNull();

    const user = await fetch(started.launchUrl, { redirect: "manual" });
    expect(user.status).toBe(302);
    expect(user.headers.get("Location")).toMatch(/\/user-reauth\?code=/);
  }, 60_000);
});
