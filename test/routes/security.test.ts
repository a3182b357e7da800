import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { log } from "../../src/log.ts";
import { API_KEY, APP, EDGE, SECOND_API_KEY, TestBrowser, testApp, testEnv } from "../support/app.ts";
import { startMock, type TestMock } from "../support/mock.ts";

let testMock: TestMock;
let clock = Date.now();
const { api, request } = testApp({ now: () => clock });

beforeAll(async () => {
  testMock = await startMock();
});
afterAll(() => testMock.stop());
afterEach(() => {
  clock = Date.now();
  return testMock.mock.reset();
});

async function enrolledUser() {
  const { user, token } = testMock.mock.createUser();
  expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token })).status).toBe(204);
  return { user, token };
}

async function startedFlow(kind: "user" | "account" = "user") {
  const { user, token } = await enrolledUser();
  const body = kind === "user" ? { userId: user.id, returnTo: `${APP}/back` } : { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/back` };
  const response = await api(`/v1/reauth/${kind}`, { body });
  expect(response.status).toBe(201);
  const flow = (await response.json()) as { flowId: string; launchUrl: string };
  return { user, token, flow };
}

/** Launches in `browser` and returns the callback URL digi.me sends it to, without following it. */
async function launchToCallback(browser: TestBrowser, launchUrl: string): Promise<string> {
  const launch = await browser.get(launchUrl);
  expect(launch.status).toBe(302);
  const consent = await browser.get(launch.headers.get("Location")!);
  expect(consent.status).toBe(302);
  return consent.headers.get("Location")!;
}

async function flowStatus(flowId: string) {
  return ((await (await api(`/v1/flows/${flowId}`)).json()) as { status: string }).status;
}

async function storedAccessToken(userId: string) {
  return ((await (await api(`/v1/users/${userId}/token`)).json()) as { token: { accessToken: { value: string } } }).token.accessToken.value;
}

function expectHtmlError(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
  expect(response.headers.get("Location")).toBeNull();
}

describe("callback state and flow checks", () => {
  it("refuses a success callback whose state is missing, and consumes nothing", async () => {
    const { user, token, flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = new URL(await launchToCallback(browser, flow.launchUrl));
    const withoutState = new URL(callback);
    withoutState.searchParams.delete("state");
    const response = await browser.get(withoutState.toString());
    expectHtmlError(response, 400);
    expect(await response.text()).toContain("state_mismatch");
    expect(await flowStatus(flow.flowId)).toBe("pending");
    expect(await storedAccessToken(user.id)).toBe(token.accessToken.value);
    const good = await browser.get(callback.toString());
    expect(good.status).toBe(303);
    expect(await flowStatus(flow.flowId)).toBe("succeeded");
  });

  it("refuses a state from another flow", async () => {
    const a = await startedFlow();
    const b = await startedFlow();
    const browser = new TestBrowser(request);
    const callbackA = new URL(await launchToCallback(browser, a.flow.launchUrl));
    const callbackB = new URL(await launchToCallback(browser, b.flow.launchUrl));
    callbackA.searchParams.set("state", callbackB.searchParams.get("state")!);
    expectHtmlError(await browser.get(callbackA.toString()), 400);
    expect(await flowStatus(a.flow.flowId)).toBe("pending");
  });

  it("answers 404 for an unknown flow", async () => {
    const response = await new TestBrowser(request).get(`${EDGE}/reauth/user/callback?flow=AAAAAAAAAAAAAAAAAAAAAA&success=true&state=x&code=y`);
    expectHtmlError(response, 404);
    expect(await response.text()).toMatch(/expired or is unknown/);
  });

  it("answers 404 once the flow has expired, and the API says expired", async () => {
    const { flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    clock += 601 * 1000;
    expectHtmlError(await browser.get(callback), 404);
    expect(await (await api(`/v1/flows/${flow.flowId}`)).json()).toMatchObject({ status: "expired" });
  });

  it("sends the browser that finished a flow back to returnTo with the recorded outcome when it reloads the callback, changing nothing", async () => {
    const { user, flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    const first = await browser.get(callback);
    expect(first.status).toBe(303);
    const token = await storedAccessToken(user.id);
    const reload = await browser.get(callback);
    expect(reload.status).toBe(303);
    expect(reload.headers.get("Location")).toBe(first.headers.get("Location"));
    expect(new URL(reload.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    expect(await flowStatus(flow.flowId)).toBe("succeeded");
    expect(await storedAccessToken(user.id)).toBe(token);
    expect(testMock.mock.journal.filter((e) => e.endpoint === "oauth/token")).toHaveLength(1);
  });

  it("keeps the original signing time on a reload: a browser cannot mint a fresh signature later", async () => {
    const { flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    const first = new URL((await browser.get(callback)).headers.get("Location")!);
    clock += 10 * 60 * 1000; // ten minutes later, the outcome still kept
    for (const reloaded of [await browser.get(callback), await browser.get(flow.launchUrl)]) {
      const again = new URL(reloaded.headers.get("Location")!);
      expect(again.searchParams.get("ts")).toBe(first.searchParams.get("ts"));
      expect(again.searchParams.get("sig")).toBe(first.searchParams.get("sig"));
    }
  });

  it("repeats a recorded failure (with its errorCode) to the flow's own browser on reload of the account callback", async () => {
    const { flow } = await startedFlow("account");
    const browser = new TestBrowser(request);
    await launchToCallback(browser, flow.launchUrl);
    const failure = `${EDGE}/reauth/account/callback?flow=${flow.flowId}&success=false&errorCode=USER_CANCEL`;
    const first = await browser.get(failure);
    expect(first.status).toBe(303);
    const reload = await browser.get(`${EDGE}/reauth/account/callback?flow=${flow.flowId}&success=true`);
    expect(reload.status).toBe(303);
    const location = new URL(reload.headers.get("Location")!);
    expect(location.searchParams.get("status")).toBe("failed");
    expect(location.searchParams.get("errorCode")).toBe("USER_CANCEL");
    expect(await flowStatus(flow.flowId)).toBe("failed");
  });

  it("answers another browser replaying a completed callback with the 409 page and never the outcome", async () => {
    const { user, flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    expect((await browser.get(callback)).status).toBe(303);
    const token = await storedAccessToken(user.id);
    const replay = await new TestBrowser(request).get(callback);
    expectHtmlError(replay, 409);
    const page = await replay.text();
    expect(page).toMatch(/already been completed/);
    expect(page).not.toContain("status=succeeded");
    expect(await flowStatus(flow.flowId)).toBe("succeeded");
    expect(await storedAccessToken(user.id)).toBe(token);
    expect(testMock.mock.journal.filter((e) => e.endpoint === "oauth/token")).toHaveLength(1);
  });

  it("keeps the binding cookie after completion only as long as the outcome is kept", async () => {
    const { flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    const done = await browser.get(callback);
    const cookie = done.headers.getSetCookie().find((line) => line.startsWith(`__Host-reauth-${flow.flowId}=`));
    expect(cookie).toMatch(/Max-Age=3600;.*HttpOnly; Secure; SameSite=Lax/);
  });

  it("refuses a user callback for an account flow and the other way round", async () => {
    const { flow } = await startedFlow("account");
    const browser = new TestBrowser(request);
    await launchToCallback(browser, flow.launchUrl);
    expectHtmlError(await browser.get(`${EDGE}/reauth/user/callback?flow=${flow.flowId}&success=true&state=s&code=c`), 400);
    expect(await flowStatus(flow.flowId)).toBe("pending");
  });

  it.each([
    ["success missing", "flow=AAAAAAAAAAAAAAAAAAAAAA"],
    ["success not a boolean", "flow=AAAAAAAAAAAAAAAAAAAAAA&success=yes"],
    ["flow not an id", "flow=../../etc&success=true"],
    ["an oversized code", `flow=AAAAAAAAAAAAAAAAAAAAAA&success=true&state=s&code=${"c".repeat(5000)}`],
  ])("answers a malformed callback (%s) with a 400 page", async (_what, query) => {
    expectHtmlError(await new TestBrowser(request).get(`${EDGE}/reauth/user/callback?${query}`), 400);
  });
});

describe("browser binding", () => {
  it("refuses an account callback without the binding cookie (it carries no state to prove anything), then accepts it from the launching browser", async () => {
    const { flow } = await startedFlow("account");
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    const stranger = new TestBrowser(request);
    const response = await stranger.get(callback);
    expectHtmlError(response, 403);
    expect(await response.text()).toMatch(/another browser/);
    expect(await flowStatus(flow.flowId)).toBe("pending");
    expect((await browser.get(callback)).status).toBe(303);
  });

  it("ends a user flow BROWSER_MISMATCH when its valid state comes from a browser that never launched it: digi.me's page was forwarded, and the code is never redeemed, not even by the launching browser", async () => {
    const { flow } = await startedFlow();
    // The attacker launches her own flow, then forwards digi.me's page: the victim completes it.
    const attacker = new TestBrowser(request);
    const digimePage = (await attacker.get(flow.launchUrl)).headers.get("Location")!;
    const victim = new TestBrowser(request);
    const callback = (await victim.get(digimePage)).headers.get("Location")!;
    expect(callback).toContain("state=");
    const refused = await victim.get(callback);
    expectHtmlError(refused, 403);
    expect(await refused.text()).toMatch(/completed in another browser/);
    expect(await flowStatus(flow.flowId)).toBe("failed");
    // The victim hands the URL back; the attacker's bound browser redeems nothing.
    const replay = await attacker.get(callback);
    expect(replay.status).toBe(303);
    expect(Object.fromEntries(new URL(replay.headers.get("Location")!).searchParams)).toMatchObject({ status: "failed", errorCode: "BROWSER_MISMATCH" });
    expect(testMock.mock.journal.filter((e) => e.endpoint === "oauth/token")).toHaveLength(0);
  });

  it("refuses a callback carrying another browser's cookie", async () => {
    const { flow } = await startedFlow("account");
    const owner = new TestBrowser(request);
    const callback = await launchToCallback(owner, flow.launchUrl);
    const other = await startedFlow("account");
    const intruder = new TestBrowser(request);
    await launchToCallback(intruder, other.flow.launchUrl);
    // The intruder presents its own (valid) secret under this flow's cookie name.
    const [, secret] = [...intruder.cookies][0]!;
    intruder.cookies.set(`__Host-reauth-${flow.flowId}`, secret);
    expectHtmlError(await intruder.get(callback), 403);
    expect(await flowStatus(flow.flowId)).toBe("pending");
  });

  it("lets the first browser own a launch link and refuses a second browser", async () => {
    const { flow } = await startedFlow();
    const first = new TestBrowser(request);
    expect((await first.get(flow.launchUrl)).status).toBe(302);
    expect((await first.get(flow.launchUrl)).status).toBe(302); // a reload in the same browser is fine
    const second = await new TestBrowser(request).get(flow.launchUrl);
    expectHtmlError(second, 409);
    expect(await second.text()).toMatch(/another browser/);
  });

  it("sets an HttpOnly, Secure, SameSite=Lax cookie scoped to the flow", async () => {
    const { flow } = await startedFlow();
    const launch = await new TestBrowser(request).get(flow.launchUrl);
    const cookie = launch.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(new RegExp(`^__Host-reauth-${flow.flowId}=[A-Za-z0-9_-]{22};`));
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("Secure");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Path=/");
  });
});

describe("returnTo", () => {
  it.each([
    "https://evil.test/steal",
    "https://app.test.evil.test/",
    "https://app.test@evil.test/",
    "http://app.test/",
    "javascript:alert(1)",
    "//evil.test/",
    "/relative",
    "blob:https://app.test/0b0b0b0b-0000-4000-8000-000000000000",
    "data:text/html,<script>alert(1)</script>",
    "ftp://app.test/",
  ])("refuses %s and starts nothing", async (returnTo) => {
    const { user } = await enrolledUser();
    const response = await api("/v1/reauth/user", { body: { userId: user.id, returnTo } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_return_to" } });
    expect(testMock.mock.journal.filter((e) => e.endpoint === "oauth/token/reference")).toHaveLength(0);
  });

  it("accepts http: only for a loopback origin", async () => {
    const { user } = await enrolledUser();
    const env = { ...testEnv, ALLOWED_RETURN_ORIGINS: "http://127.0.0.1:8788,http://app.test" };
    const call = (returnTo: string) =>
      request("/v1/reauth/user", { method: "POST", headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ userId: user.id, returnTo }) }, env);
    expect((await call("http://127.0.0.1:8788/back")).status).toBe(201);
    const remote = await call("http://app.test/back"); // configured (development mode allows it), still refused
    expect(remote.status).toBe(400);
    expect(await remote.json()).toMatchObject({ error: { code: "invalid_return_to" } });
  });

  it("accepts every configured origin", async () => {
    const { user } = await enrolledUser();
    const response = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: "https://other-app.test/x" } });
    expect(response.status).toBe(201);
  });
});

describe("backend API authentication and input", () => {
  it("refuses a request without an API key", async () => {
    const response = await api("/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", { key: null });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
  });

  it("refuses a wrong API key", async () => {
    expect((await api("/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", { key: "test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" })).status).toBe(401);
  });

  it("accepts every configured key, for rotation", async () => {
    expect((await api("/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", { key: SECOND_API_KEY })).status).toBe(404);
  });

  it("answers 413 for a body over 16 KiB", async () => {
    const response = await api("/v1/reauth/user", { body: { userId: "u", returnTo: `${APP}/`, sessionOptions: { pad: "x".repeat(17 * 1024) } } });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("answers 401, not 413, to an unauthenticated POST with a large body", async () => {
    for (const key of [null, "test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"]) {
      const response = await api("/v1/reauth/user", { key, body: { userId: "u", returnTo: `${APP}/`, sessionOptions: { pad: "x".repeat(17 * 1024) } } });
      expect(response.status, String(key)).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: "unauthorized" } });
    }
  });

  it("answers an unauthenticated streamed body with 401 without reading it", async () => {
    const chunk = new TextEncoder().encode("x".repeat(4096));
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await request("/v1/reauth/user", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
      // @ts-expect-error -- a streaming request body needs duplex in the fetch spec
      duplex: "half",
    });
    expect(response.status).toBe(401);
    // The stream fills its one-chunk queue on its own; nothing beyond that was asked for.
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it("answers 400 for malformed JSON", async () => {
    const response = await api("/v1/reauth/user", { body: "{not json" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_request" } });
  });

  it("names the fields that are wrong", async () => {
    const response = await api("/v1/reauth/account", { body: { userId: "a b", returnTo: `${APP}/`, extra: 1 } });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toMatch(/userId/);
    expect(error.message).toMatch(/accountId/);
    expect(error.message).toMatch(/extra/);
  });

  it("refuses a token of the wrong shape", async () => {
    const response = await api("/v1/users/u1/token", { method: "PUT", body: { accessToken: "x" } });
    expect(response.status).toBe(400);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const response = await api("/v1/nothing");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
  });
});

describe("response headers", () => {
  it("marks every flow response no-store and no-referrer", async () => {
    const { flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const launch = await browser.get(flow.launchUrl);
    const consent = await browser.get(launch.headers.get("Location")!);
    const callback = await browser.get(consent.headers.get("Location")!);
    const start = await api("/v1/reauth/user", { body: { userId: "nobody", returnTo: `${APP}/` } });
    const errorPage = await browser.get(`${EDGE}/reauth/launch/AAAAAAAAAAAAAAAAAAAAAA`);
    for (const response of [launch, callback, start, errorPage, await api(`/v1/flows/${flow.flowId}`)]) {
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("Referrer-Policy")).toBe("no-referrer");
    }
    expect(errorPage.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
  });
});

describe("security headers on every answer", () => {
  it.each([
    ["an unknown backend route", "/v1/nothing", 404],
    ["an unknown browser route", "/reauth/nothing", 404],
    ["an unknown top-level route", "/favicon.ico", 404],
    ["the health check", "/healthz", 200],
    ["a refused API call", "/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", 401],
    // No middleware but the app-wide ones matches here: a throw from the not-found handler would lose the headers.
    ["a wrong method on a top-level route", "POST /healthz", 405],
  ])("sets them on %s", async (_what, target, status) => {
    const [method, path] = target.includes(" ") ? target.split(" ") as [string, string] : ["GET", target];
    const response = path.startsWith("/v1/nothing") ? await api(path) : await request(path, { method });
    expect(response.status).toBe(status);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(response.headers.get("X-Frame-Options")).toBe("DENY");
  });
});

describe("request ids", () => {
  it("keeps a well-formed X-Request-Id and replaces an oversized or malformed one", async () => {
    const id = (value: string) => Promise.resolve(request("/healthz", { headers: { "X-Request-Id": value } })).then((r) => r.headers.get("X-Request-Id")!);
    expect(await id("abc-123_DEF=")).toBe("abc-123_DEF=");
    // Exactly MAX_REQUEST_ID_LENGTH (64) allowed characters is kept; one more is replaced.
    const longest = "aZ09_-=".repeat(10).slice(0, 63) + "z";
    expect(longest).toHaveLength(64);
    expect(await id(longest)).toBe(longest);
    const long = `${longest}a`;
    expect(await id(long)).not.toBe(long);
    expect(await id(long)).toMatch(/^[0-9a-f-]{36}$/);
    for (const bad of ["a b", "x\ty", "<script>", "a\"b", "id;rm"]) expect(await id(bad)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("log lines", () => {
  function captured(run: () => Promise<unknown> | unknown): Promise<Array<Record<string, unknown>>> {
    const lines: Array<Record<string, unknown>> = [];
    const capture = (text: unknown) => void lines.push(JSON.parse(String(text)) as Record<string, unknown>);
    const spies = [vi.spyOn(console, "log").mockImplementation(capture), vi.spyOn(console, "warn").mockImplementation(capture), vi.spyOn(console, "error").mockImplementation(capture)];
    return Promise.resolve(run()).then(
      () => lines,
      (error: unknown) => Promise.reject(error),
    ).finally(() => spies.forEach((s) => s.mockRestore()));
  }

  it("never let a caller's fields overwrite level, event, time or requestId", async () => {
    const lines = await captured(() => log(undefined, "warn", "probe", { level: "debug", event: "forged", time: "then", requestId: "forged", flowId: "f" }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "warn", event: "probe", field_level: "debug", field_event: "forged", field_requestId: "forged", flowId: "f" });
    expect(lines[0]!.time).not.toBe("then");
    expect(lines[0]).not.toHaveProperty("requestId");
  });

  it("log a replayed callback's 409 with status 409 and the flow's own status apart", async () => {
    const { flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    expect((await browser.get(callback)).status).toBe(303);
    const env = { ...testEnv, LOG_LEVEL: "debug" };
    const lines = await captured(async () => {
      expect((await request(callback, {}, env)).status).toBe(409); // another browser: no binding cookie
    });
    const failed = lines.find((l) => l.event === "request_failed")!;
    expect(failed).toMatchObject({ status: 409, errorCode: "flow_completed", flowStatus: "succeeded" });
    expect(lines.some((l) => l.event === "flow_completed")).toBe(false); // nothing completed this time
  });

  it("log the flow's own browser reloading a completed callback as a repeated outcome, not a completion", async () => {
    const { flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    expect((await browser.get(callback)).status).toBe(303);
    const env = { ...testEnv, LOG_LEVEL: "debug" };
    const lines = await captured(async () => {
      const cookie = [...browser.cookies].map(([n, v]) => `${n}=${v}`).join("; ");
      expect((await request(callback, { headers: { Cookie: cookie } }, env)).status).toBe(303);
    });
    expect(lines.find((l) => l.event === "flow_outcome_repeated")).toMatchObject({ flowId: flow.flowId, flowStatus: "succeeded" });
    expect(lines.some((l) => l.event === "flow_completed" || l.event === "request_failed")).toBe(false);
  });
});

describe("concurrent callbacks", () => {
  it("exchanges the code once and sends the duplicate back with that outcome", async () => {
    const { user, flow } = await startedFlow();
    const browser = new TestBrowser(request);
    const callback = await launchToCallback(browser, flow.launchUrl);
    const [first, second] = await Promise.all([browser.get(callback), browser.get(callback)]);
    expect([first.status, second.status]).toEqual([303, 303]);
    for (const response of [first, second]) {
      expect(new URL(response.headers.get("Location")!).searchParams.get("status")).toBe("succeeded");
    }
    const exchanges = testMock.mock.journal.filter((e) => e.endpoint === "oauth/token");
    // The user's object lets one callback at a time through: the duplicate waits and never spends the code.
    expect(exchanges.map((e) => e.status)).toEqual([201]);
    expect(await flowStatus(flow.flowId)).toBe("succeeded");
    expect(testMock.mock.checkAccessToken(await storedAccessToken(user.id), "dev-app_dev-contract").ok).toBe(true);
  });
});

describe("randomness", () => {
  it("uses 128-bit random state, flow ids and binding secrets, never repeated", async () => {
    const seen = { state: new Set<string>(), flow: new Set<string>(), binding: new Set<string>() };
    for (let i = 0; i < 20; i++) {
      const { flow } = await startedFlow();
      const browser = new TestBrowser(request);
      await browser.get(flow.launchUrl);
      const state = testMock.mock.journal.filter((e) => e.endpoint === "oauth/token/reference").at(-1)!.claims!.state as string;
      const binding = [...browser.cookies.values()][0]!;
      for (const [kind, value] of [["state", state], ["flow", flow.flowId], ["binding", binding]] as const) {
        // 22 base64url characters carry 132 bits; the encoder pads 16 random bytes (128 bits) into them.
        expect(value).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(seen[kind].has(value)).toBe(false);
        seen[kind].add(value);
      }
    }
  });
});
