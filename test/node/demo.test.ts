import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, closeChromium, hasChromium, NO_CHROMIUM } from "../../harness/chromium.ts";
import { HttpBrowser } from "../../harness/http-browser.ts";
import { DEMO_PREVIEW_CHARS, DEMO_SYNC_WAIT_SECONDS, DEMO_USER, DEMO_WAIT_SECONDS, flowWebhooks, NEW_USER_ID, startDemoApp } from "../../scripts/demo-app.ts";
import { mockAdmin } from "../../harness/mock-admin.ts";
import type { ReceivedWebhook } from "../../harness/webhook-receiver.ts";
import { DEV_RETURN_SIGNING_SECRET, freePort, SCALAR_SCRIPT, startStack, type Stack } from "../../harness/stack.ts";

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
  await closeChromium();
  await demo?.close();
  await stack?.close();
});

/** Presses a demo button and follows the redirects like a browser with a cookie jar (the demo remembers the flow its session started). */
async function press(button: string): Promise<{ url: string; html: string }> {
  return pressAt(`start/${button}`);
}

/**
 * A user flow that succeeds, and its outcome page once it shows the flow's
 * webhook: it arrives about when the browser does, so the page reloads until
 * it is there (5 s at most).
 */
async function succeededWithWebhook(): Promise<{ url: string; flowId: string; html: string }> {
  const { url } = await press("user-success");
  const flowId = new URL(url).searchParams.get("flowId")!;
  let html = "";
  for (let i = 0; i < 50 && !html.includes("flow.succeeded"); i++) {
    html = await (await fetch(url, { headers: { Cookie: `demo_flow=${flowId}` } })).text();
    if (!html.includes("flow.succeeded")) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, flowId, html };
}

/** Posts a demo form at `path` and follows the redirects with a cookie jar (`browser`, to keep it). */
async function pressAt(path: string, browser = new HttpBrowser()): Promise<{ url: string; html: string }> {
  const url = `${demo.url}${path}`;
  const response = await browser.request(url, "POST");
  const location = response.headers.get("Location");
  if (!(response.status >= 300 && response.status < 400 && location)) return { url, html: await response.text() };
  const ended = await browser.navigate(new URL(location, url).toString(), "follow");
  return { url: ended.url.toString(), html: ended.body ?? "" };
}

describe("the development stack (npm start)", () => {
  it("serves the interactive API reference at /docs under wrangler dev, with Scalar's script from the installed package", async () => {
    const response = await fetch(`${stack.edgeUrl}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Security-Policy")).not.toContain("https:");
    const html = await response.text();
    expect(html).toContain("/openapi.json");
    const src = /<script src="([^"]+)"/.exec(html)![1]!;
    expect(src).toBe("/docs/scalar.js"); // src/dev-app.ts SCALAR_SCRIPT_PATH, on the edge's own origin
    const script = await fetch(new URL(src, stack.edgeUrl));
    expect(script.status).toBe(200);
    expect(script.headers.get("Content-Type")).toMatch(/javascript/);
    expect(Buffer.from(await script.arrayBuffer()).equals(readFileSync(SCALAR_SCRIPT))).toBe(true);
  });

  it("in Chromium: /docs renders the API reference with nothing fetched from another origin (works offline)", async ({ skip }) => {
    skip(!hasChromium(), NO_CHROMIUM);
    const context = await (await chromium()).newContext();
    try {
      const page = await context.newPage();
      const elsewhere: string[] = [];
      const refused: string[] = [];
      // Every request to another origin fails, as it would offline, and is recorded.
      await context.route((url) => url.origin !== new URL(stack.edgeUrl).origin && !url.protocol.startsWith("data"), (route) => {
        elsewhere.push(route.request().url());
        return route.abort("internetdisconnected");
      });
      page.on("console", (message) => {
        if (/Content.Security.Policy|Refused to/i.test(message.text())) refused.push(message.text());
      });
      await page.goto(`${stack.edgeUrl}/docs`);
      // Scalar rendered the document: an operation of the API is on the page.
      await page.getByText("/v1/reauth/user").first().waitFor({ timeout: 30_000 });
      expect(elsewhere).toEqual([]);
      expect(refused).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});

describe("the demo application", () => {
  it("shows a full authorization that brought another digi.me identity as something to look at, and a working reauth-status once confirmed", async () => {
    const { url, html } = await press("user-full-authorization");
    expect(new URL(url).searchParams.get("status")).toBe("awaiting_confirmation");
    expect(html).toContain('id="confirmation" class="warn"');
    expect(html).toMatch(/id="identity">replaced</);
    expect(html).not.toMatch(/id="outcome" class="ok"/);
    const flowId = new URL(url).searchParams.get("flowId")!;
    // Another browser session cannot confirm it.
    expect((await fetch(`${demo.url}flows/${flowId}/confirm`, { method: "POST" })).status).toBe(403);
    const confirmed = await fetch(`${demo.url}flows/${flowId}/confirm`, { method: "POST", headers: { Cookie: `demo_flow=${flowId}` } });
    const page = await confirmed.text();
    expect(confirmed.status).toBe(200);
    expect(page).toMatch(/id="status">succeeded</);
    expect(page).not.toContain("upstream_rejected");
    expect(page).not.toContain("session_not_found");
    expect(page).toMatch(/&#34;status&#34;: &#34;valid&#34;/);
  }, 60_000);

  it("still reads the demo user's own session after user reauthorization", async () => {
    const { url, html } = await press("user-success");
    expect(new URL(url).searchParams.get("status")).toBe("succeeded");
    expect(html).toMatch(/&#34;syncState&#34;: &#34;completed&#34;/);
  }, 60_000);

  it("shows after a user reauthorization the session the flow opened and the stored token's version and expiries, never the token's values", async () => {
    const { url, html } = await press("user-success");
    expect(new URL(url).searchParams.get("status")).toBe("succeeded");
    const read = (path: string) => fetch(`${stack.edgeUrl}${path}`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then((r) => r.json());
    const flow = (await read(`/v1/flows/${new URL(url).searchParams.get("flowId")}`)) as { session?: { key: string }; tokenVersion?: number };
    const stored = (await read("/v1/users/demo-user/token?minValidity=0")) as { version: number; token: { accessToken: { value: string }; refreshToken: { value: string } } };
    expect(flow.session?.key).toEqual(expect.any(String));
    expect(html).toContain(`<code id="session-key">${flow.session!.key}</code>`);
    expect(html).toMatch(/id="session-expiry">\d{4}-\d\d-\d\dT/);
    expect(stored.version).toEqual(expect.any(Number));
    expect(flow.tokenVersion).toBe(stored.version);
    expect(html).toContain(`<strong id="token-version">${stored.version}</strong>`);
    expect(html).toMatch(/id="access-expiry">\d{4}-\d\d-\d\dT[^<]+<\/span>, in <span id="access-expires-in">\d+<\/span> s/);
    expect(html).toMatch(/id="refresh-expiry">\d{4}-\d\d-\d\dT/);
    expect(html).not.toContain(stored.token.accessToken.value);
    expect(html).not.toContain(stored.token.refreshToken.value);
  }, 60_000);

  it("switches to dev-contract-2 and completes a user reauthorization there, the default contract's token untouched", async () => {
    const browser = new HttpBrowser();
    const read = (path: string) => fetch(`${stack.edgeUrl}${path}`, { headers: { Authorization: `Bearer ${stack.apiKey}` } }).then((r) => r.json());
    const before = (await read("/v1/users/demo-user/token?minValidity=0&contractId=dev-contract")) as { version: number };
    const index = await pressAt("contract?contractId=dev-contract-2", browser);
    expect(index.html).toContain('<code id="active-contract">dev-contract-2</code>');
    expect(index.html).toContain('<option value="dev-contract-2" selected>');
    expect(index.html).toContain("<code>demo-user.dev-contract-2</code>");
    const { url, html } = await pressAt("start/user-success", browser);
    expect(new URL(url).searchParams.get("status")).toBe("succeeded");
    expect(new URL(url).searchParams.get("contractId")).toBe("dev-contract-2");
    expect(html).toContain('<p id="signature" class="ok">');
    expect(html).toContain('<code id="active-contract">dev-contract-2</code>');
    const flow = (await read(`/v1/flows/${new URL(url).searchParams.get("flowId")}`)) as { contractId?: string; status?: string; tokenVersion?: number };
    expect(flow).toMatchObject({ contractId: "dev-contract-2", status: "succeeded" });
    const stored = (await read("/v1/users/demo-user/token?minValidity=0&contractId=dev-contract-2")) as { version: number };
    expect(stored.version).toBe(flow.tokenVersion);
    // The exchange was signed with contract 2's client id, for its own mock user; the default contract's token was left alone.
    const journal = (await (await mockAdmin(stack.mock.origin).journal({ userId: "demo-user.dev-contract-2" })).json()) as { entries: Array<{ endpoint: string; claims?: { client_id?: string } }> };
    expect(journal.entries.filter((e) => e.endpoint === "oauth/token").at(-1)?.claims?.client_id).toBe("dev-app_dev-contract-2");
    expect(((await read("/v1/users/demo-user/token?minValidity=0&contractId=dev-contract")) as { version: number }).version).toBe(before.version);
    // Back to the default: the page says so.
    expect((await pressAt("contract?contractId=dev-contract", browser)).html).toContain('<code id="active-contract">dev-contract</code>');
  }, 60_000);

  it("trusts the signed return only for the flow its session started, and shows the flow's verified webhook", async () => {
    const { url, flowId, html } = await succeededWithWebhook();
    expect(html).toContain("Signed return verified");
    expect(html).toMatch(/flow\.succeeded<\/code><\/td><td class="ok">signature valid/);
    const other = await (await fetch(url, { headers: { Cookie: "demo_flow=AAAAAAAAAAAAAAAAAAAAAA" } })).text();
    expect(other).toContain("Signed return NOT trusted (wrong_flow)");
    const tampered = new URL(url);
    tampered.searchParams.set("status", "failed");
    expect(await (await fetch(tampered, { headers: { Cookie: `demo_flow=${flowId}` } })).text()).toContain("Signed return NOT trusted (bad_signature)");
  }, 60_000);
});

describe("the demo's Read data (reads through the edge)", () => {
  /** The demo backend's JSON answer at `path` (with `cookie`). */
  async function backend(path: string, init: { method?: string; body?: unknown; cookie?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${demo.url}${path}`, {
      method: init.method ?? "GET",
      headers: { ...(init.body === undefined ? {} : { "Content-Type": "application/json" }), ...(init.cookie ? { Cookie: init.cookie } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** "Start a sync" as the page's script does it: start a session, poll the file list until the sync ends, then read the first file. */
  async function sync(userId: string, cookie?: string) {
    const started = await backend("data/sessions", { method: "POST", body: { userId }, cookie });
    expect(started).toMatchObject({ status: 200, body: { httpStatus: 201, sessionKey: expect.any(String) } });
    const key = started.body.sessionKey as string;
    const polls: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 15; i++) {
      const poll = await backend(`data/sessions/${key}/files?userId=${userId}`, { cookie });
      expect(poll.status).toBe(200);
      polls.push(poll.body);
      if (poll.body.state !== "pending" && poll.body.state !== "running") break;
    }
    const first = await backend(`data/sessions/${key}/first-file?userId=${userId}`, { cookie });
    return { polls, last: polls.at(-1)!, first: first.body };
  }

  const tokenValues = async (userId: string) => {
    const stored = (await (await fetch(`${stack.edgeUrl}/v1/users/${userId}/token?minValidity=0`, { headers: { Authorization: `Bearer ${stack.apiKey}` } })).json()) as { token: { accessToken: { value: string }; refreshToken: { value: string } } };
    return [stored.token.accessToken.value, stored.token.refreshToken.value];
  };

  it("shows on the outcome page the accounts read through the edge, a sync the page polls with wait, and the first file's content, escaped; never a token value", async () => {
    const { url, html } = await press("user-success");
    expect(new URL(url).searchParams.get("status")).toBe("succeeded");
    const section = /<section id="read-data">([\s\S]*?)<\/section>/.exec(html)![1]!;
    expect(section).toContain('<code id="read-user">demo-user</code>');
    expect(section.match(/<tr data-account="/g)).toHaveLength(3);
    expect(section.match(/<td class="ok">ok<\/td>/g)).toHaveLength(3);
    expect(section).not.toContain('class="reconnect"');
    expect(section).toContain('<button id="start-sync" type="button">');
    expect(section).toContain('fetch("/data/sessions"');
    expect(section).toContain(`files?wait=${DEMO_SYNC_WAIT_SECONDS}`);
    expect(section).toContain("first.innerHTML = file.html");

    const { last, first } = await sync(DEMO_USER);
    expect(last).toMatchObject({ httpStatus: 200, state: "completed" });
    expect((last.fileList as unknown[]).length).toBe(4);
    expect(first).toMatchObject({ httpStatus: 200, name: expect.stringMatching(/^18_1_demo-user_1\.json$/), contentType: "application/json", compression: "none", truncated: false });
    // The JSON content, escaped for the page.
    expect(first.html).toMatch(/<pre id="first-file-content">\[\{&#34;id&#34;:&#34;1_demo-user-1-1&#34;,&#34;text&#34;:&#34;Facebook post 1 of file 1&#34;\}/);
    for (const value of await tokenValues(DEMO_USER)) {
      expect(html).not.toContain(value);
      expect(JSON.stringify(last)).not.toContain(value);
    }
    // Another user's data is not this session's to read.
    expect((await backend("data/sessions", { method: "POST", body: { userId: "someone-else" } })).status).toBe(403);
    expect((await backend(`data/sessions/abc/files?userId=demo-new-00000000`)).status).toBe(403);
  }, 60_000);

  it("shows the first file escaped and truncated, whatever it holds", async () => {
    const admin = mockAdmin(stack.mock.origin);
    const name = "18_1_demo-user_1.json";
    const defaults = (n: number) => [1, 2].map((k) => ({ id: `1_demo-user-${n}-${k}`, text: `Facebook post ${k} of file ${n}` }));
    /** Puts the account's two files, the first one's content and compression given (a file put again goes last in the list: both, so the first stays first). */
    const put = async (first: unknown, compression: string) => {
      expect((await admin.call("users/demo-user/files", { accountId: "1_demo-user", name, content: first, compression }, "POST")).status).toBe(201);
      expect((await admin.call("users/demo-user/files", { accountId: "1_demo-user", name: "18_1_demo-user_2.json", content: defaults(2), compression: "gzip" }, "POST")).status).toBe(201);
    };
    const hostile = { text: `</pre><script>alert("x")</script>${"y".repeat(2 * DEMO_PREVIEW_CHARS)}` };
    await put(hostile, "gzip");
    try {
      const { first } = await sync(DEMO_USER);
      expect(first).toMatchObject({ name, compression: "gzip", truncated: true, characters: JSON.stringify(hostile).length });
      const html = first.html as string;
      expect(html).not.toContain("<script>");
      expect(html).toContain("&#60;/pre&#62;&#60;script&#62;alert(\\&#34;x\\&#34;)&#60;/script&#62;"); // the JSON's \" escaped for the page
      expect(html).toContain(`<span id="first-file-truncated">(the first ${DEMO_PREVIEW_CHARS} shown)</span>`);
      const shown = /<pre id="first-file-content">([\s\S]*)<\/pre>/.exec(html)![1]!;
      expect(shown.endsWith("\n…")).toBe(true);
      expect(shown).not.toContain("y".repeat(2 * DEMO_PREVIEW_CHARS));
    } finally {
      await put(defaults(1), "none");
    }
  }, 60_000);

  it("shows an account's 511 with a button that starts its reauthorization from the read's start, and after it the same read completes", async () => {
    const browser = new HttpBrowser();
    const seeded = await browser.request(`${demo.url}data/seed/account-511`, "POST");
    expect([seeded.status, seeded.headers.get("Location")]).toEqual([303, "/data"]);
    const page = await (await browser.request(`${demo.url}data`)).text();
    const row = /<tr data-account="1_demo-user">([\s\S]*?)<\/tr>/.exec(page)![1]!;
    expect(row).toContain("needs reauthorization: <strong>ServiceAuthorizationError</strong>");
    expect(row).toContain("start: <code>{&#34;userId&#34;:&#34;demo-user&#34;,&#34;accountId&#34;:&#34;1_demo-user&#34;}</code>");
    expect(row).toContain('<button id="reconnect-1_demo-user" class="reconnect">Reconnect Facebook');
    expect(page.match(/class="reconnect"/g)).toHaveLength(1);

    // The sync as it runs: the page's polls show it running, then partial with the account's reauthorization.
    const before = await sync(DEMO_USER);
    expect(before.polls.map((poll) => poll.state)).toContain("running");
    expect(before.last).toMatchObject({ state: "partial" });
    expect((before.last.accounts as Array<{ accountId: string; state: string; reauth: { needed: boolean; reason?: string } }>)[0]).toMatchObject({
      accountId: "1_demo-user",
      state: "partial",
      reauth: { needed: true, reason: "ServiceAuthorizationError" },
    });
    expect((before.last.fileList as unknown[]).length).toBe(2);

    // The button: the demo's backend reads the accounts again and posts that start body, with returnTo, to POST /v1/reauth/account.
    const form = (accountId: string, userId = DEMO_USER) => fetch(`${demo.url}data/reconnect`, { method: "POST", redirect: "manual", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ userId, accountId }) });
    expect((await form("1_demo-user", "someone-else")).status).toBe(403);
    expect((await form("2_demo-user")).status).toBe(409); // nothing to reconnect there
    const started = await form("1_demo-user");
    expect(started.status).toBe(303);
    const flowCookie = started.headers.getSetCookie()[0]!.split(";")[0]!;
    const landed = await new HttpBrowser(demo.url).navigate(started.headers.get("Location")!, "follow");
    expect(landed.landed).toBe(true);
    const html = await (await fetch(landed.url, { headers: { Cookie: flowCookie } })).text();
    const back = landed.url;
    expect([back.searchParams.get("status"), back.searchParams.get("kind")]).toEqual(["succeeded", "account"]);
    expect(html).toContain("Signed return verified");
    const after = /<section id="read-data">([\s\S]*?)<\/section>/.exec(html)![1]!;
    expect(after.match(/<td class="ok">ok<\/td>/g)).toHaveLength(3);
    expect(after).not.toContain('class="reconnect"');
    const again = await sync(DEMO_USER);
    expect(again.last).toMatchObject({ state: "completed" });
    expect((again.last.fileList as unknown[]).length).toBe(4);
  }, 90_000);

  it("connects a new user: POST /v1/authorize, awaiting_confirmation with identity new, the confirmation, then the user's data reads", async () => {
    const browser = new HttpBrowser();
    const { url, html } = await pressAt("connect", browser);
    const back = new URL(url);
    expect([back.searchParams.get("status"), back.searchParams.get("kind"), back.searchParams.get("identity")]).toEqual(["awaiting_confirmation", "authorize", "new"]);
    const userId = /<code id="user">([^<]+)<\/code>/.exec(html)![1]!;
    expect(userId).toMatch(NEW_USER_ID);
    expect(html).toContain(`Signed return verified: flow ${back.searchParams.get("flowId")} of ${userId}`);
    expect(html).toContain('id="confirmation" class="warn"');
    expect(html).toMatch(/id="identity">new</);
    expect(html).toContain('<p id="read-data-later">');
    expect(html).not.toContain('<table id="accounts">');
    // Nothing stored yet: the edge keeps no token for the user.
    expect((await fetch(`${stack.edgeUrl}/v1/users/${userId}/token`, { headers: { Authorization: `Bearer ${stack.apiKey}` } })).status).toBe(404);

    const flowId = back.searchParams.get("flowId")!;
    const cookie = `demo_flow=${flowId}; demo_user=${userId}`;
    const confirmed = await fetch(`${demo.url}flows/${flowId}/confirm`, { method: "POST", headers: { Cookie: cookie } });
    expect(confirmed.status).toBe(200);
    const page = await confirmed.text();
    expect(page).toMatch(/id="status">succeeded</);
    expect(page).toContain(`is now <code id="user">${userId}</code>'s`);
    expect(page).toMatch(/<strong id="token-version">\d+<\/strong>/);
    const section = /<section id="read-data">([\s\S]*?)<\/section>/.exec(page)![1]!;
    expect(section).toContain(`<code id="read-user">${userId}</code>`);
    expect(section.match(/<tr data-account="/g)!.length).toBeGreaterThanOrEqual(1);
    expect(section).not.toContain('class="reconnect"');
    for (const value of await tokenValues(userId)) expect(page).not.toContain(value);

    // The new user's data is this session's to read (its cookie), and no one else's.
    expect((await backend("data/sessions", { method: "POST", body: { userId } })).status).toBe(403);
    const { last, first } = await sync(userId, `demo_user=${userId}`);
    expect(last).toMatchObject({ httpStatus: 200, state: "completed" });
    expect(first).toMatchObject({ httpStatus: 200, contentType: "application/json" });
  }, 60_000);
});

describe("the demo's webhooks for a flow", () => {
  const at = (iso: string) => Date.parse(iso);
  const entry = (webhookId: string, type: string, data: Record<string, unknown>, timestamp: string): ReceivedWebhook => ({
    seq: 0,
    receivedAt: at(timestamp) + 50,
    webhookId,
    webhookTimestamp: "0",
    verified: true,
    answered: 204,
    type,
    flowId: data.flowId as string | undefined,
    userId: data.userId as string | undefined,
    event: { type, timestamp, data },
    rawBody: "{}",
    headers: {},
  });
  const flow = { flowId: "F1", userId: DEMO_USER, status: "succeeded", createdAt: "2030-01-01T00:00:10.000Z", completedAt: "2030-01-01T00:00:20.000Z", expiresAt: "2030-01-01T00:10:10.000Z" };
  const all = [
    entry("own", "flow.succeeded", { flowId: "F1", userId: DEMO_USER }, "2030-01-01T00:00:20.500Z"),
    entry("other-flow", "flow.succeeded", { flowId: "F0", userId: DEMO_USER }, "2030-01-01T00:00:15.000Z"),
    entry("before", "token.rotated", { userId: DEMO_USER }, "2030-01-01T00:00:09.999Z"),
    entry("during", "token.rotated", { userId: DEMO_USER }, "2030-01-01T00:00:12.000Z"),
    entry("during-refused", "token.refresh_failed", { userId: DEMO_USER }, "2030-01-01T00:00:13.000Z"),
    entry("during-other-user", "token.rotated", { userId: "someone-else" }, "2030-01-01T00:00:12.000Z"),
    entry("after", "token.rotated", { userId: DEMO_USER }, "2030-01-01T00:00:20.001Z"),
  ];
  const ids = (list: ReceivedWebhook[]) => list.map((e) => e.webhookId);

  it("are the flow's own events and the user's token events made between its start and its end", () => {
    expect(ids(flowWebhooks(all, flow, at("2030-01-01T00:05:00Z")))).toEqual(["own", "during", "during-refused"]);
    // Still pending (or awaiting confirmation): until now.
    expect(ids(flowWebhooks(all, { ...flow, status: "pending", completedAt: undefined }, at("2030-01-01T00:00:30Z")))).toEqual(["own", "during", "during-refused", "after"]);
    // Expired: until its expiresAt.
    expect(ids(flowWebhooks(all, { ...flow, status: "expired", completedAt: undefined }, at("2030-01-01T00:05:00Z")))).toEqual(["own", "during", "during-refused", "after"]);
    // A flow the edge does not answer (no createdAt): its own events only.
    expect(ids(flowWebhooks(all, { flowId: "F1" }, at("2030-01-01T00:05:00Z")))).toEqual(["own"]);
  });

  it("leaves out a token.rotated of the demo user from before the flow, and says which events it shows", async () => {
    // A refresh outside any flow: a token whose access token expires in a second, read once it has.
    const issued = (await (await mockAdmin(stack.mock.origin).newToken(DEMO_USER, { accessTokenLifetimeMs: 1000 })).json()) as { token: unknown };
    const edge = (path: string, init: RequestInit = {}) => fetch(`${stack.edgeUrl}${path}`, { ...init, headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json", ...init.headers } });
    const current = ((await (await edge(`/v1/users/${DEMO_USER}/token?minValidity=0`)).json()) as { version: number }).version;
    expect((await edge(`/v1/users/${DEMO_USER}/token`, { method: "PUT", body: JSON.stringify(issued.token), headers: { "If-Match": `"${current}"` } })).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const read = (await (await edge(`/v1/users/${DEMO_USER}/token?minValidity=0`)).json()) as { refreshed: boolean; version: number };
    expect(read.refreshed).toBe(true);
    const rotated = () => stack.webhooks.received.find((e) => e.type === "token.rotated" && e.userId === DEMO_USER && e.event?.data.version === read.version);
    for (let i = 0; i < 50 && !rotated(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const earlier = rotated()!;
    expect(earlier).toBeDefined();

    const { html } = await succeededWithWebhook();
    const table = /<div id="webhooks">([\s\S]*?)<\/div>/.exec(html)![1]!;
    expect(table).toContain("flow.succeeded");
    expect(table).not.toContain(earlier.webhookId);
    expect(table).not.toContain("token.rotated");
    expect(html).toContain('id="webhook-rule"');
    expect(html).toMatch(/<p id="webhook-rule"><small>Listed: the events whose <code>data\.flowId<\/code> is this flow, and the token events/);
  }, 60_000);
});

describe("the demo application with npm start --webhook-url", () => {
  it("says where the webhooks went instead of waiting for them", async () => {
    const other = await startDemoApp({
      port: await freePort(),
      host: "127.0.0.1",
      edgeUrl: stack.edgeUrl,
      mockUrl: stack.mock.origin,
      apiKey: stack.apiKey,
      returnSigningSecret: DEV_RETURN_SIGNING_SECRET,
      webhooksElsewhere: "http://127.0.0.1:4000/my-hooks",
    });
    try {
      expect(await (await fetch(other.url)).text()).toContain("Sent to <code>http://127.0.0.1:4000/my-hooks</code> (npm start --webhook-url): see them there.");
      // A flow run through the stack's demo (the allowed return origin), its landing shown by this one.
      const { url } = await press("user-success");
      const landing = new URL(url);
      const outcome = await fetch(`${other.url}return${landing.search}`, { headers: { Cookie: `demo_flow=${landing.searchParams.get("flowId")}` } });
      const html = await outcome.text();
      expect(html).toMatch(/id="status">succeeded</);
      expect(html).toContain('<div id="webhooks"><p>Sent to <code>http://127.0.0.1:4000/my-hooks</code>');
      expect(html).not.toContain('http-equiv="refresh"');
    } finally {
      await other.close();
    }
  }, 60_000);
});

describe("the demo's long poll (a backend without webhooks)", () => {
  /** Presses the watch button: the page, its session cookie, the flow and the launch URL. */
  async function watch(): Promise<{ html: string; cookie: string; flowId: string; launchUrl: string }> {
    const response = await fetch(`${demo.url}start/user-long-poll`, { method: "POST", redirect: "manual" });
    expect(response.status).toBe(200); // the page stays; digi.me opens in a new tab
    const cookie = response.headers.getSetCookie()[0]!.split(";")[0]!;
    const html = await response.text();
    const flowId = /<code id="flowId">([^<]+)<\/code>/.exec(html)![1]!;
    const launchUrl = /<a id="launch" href="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, "&");
    return { html, cookie, flowId, launchUrl };
  }

  it("holds the page's poll while the user is at digi.me and answers succeeded the moment the browser comes back", async () => {
    const { html, cookie, flowId, launchUrl } = await watch();
    expect(html).toContain('<strong id="live-status">pending</strong>');
    expect(html).toContain(`fetch("/flows/" + flowId + "/wait")`);
    expect(html).toContain(`?wait=${DEMO_WAIT_SECONDS}`);
    // Only the session that started the flow may watch it.
    expect((await fetch(`${demo.url}flows/${flowId}/wait`, { headers: { Cookie: "demo_flow=AAAAAAAAAAAAAAAAAAAAAA" } })).status).toBe(403);

    const sent = performance.now();
    const poll = fetch(`${demo.url}flows/${flowId}/wait`, { headers: { Cookie: cookie } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown>, at: performance.now() }));
    // Held at the edge: the user is still on digi.me's consent page (interactive).
    expect(await Promise.race([poll, new Promise((resolve) => setTimeout(() => resolve("held"), 800))])).toBe("held");
    const nav = await new HttpBrowser(demo.url).navigate(launchUrl, "approve");
    const back = performance.now();
    expect(nav.landed).toBe(true);
    expect(nav.url.searchParams.get("status")).toBe("succeeded");
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ httpStatus: 200, status: "succeeded" });
    expect(answer.body.heldMs as number).toBeGreaterThanOrEqual(800);
    // Answered when the flow ended (before the browser's last redirect, or just after), not when the 25 s ran out.
    expect(answer.at - back).toBeLessThan(2000);
    expect(answer.at - sent).toBeLessThan(DEMO_WAIT_SECONDS * 1000);
  }, 60_000);

  it("in Chromium: the page shows pending, the user approves in the new tab, and the page turns to succeeded", async ({ skip }) => {
    skip(!hasChromium(), NO_CHROMIUM);
    const context = await (await chromium()).newContext();
    try {
      const page = await context.newPage();
      await page.goto(demo.url);
      await Promise.all([page.waitForURL(/\/start\/user-long-poll$/), page.click("#user-long-poll")]);
      expect(await page.textContent("#live-status")).toBe("pending");
      await page.waitForFunction(() => document.querySelector("#polls li")?.textContent?.includes("held by the edge"));
      const [tab] = await Promise.all([context.waitForEvent("page"), page.click("#launch")]);
      await tab.click("#approve");
      await tab.waitForURL((u) => u.pathname === "/return");
      await page.waitForFunction(() => document.getElementById("live-status")?.textContent === "succeeded", undefined, { timeout: 5000 });
      expect(await page.textContent("#polls")).toMatch(/wait=25 → 200 succeeded after \d+\.\d s/);
      expect(await tab.textContent("#status")).toBe("succeeded");
    } finally {
      await context.close();
    }
  }, 60_000);
});
