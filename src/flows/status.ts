/**
 * What needs reauthorization for a user: accounts digi.me reports with 511
 * (or as unauthorized), and whether the user's token still works.
 */
import { accountsNeedingReauth, DigimeError, type DigimeAccount, type FileListResponse } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import { withCustodyRefresh, type StepDeps } from "./custody.ts";

/** How the user's token stands. */
export type TokenState = "valid" | "refreshed" | "needs_user_reauth" | "needs_full_authorization";

/** The answer of `GET /v1/users/:userId/reauth-status`. */
export interface ReauthStatus {
  userId: string;
  token: { status: TokenState; accessTokenExpiry: number; refreshTokenExpiry: number };
  accounts: Array<{ accountId: string; serviceTypeName?: string; reason: "ServiceAuthorizationError" | "unauthorized"; message?: string }>;
  syncState?: string;
}

/**
 * In the user's object: reads the user's accounts (and, with a session key,
 * the sync status) in parallel, refreshing the token once (through the
 * custody) if digi.me refuses it.
 */
export async function reauthStatus(deps: StepDeps, sessionKey?: string): Promise<ReauthStatus> {
  const { custody, digime } = deps;
  const userId = custody.userId;
  const stored = await custody.token();
  if (!stored) {
    throw new AppError("token_not_found", `no digi.me token is stored for user ${userId}`, { hint: "store one with PUT /v1/users/{userId}/token" });
  }
  const read = (accessToken: string) =>
    Promise.all([
      digime.readAccounts(accessToken),
      sessionKey ? digime.readFileList({ sessionKey, userAccessToken: accessToken }) : Promise.resolve(undefined),
    ]);
  let outcome: { result: [DigimeAccount[], FileListResponse | undefined]; token: typeof stored.token; refreshed: boolean };
  try {
    outcome = await withCustodyRefresh(deps, stored.token, read);
  } catch (error) {
    if (error instanceof DigimeError && error.isInvalidToken()) {
      // After a rotation the stored token is the new one; report its expiries.
      const latest = (await custody.token())?.token ?? stored.token;
      return {
        userId,
        token: {
          status: error.tokenSubject === "refresh_token" ? "needs_user_reauth" : "needs_full_authorization",
          accessTokenExpiry: latest.accessToken.expiry,
          refreshTokenExpiry: latest.refreshToken.expiry,
        },
        accounts: [],
      };
    }
    throw error;
  }
  const [accounts, fileList] = outcome.result;
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const listed: ReauthStatus["accounts"] = [];
  for (const found of fileList ? accountsNeedingReauth(fileList) : []) {
    listed.push({ accountId: found.accountId, serviceTypeName: byId.get(found.accountId)?.serviceTypeName, reason: "ServiceAuthorizationError", message: found.message });
  }
  for (const account of accounts) {
    if (account.accessTokenStatus?.authorized === false && !listed.some((l) => l.accountId === account.id)) {
      listed.push({ accountId: account.id, serviceTypeName: account.serviceTypeName, reason: "unauthorized" });
    }
  }
  return {
    userId,
    token: {
      status: outcome.refreshed ? "refreshed" : "valid",
      accessTokenExpiry: outcome.token.accessToken.expiry,
      refreshTokenExpiry: outcome.token.refreshToken.expiry,
    },
    accounts: listed,
    ...(fileList ? { syncState: fileList.status.state } : {}),
  };
}
