/**
 * The mock against the SDK table: every request the official SDK sends, sent
 * as the SDK sends it, gets digi.me's recorded status and a body of the shape
 * the SDK reads; the onboarding pages call back with the SDK's parameters.
 */
import { describe, expect, it } from "vitest";
import type { MockUser } from "../../mock-server/index.ts";
import { recordingClient } from "../support/client.ts";
import { TEST_API_BASE, TEST_ONBOARD_BASE, useTestMock } from "../support/mock.ts";
import { requestJwt } from "../support/signed.ts";
import { createCodeVerifier } from "../../src/digime/index.ts";
import {
  definedClaims,
  ERROR_BODY,
  KEY_SET,
  SDK_CALLS,
  SDK_ERRORS,
  type CallInputs,
  type OnboardUrl,
  type SdkCall,
  type SdkRequest,
} from "./sdk-calls.ts";

const testMock = useTestMock();
const CALLBACK = "https://app.example/digime/callback";
const NODE = "v20.11.1";

/** Sends a table request as the SDK does: a fresh signed JWT with the table's claims, its headers and body. */
async function sendAsSdk(request: SdkRequest, claimOverrides: Record<string, unknown> = {}): Promise<Response> {
  const jwt = await requestJwt({ ...definedClaims(request.claims), ...claimOverrides });
  return fetch(new URL(request.path, TEST_API_BASE), {
    method: request.method,
    headers: { Authorization: `Bearer ${jwt}`, ...request.headers },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    redirect: "manual",
  });
}

/** Sends a row's request and checks the answer against the row; returns the body and the verified token payload. */
async function call(row: SdkCall, inputs: CallInputs): Promise<{ body: unknown; payload: Record<string, unknown> }> {
  const response = await sendAsSdk(await row.request(inputs));
  const text = await response.text();
  expect({ call: row.call, status: response.status }, text).toEqual({ call: row.call, status: row.answer.status });
  if (row.answer.body === null) return { body: undefined, payload: {} };
  const body = row.answer.body.parse(JSON.parse(text));
  if (!row.answer.tokenPayload) return { body, payload: {} };
  const verified = await recordingClient().client.verifyToken((body as { token: string }).token, row.call);
  return { body, payload: row.answer.tokenPayload.parse(verified) as Record<string, unknown> };
}

/** Opens an onboarding URL built from the table and returns the callback digi.me redirects to. */
async function visit(url: OnboardUrl): Promise<URL> {
  const target = new URL(url.page, TEST_ONBOARD_BASE);
  for (const [name, value] of url.params) target.searchParams.append(name, value);
  const response = await fetch(target, { redirect: "manual" });
  expect(response.status, await response.clone().text()).toBe(302);
  return new URL(response.headers.get("Location")!);
}

function user(accounts = 2): { user: MockUser; inputs: CallInputs } {
  const created = testMock.mock.createUser({ accounts });
  return {
    user: created.user,
    inputs: { node: NODE, accessToken: created.token.accessToken.value, refreshToken: created.token.refreshToken.value, redirectUri: CALLBACK },
  };
}

async function expectError(response: Response, code: keyof typeof SDK_ERRORS, message: string): Promise<void> {
  expect(response.status).toBe(SDK_ERRORS[code].status);
  expect(ERROR_BODY.parse(await response.json()).error).toMatchObject({ code, message });
}

describe("the mock answers every SDK call as digi.me's recorded answers", () => {
  it("getAuthorizeUrl: 201 with preauthorization_code; the authorize page calls back with success, state, code, accountReference; the exchange is 201", async () => {
    const { user: owner, inputs } = user();
    const codeVerifier = createCodeVerifier();
    const { payload } = await call(SDK_CALLS.getAuthorizeUrl, { ...inputs, codeVerifier, state: "st-1", sessionOptions: { pull: {} } });
    const callback = await visit(SDK_CALLS.getAuthorizeUrl.onboard(payload.preauthorization_code as string, { ...inputs, serviceId: 16, locale: "en" }));
    expect([...callback.searchParams.keys()]).toEqual(SDK_CALLS.getAuthorizeUrl.callback);
    expect(callback.searchParams.get("state")).toBe("st-1");
    expect(testMock.mock.accountRefs.get(callback.searchParams.get("accountReference")!)).toMatchObject({ userId: owner.id });
    const exchanged = await call(SDK_CALLS.exchangeCodeForToken, { ...inputs, code: callback.searchParams.get("code")!, codeVerifier });
    expect(exchanged.payload.sub).toBe(owner.id);
  });

  it("getAuthorizeUrl without an access token (a new user) is 201 too", async () => {
    const { inputs } = user();
    await call(SDK_CALLS.getAuthorizeUrl, { ...inputs, accessToken: undefined, codeVerifier: createCodeVerifier(), state: "s" });
  });

  it("getAuthorizeUrl with a storageId: reference of type cloudId is 201 with an id", async () => {
    await call(SDK_CALLS.storageReference, { node: NODE, storageId: "cloud-1" });
  });

  it.each([["with", "st-2"], ["without", undefined]])("getReauthorizeUrl %s state: 201 with reference_code; user-reauth calls back with a code", async (_with, state) => {
    const { inputs } = user();
    const codeVerifier = createCodeVerifier();
    const { payload } = await call(SDK_CALLS.getReauthorizeUrl, { ...inputs, codeVerifier, state });
    const callback = await visit(SDK_CALLS.getReauthorizeUrl.onboard(payload.reference_code as string, { ...inputs, locale: "nl", triggerQuery: false }));
    const expected = SDK_CALLS.getReauthorizeUrl.callback.filter((name) => state !== undefined || name !== "state");
    expect([...callback.searchParams.keys()]).toEqual(expected);
    await call(SDK_CALLS.exchangeCodeForToken, { ...inputs, code: callback.searchParams.get("code")!, codeVerifier });
  });

  it("getOnboardServiceUrl: 201 with reference_code; the onboard page adds a service and calls back with success", async () => {
    const { user: owner, inputs } = user();
    const { payload } = await call(SDK_CALLS.getOnboardServiceUrl, { ...inputs, state: "on-1" });
    const callback = await visit(SDK_CALLS.getOnboardServiceUrl.onboard(payload.reference_code as string, { ...inputs, serviceId: 420 }));
    expect([...callback.searchParams.keys()]).toEqual(SDK_CALLS.getOnboardServiceUrl.callback);
    expect(callback.searchParams.get("success")).toBe("true");
    expect(owner.accounts).toHaveLength(3);
  });

  it("getReauthorizeAccountUrl: the reference call, then the account reference, both 201; reauthorize calls back with success", async () => {
    const { user: owner, inputs } = user();
    const { payload } = await call(SDK_CALLS.getReauthorizeAccountUrl, inputs);
    const { body } = await call(SDK_CALLS.accountReference, { ...inputs, accountId: owner.accounts[0]!.id });
    const callback = await visit(SDK_CALLS.getReauthorizeAccountUrl.onboard(payload.reference_code as string, { ...inputs, accountRef: (body as { id: string }).id }));
    expect([...callback.searchParams.keys()]).toEqual(SDK_CALLS.getReauthorizeAccountUrl.callback);
  });

  it("refreshToken (Content-Type JSON, no body): 201 with a rotated pair", async () => {
    const { inputs } = user();
    const { payload } = await call(SDK_CALLS.refreshToken, inputs);
    expect((payload.refresh_token as { value: string }).value).not.toBe(inputs.refreshToken);
  });

  it("readAccounts: 202 with accounts the SDK's codec accepts", async () => {
    const { inputs } = user(3);
    const { body } = await call(SDK_CALLS.readAccounts, inputs);
    expect(body).toHaveLength(3);
  });

  it("readSession: 202 with exactly { session: { expiry, key } }, and that session is readable", async () => {
    const { inputs } = user();
    const { body } = await call(SDK_CALLS.readSession, { ...inputs, pullOptions: { limits: { duration: { sourceFetch: 30 } } } });
    await call(SDK_CALLS.readFileList, { ...inputs, sessionKey: (body as { session: { key: string } }).session.key });
  });

  it("readFileList: 200 with a status the SDK's codec accepts", async () => {
    const { user: owner, inputs } = user();
    await call(SDK_CALLS.readFileList, { ...inputs, sessionKey: owner.sessionKey });
  });

  it("getRevokeAccountPermissionUrl (literal h:accountId, values in headers): 201 with a location that calls back with result=success", async () => {
    const { user: owner, inputs } = user();
    const target = owner.accounts[1]!.id;
    const { body } = await call(SDK_CALLS.getRevokeAccountPermissionUrl, { ...inputs, accountId: target });
    const page = await fetch((body as { location: string }).location, { redirect: "manual" });
    const callback = new URL(page.headers.get("Location")!);
    expect([...callback.searchParams.keys()]).toEqual(SDK_CALLS.getRevokeAccountPermissionUrl.callback);
    expect(callback.searchParams.get("result")).toBe("success");
    expect(owner.accounts.map((a) => a.id)).not.toContain(target);
  });

  it("deleteAccount (literal h:accountId, accountId header): 201, and the account is gone", async () => {
    const { user: owner, inputs } = user();
    const target = owner.accounts[0]!.id;
    await call(SDK_CALLS.deleteAccount, { ...inputs, accountId: target });
    const { body } = await call(SDK_CALLS.readAccounts, inputs);
    expect((body as Array<{ id: string }>).map((a) => a.id)).not.toContain(target);
  });

  it("deleteUser: 201, after which the user's token is refused", async () => {
    const { inputs } = user();
    await call(SDK_CALLS.deleteUser, inputs);
    await expectError(await sendAsSdk(await SDK_CALLS.readAccounts.request(inputs)), "InvalidToken", SDK_ERRORS.InvalidToken.message("access_token"));
  });

  it("key set: GET jku without Authorization is 201 with PKCS#1 pems", async () => {
    const response = await fetch(testMock.mock.keySetUrl);
    expect(response.status).toBe(KEY_SET.status);
    KEY_SET.body.parse(await response.json());
  });
});

describe("the mock refuses as digi.me's recorded errors", () => {
  const agentCalls = [
    ["oauth/authorize", SDK_CALLS.getAuthorizeUrl],
    ["oauth/token/reference", SDK_CALLS.getReauthorizeUrl],
    ["permission-access/trigger", SDK_CALLS.readSession],
  ] as const;

  it.each(agentCalls)("%s: an agent naming an SDK digi.me does not know is 400 SDKInvalid", async (_path, row) => {
    const { inputs } = user();
    const request = await row.request({ ...inputs, codeVerifier: createCodeVerifier(), state: "s" });
    const body = request.body as { agent: { sdk: { name: string } } };
    body.agent.sdk.name = "test";
    await expectError(await sendAsSdk(request), "SDKInvalid", SDK_ERRORS.SDKInvalid.message("test"));
  });

  it.each(agentCalls)("%s: the sdk-version-invalid scenario is 403 SDKVersionInvalid", async (_path, row) => {
    const { user: owner, inputs } = user();
    testMock.mock.setUserScenario(owner, { ...testMock.mock.scenarioFor(owner), name: "sdk-version-invalid" });
    const request = await row.request({ ...inputs, codeVerifier: createCodeVerifier(), state: "s" });
    await expectError(await sendAsSdk(request), "SDKVersionInvalid", SDK_ERRORS.SDKVersionInvalid.message());
  });

  it("the global sdk-version-invalid scenario refuses full authorization for a new user too", async () => {
    testMock.mock.setGlobalScenario({ ...testMock.mock.globalScenario, name: "sdk-version-invalid" });
    const request = await SDK_CALLS.getAuthorizeUrl.request({ node: NODE, redirectUri: CALLBACK, codeVerifier: createCodeVerifier(), state: "s" });
    await expectError(await sendAsSdk(request), "SDKVersionInvalid", SDK_ERRORS.SDKVersionInvalid.message());
  });

  it.each([
    ["getAuthorizeUrl", SDK_CALLS.getAuthorizeUrl],
    ["getOnboardServiceUrl", SDK_CALLS.getOnboardServiceUrl],
    ["getReauthorizeAccountUrl", SDK_CALLS.getReauthorizeAccountUrl],
  ] as const)("%s: an invalid redirect_uri is 404 InvalidRedirectUri", async (_name, row) => {
    const { inputs } = user();
    const request = await row.request({ ...inputs, redirectUri: "not a url", codeVerifier: createCodeVerifier(), state: "s" });
    await expectError(await sendAsSdk(request), "InvalidRedirectUri", SDK_ERRORS.InvalidRedirectUri.message("not a url"));
  });

  it("readSession with an invalid access token is 401 InvalidToken", async () => {
    const { inputs } = user();
    await expectError(await sendAsSdk(await SDK_CALLS.readSession.request({ ...inputs, accessToken: "nope" })), "InvalidToken", SDK_ERRORS.InvalidToken.message("access_token"));
  });

  it("a request without an Authorization JWT is 400 ValidationErrors", async () => {
    const response = await fetch(new URL("permission-access/accounts", TEST_API_BASE));
    await expectError(response, "ValidationErrors", SDK_ERRORS.ValidationErrors.message());
  });

  it.each([
    ["response_type", { response_type: "token" }],
    ["response_mode", { response_mode: undefined }],
    ["state", { state: undefined }],
  ])("oauth/authorize without the SDK's %s is 400 ValidationErrors", async (claim, override) => {
    const { inputs } = user();
    const request: SdkRequest = await SDK_CALLS.getAuthorizeUrl.request({ ...inputs, codeVerifier: createCodeVerifier(), state: "s" });
    request.claims = { ...request.claims, ...override };
    await expectError(await sendAsSdk(request), "ValidationErrors", SDK_ERRORS.ValidationErrors.message());
    expect(testMock.mock.journal.at(-1)?.errorDetail).toContain(claim);
  });
});

describe("scenarios on the SDK's lifecycle calls", () => {
  it("account-511: a triggered session reports the 511 once its sync ends (syncMs on the mock's clock)", async () => {
    const { user: owner, inputs } = user();
    testMock.mock.setUserScenario(owner, { ...testMock.mock.scenarioFor(owner), name: "account-511", syncMs: 5000 });
    const { body } = await call(SDK_CALLS.readSession, inputs);
    const sessionKey = (body as { session: { key: string } }).session.key;
    const first = await call(SDK_CALLS.readFileList, { ...inputs, sessionKey });
    expect(first.body).toMatchObject({ status: { state: "running", details: { [owner.accounts[0]!.id]: { state: "running" } } } });
    testMock.mock.advanceClock(5000);
    const later = await call(SDK_CALLS.readFileList, { ...inputs, sessionKey, accessToken: inputs.accessToken });
    expect(later.body).toMatchObject({
      status: { state: "partial", details: { [owner.accounts[0]!.id]: { state: "partial", error: { code: "ServiceAuthorizationError", statusCode: 511 } } } },
    });
  });

  it("failure: the revoke page calls back with result=failed and the error message", async () => {
    const { user: owner, inputs } = user();
    testMock.mock.setUserScenario(owner, { ...testMock.mock.scenarioFor(owner), name: "failure", errorCode: "USER_CANCEL" });
    const { body } = await call(SDK_CALLS.getRevokeAccountPermissionUrl, { ...inputs, accountId: owner.accounts[0]!.id });
    const page = await fetch((body as { location: string }).location, { redirect: "manual" });
    expect(Object.fromEntries(new URL(page.headers.get("Location")!).searchParams)).toEqual({ result: "failed", error_message: "USER_CANCEL" });
    expect(owner.accounts).toHaveLength(2);
  });
});
