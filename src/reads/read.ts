/**
 * Reads through the edge: a backend reads its users' digi.me data with its API
 * key alone, and the token never leaves the edge. Each read takes a fresh
 * token from the user's object (one object call), calls digi.me from the
 * Worker (no object on the data path: a file streams straight through), and
 * when digi.me says the access token expired asks the object for the one
 * refresh (a second object call, only then) and retries once.
 */
import { AppError } from "../errors.ts";
import { needsRefresh, type DigimeClient } from "../digime/index.ts";
import type { UserHandle } from "../users/client.ts";

/** What a read needs: the user's object, the digi.me client, how fresh the token must be, and the clock. */
export interface ReadDeps {
  user: UserHandle;
  digime: DigimeClient;
  /** The contract read for, and the secret that holds its key: named when a file does not decrypt. */
  contract?: { id: string; keyBinding: string };
  /** The contract a start must name (`contractId` in `reauth.start`): the user's, when it is not the default. */
  startContractId?: string;
  /** Seconds the access token must stay valid (`minValidity`). */
  minValiditySeconds: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Runs `call` with the user's access token: fresh from the object; if digi.me
 * answers that it expired all the same (a clock apart, a token revoked), the
 * object refreshes it once and `call` is retried once. A refused refresh is
 * the object's 409 (`refresh_token_expired`, with its hint).
 */
export async function withUserToken<T>(deps: Pick<ReadDeps, "user" | "minValiditySeconds">, call: (accessToken: string) => Promise<T>): Promise<T> {
  const stored = await withoutToken(deps.user.token(deps.minValiditySeconds));
  if (!stored) {
    throw new AppError("token_not_found", `no digi.me token is stored for user ${deps.user.userId}`, {
      hint: "connect the user first (POST /v1/authorize), or store a token with PUT /v1/users/{userId}/token",
    });
  }
  try {
    return await call(stored.token.accessToken.value);
  } catch (error) {
    if (!needsRefresh(error)) throw error;
  }
  const refreshed = await withoutToken(deps.user.refreshToken(stored.version));
  return call(refreshed.token.accessToken.value);
}

/**
 * A read's answer never carries the token, not even the 503 of a refresh the
 * object could not store (whose `error.token` the token routes hand to the
 * backend): the new pair went out with `token.rotated` all the same.
 */
async function withoutToken<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    if (!(error instanceof AppError && error.code === "token_not_stored")) throw error;
    const { token: _token, ...extra } = error.init.extra ?? {};
    throw AppError.withStatus(error.status, "token_not_stored", "digi.me issued a new token but storage failed; the read was not made", {
      ...error.init,
      extra,
      hint: "the new token was sent with the token.rotated webhook; retry the read once storage is back",
    });
  }
}
