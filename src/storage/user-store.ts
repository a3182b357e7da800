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
import { openToken, sealToken, versionOf, type StoredToken, type TokenRecord } from "./tokens.ts";

/** Object storage keys; versioned like the KV prefixes. */
export const USER_KEYS = {
  /** The user's token record. */
  token: "token:v1",
  /** The last token version written (a number): versions never come back down, across a delete too. */
  tokenVersion: "token-version:v1",
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
  /** Succeeded (or awaiting confirmation) user and authorize flows: the version their token was stored under, once stored. */
  tokenVersion?: number;
  /**
   * User and authorize flows that digi.me opened a session for (`{ key, expiry }`),
   * sealed (additional data `flow:v1:<flowId>:session`); recorded when the flow
   * ends, so the outcome hands the backend the key of what `triggerQuery` synced.
   */
  sealedSession?: Envelope;
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
  /** The contract this object is for: the alarm's keep-alive signs with its key, and its events name it. */
  contractId?: string;
  /** A KV token record from before the objects was looked for (and taken over if found). */
  kvChecked?: boolean;
  /** A KV record taken over is still to be deleted from KV (a delete failed): tried again at the next call. */
  kvDeletePending?: boolean;
  /** SHA-256 of a refresh token digi.me refused: never sent again. */
  refusedRefreshHash?: string;
  /** Why digi.me refused it: told again to every caller that meets it. */
  refusedReason?: "expired" | "invalid";
  /** The refresh-token expiry a `token.expiring` was sent for. */
  expiringSentFor?: number;
  /** The refresh-token expiry a `token.expired` was sent for. */
  expiredSentFor?: number;
  /** Keep-alive: the refresh-token expiry whose refresh digi.me refused (the keep-alive stops for that token). */
  keepAliveGaveUpFor?: number;
  /** Keep-alive: not before this time (ms) after digi.me could not answer. */
  keepAliveNotBefore?: number;
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

/**
 * What a token write requires of the stored token: the version the writer
 * read (`version`), any token (`present`), or none at all (`absent`). Without
 * one, the write is unconditional (reauthorization, confirm: digi.me just
 * issued the token).
 */
export type TokenCondition = { version: number } | { present: true } | { absent: true };

/**
 * A conditional token write's result: done (with the record written; none
 * for a delete), or refused with the version found instead (`null`: none
 * stored).
 */
export type TokenWrite = { written: true; record?: TokenRecord } | { written: false; current: number | null };

/** Whether a stored record (or none) meets a condition. */
export function meets(record: TokenRecord | undefined, condition: TokenCondition | undefined): boolean {
  if (!condition) return true;
  if ("absent" in condition) return record === undefined;
  if ("present" in condition) return record !== undefined;
  return record !== undefined && versionOf(record) === condition.version;
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

  /** The last token version written, or 0. */
  async #lastVersion(record: TokenRecord | undefined): Promise<number> {
    const last = (await this.#get<number>(USER_KEYS.tokenVersion)) ?? 0;
    return Math.max(last, record ? versionOf(record) : 0);
  }

  /**
   * Stores `record` under the next version if the stored token meets
   * `condition`. Sealing is done before: between the read of the stored record
   * and this write only storage calls run, so the object's input gate lets no
   * other request change the token in between.
   */
  async #write(record: Omit<TokenRecord, "version">, condition: TokenCondition | undefined, flow?: (version: number) => FlowState): Promise<TokenWrite> {
    const current = await this.tokenRecord();
    if (!meets(current, condition)) return { written: false, current: current ? versionOf(current) : null };
    const version = (await this.#lastVersion(current)) + 1;
    const written: TokenRecord = { ...record, version };
    const alsoFlow = flow?.(version);
    try {
      // One put of every key: atomic, so the version, the record (and a flow's outcome written with it) never disagree.
      await this.#storage.put({ [USER_KEYS.token]: written, [USER_KEYS.tokenVersion]: version, ...(alsoFlow ? { [USER_KEYS.flowPrefix + alsoFlow.id]: alsoFlow } : {}) });
    } catch (error) {
      throw unavailable("put", error);
    }
    return { written: true, record: written };
  }

  /**
   * Seals and stores the user's token under a new version, if the stored one
   * meets `condition`; with `flow`, that flow's state (made from the new
   * version) in the same atomic write: both or neither.
   */
  async putToken(userId: string, token: UserAccessToken, nowMs: number, condition?: TokenCondition, flow?: (version: number) => FlowState): Promise<TokenWrite> {
    const { version: _unset, ...sealed } = await sealToken(this.#sealer, userId, token, nowMs, 0);
    return this.#write(sealed, condition, flow);
  }

  /** Stores a record as it is, under a new version, only while no token is stored (taken over from KV: sealed for the same identity). */
  putTokenRecord(record: TokenRecord): Promise<TokenWrite> {
    const { version: _old, ...rest } = record;
    return this.#write(rest, { absent: true });
  }

  /** Forgets the user's token if the stored one meets `condition`; the version count stays. */
  async deleteToken(condition?: TokenCondition): Promise<TokenWrite> {
    const current = await this.tokenRecord();
    if (!meets(current, condition)) return { written: false, current: current ? versionOf(current) : null };
    if (!current) return { written: true };
    const last = await this.#lastVersion(current);
    try {
      // Issued together, committed together.
      await Promise.all([this.#storage.put(USER_KEYS.tokenVersion, last), this.#storage.delete(USER_KEYS.token)]);
    } catch (error) {
      throw unavailable("delete", error);
    }
    return { written: true };
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

  /** Deletes everything the object keeps, and its alarm (a user's erasure). */
  async eraseAll(): Promise<void> {
    try {
      await this.#storage.deleteAlarm();
      await this.#storage.deleteAll();
    } catch (error) {
      throw unavailable("delete", error);
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
