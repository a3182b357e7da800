import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoApp } from "../../scripts/demo-app.ts";
import { freePort, startStack, type Stack } from "../../scripts/stack.ts";

let stack: Stack;
let demo: Awaited<ReturnType<typeof startDemoApp>>;

beforeAll(async () => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  // As npm start runs it: the development entry, with /docs.
  stack = await startStack({ returnOrigins: [origin], timeoutMs: 2000, logLevel: "error", docs: true });
  demo = await startDemoApp({ port, host: "127.0.0.1", edgeUrl: stack.edgeUrl, mockUrl: stack.mock.origin, apiKey: stack.apiKey });
}, 120_000);
afterAll(async () => {
  await demo?.close();
  await stack?.close();
});

/** Presses a demo button and follows the redirects like a browser with a cookie jar. */
async function press(button: string): Promise<{ url: string; html: string }> {
  const jar = new Map<string, string>();
  let response = await fetch(`${demo.url}start/${button}`, { method: "POST", redirect: "manual" });
  let url = `${demo.url}start/${button}`;
  for (let hop = 0; hop < 10 && response.status >= 300 && response.status < 400; hop++) {
    url = new URL(response.headers.get("Location")!, url).toString();
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    response = await fetch(url, { redirect: "manual", headers: cookie ? { Cookie: cookie } : {} });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  }
  return { url, html: await response.text() };
}

describe("the development stack (npm start)", () => {
  it("serves the interactive API reference at /docs under wrangler dev", async () => {
    const response = await fetch(`${stack.edgeUrl}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Security-Policy")).toContain("https://cdn.jsdelivr.net");
    expect(await response.text()).toContain("/openapi.json");
  });
});

describe("the demo application", () => {
  it("shows a working reauth-status after full authorization (the new digi.me user's session, not the old one)", async () => {
    const { url, html } = await press("user-full-authorization");
    expect(new URL(url).searchParams.get("status")).toBe("succeeded");
    expect(html).not.toContain("upstream_rejected");
    expect(html).not.toContain("session_not_found");
    expect(html).toMatch(/&#34;status&#34;: &#34;valid&#34;/);
  }, 60_000);

  it("still reads the demo user's own session after user reauthorization", async () => {
    const { url, html } = await press("user-success");
    expect(new URL(url).searchParams.get("status")).toBe("succeeded");
    expect(html).toMatch(/&#34;syncState&#34;: &#34;completed&#34;/);
  }, 60_000);
});
