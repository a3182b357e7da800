/**
 * A backend in tests, made the way digi.me's official Node SDK (16.1.5) makes
 * one: it reads a user's accounts with a token, and when digi.me answers 401
 * `InvalidToken` (an access token expired) it refreshes with that token's
 * refresh token — spending it, behind the edge's back — retries once, and
 * hands the new pair back beside the data (`withTokenRefresh` is that rule).
 * `viaEdge` follows the edge's recipe on top: the token read from the edge
 * just before the read, a refreshed pair written back at once with If-Match.
 */
import type { DigimeAccount, DigimeClient, UserAccessToken } from "../../src/digime/index.ts";
import { withTokenRefresh } from "../../src/digime/refresh.ts";
import type { ApiCall } from "./app.ts";

/** What a read through the recipe came to. */
export type BackendRead =
  | { ok: true; accounts: DigimeAccount[]; version: number; refreshedItself: boolean }
  /** Somebody told the backend to reauthorize the user: the edge (its status and code) or digi.me (a refused refresh). */
  | { ok: false; status: number; code: string };

/** The SDK-like backend. */
export class SdkBackend {
  /** Refresh tokens this backend spent itself. */
  readonly refreshes: string[] = [];
  readonly #digime: DigimeClient;
  readonly #api: ApiCall;

  constructor(digime: DigimeClient, api: ApiCall) {
    [this.#digime, this.#api] = [digime, api];
  }

  /** One read as the SDK makes it: with `token`, refreshing itself once on "expired". */
  async readAccounts(token: UserAccessToken): Promise<{ accounts: DigimeAccount[]; token: UserAccessToken; refreshed: boolean }> {
    const read = await withTokenRefresh(this.#digime, token, (accessToken) => this.#digime.readAccounts(accessToken), {
      onRefreshed: () => void this.refreshes.push(token.refreshToken.value),
    });
    return { accounts: read.result, token: read.token, refreshed: read.refreshed };
  }

  /** The recipe: read the token from the edge just before; write back a pair the SDK refreshed, with If-Match. */
  async viaEdge(userId: string): Promise<BackendRead> {
    const answer = await this.#api(`/v1/users/${userId}/token`);
    if (answer.status !== 200) return { ok: false, status: answer.status, code: ((await answer.json()) as { error: { code: string } }).error.code };
    const { token, version } = (await answer.json()) as { token: UserAccessToken; version: number };
    let read;
    try {
      read = await this.readAccounts(token);
    } catch (error) {
      return { ok: false, status: 0, code: (error as { code?: string }).code ?? String(error) };
    }
    if (read.refreshed) {
      await this.#api(`/v1/users/${userId}/token`, { method: "PUT", body: read.token, headers: { "If-Match": answer.headers.get("ETag")! } });
    }
    return { ok: true, accounts: read.accounts, version, refreshedItself: read.refreshed };
  }
}
