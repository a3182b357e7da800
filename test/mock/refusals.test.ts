import { describe, expect, it } from "vitest";
import { LIFETIMES_MS } from "../../mock-server/index.ts";
import { codeChallenge } from "../../src/digime/index.ts";
import { followConsent, recordingClient } from "../support/client.ts";
import { devPublicKey, TEST_API_BASE, useTestMock } from "../support/mock.ts";
import { callApi, errorOf, requestJwt } from "../support/signed.ts";

const CALLBACK = "https://edge.example/cb";
const testMock = useTestMock();

/** Runs user reauthorization up to the callback and returns the code and verifier. */
async function codeFor(accessToken: string) {
  const { client } = recordingClient();
  const start = await client.getReauthorizeUrl({ userAccessToken: accessToken, callbackUrl: CALLBACK, state: "s" });
  const callback = await followConsent(start.url);
  return { client, code: callback.searchParams.get("code")!, codeVerifier: start.codeVerifier };
}

describe("the mock refuses what digi.me refuses", () => {
  it("refuses a request without an Authorization JWT with 400 ValidationErrors", async () => {
    const response = await fetch("https://api.digi.me/v1.7/permission-access/accounts");
    expect(await errorOf(response)).toMatchObject({ status: 400, code: "ValidationErrors", message: "Parameter validation errors" });
    expect(response.headers.get("X-Error-Code")).toBe("ValidationErrors");
    expect(response.headers.get("X-Error-Reference")).toMatch(/^mock-/);
  });

  it("refuses a reused nonce with 406 InvalidRequest", async () => {
    const { token } = testMock.mock.createUser();
    const jwt = await requestJwt({ access_token: token.accessToken.value });
    expect((await callApi("permission-access/accounts", jwt, { method: "GET" })).status).toBe(202);
    const again = await errorOf(await callApi("permission-access/accounts", jwt, { method: "GET" }));
    expect(again).toMatchObject({ status: 406, code: "InvalidRequest" });
    expect(again.message).toMatch(/nonce provided in JWT payload \([A-Za-z0-9]{32}\) has already been used/);
  });

  it("refuses a JWT signed with another key, and journals it as unverified", async () => {
    const { token } = testMock.mock.createUser();
    const other = (await crypto.subtle.generateKey(
      { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const der = new Uint8Array((await crypto.subtle.exportKey("pkcs8", other.privateKey)) as ArrayBuffer);
    const jwt = await requestJwt({ access_token: token.accessToken.value }, `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...der))}\n-----END PRIVATE KEY-----`);
    expect(await errorOf(await callApi("permission-access/accounts", jwt, { method: "GET" }))).toMatchObject({ status: 400, code: "ValidationErrors" });
    expect(testMock.mock.journal.at(-1)).toMatchObject({ endpoint: "permission-access/accounts", status: 400, signatureVerified: false, errorDetail: "Authorization JWT signature is invalid" });
  });

  it("refuses an unknown client_id", async () => {
    const jwt = await requestJwt({ client_id: "someone_else" });
    expect(await errorOf(await callApi("reference", jwt, { body: { type: "accountId", value: "x" } }))).toMatchObject({ status: 401, code: "InvalidClient" });
  });

  it("refuses a timestamp far from its clock", async () => {
    const jwt = await requestJwt({ timestamp: Date.now() - LIFETIMES_MS.timestampSkew - 60_000 });
    expect(await errorOf(await callApi("reference", jwt, { body: { type: "accountId", value: "x" } }))).toMatchObject({ status: 406, code: "InvalidRequest" });
  });

  it("refuses an exchange whose verifier does not match the challenge", async () => {
    const { token } = testMock.mock.createUser();
    const { client, code } = await codeFor(token.accessToken.value);
    await expect(client.exchangeCodeForToken({ code, codeVerifier: "x".repeat(43) })).rejects.toMatchObject({
      kind: "api",
      code: "InvalidRequest",
      message: "The code_verifier does not match the code_challenge",
    });
  });

  it("accepts an authorization code once only", async () => {
    const { token } = testMock.mock.createUser();
    const { client, code, codeVerifier } = await codeFor(token.accessToken.value);
    await expect(client.exchangeCodeForToken({ code, codeVerifier })).resolves.toHaveProperty("accessToken");
    await expect(client.exchangeCodeForToken({ code, codeVerifier })).rejects.toMatchObject({ code: "InvalidRequest" });
  });

  it("refuses an authorization code once it has expired", async () => {
    const { token } = testMock.mock.createUser();
    const { code, codeVerifier } = await codeFor(token.accessToken.value);
    testMock.mock.advanceClock(LIFETIMES_MS.authorizationCode + 1);
    const jwt = await requestJwt({ timestamp: testMock.mock.now(), grant_type: "authorization_code", code, code_verifier: codeVerifier });
    expect(await errorOf(await callApi("oauth/token", jwt))).toMatchObject({ status: 400, code: "InvalidRequest" });
  });

  it("rotates refresh tokens and refuses a reused one", async () => {
    const { token } = testMock.mock.createUser();
    const { client } = recordingClient();
    const rotated = await client.refreshToken(token);
    expect(rotated.refreshToken.value).not.toBe(token.refreshToken.value);
    await expect(client.refreshToken(token)).rejects.toMatchObject({ code: "InvalidToken", tokenSubject: "refresh_token", message: "The token (refresh_token) is invalid" });
    await expect(client.readAccounts(token.accessToken.value)).rejects.toMatchObject({ code: "InvalidToken", tokenSubject: "access_token" });
    await expect(client.readAccounts(rotated.accessToken.value)).resolves.toHaveLength(2);
  });

  it("refuses an expired access token but still lets the user reauthorize", async () => {
    const { token } = testMock.mock.createUser();
    testMock.mock.advanceClock(LIFETIMES_MS.accessToken + 1);
    const now = () => testMock.mock.now();
    const { client } = recordingClient({ now });
    await expect(client.readAccounts(token.accessToken.value)).rejects.toMatchObject({
      code: "InvalidToken",
      message: "The token (access_token) is expired",
    });
    await expect(client.getReauthorizeUrl({ userAccessToken: token.accessToken.value, callbackUrl: CALLBACK, state: "s" })).resolves.toHaveProperty("url");
  });

  it("refuses a PKCE challenge that is not S256", async () => {
    const { token } = testMock.mock.createUser();
    const jwt = await requestJwt({
      access_token: token.accessToken.value,
      code_challenge: await codeChallenge("v"),
      code_challenge_method: "plain",
      redirect_uri: CALLBACK,
      state: "s",
    });
    expect(await errorOf(await callApi("oauth/token/reference", jwt, { body: { agent: { sdk: { name: "nodejs", version: "16.1.5" } } } }))).toMatchObject({ status: 400, code: "ValidationErrors" });
  });

  it("refuses a reference request without a valid redirect_uri", async () => {
    const { token } = testMock.mock.createUser();
    const jwt = await requestJwt({ access_token: token.accessToken.value, redirect_uri: "not a url" });
    expect(await errorOf(await callApi("oauth/token/reference", jwt, { body: { agent: { sdk: { name: "nodejs", version: "16.1.5" } } } }))).toMatchObject({ status: 404, code: "InvalidRedirectUri" });
  });

  it("refuses a redirect_uri that is a URL of another scheme", async () => {
    const { token } = testMock.mock.createUser();
    const jwt = await requestJwt({ access_token: token.accessToken.value, redirect_uri: "javascript:alert(1)" });
    expect(await errorOf(await callApi("oauth/token/reference", jwt, { body: { agent: { sdk: { name: "nodejs", version: "16.1.5" } } } }))).toMatchObject({ status: 404, code: "InvalidRedirectUri" });
  });

  it("refuses an S256 PKCE challenge that is not 43 base64url characters", async () => {
    const { token } = testMock.mock.createUser();
    const jwt = await requestJwt({ access_token: token.accessToken.value, code_challenge: "short", code_challenge_method: "S256", redirect_uri: CALLBACK, state: "s" });
    expect(await errorOf(await callApi("oauth/token/reference", jwt, { body: { agent: { sdk: { name: "nodejs", version: "16.1.5" } } } }))).toMatchObject({ status: 400, code: "ValidationErrors" });
  });

  it("refuses a JWT whose header names another alg, saying PS512 is required", async () => {
    const { token } = testMock.mock.createUser();
    const good = await requestJwt({ access_token: token.accessToken.value });
    const [, body, signature] = good.split(".");
    const header = btoa(JSON.stringify({ alg: "RS512", typ: "JWT" })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    expect(await errorOf(await callApi("permission-access/accounts", `${header}.${body}.${signature}`, { method: "GET" }))).toMatchObject({ status: 400, code: "ValidationErrors" });
    expect(testMock.mock.journal.at(-1)).toMatchObject({ errorDetail: "Authorization JWT must be signed with PS512" });
  });

  it("refuses to revoke an account the user does not have", async () => {
    const { user, token } = testMock.mock.createUser();
    const revoke = async (accountId: string) =>
      fetch(new URL("permission-access/revoke/h:accountId", TEST_API_BASE), {
        headers: { Authorization: `Bearer ${await requestJwt({ access_token: token.accessToken.value })}`, accountId, redirectUri: CALLBACK },
      });
    expect(await errorOf(await revoke("1_not-this-users"))).toMatchObject({ status: 404, code: "ResourceNotFound" });
    expect((await revoke(user.accounts[0]!.id)).status).toBeLessThan(400);
  });

  it("refuses to refresh a token issued to another contract", async () => {
    const other = await testMock.mock.registerContract({ applicationId: "other-app", contractId: "other-contract", publicKey: devPublicKey });
    const { token } = testMock.mock.createUser({ clientId: other });
    const { client } = recordingClient();
    await expect(client.refreshToken(token)).rejects.toMatchObject({ code: "InvalidToken", tokenSubject: "refresh_token", message: "The token (refresh_token) is invalid" });
  });

  it("answers an unknown path on its origin with a loud 404", async () => {
    const response = await fetch("https://api.digi.me/v1.7/no-such-call");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "MockRouteNotFound" } });
  });

  it("lets no request to another host through", async () => {
    await expect(fetch("https://example.com/")).rejects.toThrow();
  });
});
