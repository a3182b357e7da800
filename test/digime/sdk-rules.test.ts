/**
 * The client follows the official SDK's rules where they are behaviour, not
 * wire format: what it accepts, what it retries and how long it waits, when
 * it refreshes, and which token times it enforces.
 */
import { describe, expect, it } from "vitest";
import { DigimeError, GET_RETRY, needsRefresh, retryAfterMs, withTokenRefresh } from "../../src/digime/index.ts";
import { followConsent, recordingClient } from "../support/client.ts";
import { useTestMock } from "../support/mock.ts";
import { verifyWithContractKey } from "../support/jwt.ts";
import { SDK_RETRY } from "../conformance/sdk-calls.ts";

const CALLBACK = "https://edge.example/reauth/user/callback";
const testMock = useTestMock();

/** A fetch that answers `answers` in turn (by URL suffix), passing everything else to the mock. */
function scripted(answers: Array<{ suffix: string; answer: () => Response }>): typeof fetch {
  return async (input, init) => {
    const url = new Request(input, init).url;
    const index = answers.findIndex((a) => url.endsWith(a.suffix));
    if (index >= 0) return answers.splice(index, 1)[0]!.answer();
    return fetch(input, init);
  };
}

/** A fetch that passes through to the mock, then rewrites the answer's JSON body and status. */
function rewriting(suffix: string, rewrite: (body: Record<string, unknown>) => Record<string, unknown>, status?: number): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!new Request(input, init).url.endsWith(suffix)) return response;
    return Response.json(rewrite((await response.json()) as Record<string, unknown>), { status: status ?? response.status });
  };
}

function recordedSleeps(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => void sleeps.push(ms) };
}

describe("answers the SDK accepts", () => {
  it("accepts a reference answer without session (the SDK defaults it to {})", async () => {
    const { user, token } = testMock.mock.createUser();
    const { client } = recordingClient({ fetch: rewriting("/oauth/token/reference", ({ session: _session, ...rest }) => rest) });
    const started = await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" });
    expect(started.session).toBeUndefined();
    expect(started.url).toMatch(/user-reauth\?code=/);
    const account = await client.getReauthorizeAccountUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, accountId: user.accounts[0]!.id });
    expect(account.session).toBeUndefined();
  });

  it("drops a malformed session instead of failing the call", async () => {
    const { token } = testMock.mock.createUser();
    const { client } = recordingClient({ fetch: rewriting("/oauth/token/reference", (body) => ({ ...body, session: { key: 7 } })) });
    await expect(client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" })).resolves.toMatchObject({ session: undefined });
  });

  it.each([200, 201, 202, 203, 299])("accepts HTTP %i as success", async (status) => {
    const { token } = testMock.mock.createUser();
    const { client } = recordingClient({ fetch: rewriting("/permission-access/accounts", (body) => body, status) });
    await expect(client.readAccounts(token.accessToken.value)).resolves.toHaveLength(2);
  });

  it("reads the full-authorization code from preauthorization_code, and refuses an answer without it", async () => {
    const { client } = recordingClient();
    const started = await client.getAuthorizeUrl({ callbackUrl: CALLBACK, state: "s" });
    expect(new URL(started.url).searchParams.get("code")).toMatch(/^ref_/);
    const token = await testMock.mock.signToken({ reference_code: "ref_x" });
    const { client: misled } = recordingClient({ fetch: scripted([{ suffix: "/oauth/authorize", answer: () => Response.json({ token, session: { expiry: 1, key: "k" } }, { status: 201 }) }]) });
    await expect(misled.getAuthorizeUrl({ callbackUrl: CALLBACK, state: "s" })).rejects.toMatchObject({ kind: "invalid_response", call: "oauth/authorize" });
  });
});

describe("retries", () => {
  it("retries a GET on the SDK's statuses, up to twice, 1 s then 2 s apart, each signed afresh", async () => {
    expect(GET_RETRY).toEqual(SDK_RETRY);
    const { user, token } = testMock.mock.createUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "http-error", status: 503, times: 2, endpoints: ["permission-access/accounts"] }] });
    const { sleeps, sleep } = recordedSleeps();
    const { client, sent } = recordingClient({ sleep });
    await expect(client.readAccounts(token.accessToken.value)).resolves.toHaveLength(2);
    expect(sleeps).toEqual([1000, 2000]);
    const nonces = await Promise.all(sent.map(async (r) => (await verifyWithContractKey(r.authorization!.slice(7))).claims.nonce));
    expect(new Set(nonces).size).toBe(3);
  });

  it("gives up after two retries with the last answer", async () => {
    const { user, token } = testMock.mock.createUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "http-error", status: 502, endpoints: ["permission-access/accounts"] }] });
    const { sleep } = recordedSleeps();
    const { client, sent } = recordingClient({ sleep });
    await expect(client.readAccounts(token.accessToken.value)).rejects.toMatchObject({ kind: "api", status: 502 });
    expect(sent).toHaveLength(3);
  });

  it("retries a GET after a network error", async () => {
    const { user, token } = testMock.mock.createUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "network-error", times: 1, endpoints: ["permission-access/query"] }] });
    const { sleeps, sleep } = recordedSleeps();
    const { client } = recordingClient({ sleep });
    await expect(client.readFileList({ sessionKey: user.sessionKey, userAccessToken: token.accessToken.value })).resolves.toHaveProperty("status");
    expect(sleeps).toEqual([1000]);
  });

  it("honours Retry-After (seconds) on a 429", async () => {
    const { token } = testMock.mock.createUser();
    const { sleeps, sleep } = recordedSleeps();
    const { client, sent } = recordingClient({
      sleep,
      fetch: scripted([{ suffix: "/permission-access/accounts", answer: () => Response.json({ error: { code: "TooManyRequests", message: "slow down" } }, { status: 429, headers: { "Retry-After": "3" } }) }]),
    });
    await expect(client.readAccounts(token.accessToken.value)).resolves.toHaveLength(2);
    expect(sleeps).toEqual([3000]);
    expect(sent).toHaveLength(2);
  });

  it("does not wait past the call's deadline: a Retry-After beyond it fails at once", async () => {
    const { sleeps, sleep } = recordedSleeps();
    const { client, sent } = recordingClient({
      sleep,
      timeoutMs: 2000,
      fetch: async () => Response.json({ error: { code: "ServiceUnavailable", message: "later" } }, { status: 503, headers: { "Retry-After": "5" } }),
    });
    await expect(client.readAccounts("t")).rejects.toMatchObject({ kind: "api", status: 503 });
    expect(sleeps).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it("does not retry a backoff that would end past the deadline", async () => {
    const { sleeps, sleep } = recordedSleeps();
    const { client, sent } = recordingClient({ sleep, timeoutMs: 1500, fetch: async () => new Response("busy", { status: 503 }) });
    await expect(client.readAccounts("t")).rejects.toMatchObject({ kind: "invalid_response", status: 503 });
    expect(sleeps).toEqual([1000]); // the 2 s backoff would end after the 1.5 s deadline
    expect(sent).toHaveLength(2);
  });

  it.each([400, 401, 404, 501])("does not retry a GET answered %i", async (status) => {
    const { sleep } = recordedSleeps();
    const { client, sent } = recordingClient({ sleep, fetch: async () => Response.json({ error: { code: "X", message: "x" } }, { status }) });
    await expect(client.readAccounts("t")).rejects.toMatchObject({ status });
    expect(sent).toHaveLength(1);
  });

  it.each([
    ["a 503", { type: "http-error", status: 503 }],
    ["a network error", { type: "network-error" }],
  ] as const)("never retries a POST after %s: the exchange's code is single use", async (_what, fault) => {
    const { user, token } = testMock.mock.createUser();
    const { client, sent } = recordingClient({ sleep: async () => undefined });
    const start = await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" });
    const callback = await followConsent(start.url);
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ ...fault, endpoints: ["oauth/token"] }] });
    await expect(client.exchangeCodeForToken({ code: callback.searchParams.get("code")!, codeVerifier: start.codeVerifier })).rejects.toBeInstanceOf(DigimeError);
    expect(sent.filter((r) => r.url.pathname.endsWith("/oauth/token"))).toHaveLength(1);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs("soon")).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe("refresh on 401, by the SDK's rule", () => {
  const answer = (status: number, body: string, headers: Record<string, string> = {}) => () => new Response(body, { status, headers });

  it.each([
    ["401 InvalidToken", answer(401, JSON.stringify({ error: { code: "InvalidToken", message: "The token (access_token) is invalid" } })), true],
    ["401 that is not a digi.me error (HTML)", answer(401, "<html>Unauthorized</html>"), true],
    ["401 with an empty body", answer(401, ""), true],
    ["401 whose only error is in X-Error-* headers", answer(401, "<html>", { "X-Error-Code": "InsufficientScope" }), true],
    ["401 with another digi.me error", answer(401, JSON.stringify({ error: { code: "InsufficientScope", message: "no" } })), false],
    ["401 with a bare error string (not { code, message })", answer(401, JSON.stringify({ error: "InsufficientScope" })), true],
    ["403 InvalidToken", answer(403, JSON.stringify({ error: { code: "InvalidToken", message: "The token (access_token) is invalid" } })), false],
    ["500", answer(500, JSON.stringify({ error: { code: "InternalError", message: "x" } })), false],
  ] as const)("%s → refresh: %s", async (_what, respond, refreshes) => {
    const { token } = testMock.mock.createUser();
    const { client, sent } = recordingClient({ sleep: async () => undefined, fetch: scripted([{ suffix: "/permission-access/accounts", answer: respond }]) });
    const outcome = await withTokenRefresh(client, token, (accessToken) => client.readAccounts(accessToken)).catch((error: unknown) => error);
    if (refreshes) {
      expect(outcome).toMatchObject({ refreshed: true });
      expect(sent.filter((r) => r.url.pathname.endsWith("/oauth/token"))).toHaveLength(1);
    } else {
      expect(needsRefresh(outcome)).toBe(false);
      expect(sent.filter((r) => r.url.pathname.endsWith("/oauth/token"))).toHaveLength(0);
    }
  });
});

describe("token times", () => {
  const now = () => testMock.mock.now();

  it("refuses a token whose exp is now (whole seconds, no leeway) or past", async () => {
    const { client } = recordingClient({ now });
    const seconds = Math.floor(now() / 1000);
    await expect(client.verifyToken(await testMock.mock.signToken({ reference_code: "r", exp: seconds }), "t")).rejects.toThrow("token has expired");
    await expect(client.verifyToken(await testMock.mock.signToken({ reference_code: "r", exp: seconds + 60 }), "t")).resolves.toMatchObject({ reference_code: "r" });
  });

  it("refuses a token whose nbf is still ahead, and accepts it once reached", async () => {
    const { client } = recordingClient({ now });
    const seconds = Math.floor(now() / 1000);
    await expect(client.verifyToken(await testMock.mock.signToken({ reference_code: "r", nbf: seconds + 30 }), "t")).rejects.toThrow("token is not valid yet");
    await expect(client.verifyToken(await testMock.mock.signToken({ reference_code: "r", nbf: seconds }), "t")).resolves.toMatchObject({ reference_code: "r" });
  });

  it("refuses a token without exp (stricter than the SDK: it would never expire) or whose exp is not a number, and accepts one without nbf", async () => {
    const { client } = recordingClient({ now });
    await expect(client.verifyToken(await testMock.mock.signToken({ reference_code: "r", exp: undefined }), "t")).rejects.toThrow("token has no exp");
    await expect(client.verifyToken(await testMock.mock.signToken({ reference_code: "r", exp: "tomorrow" }), "t")).rejects.toThrow("token exp is not a number");
    await expect(client.verifyToken(await testMock.mock.signToken({ reference_code: "r", nbf: undefined }), "t")).resolves.toMatchObject({ reference_code: "r" });
  });
});
