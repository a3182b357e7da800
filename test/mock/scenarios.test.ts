import { describe, expect, it } from "vitest";
import { KNOWN_ERROR_CODES, type ScenarioInput } from "../../mock-server/index.ts";
import { accountsNeedingReauth, type UserAccessToken } from "../../src/digime/index.ts";
import { followConsent, recordingClient } from "../support/client.ts";
import { useTestMock } from "../support/mock.ts";

const ADMIN = "https://api.digi.me/__mock/";
const CALLBACK = "https://edge.example/reauth/user/callback";
useTestMock();

interface CreatedUser {
  userId: string;
  sessionKey: string;
  accounts: Array<{ id: string; needsReauth: boolean }>;
  token: UserAccessToken;
}

async function admin(path: string, method = "GET", body?: unknown): Promise<Response> {
  return fetch(ADMIN + path, { method, headers: { "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function createUser(scenario?: ScenarioInput, accounts = 2): Promise<CreatedUser> {
  const response = await admin("users", "POST", { accounts, ...(scenario ? { scenario } : {}) });
  expect(response.status).toBe(201);
  return response.json();
}

async function userReauthCallback(user: CreatedUser): Promise<URL> {
  const { client } = recordingClient();
  const start = await client.getReauthorizeUrl({ userAccessToken: user.token.accessToken.value, callbackUrl: CALLBACK, state: "st" });
  return followConsent(start.url);
}

async function accountReauthCallback(user: CreatedUser, accountId: string): Promise<URL> {
  const { client } = recordingClient();
  const start = await client.getReauthorizeAccountUrl({ userAccessToken: user.token.accessToken.value, callbackUrl: `${CALLBACK}?flow=f9`, accountId });
  return followConsent(start.url);
}

describe("scenario: success", () => {
  it("calls back with success, state and a code that exchanges for a new token", async () => {
    const user = await createUser();
    const callback = await userReauthCallback(user);
    expect(Object.fromEntries(callback.searchParams)).toEqual({ success: "true", state: "st", code: expect.stringMatching(/^mac_/) });
  });

  it("calls the account callback back with success, keeping the edge's own query", async () => {
    const user = await createUser();
    const callback = await accountReauthCallback(user, user.accounts[1]!.id);
    expect(Object.fromEntries(callback.searchParams)).toEqual({ flow: "f9", success: "true" });
  });
});

describe("scenario: failure", () => {
  it.each([...KNOWN_ERROR_CODES, "SOMETHING_NEW"])("calls back with success=false and errorCode %s", async (errorCode) => {
    const user = await createUser({ name: "failure", errorCode });
    const callback = await userReauthCallback(user);
    expect(Object.fromEntries(callback.searchParams)).toEqual({ success: "false", errorCode });
  });

  it("defaults to USER_CANCEL and can send no errorCode at all", async () => {
    expect(Object.fromEntries((await userReauthCallback(await createUser({ name: "failure" }))).searchParams)).toEqual({ success: "false", errorCode: "USER_CANCEL" });
    expect(Object.fromEntries((await userReauthCallback(await createUser({ name: "failure", errorCode: null }))).searchParams)).toEqual({ success: "false" });
  });

  it("fails account reauthorization too, and leaves the account as it was", async () => {
    const user = await createUser({ name: "failure", errorCode: "ONBOARD_ERROR" });
    const callback = await accountReauthCallback(user, user.accounts[0]!.id);
    expect(Object.fromEntries(callback.searchParams)).toEqual({ flow: "f9", success: "false", errorCode: "ONBOARD_ERROR" });
  });
});

describe("scenario: account-511", () => {
  it("reports the chosen accounts partial until their reauthorization succeeds", async () => {
    const user = await createUser(undefined, 3);
    const target = user.accounts[2]!.id;
    expect((await admin(`users/${user.userId}/scenario`, "PUT", { name: "account-511", accounts: [target] })).status).toBe(200);
    const { client } = recordingClient();
    const read = () => client.readFileList({ sessionKey: user.sessionKey, userAccessToken: user.token.accessToken.value });
    expect(accountsNeedingReauth(await read()).map((a) => a.accountId)).toEqual([target]);
    const accounts = await client.readAccounts(user.token.accessToken.value);
    expect(accounts.find((a) => a.id === target)?.accessTokenStatus).toEqual({ authorized: false });
    await accountReauthCallback(user, target);
    const after = await read();
    expect(accountsNeedingReauth(after)).toEqual([]);
    expect(after.status.state).toBe("completed");
  });

  it("refuses an unknown account id with a clear message", async () => {
    const user = await createUser();
    const response = await admin(`users/${user.userId}/scenario`, "PUT", { name: "account-511", accounts: ["nope"] });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining("nope") } });
  });
});

describe("scenario: invalid-token", () => {
  it("answers oauth/token/reference with 401 InvalidToken on the access token", async () => {
    const user = await createUser({ name: "invalid-token" });
    const { client } = recordingClient();
    await expect(client.getReauthorizeUrl({ userAccessToken: user.token.accessToken.value, callbackUrl: CALLBACK, state: "s" })).rejects.toMatchObject({
      status: 401,
      code: "InvalidToken",
      message: "The token (access_token) is invalid",
    });
  });

  it("still allows full authorization, after which the user's new token works", async () => {
    const user = await createUser({ name: "invalid-token" });
    const { client } = recordingClient();
    const start = await client.getAuthorizeUrl({ callbackUrl: CALLBACK, state: "full", userAccessToken: user.token.accessToken.value });
    const callback = await followConsent(start.url);
    expect(callback.searchParams.get("state")).toBe("full");
    const token = await client.exchangeCodeForToken({ code: callback.searchParams.get("code")!, codeVerifier: start.codeVerifier });
    expect(token.user.id).toBe(user.userId);
    await expect(client.readAccounts(token.accessToken.value)).resolves.toHaveLength(2);
  });
});

describe("scenario: refresh-expired", () => {
  it("refuses the refresh, then user reauthorization issues a fresh pair that works", async () => {
    const user = await createUser({ name: "refresh-expired" });
    const { client } = recordingClient();
    await expect(client.readAccounts(user.token.accessToken.value)).rejects.toMatchObject({ message: "The token (access_token) is expired" });
    await expect(client.refreshToken(user.token)).rejects.toMatchObject({ code: "InvalidToken", message: "The token (refresh_token) is expired" });
    const start = await client.getReauthorizeUrl({ userAccessToken: user.token.accessToken.value, callbackUrl: CALLBACK, state: "s" });
    const callback = await followConsent(start.url);
    const fresh = await client.exchangeCodeForToken({ code: callback.searchParams.get("code")!, codeVerifier: start.codeVerifier });
    await expect(client.readAccounts(fresh.accessToken.value)).resolves.toHaveLength(2);
    await expect(client.refreshToken(fresh)).resolves.toHaveProperty("accessToken");
  });
});

describe("interactive consent", () => {
  async function consentPage(scenario: ScenarioInput) {
    const user = await createUser(scenario);
    const { client } = recordingClient();
    const start = await client.getReauthorizeUrl({ userAccessToken: user.token.accessToken.value, callbackUrl: CALLBACK, state: "st" });
    const page = await fetch(start.url, { redirect: "manual" });
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/text\/html/);
    const html = await page.text();
    const code = /name="code" value="([^"]+)"/.exec(html)?.[1];
    return { html, code: code!, user };
  }

  it("shows Approve and Deny, and Approve calls back with a code", async () => {
    const { html, code } = await consentPage({ consent: "interactive" });
    expect(html).toContain('id="approve"');
    expect(html).toContain('id="deny"');
    const decided = await fetch(`https://api.digi.me/apps/saas/decide?code=${code}&decision=approve`, { redirect: "manual" });
    const callback = new URL(decided.headers.get("Location")!);
    expect(callback.searchParams.get("success")).toBe("true");
    expect(callback.searchParams.get("state")).toBe("st");
  });

  it("Deny calls back with the chosen errorCode, and the code cannot be decided twice", async () => {
    const { code } = await consentPage({ consent: "interactive" });
    const decided = await fetch(`https://api.digi.me/apps/saas/decide?code=${code}&decision=deny&errorCode=SERVER_ERROR`, { redirect: "manual" });
    expect(Object.fromEntries(new URL(decided.headers.get("Location")!).searchParams)).toEqual({ success: "false", errorCode: "SERVER_ERROR" });
    const again = await fetch(`https://api.digi.me/apps/saas/decide?code=${code}&decision=approve`, { redirect: "manual" });
    expect(again.status).toBe(400);
  });
});

describe("per-user scenarios", () => {
  it("keeps one user's scenario and faults away from another user", async () => {
    const broken = await createUser({ name: "failure", faults: [{ type: "http-error", endpoints: ["permission-access/accounts"] }] });
    const healthy = await createUser();
    const { client } = recordingClient({ sleep: async () => undefined });
    await expect(client.readAccounts(broken.token.accessToken.value)).rejects.toMatchObject({ status: 503 });
    await expect(client.readAccounts(healthy.token.accessToken.value)).resolves.toHaveLength(2);
    expect(Object.fromEntries((await userReauthCallback(healthy)).searchParams)).toMatchObject({ success: "true" });
  });

  it("lets a user's own scenario win over the global one, and clearing it restores the global", async () => {
    expect((await admin("scenario", "PUT", { name: "failure", errorCode: "SERVER_ERROR" })).status).toBe(200);
    const user = await createUser({ name: "success" });
    expect((await userReauthCallback(user)).searchParams.get("success")).toBe("true");
    await admin(`users/${user.userId}/scenario`, "DELETE");
    expect((await userReauthCallback(user)).searchParams.get("errorCode")).toBe("SERVER_ERROR");
  });

  it("applies a fault only the given number of times", async () => {
    const user = await createUser({ faults: [{ type: "http-error", status: 502, times: 1, endpoints: ["oauth/token/reference"] }] });
    const { client } = recordingClient();
    const start = () => client.getReauthorizeUrl({ userAccessToken: user.token.accessToken.value, callbackUrl: CALLBACK, state: "s" });
    await expect(start()).rejects.toMatchObject({ status: 502 });
    await expect(start()).resolves.toHaveProperty("url");
  });
});

describe("admin API", () => {
  it("names the field of a bad scenario", async () => {
    const response = await admin("scenario", "PUT", { name: "nope", faults: [{ type: "delay", ms: -1 }] });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toMatch(/name/);
    expect(error.message).toMatch(/faults\.0\.ms/);
  });

  it("journals requests with decoded claims, and filters them", async () => {
    const user = await createUser();
    await userReauthCallback(user);
    const other = await createUser();
    await userReauthCallback(other);
    const response = await admin(`journal?userId=${user.userId}&endpoint=oauth/token/reference`);
    const { entries } = (await response.json()) as { entries: Array<Record<string, unknown>> };
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      method: "POST",
      path: "/v1.7/oauth/token/reference",
      status: 201,
      userId: user.userId,
      signatureVerified: true,
      claims: { access_token: user.token.accessToken.value, state: "st", code_challenge_method: "S256" },
    });
  });

  it("resets to a clean state with the start-up contract still registered", async () => {
    await createUser();
    expect((await admin("reset", "POST")).status).toBe(200);
    const summary = (await (await admin("")).json()) as { users: number; contracts: string[]; journalEntries: number };
    expect(summary).toMatchObject({ users: 0, contracts: ["dev-app_dev-contract", "dev-app_dev-contract-2"], journalEntries: 0 });
  });

  it("registers another contract and accepts requests signed with its key", async () => {
    const pair = (await crypto.subtle.generateKey(
      { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const b64 = async (format: "spki" | "pkcs8", key: CryptoKey) => btoa(String.fromCharCode(...new Uint8Array((await crypto.subtle.exportKey(format, key)) as ArrayBuffer)));
    const publicKey = `-----BEGIN PUBLIC KEY-----\n${await b64("spki", pair.publicKey)}\n-----END PUBLIC KEY-----`;
    const registered = await admin("contracts", "POST", { applicationId: "app2", contractId: "c2", publicKey });
    expect(await registered.json()).toEqual({ clientId: "app2_c2" });
    const created = (await (await admin("users", "POST", { clientId: "app2_c2" })).json()) as CreatedUser;
    const privateKey = `-----BEGIN PRIVATE KEY-----\n${await b64("pkcs8", pair.privateKey)}\n-----END PRIVATE KEY-----`;
    const { client } = recordingClient({ applicationId: "app2", contractId: "c2", privateKey });
    await expect(client.readAccounts(created.token.accessToken.value)).resolves.toHaveLength(2);
  });
});
