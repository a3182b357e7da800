/**
 * What a user's Durable Object keeps in its own storage (SQLite backend): the
 * user's token (sealed), the state of the user's flows, and its bookkeeping.
 * The object is the one reader and writer of all of it (src/users/object.ts);
 * see docs/storage-schema.md.
 */
import type { UserAccessToken } from "../digime/index.ts";
import type { Envelope, Sealer } from "./crypto.ts";
import { StorageError } from "./errors.ts";
import type { FlowKind } from "./flows.ts";
import { openToken, sealToken, type StoredToken, type TokenRecord } from "./tokens.ts";

/** Object storage keys; versioned like the KV prefixes. */
export const USER_KEYS = {
  /** The user's token record. */
  token: "token:v1",
  /** The object's bookkeeping (`UserMeta`). */
  meta: "meta:v1",
  /** `flow:v1:<flowId>` → `FlowState`. */
  flowPrefix: "flow:v1:",
} as const;

/**
 * Where a flow stands. `awaiting_confirmation`: digi.me issued a token of a
 * digi.me identity the edge could not match to the user (`new`, `replaced`);
 * it is kept sealed, not stored, until the application confirms the returning
 * browser is its user. `expired`: it reached its expiry unfinished (or
 * unconfirmed).
 */
export type FlowStatus = "pending" | "awaiting_confirmation" | "succeeded" | "failed" | "expired";

/** Who said a flow failed: the edge (what it checked), or only the browser (digi.me's failure callback carries no proof). */
export type ErrorSource = "edge" | "browser";

/** How a succeeded user or authorize flow's digi.me identity relates to the one the edge knew. */
export type FlowIdentity = "confirmed" | "new" | "replaced";

/** A flow's state in its user's object. */
export interface FlowState {
  v: 1;
  id: string;
  kind: FlowKind;
  userId: string;
  accountId?: string;
  status: FlowStatus;
  errorCode?: string;
  /** Failed flows: who reported the failure. */
  errorSource?: ErrorSource;
  /** Awaiting confirmation: the token digi.me issued, sealed (additional data `flow:v1:<flowId>:token`), until confirmed or expired. */
  pendingToken?: Envelope;
  /** Awaiting confirmation: when the flow expires unconfirmed (ms). */
  confirmBy?: number;
  /** Succeeded user and authorize flows: the digi.me identity (`sub`) of the token stored. */
  digimeUserId?: string;
  /**
   * `confirmed`: it matched the known one (user flows always, or the flow fails
   * `USER_MISMATCH`); `new`: none was known; `replaced`: a full authorization
   * brought another identity than the stored token's.
   */
  identity?: FlowIdentity;
  /** The `accountReference` digi.me's full-authorization callback carried. */
  accountReference?: string;
  /** SHA-256 of the browser binding secret, set once at the first launch. */
  bindingHash?: string;
  createdAt: number;
  expiresAt: number;
  completedAt?: number;
}

/** The object's bookkeeping. */
export interface UserMeta {
  v: 1;
  /** The user this object is for (the alarm has no request to learn it from). */
  userId?: string;
  /** A KV token record from before the objects was looked for (and taken over if found). */
  kvChecked?: boolean;
  /** SHA-256 of a refresh token digi.me refused: never sent again. */
  refusedRefreshHash?: string;
  /** The refresh-token expiry a `token.expiring` was sent for. */
  expiringSentFor?: number;
  /** The refresh-token expiry a `token.expired` was sent for. */
  expiredSentFor?: number;
}

function unavailable(operation: string, cause: unknown): StorageError {
  return StorageError.unavailable(cause, { operation, store: "user-object" });
}

/**
 * `unconfirmed`: the write does not hold the object's outgoing messages (its
 * calls to digi.me) until it is durable; whoever writes so must `sync()`
 * before answering.
 */
export interface WriteOptions {
  unconfirmed?: boolean;
}

/** The runtime's write options for ours. */
function putOptions(options: WriteOptions | undefined): { allowUnconfirmed: true } | undefined {
  return options?.unconfirmed ? { allowUnconfirmed: true } : undefined;
}

/** Reads and writes one user object's storage; a storage failure is a `StorageError` (unavailable). */
export class UserStore {
  readonly #storage: DurableObjectStorage;
  readonly #sealer: Sealer;
  constructor(storage: DurableObjectStorage, sealer: Sealer) {
    [this.#storage, this.#sealer] = [storage, sealer];
  }

  async #get<T>(key: string): Promise<T | undefined> {
    try {
      return await this.#storage.get<T>(key);
    } catch (error) {
      throw unavailable("get", error);
    }
  }

  async #put(key: string, value: unknown, options?: WriteOptions): Promise<void> {
    try {
      await this.#storage.put(key, value, putOptions(options));
    } catch (error) {
      throw unavailable("put", error);
    }
  }

  async #delete(key: string): Promise<void> {
    try {
      await this.#storage.delete(key);
    } catch (error) {
      throw unavailable("delete", error);
    }
  }

  /** The token record (sealed), without opening it. */
  tokenRecord(): Promise<TokenRecord | undefined> {
    return this.#get<TokenRecord>(USER_KEYS.token);
  }

  /** The user's token, opened. */
  async token(userId: string): Promise<StoredToken | null> {
    const record = await this.tokenRecord();
    return record && record.v === 1 ? openToken(this.#sealer, userId, record) : null;
  }

  /** Seals and stores the user's token. */
  async putToken(userId: string, token: UserAccessToken, nowMs: number): Promise<TokenRecord> {
    const record = await sealToken(this.#sealer, userId, token, nowMs);
    await this.#put(USER_KEYS.token, record);
    return record;
  }

  /** Stores a record as it is (taken over from KV: sealed for the same identity). */
  putTokenRecord(record: TokenRecord): Promise<void> {
    return this.#put(USER_KEYS.token, record);
  }

  /** Forgets the user's token. */
  deleteToken(): Promise<void> {
    return this.#delete(USER_KEYS.token);
  }

  /** A flow's state. */
  flow(flowId: string): Promise<FlowState | undefined> {
    return this.#get<FlowState>(USER_KEYS.flowPrefix + flowId);
  }

  /** Writes a flow's state. */
  putFlow(state: FlowState, options?: WriteOptions): Promise<void> {
    return this.#put(USER_KEYS.flowPrefix + state.id, state, options);
  }

  /** Forgets a flow. */
  deleteFlow(flowId: string): Promise<void> {
    return this.#delete(USER_KEYS.flowPrefix + flowId);
  }

  /** Every flow this object keeps (pending ones and outcomes still kept). */
  async flows(): Promise<FlowState[]> {
    try {
      return [...(await this.#storage.list<FlowState>({ prefix: USER_KEYS.flowPrefix })).values()];
    } catch (error) {
      throw unavailable("list", error);
    }
  }

  /** The bookkeeping. */
  async meta(): Promise<UserMeta> {
    return (await this.#get<UserMeta>(USER_KEYS.meta)) ?? { v: 1 };
  }

  /** Writes the bookkeeping. */
  putMeta(meta: UserMeta): Promise<void> {
    return this.#put(USER_KEYS.meta, meta);
  }

  /** Sets the object's alarm (the earliest thing it must do unasked), or clears it. */
  async setAlarm(atMs: number | undefined, options?: WriteOptions): Promise<void> {
    try {
      if (atMs === undefined) await this.#storage.deleteAlarm();
      else await this.#storage.setAlarm(atMs, putOptions(options));
    } catch (error) {
      throw unavailable("alarm", error);
    }
  }

  /** Resolves once every write made so far (unconfirmed ones included) is durable. */
  async sync(): Promise<void> {
    try {
      await this.#storage.sync();
    } catch (error) {
      throw unavailable("sync", error);
    }
  }
}
