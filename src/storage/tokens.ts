/**
 * A user's digi.me token at rest: sealed with AES-GCM, the record's identity
 * (`token:v1:<userId>`) as additional data. The user's object keeps it
 * (src/storage/user-store.ts); KV held it before the objects, and
 * `LegacyKvTokens` lets an object take such a record over.
 */
import type { UserAccessToken } from "../digime/index.ts";
import type { Envelope, Sealer } from "./crypto.ts";
import { tokenKey } from "./keys.ts";
import type { Kv } from "./kv.ts";

/** A token record as stored: the sealed token plus metadata that is not secret. */
export interface TokenRecord {
  v: 1;
  sealed: Envelope;
  /** Unix seconds, copied out so status checks and alarms need not decrypt. */
  accessTokenExpiry: number;
  refreshTokenExpiry: number;
  updatedAt: number;
  /**
   * Goes up by at least one on every write (import, refresh, reauthorization,
   * confirm, takeover) and never comes back down, across a delete too: the
   * backend's `ETag` and `If-Match`. Absent on records written before
   * versions (KV's, and the first objects'): read as `LEGACY_TOKEN_VERSION`.
   */
  version?: number;
}

/** The version of a record written before versions existed. */
export const LEGACY_TOKEN_VERSION = 1;

/** A record's version. */
export function versionOf(record: Pick<TokenRecord, "version">): number {
  return record.version ?? LEGACY_TOKEN_VERSION;
}

/** A stored token with when it was last written, and its version. */
export interface StoredToken {
  token: UserAccessToken;
  updatedAt: number;
  version: number;
}

/** Seals a user's token into a record of the given version. */
export async function sealToken(sealer: Sealer, userId: string, token: UserAccessToken, nowMs: number, version: number): Promise<TokenRecord> {
  return {
    v: 1,
    sealed: await sealer.seal(JSON.stringify(token), tokenKey(userId)),
    accessTokenExpiry: token.accessToken.expiry,
    refreshTokenExpiry: token.refreshToken.expiry,
    updatedAt: nowMs,
    version,
  };
}

/** Opens a user's token record (a record of another user does not open). */
export async function openToken(sealer: Sealer, userId: string, record: TokenRecord): Promise<StoredToken> {
  return { token: JSON.parse(await sealer.open(record.sealed, tokenKey(userId))) as UserAccessToken, updatedAt: record.updatedAt, version: versionOf(record) };
}

/** Token records the Worker kept in KV before the user objects: read once by the object that takes one over, then deleted. */
export class LegacyKvTokens {
  readonly #kv: Kv;
  constructor(kv: Kv) {
    this.#kv = kv;
  }

  /** The user's KV record, if one is left. */
  async get(userId: string): Promise<TokenRecord | null> {
    const record = await this.#kv.getJson<TokenRecord>(tokenKey(userId));
    return record && record.v === 1 ? record : null;
  }

  /** Deletes the user's KV record. */
  delete(userId: string): Promise<void> {
    return this.#kv.delete(tokenKey(userId));
  }
}
