/**
 * "Refresh on 401": run a call with the user's access token; if digi.me
 * answers 401 `InvalidToken` (or a 401 that is not a digi.me error), refresh
 * once, hand the rotated token to the caller, and retry once with it.
 */
import type { DigimeClient } from "./client.ts";
import { DigimeError } from "./errors.ts";
import type { UserAccessToken } from "./types.ts";

/** Options of `withTokenRefresh`. */
export interface WithTokenRefreshOptions {
  /**
   * Called with the rotated token as soon as the refresh succeeds, before the
   * retry. The old refresh token is dead from then on, so store this one
   * before anything else can fail.
   */
  onRefreshed?: (token: UserAccessToken) => Promise<void> | void;
  /**
   * How to refresh; defaults to `client.refreshToken`. A service can plug in
   * its own, e.g. to adopt a token a concurrent request already rotated.
   */
  refresh?: (token: UserAccessToken) => Promise<UserAccessToken>;
}

/** What `withTokenRefresh` returns: the call's result and the token to keep. */
export interface WithTokenRefreshResult<T> {
  result: T;
  token: UserAccessToken;
  refreshed: boolean;
}

/**
 * Whether an error from a call made with an access token calls for a refresh,
 * by the official SDK's rule: an HTTP 401 whose body is digi.me's
 * `InvalidToken`, or is not a digi.me `{ error: { code, message } }` at all
 * (a bare `{ error: "<code>" }` included). Any other status, and a 401 with
 * another digi.me error code, are thrown as they are.
 */
export function needsRefresh(error: unknown): boolean {
  if (!(error instanceof DigimeError) || error.status !== 401) return false;
  if (error.kind === "api") return error.code === "InvalidToken" || !error.structured;
  return error.kind === "invalid_response";
}

/**
 * Runs `call` with the access token; when `needsRefresh` says so
 * refreshes at most once and retries at most once. A refresh failure (for
 * example `InvalidToken` on the refresh token) and a second failure of the
 * call are thrown as they are.
 */
export async function withTokenRefresh<T>(
  client: DigimeClient,
  token: UserAccessToken,
  call: (accessToken: string) => Promise<T>,
  options: WithTokenRefreshOptions = {},
): Promise<WithTokenRefreshResult<T>> {
  try {
    return { result: await call(token.accessToken.value), token, refreshed: false };
  } catch (error) {
    if (!needsRefresh(error)) throw error;
  }
  const rotated = await (options.refresh ?? ((t: UserAccessToken) => client.refreshToken(t)))(token);
  await options.onRefreshed?.(rotated);
  return { result: await call(rotated.accessToken.value), token: rotated, refreshed: true };
}
