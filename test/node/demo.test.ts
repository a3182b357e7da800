import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoApp } from "../../scripts/demo-app.ts";
import { DEV_RETURN_SIGNING_SECRET, freePort, startStack, type Stack } from "../../scripts/stack.ts";

let stack: Stack;
let demo: Awaited<ReturnType<typeof startDemoApp>>;

beforeAll(async () => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  // As npm start runs it: the development entry, with /docs.
  stack = await startStack({ returnOrigins: [origin], timeoutMs: 2000, logLevel: "error", docs: true });
  demo = await startDemoApp({
    port,
    host: "127.0.0.1",
    edgeUrl: stack.edgeUrl,
    mockUrl: stack.mock.origin,
    apiKey: stack.apiKey,
    returnSigningSecret: DEV_RETURN_SIGNING_SECRET,
    webhooks: stack.webhooks,
  });
}, 120_000);
afterAll(async () => {
  await demo?.close();
  await stack?.close();
});

/** Presses a demo button and follows the redirects like a browser with a cookie jar. */
async function press(button: string): Promise<{ url: string; html: string }> {
  const jar = new Map<string, string>();
  const keep = (answer: Response) => {
    for (const line of answer.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  };
  let response = await fetch(`${demo.url}start/${button}`, { method: "POST", redirect: "manual" });
  keep(response); // the demo remembers the flow its session started
  let url = `${demo.url}start/${button}`;
  for (let hop = 0; hop < 10 && response.status >= 300 && response.status < 400; hop++) {
    url = new URL(response.headers.get("Location")!, url).toString();
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    response = await fetch(url, { redirect: "manual", headers: cookie ? { Cookie: cookie } : {} });
    keep(response);
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

  it("trusts the signed return only for the flow its session started, and shows the flow's verified webhook", async () => {
    const { url } = await press("user-success");
    const flowId = new URL(url).searchParams.get("flowId")!;
    // The webhook arrives about when the browser does; the page reloads until it is there.
    let html = "";
    for (let i = 0; i < 50 && !html.includes("flow.succeeded"); i++) {
      html = await (await fetch(url, { headers: { Cookie: `demo_flow=${flowId}` } })).text();
      if (!html.includes("flow.succeeded")) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(html).toContain("Signed return verified");
    expect(html).toMatch(/flow\.succeeded<\/code><\/td><td class="ok">signature valid/);
    const other = await (await fetch(url, { headers: { Cookie: "demo_flow=AAAAAAAAAAAAAAAAAAAAAA" } })).text();
    expect(other).toContain("Signed return NOT trusted (wrong_flow)");
    const tampered = new URL(url);
    tampered.searchParams.set("status", "failed");
    expect(await (await fetch(tampered, { headers: { Cookie: `demo_flow=${flowId}` } })).text()).toContain("Signed return NOT trusted (bad_signature)");
  }, 60_000);
});
