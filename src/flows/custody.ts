/**
 * What the flow steps need of a user's token, provided by the user's object
 * (src/users/object.ts): the latest stored token, storing a new one, and a
 * refresh that runs exactly once however many callers need it.
 */
import { withTokenRefresh, type DigimeClient, type UserAccessToken, type WithTokenRefreshResult } from "../digime/index.ts";
import type { Config } from "../config.ts";
import type { LogScope } from "../log.ts";
import type { StoredToken } from "../storage/tokens.ts";
import type { OutboundEvent } from "../webhooks/outbox.ts";

/** One user's token custody. */
export interface Custody {
  readonly userId: string;
  /** The stored token, or `null`. */
  token(): Promise<StoredToken | null>;
  /** Stores a token digi.me just issued to this user; answers its version. */
  store(token: UserAccessToken): Promise<number>;
  /**
   * The token to use after digi.me refused `seen`: the refresh of `seen`'s
   * refresh token, shared by every concurrent caller and sent to digi.me at
   * most once; or the stored token, when it is already newer than `seen`.
   */
  refresh(seen: UserAccessToken): Promise<UserAccessToken>;
}

/** What a flow step running in a user's object works with. */
export interface StepDeps {
  config: Config;
  digime: DigimeClient;
  custody: Custody;
  /** The time of the request (ms); tests set it. */
  now: number;
  log: LogScope;
  /** Events the step produced: the Worker enqueues them, once. */
  events: OutboundEvent[];
  /** Told when a start's digi.me request is on its way (the user's object records the flow meanwhile). */
  sent?: () => void;
}

/** Runs `call` with `token`, refreshing through the custody once when digi.me asks for it. */
export function withCustodyRefresh<T>(deps: Pick<StepDeps, "digime" | "custody">, token: UserAccessToken, call: (accessToken: string) => Promise<T>): Promise<WithTokenRefreshResult<T>> {
  return withTokenRefresh(deps.digime, token, call, { refresh: (seen) => deps.custody.refresh(seen) });
}
