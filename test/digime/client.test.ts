import { describe, expect, it } from "vitest";
import { codeChallenge, DigimeError, type UserAccessToken } from "../../src/digime/index.ts";
import type { IssuedToken, MockUser } from "../../mock-server/index.ts";
import pkcs8Key from "../fixtures/dev-contract.pkcs8.pem?raw";
import { followConsent, recordingClient, type SentRequest } from "../support/client.ts";
import { verifyWithContractKey } from "../support/jwt.ts";
import { TEST_ONBOARD_BASE, useTestMock } from "../support/mock.ts";

const CALLBACK = "https://edge.example/reauth/user/callback";
const testMock = useTestMock();

function newUser(accounts = 2): { user: MockUser; token: IssuedToken } {
  return testMock.mock.createUser({ accounts });
}

async function claimsOf(request: SentRequest | undefined): Promise<Record<string, unknown>> {
  expect(request?.authorization).toMatch(/^Bearer /);
  const { header, claims } = await verifyWithContractKey(request!.authorization!.slice(7));
  expect(header).toEqual({ alg: "PS512", typ: "JWT" });
  return claims;
}

function expectCommonClaims(claims: Record<string, unknown>): void {
  expect(claims.client_id).toBe("dev-app_dev-contract");
  expect(claims.nonce).toMatch(/^[A-Za-z0-9]{32}$/);
  expect(typeof claims.timestamp).toBe("number");
  expect(Math.abs((claims.timestamp as number) - Date.now())).toBeLessThan(60_000);
  expect(claims).not.toHaveProperty("iat");
}

async function reauthorizeAndExchange(token: IssuedToken) {
  const { client, sent } = recordingClient();
  const start = await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "state-123" });
  const callback = await followConsent(start.url);
  const exchanged = await client.exchangeCodeForToken({ code: callback.searchParams.get("code")!, codeVerifier: start.codeVerifier });
  return { client, sent, start, callback, exchanged };
}

describe("request JWTs", () => {
  it("signs user reauthorization with exactly the documented claims and PKCE S256", async () => {
    const { token } = newUser();
    const { sent, start } = await reauthorizeAndExchange(token);
    const referenceCall = sent.find((r) => r.url.pathname.endsWith("/oauth/token/reference"));
    const claims = await claimsOf(referenceCall);
    expect(Object.keys(claims).sort()).toEqual(
      ["access_token", "client_id", "code_challenge", "code_challenge_method", "nonce", "redirect_uri", "state", "timestamp"],
    );
    expectCommonClaims(claims);
    expect(claims).toMatchObject({ access_token: token.accessToken.value, code_challenge_method: "S256", redirect_uri: CALLBACK, state: "state-123" });
    expect(JSON.parse(referenceCall!.body!)).toEqual({ agent: { sdk: { name: "nodejs", version: "16.1.5", meta: { node: expect.any(String) } } } });
    expect(start.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("sends at exchange the verifier whose S256 was the challenge at start", async () => {
    const { token } = newUser();
    const { sent, start, callback } = await reauthorizeAndExchange(token);
    const startClaims = await claimsOf(sent.find((r) => r.url.pathname.endsWith("/oauth/token/reference")));
    const exchangeClaims = await claimsOf(sent.find((r) => r.url.pathname.endsWith("/oauth/token")));
    expect(Object.keys(exchangeClaims).sort()).toEqual(["client_id", "code", "code_verifier", "grant_type", "nonce", "timestamp"]);
    expectCommonClaims(exchangeClaims);
    expect(exchangeClaims).toMatchObject({ grant_type: "authorization_code", code: callback.searchParams.get("code"), code_verifier: start.codeVerifier });
    expect(startClaims.code_challenge).toBe(await codeChallenge(exchangeClaims.code_verifier as string));
    expect(callback.searchParams.get("state")).toBe("state-123");
  });

  it("signs account reauthorization calls with their own claim sets", async () => {
    const { user, token } = newUser();
    const { client, sent } = recordingClient();
    const result = await client.getReauthorizeAccountUrl({ userAccessToken: token.accessToken.value, callbackUrl: `${CALLBACK}?flow=f1`, accountId: user.accounts[0]!.id, locale: "fr" });
    const tokenRef = await claimsOf(sent.find((r) => r.url.pathname.endsWith("/oauth/token/reference")));
    expect(Object.keys(tokenRef).sort()).toEqual(["access_token", "client_id", "nonce", "redirect_uri", "timestamp"]);
    expectCommonClaims(tokenRef);
    const accountRef = sent.find((r) => r.url.pathname.endsWith("/v1.7/reference"));
    const refClaims = await claimsOf(accountRef);
    expect(Object.keys(refClaims).sort()).toEqual(["client_id", "nonce", "timestamp"]);
    expect(JSON.parse(accountRef!.body!)).toEqual({ type: "accountId", value: user.accounts[0]!.id });
    const url = new URL(result.url);
    expect(url.origin + url.pathname).toBe(`${TEST_ONBOARD_BASE}reauthorize`);
    expect(url.searchParams.get("code")).toMatch(/^ref_/);
    expect(url.searchParams.get("accountRef")).toMatch(/^acr_/);
    expect(url.searchParams.get("lng")).toBe("fr");
  });

  it("signs refresh, reads and full authorization with their documented claims", async () => {
    const { token } = newUser();
    const { client, sent } = recordingClient();
    const rotated = await client.refreshToken(asClientToken(token));
    await client.readAccounts(rotated.accessToken.value);
    const user = testMock.mock.users.get(rotated.user.id)!;
    await client.readFileList({ sessionKey: user.sessionKey, userAccessToken: rotated.accessToken.value });
    await client.getAuthorizeUrl({ callbackUrl: CALLBACK, state: "s2", userAccessToken: rotated.accessToken.value, serviceId: 16 });
    const byPath = (suffix: string) => claimsOf(sent.find((r) => r.url.pathname.endsWith(suffix)));
    const refresh = await byPath("/oauth/token");
    expect(Object.keys(refresh).sort()).toEqual(["client_id", "grant_type", "nonce", "refresh_token", "timestamp"]);
    expect(refresh).toMatchObject({ grant_type: "refresh_token", refresh_token: token.refreshToken.value });
    for (const suffix of ["/permission-access/accounts", `/permission-access/query/${user.sessionKey}`]) {
      const claims = await byPath(suffix);
      expect(Object.keys(claims).sort()).toEqual(["access_token", "client_id", "nonce", "timestamp"]);
      expect(claims.access_token).toBe(rotated.accessToken.value);
    }
    const authorize = await byPath("/oauth/authorize");
    expect(Object.keys(authorize).sort()).toEqual(
      ["access_token", "client_id", "code_challenge", "code_challenge_method", "nonce", "redirect_uri", "response_mode", "response_type", "state", "timestamp"],
    );
    for (const request of sent.filter((r) => r.authorization)) expectCommonClaims(await claimsOf(request));
  });

  it("uses a fresh nonce for every request, retries included", async () => {
    const { user, token } = newUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [{ type: "network-error", endpoints: ["permission-access/accounts"], times: 1 }] });
    const { client, sent } = recordingClient({ sleep: async () => undefined });
    const accounts = await client.readAccounts(token.accessToken.value);
    expect(accounts).toHaveLength(2);
    const nonces = await Promise.all(sent.map(async (r) => (await claimsOf(r)).nonce));
    expect(nonces).toHaveLength(2);
    expect(new Set(nonces).size).toBe(2);
  });
});

function asClientToken(token: IssuedToken): UserAccessToken {
  return token;
}

describe("onSent: the caller works while a start's request is out", () => {
  it("tells onSent after each start request is handed to fetch and before digi.me's answer is read", async () => {
    const { user, token } = newUser();
    const order: string[] = [];
    const { client } = recordingClient({
      fetch: async (input, init) => {
        // The key set's fetch (to verify the answer) is not the start's request.
        const call = new URL(new Request(input).url).pathname.endsWith("/oauth/token/reference") ? "reference" : "other";
        if (call === "reference") order.push("fetch");
        const response = await fetch(input, init);
        if (call === "reference") order.push("answered");
        return response;
      },
    });
    await client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s", onSent: () => order.push("sent") });
    expect(order).toEqual(["fetch", "sent", "answered"]);

    const account: string[] = [];
    const { client: accountClient } = recordingClient();
    await accountClient.getReauthorizeAccountUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, accountId: user.accounts[0]!.id, onSent: () => account.push("sent") });
    // Both calls of the account start (in parallel) say so.
    expect(account).toEqual(["sent", "sent"]);
  });
});

describe("contract keys", () => {
  it("works with a PKCS#8 private key as well as PKCS#1", async () => {
    const { token } = newUser();
    const { client } = recordingClient({ privateKey: pkcs8Key });
    await expect(client.readAccounts(token.accessToken.value)).resolves.toHaveLength(2);
  });

  it("reports a malformed private key as a configuration error", async () => {
    const { token } = newUser();
    const { client, sent } = recordingClient({ privateKey: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----" });
    const error = await client.readAccounts(token.accessToken.value).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigimeError);
    expect(error).toMatchObject({ kind: "configuration" });
    expect((error as Error).message).toMatch(/contract private key/);
    expect(sent).toHaveLength(0);
  });

  it("is refused by digi.me when signed with another contract's key", async () => {
    const { token } = newUser();
    const other = await crypto.subtle.generateKey(
      { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
      true,
      ["sign", "verify"],
    );
    const der = new Uint8Array((await crypto.subtle.exportKey("pkcs8", (other as CryptoKeyPair).privateKey)) as ArrayBuffer);
    const pem = `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...der))}\n-----END PRIVATE KEY-----`;
    const { client } = recordingClient({ privateKey: pem });
    await expect(client.readAccounts(token.accessToken.value)).rejects.toMatchObject({ kind: "api", status: 400, code: "ValidationErrors" });
  });
});
