/**
 * The client against the SDK table: for each call the client makes, it sends
 * exactly the table's request (method, path, headers, body, JWT header and
 * claims) and builds the table's onboarding URL, parameters in the SDK's order.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_AGENT } from "../../src/digime/index.ts";
import { recordingClient, type SentRequest } from "../support/client.ts";
import { verifyWithContractKey } from "../support/jwt.ts";
import { TEST_API_BASE, TEST_APPLICATION_ID, TEST_CONTRACT_ID, TEST_ONBOARD_BASE, useTestMock } from "../support/mock.ts";
import { COMMON_CLAIMS, definedClaims, REQUEST_JWT_HEADER, SDK_CALLS, SDK_NAME, SDK_VERSION, type CallInputs, type OnboardUrl, type SdkCall } from "./sdk-calls.ts";

const testMock = useTestMock();
const CALLBACK = "https://edge.example/reauth/user/callback?flow=f1";

/** The API calls among the captured requests (the key-set fetch carries no Authorization). */
const apiCalls = (sent: SentRequest[]) => sent.filter((r) => r.headers.has("Authorization"));

/** Asserts that `sent` is exactly the table row's request for `inputs`. */
async function expectSdkRequest(sent: SentRequest | undefined, row: SdkCall, inputs: CallInputs): Promise<void> {
  const expected = await row.request(inputs);
  expect(sent, `${row.call} was not sent`).toBeDefined();
  const label = row.call;
  expect({ label, method: sent!.method, path: sent!.url.pathname.slice(new URL(TEST_API_BASE).pathname.length) + sent!.url.search }).toEqual({
    label,
    method: expected.method,
    path: expected.path,
  });
  expect({ label, body: sent!.body === null ? undefined : JSON.parse(sent!.body) }).toEqual({ label, body: expected.body });
  for (const [name, value] of Object.entries(expected.headers)) expect({ label, [name]: sent!.headers.get(name) }).toEqual({ label, [name]: value });
  expect({ label, contentType: sent!.headers.has("content-type") }).toEqual({ label, contentType: "content-type" in expected.headers });
  const { header, claims } = await verifyWithContractKey(sent!.headers.get("Authorization")!.replace(/^Bearer /, ""));
  expect(header).toEqual(REQUEST_JWT_HEADER);
  const { client_id, nonce, timestamp, ...rest } = claims;
  expect(Object.keys(claims).filter((c) => (COMMON_CLAIMS as readonly string[]).includes(c)).sort()).toEqual([...COMMON_CLAIMS].sort());
  expect({ client_id, nonce, timestamp }).toEqual({ client_id: `${TEST_APPLICATION_ID}_${TEST_CONTRACT_ID}`, nonce: expect.stringMatching(/^[A-Za-z0-9]{32}$/), timestamp: expect.any(Number) });
  expect({ label, claims: rest }).toEqual({ label, claims: definedClaims(expected.claims) });
}

/** Asserts that `url` is the table's onboarding URL: the page, then the parameters in the SDK's order. */
function expectOnboardUrl(url: string, expected: OnboardUrl): void {
  const actual = new URL(url);
  expect(actual.origin + actual.pathname).toBe(new URL(expected.page, TEST_ONBOARD_BASE).toString());
  expect([...actual.searchParams]).toEqual(expected.params);
}

function newUser() {
  const { user, token } = testMock.mock.createUser();
  const inputs: CallInputs = { node: DEFAULT_AGENT.meta!.node!, accessToken: token.accessToken.value, refreshToken: token.refreshToken.value, redirectUri: CALLBACK };
  return { user, token, inputs };
}

describe("the client sends exactly the SDK's requests", () => {
  it("names itself as digi.me knows the SDK: agent nodejs 16.1.5 with meta.node", () => {
    expect(DEFAULT_AGENT).toEqual({ name: SDK_NAME, version: SDK_VERSION, meta: { node: expect.any(String) } });
  });

  it("getAuthorizeUrl: oauth/authorize with response_type, response_mode, state and PKCE; the authorize URL with sourceType=pull", async () => {
    const { inputs } = newUser();
    const { client, sent } = recordingClient();
    const sessionOptions = { pull: { scope: { timeRanges: [{ last: "1d" }] } } };
    const started = await client.getAuthorizeUrl({ callbackUrl: CALLBACK, state: "st", userAccessToken: inputs.accessToken, sessionOptions, serviceId: 16, locale: "en", triggerQuery: true });
    await expectSdkRequest(apiCalls(sent)[0], SDK_CALLS.getAuthorizeUrl, { ...inputs, state: "st", codeVerifier: started.codeVerifier, sessionOptions });
    const code = new URL(started.url).searchParams.get("code")!;
    expectOnboardUrl(started.url, SDK_CALLS.getAuthorizeUrl.onboard(code, { ...inputs, serviceId: 16, locale: "en", triggerQuery: true }));
    expect(started.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("getAuthorizeUrl for a user without a usable token: no access_token claim, sourceType still pull", async () => {
    const { inputs } = newUser();
    const { client, sent } = recordingClient();
    const started = await client.getAuthorizeUrl({ callbackUrl: CALLBACK, state: "st" });
    await expectSdkRequest(apiCalls(sent)[0], SDK_CALLS.getAuthorizeUrl, { ...inputs, accessToken: undefined, state: "st", codeVerifier: started.codeVerifier });
    expectOnboardUrl(started.url, SDK_CALLS.getAuthorizeUrl.onboard(new URL(started.url).searchParams.get("code")!, inputs));
  });

  it("getReauthorizeUrl: oauth/token/reference with PKCE and state; the user-reauth URL", async () => {
    const { inputs } = newUser();
    const { client, sent } = recordingClient();
    const sessionOptions = { pull: {} };
    const started = await client.getReauthorizeUrl({ userAccessToken: inputs.accessToken!, callbackUrl: CALLBACK, state: "st", locale: "fr", triggerQuery: false, sessionOptions });
    await expectSdkRequest(apiCalls(sent)[0], SDK_CALLS.getReauthorizeUrl, { ...inputs, state: "st", codeVerifier: started.codeVerifier, sessionOptions });
    expectOnboardUrl(started.url, SDK_CALLS.getReauthorizeUrl.onboard(new URL(started.url).searchParams.get("code")!, { ...inputs, locale: "fr", triggerQuery: false }));
  });

  it("getReauthorizeAccountUrl: the reference call and the account reference (sent at once: see docs/digime-client.md); the reauthorize URL", async () => {
    const { user, inputs } = newUser();
    const { client, sent } = recordingClient();
    const accountId = user.accounts[0]!.id;
    const started = await client.getReauthorizeAccountUrl({ userAccessToken: inputs.accessToken!, callbackUrl: CALLBACK, accountId, locale: "de" });
    const calls = apiCalls(sent);
    expect(calls).toHaveLength(2);
    await expectSdkRequest(calls.find((r) => r.url.pathname.endsWith("/oauth/token/reference")), SDK_CALLS.getReauthorizeAccountUrl, inputs);
    await expectSdkRequest(calls.find((r) => r.url.pathname.endsWith("/v1.7/reference")), SDK_CALLS.accountReference, { ...inputs, accountId });
    const url = new URL(started.url);
    expectOnboardUrl(started.url, SDK_CALLS.getReauthorizeAccountUrl.onboard(url.searchParams.get("code")!, { ...inputs, accountRef: url.searchParams.get("accountRef")!, locale: "de" }));
  });

  it("exchangeCodeForToken: oauth/token with code, verifier and grant type, no body and no Content-Type", async () => {
    const { inputs } = newUser();
    const { client, sent } = recordingClient();
    const started = await client.getReauthorizeUrl({ userAccessToken: inputs.accessToken!, callbackUrl: CALLBACK, state: "st" });
    const code = new URL((await fetch(started.url, { redirect: "manual" })).headers.get("Location")!).searchParams.get("code")!;
    await client.exchangeCodeForToken({ code, codeVerifier: started.codeVerifier });
    await expectSdkRequest(apiCalls(sent)[1], SDK_CALLS.exchangeCodeForToken, { ...inputs, code, codeVerifier: started.codeVerifier });
  });

  it("refreshToken: oauth/token with the refresh token, Content-Type JSON and no body", async () => {
    const { token, inputs } = newUser();
    const { client, sent } = recordingClient();
    await client.refreshToken(token);
    await expectSdkRequest(apiCalls(sent)[0], SDK_CALLS.refreshToken, inputs);
  });

  it("readAccounts and readFileList: GETs with the access token only", async () => {
    const { user, inputs } = newUser();
    const { client, sent } = recordingClient();
    await client.readAccounts(inputs.accessToken!);
    await client.readFileList({ sessionKey: user.sessionKey, userAccessToken: inputs.accessToken! });
    await expectSdkRequest(apiCalls(sent)[0], SDK_CALLS.readAccounts, inputs);
    await expectSdkRequest(apiCalls(sent)[1], SDK_CALLS.readFileList, { ...inputs, sessionKey: user.sessionKey });
  });

  it("fetches the key set from the token's jku, without Authorization", async () => {
    const { inputs } = newUser();
    const { client, sent } = recordingClient();
    await client.refreshToken({ accessToken: { value: inputs.accessToken!, expiry: 0 }, refreshToken: { value: inputs.refreshToken!, expiry: 0 }, user: { id: "u" } });
    const keySet = sent.find((r) => !r.headers.has("Authorization"));
    expect(keySet).toMatchObject({ method: "GET", url: new URL(testMock.mock.keySetUrl) });
  });
});
