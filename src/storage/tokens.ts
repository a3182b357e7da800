/**
 * Custody of users' digi.me tokens: one encrypted KV entry per user.
 */
import type { UserAccessToken } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import type { Envelope, Sealer } from "./crypto.ts";
import { TOKEN_MAX_TTL_SECONDS, TOKEN_MIN_TTL_SECONDS, tokenKey } from "./keys.ts";
import type { Kv, StoreDeps } from "./kv.ts";

/** A token record as stored: the sealed token plus metadata that is not secret. */
export interface TokenRecord {
  v: 1;
  sealed: Envelope;
  /** Unix seconds, copied out so status checks need not decrypt. */
  accessTokenExpiry: number;
  refreshTokenExpiry: number;
  updatedAt: number;
}

/**
 * How long a token record lives: until its refresh token expires, at least
 * `TOKEN_MIN_TTL_SECONDS` and at most `TOKEN_MAX_TTL_SECONDS`, whatever digi.me
 * states as the expiry (a unit it does not document, possibly not a number).
 */
export function tokenTtlSeconds(refreshTokenExpiry: unknown, nowMs: number): number {
  const untilExpiry = typeof refreshTokenExpiry === "number" && Number.isFinite(refreshTokenExpiry) ? refreshTokenExpiry - nowMs / 1000 : 0;
  return Math.min(Math.max(TOKEN_MIN_TTL_SECONDS, untilExpiry), TOKEN_MAX_TTL_SECONDS);
}

/** A stored token with when it was last written. */
export interface StoredToken {
  token: UserAccessToken;
  updatedAt: number;
}

/** Reads and writes users' tokens, sealed with the configured keys. */
export class TokenStore {
  readonly #kv: Kv;
  readonly #sealer: Sealer;
  readonly #now: () => number;
  constructor({ kv, sealer, now }: StoreDeps) {
    [this.#kv, this.#sealer, this.#now] = [kv, sealer, now];
  }

  /** Seals and stores a user's token; it lives until its refresh token expires, within `tokenTtlSeconds`' bounds. */
  async put(userId: string, token: UserAccessToken): Promise<void> {
    const key = tokenKey(userId);
    const record: TokenRecord = {
      v: 1,
      sealed: await this.#sealer.seal(JSON.stringify(token), key),
      accessTokenExpiry: token.accessToken.expiry,
      refreshTokenExpiry: token.refreshToken.expiry,
      updatedAt: this.#now(),
    };
    await this.#kv.putJson(key, record, tokenTtlSeconds(token.refreshToken.expiry, this.#now()));
  }

  /** The user's token, or `null`. */
  async get(userId: string): Promise<StoredToken | null> {
    const key = tokenKey(userId);
    const record = await this.#kv.getJson<TokenRecord>(key);
    if (!record || record.v !== 1) return null;
    return { token: JSON.parse(await this.#sealer.open(record.sealed, key)) as UserAccessToken, updatedAt: record.updatedAt };
  }

  /**
   * Seals a token for the browser to carry back when storing it failed. Bound
   * to the flow and the user, so it opens only for that flow's recovery.
   */
  async sealForRecovery(flowId: string, userId: string, token: UserAccessToken): Promise<string> {
    const envelope = await this.#sealer.seal(JSON.stringify(token), `recovery:v1:${flowId}:${tokenKey(userId)}`);
    return btoa(JSON.stringify(envelope));
  }

  /** Opens what `sealForRecovery` sealed; anything else is a 400. */
  async openRecovery(flowId: string, userId: string, sealed: string): Promise<UserAccessToken> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(atob(sealed)) as Envelope;
    } catch {
      throw new AppError(400, "invalid_request", "the recovery data is malformed");
    }
    try {
      return JSON.parse(await this.#sealer.open(envelope, `recovery:v1:${flowId}:${tokenKey(userId)}`)) as UserAccessToken;
    } catch {
      throw new AppError(400, "invalid_request", "the recovery data does not belong to this flow");
    }
  }

  /** Forgets the user's token. */
  async delete(userId: string): Promise<void> {
    await this.#kv.delete(tokenKey(userId));
  }
}
