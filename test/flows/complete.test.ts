/**
 * The callbacks' decisions, without the app or the user object: the flow
 * steps take their services (a digi.me client, the user's custody), so each
 * rule is checked on its own with a fake client.
 */
import { describe, expect, it } from "vitest";
import { DigimeError, type DigimeAccount, type DigimeClient, type UserAccessToken } from "../../src/digime/index.ts";
import { confirmAccountCallback, exchangeUserCallback, normaliseErrorCode, type CallbackEntry } from "../../src/flows/complete.ts";
import type { Custody, StepDeps } from "../../src/flows/custody.ts";
import type { Config } from "../../src/config.ts";
import { quietConsole } from "../support/quiet.ts";

quietConsole();

const TOKEN: UserAccessToken = { accessToken: { value: "at-1", expiry: 2_000_000_000 }, refreshToken: { value: "rt-1", expiry: 2_100_000_000 }, user: { id: "dm-alice" } };
const ACCOUNT: CallbackEntry = { id: "F".repeat(22), kind: "account", userId: "alice", accountId: "acc-1" };

function deps(client: Partial<DigimeClient>, stored: UserAccessToken | null = TOKEN, refresh: Custody["refresh"] = async () => TOKEN): StepDeps {
  const custody: Custody = { userId: "alice", token: async () => (stored ? { token: stored, updatedAt: 0, version: 1 } : null), store: async () => 2, refresh };
  return { config: {} as Config, digime: client as DigimeClient, custody, now: 0, log: { logLevel: "error" }, events: [] };
}

const listing = (accounts: DigimeAccount[]) => ({ readAccounts: async () => accounts });
const refused = (status: number, code: string) => new DigimeError({ kind: "api", status, code, message: code, call: "permission-access/accounts" });

describe("confirming an account callback", () => {
  it("succeeds when digi.me lists the account as authorized", async () => {
    expect(await confirmAccountCallback(deps(listing([{ id: "acc-1", accessTokenStatus: { authorized: true } }])), ACCOUNT, { flow: ACCOUNT.id, success: "true" })).toEqual({ status: "succeeded" });
  });

  it.each([
    ["still unauthorized", [{ id: "acc-1", accessTokenStatus: { authorized: false } }]],
    ["listed without an accessTokenStatus", [{ id: "acc-1" }]],
    ["not listed", [{ id: "acc-2", accessTokenStatus: { authorized: true } }]],
  ])("fails NOT_REAUTHORIZED when the account is %s", async (_case, accounts) => {
    expect(await confirmAccountCallback(deps(listing(accounts as DigimeAccount[])), ACCOUNT, { flow: ACCOUNT.id, success: "true" })).toEqual({ status: "failed", errorCode: "NOT_REAUTHORIZED", errorSource: "edge" });
  });

  it("fails NOT_REAUTHORIZED when digi.me refuses the read with a 4xx a refresh cannot cure", async () => {
    const client = { readAccounts: async () => Promise.reject(refused(403, "Forbidden")) };
    expect(await confirmAccountCallback(deps(client), ACCOUNT, { flow: ACCOUNT.id, success: "true" })).toEqual({ status: "failed", errorCode: "NOT_REAUTHORIZED", errorSource: "edge" });
  });

  it("fails NOT_REAUTHORIZED when the refresh itself is refused", async () => {
    const client = { readAccounts: async () => Promise.reject(refused(401, "InvalidToken")) };
    const dead = async () => Promise.reject(new DigimeError({ kind: "api", status: 401, code: "InvalidToken", tokenSubject: "refresh_token", message: "refresh refused", call: "oauth/token" }));
    expect(await confirmAccountCallback(deps(client, TOKEN, dead), ACCOUNT, { flow: ACCOUNT.id, success: "true" })).toEqual({ status: "failed", errorCode: "NOT_REAUTHORIZED", errorSource: "edge" });
  });

  it("fails NOT_REAUTHORIZED when the user has no stored token and none was passed, without asking digi.me", async () => {
    let asked = false;
    const client = { readAccounts: async () => ((asked = true), [{ id: "acc-1", accessTokenStatus: { authorized: true } }]) };
    expect(await confirmAccountCallback(deps(client, null), ACCOUNT, { flow: ACCOUNT.id, success: "true" })).toEqual({ status: "failed", errorCode: "NOT_REAUTHORIZED", errorSource: "edge" });
    expect(asked).toBe(false);
  });

  it("leaves the flow pending (throws) when digi.me fails with a 5xx", async () => {
    const client = { readAccounts: async () => Promise.reject(refused(503, "ServiceUnavailable")) };
    await expect(confirmAccountCallback(deps(client), ACCOUNT, { flow: ACCOUNT.id, success: "true" })).rejects.toMatchObject({ status: 503 });
  });
});

describe("a user callback", () => {
  const USER: CallbackEntry = { id: "U".repeat(22), kind: "user", userId: "alice", verifier: "v".repeat(43), expectedDigimeUserId: "dm-alice" };

  it("fails USER_MISMATCH when the exchanged token is another digi.me user's", async () => {
    const client = { exchangeCodeForToken: async () => ({ ...TOKEN, user: { id: "dm-mallory" } }) };
    expect(await exchangeUserCallback(deps(client), USER, { flow: USER.id, success: "true", state: "s", code: "c" })).toEqual({ status: "failed", errorCode: "USER_MISMATCH", errorSource: "edge" });
  });

  it("fails EXCHANGE_FAILED when digi.me refuses the code", async () => {
    const client = { exchangeCodeForToken: async () => Promise.reject(refused(400, "InvalidRequest")) };
    expect(await exchangeUserCallback(deps(client), USER, { flow: USER.id, success: "true", state: "s", code: "c" })).toEqual({ status: "failed", errorCode: "EXCHANGE_FAILED", errorSource: "edge" });
  });

  it("records a failure the browser reports as the browser's, and never with one of the edge's own codes", async () => {
    for (const code of ["USER_MISMATCH", "NOT_REAUTHORIZED", "EXCHANGE_FAILED"]) {
      expect(await exchangeUserCallback(deps({}), USER, { flow: USER.id, success: "false", errorCode: code })).toEqual({ status: "failed", errorCode: "UNKNOWN", errorSource: "browser" });
      expect(await confirmAccountCallback(deps({}), ACCOUNT, { flow: ACCOUNT.id, success: "false", errorCode: code })).toEqual({ status: "failed", errorCode: "UNKNOWN", errorSource: "browser" });
    }
    expect(await exchangeUserCallback(deps({}), USER, { flow: USER.id, success: "false", errorCode: "USER_CANCEL" })).toEqual({ status: "failed", errorCode: "USER_CANCEL", errorSource: "browser" });
  });

  it("keeps a code-like errorCode from the browser and turns anything else into UNKNOWN", () => {
    expect(normaliseErrorCode("USER_CANCEL")).toBe("USER_CANCEL");
    expect(normaliseErrorCode("<script>")).toBe("UNKNOWN");
    expect(normaliseErrorCode(undefined)).toBe("UNKNOWN");
  });
});
