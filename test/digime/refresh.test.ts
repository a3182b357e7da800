import { describe, expect, it } from "vitest";
import { accountsNeedingReauth, withTokenRefresh, type UserAccessToken } from "../../src/digime/index.ts";
import { recordingClient } from "../support/client.ts";
import { useTestMock } from "../support/mock.ts";

const CALLBACK = "https://edge.example/reauth/account/callback?flow=f";
const testMock = useTestMock();

const count = (endpoint: string, status?: number) =>
  testMock.mock.journal.filter((e) => e.endpoint === endpoint && (status === undefined || e.status === status)).length;

describe("withTokenRefresh", () => {
  it("refreshes once on InvalidToken and retries account reauthorization with the new token", async () => {
    const { user, token } = testMock.mock.createUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "invalid-token", recoverOnRefresh: true });
    const { client } = recordingClient();
    const stored: UserAccessToken[] = [];
    const outcome = await withTokenRefresh(
      client,
      token,
      (accessToken) => client.getReauthorizeAccountUrl({ userAccessToken: accessToken, callbackUrl: CALLBACK, accountId: user.accounts[0]!.id }),
      { onRefreshed: (t) => void stored.push(t) },
    );
    expect(outcome.refreshed).toBe(true);
    expect(outcome.token.refreshToken.value).not.toBe(token.refreshToken.value);
    expect(stored).toEqual([outcome.token]);
    expect(outcome.result.url).toMatch(/\/reauthorize\?code=/);
    expect(count("oauth/token")).toBe(1);
    expect(count("oauth/token/reference", 401)).toBe(1);
    expect(count("oauth/token/reference", 201)).toBe(1);
    const retried = testMock.mock.journal.filter((e) => e.endpoint === "oauth/token/reference").at(-1)!;
    expect(retried.claims?.access_token).toBe(outcome.token.accessToken.value);
  });

  it("does not retry a second time when the new token is refused too", async () => {
    const { user, token } = testMock.mock.createUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "invalid-token" });
    const { client } = recordingClient();
    const stored: UserAccessToken[] = [];
    const error = await withTokenRefresh(
      client,
      token,
      (accessToken) => client.getReauthorizeAccountUrl({ userAccessToken: accessToken, callbackUrl: CALLBACK, accountId: user.accounts[0]!.id }),
      { onRefreshed: (t) => void stored.push(t) },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "InvalidToken", tokenSubject: "access_token" });
    expect(count("oauth/token")).toBe(1);
    expect(count("oauth/token/reference")).toBe(2);
    expect(stored).toHaveLength(1); // the rotated token is handed back even though the retry failed
  });

  it("surfaces an expired refresh token as InvalidToken on the refresh token", async () => {
    const { user, token } = testMock.mock.createUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "refresh-expired" });
    const { client } = recordingClient();
    const error = await withTokenRefresh(client, token, (accessToken) => client.readAccounts(accessToken)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "InvalidToken", tokenSubject: "refresh_token", message: "The token (refresh_token) is expired" });
    expect(count("permission-access/accounts")).toBe(1);
  });

  it("does not refresh when the call succeeds", async () => {
    const { token } = testMock.mock.createUser();
    const { client } = recordingClient();
    const outcome = await withTokenRefresh(client, token, (accessToken) => client.readAccounts(accessToken));
    expect(outcome).toMatchObject({ refreshed: false, token });
    expect(count("oauth/token")).toBe(0);
  });
});

describe("accountsNeedingReauth", () => {
  it.each(["nested", "flat"] as const)("finds accounts reported with 511 in the %s shape", async (shape) => {
    const { user, token } = testMock.mock.createUser({ accounts: 3 });
    const chosen = [user.accounts[0]!.id, user.accounts[2]!.id];
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "account-511", accounts: chosen, shape });
    const { client } = recordingClient();
    const status = await client.readFileList({ sessionKey: user.sessionKey, userAccessToken: token.accessToken.value });
    expect(accountsNeedingReauth(status)).toEqual(chosen.map((accountId) => ({ accountId, message: "Service authorization required" })));
  });

  it("ignores completed, running and other partial accounts", () => {
    expect(
      accountsNeedingReauth({
        state: "partial",
        details: {
          a: { state: "completed" },
          b: { state: "running" },
          c: { state: "partial", error: { code: "SourceError", statusCode: 500 } },
          d: { state: "partial", error: { code: "ServiceAuthorizationError", statusCode: 511, error: { reauth: false } } },
          e: { state: "partial", error: { code: "ServiceAuthorizationError", statusCode: 511, reauth: true } },
        },
      }),
    ).toEqual([{ accountId: "e" }]);
  });

  it("reads the seed document's example", () => {
    const seed = {
      "1_1xxxxxxxxx": {
        state: "partial",
        error: { code: "ServiceAuthorizationError", error: { message: "Service authorization required", reauth: true }, statusCode: 511 },
      },
    };
    expect(accountsNeedingReauth({ state: "partial", details: seed })).toEqual([{ accountId: "1_1xxxxxxxxx", message: "Service authorization required" }]);
  });
});
