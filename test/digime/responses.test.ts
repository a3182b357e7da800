import { CompactSign, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { DigimeError } from "../../src/digime/index.ts";
import type { Fault } from "../../mock-server/index.ts";
import { followConsent, recordingClient } from "../support/client.ts";
import { useTestMock } from "../support/mock.ts";

const CALLBACK = "https://edge.example/reauth/user/callback";
const testMock = useTestMock();
let clock = 0;

function userWith(faults: Fault[] = []) {
  const { user, token } = testMock.mock.createUser();
  testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults });
  return { user, token };
}

const jwksFetches = () => testMock.mock.journal.filter((e) => e.endpoint === "jwks/oauth").length;

async function unsignedToken(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ""): Promise<string> {
  const enc = (v: unknown) => btoa(JSON.stringify(v)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

describe("response token verification", () => {
  it("rejects a token signed by another key under digi.me's kid", async () => {
    const { token } = userWith([{ type: "foreign-signature", endpoints: ["oauth/token/reference"] }]);
    const { client } = recordingClient();
    await expect(client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" })).rejects.toMatchObject({
      kind: "invalid_response",
      message: "token signature does not verify",
    });
  });

  it("rejects an unknown kid after exactly one refetch of the key set", async () => {
    const { token } = userWith([{ type: "unknown-kid", endpoints: ["oauth/token"] }]);
    const { client } = recordingClient();
    await client.readAccounts(token.accessToken.value);
    await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" });
    expect(jwksFetches()).toBe(1);
    const error = await client.refreshToken(token).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "invalid_response" });
    expect((error as Error).message).toMatch(/unknown key id/);
    expect(jwksFetches()).toBe(2);
  });

  it("rejects a token naming a key set on a foreign origin without fetching it", async () => {
    const { client, sent } = recordingClient();
    const { privateKey } = await generateKeyPair("PS512");
    const token = await new CompactSign(new TextEncoder().encode('{"reference_code":"x"}'))
      .setProtectedHeader({ alg: "PS512", jku: "https://evil.example/jwks/oauth", kid: "k1" })
      .sign(privateKey);
    await expect(client.verifyToken(token, "test")).rejects.toThrow(/jku is not on https:\/\/api\.digi\.me/);
    expect(sent).toHaveLength(0);
  });

  it.each([
    ["HS256", { alg: "HS256", jku: "https://api.digi.me/v1.7/jwks/oauth", kid: "k" }],
    ["none", { alg: "none", jku: "https://api.digi.me/v1.7/jwks/oauth", kid: "k" }],
    ["RS256", { alg: "RS256", jku: "https://api.digi.me/v1.7/jwks/oauth", kid: "k" }],
  ])("refuses alg %s before looking at any key", async (_alg, header) => {
    const { client, sent } = recordingClient();
    const token = await unsignedToken(header, { reference_code: "x" }, "c2ln");
    await expect(client.verifyToken(token, "test")).rejects.toThrow(/PS512 only/);
    expect(sent).toHaveLength(0);
  });

  it("rejects a token without jku or kid", async () => {
    const { client } = recordingClient();
    const token = await unsignedToken({ alg: "PS512" }, { reference_code: "x" }, "c2ln");
    await expect(client.verifyToken(token, "test")).rejects.toThrow(/lacks jku or kid/);
  });

  it("fetches the key set once for many verifications, and again once its lifetime is over", async () => {
    clock = Date.now();
    const { token } = userWith();
    const { client } = recordingClient({ now: () => clock, keySetTtlMs: 60 * 60 * 1000 });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: `s${i}` })),
    );
    await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "again" });
    expect(jwksFetches()).toBe(1);
    const advance = (ms: number) => {
      clock += ms;
      testMock.mock.advanceClock(ms); // digi.me refuses request timestamps far from its own clock
    };
    advance(14 * 60 * 1000);
    await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "14min" });
    expect(jwksFetches()).toBe(1);
    advance(60 * 1000 + 1); // past 15 minutes: the cap applies even though 60 were asked for
    await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "15min" });
    expect(jwksFetches()).toBe(2);
  });

  it("fails closed when the key set is unavailable", async () => {
    const { token } = userWith();
    // The key set is fetched without a user, so key-set faults are global.
    testMock.mock.setGlobalScenario({ ...testMock.mock.globalScenario, faults: [{ type: "key-set-unavailable" }] });
    const { client } = recordingClient();
    await expect(client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" })).rejects.toMatchObject({
      kind: "api",
      status: 503,
      call: "jwks",
    });
  });
});

describe("upstream failures", () => {
  const start = (token: { accessToken: { value: string } }, timeoutMs?: number) =>
    recordingClient(timeoutMs ? { timeoutMs } : {}).client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" });

  it("reports digi.me's error code, message, reference and status", async () => {
    const { user, token } = testMock.mock.createUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "invalid-token" });
    const error = (await start(token).catch((e: unknown) => e)) as DigimeError;
    expect(error).toBeInstanceOf(DigimeError);
    expect(error).toMatchObject({ kind: "api", code: "InvalidToken", status: 401, tokenSubject: "access_token", call: "oauth/token/reference" });
    expect(error.message).toBe("The token (access_token) is invalid");
    expect(error.reference).toMatch(/^mock-/);
    expect(error.isInvalidToken("access_token")).toBe(true);
  });

  it("gives up at the deadline when digi.me never answers", async () => {
    const { token } = userWith([{ type: "hang", endpoints: ["oauth/token/reference"] }]);
    const began = performance.now();
    await expect(start(token, 150)).rejects.toMatchObject({ kind: "timeout", call: "oauth/token/reference" });
    expect(performance.now() - began).toBeLessThan(2000);
  });

  it.each([
    ["network-error", { kind: "network" }],
    ["http-error", { kind: "api", status: 503 }],
    ["malformed-json", { kind: "invalid_response", message: "body is not JSON" }],
    ["empty-body", { kind: "invalid_response", message: "empty body" }],
  ] as const)("turns a %s into a typed error", async (type, expected) => {
    const { token } = userWith([{ type, endpoints: ["oauth/token/reference"] }]);
    await expect(start(token)).rejects.toMatchObject(expected);
  });

  it("rejects an answer of the wrong shape", async () => {
    const { client } = recordingClient({
      fetch: async () => Response.json({ token: 42, session: { expiry: 1, key: "k" } }),
    });
    await expect(client.getReauthorizeUrl({ userAccessToken: "t", callbackUrl: CALLBACK, state: "s" })).rejects.toMatchObject({
      kind: "invalid_response",
      message: "unexpected response shape at token",
    });
  });

  it("reads the error from the body only, as the SDK does: X-Error-* headers alone are not a digi.me error", async () => {
    const { client } = recordingClient({
      fetch: async () => new Response("<html>", { status: 403, headers: { "X-Error-Code": "InsufficientScope", "X-Error-Message": "no" } }),
    });
    await expect(client.readAccounts("t")).rejects.toMatchObject({ kind: "invalid_response", status: 403, message: "HTTP 403 without a digi.me error" });
  });

  it('reads an error body of the form { error: "<code>" }', async () => {
    const { client } = recordingClient({ fetch: async () => Response.json({ error: "InsufficientScope" }, { status: 403 }) });
    await expect(client.readAccounts("t")).rejects.toMatchObject({ kind: "api", code: "InsufficientScope", status: 403 });
  });
});

describe("parallel account calls", () => {
  it("runs the reference and account reference calls at the same time", async () => {
    const { user, token } = userWith([{ type: "delay", ms: 150, endpoints: ["oauth/token/reference", "reference"] }]);
    const { client, sent } = recordingClient();
    const began = performance.now();
    await client.getReauthorizeAccountUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, accountId: user.accounts[0]!.id });
    const elapsed = performance.now() - began;
    const ref = sent.find((r) => r.url.pathname.endsWith("/oauth/token/reference"))!;
    const acc = sent.find((r) => r.url.pathname.endsWith("/v1.7/reference"))!;
    expect(ref.startedAt).toBeLessThan(acc.endedAt);
    expect(acc.startedAt).toBeLessThan(ref.endedAt);
    expect(elapsed).toBeLessThan(290); // sequential calls would need at least 300 ms
  });
});

describe("end to end against the mock", () => {
  it("exchanges a reauthorization code for a rotated token pair", async () => {
    const { user, token } = userWith();
    const { client } = recordingClient();
    const start = await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s", locale: "de", triggerQuery: false });
    const url = new URL(start.url);
    expect(url.pathname).toBe("/apps/saas/user-reauth");
    expect(url.searchParams.get("lng")).toBe("de");
    expect(url.searchParams.get("triggerQuery")).toBe("false");
    expect(start.session?.key).toBe(user.sessionKey);
    const callback = await followConsent(start.url);
    const fresh = await client.exchangeCodeForToken({ code: callback.searchParams.get("code")!, codeVerifier: start.codeVerifier });
    expect(fresh.user.id).toBe(user.id);
    expect(fresh.accessToken.value).not.toBe(token.accessToken.value);
    expect(fresh.refreshToken.expiry).toBeGreaterThan(fresh.accessToken.expiry);
  });
});
