/**
 * Flow records: one KV entry per reauthorization flow, from start to outcome.
 */
import type { DigimeSession } from "../digime/index.ts";
import type { Envelope, Sealer } from "./crypto.ts";
import { COMPLETED_FLOW_TTL_SECONDS, flowKey } from "./keys.ts";
import type { Kv, StoreDeps } from "./kv.ts";
import { AppError } from "../errors.ts";

/** `user` and `account` reauthorization; `authorize` is the full-authorization fallback. */
export type FlowKind = "user" | "account" | "authorize";

/** Where a flow stands. */
export type FlowStatus = "pending" | "succeeded" | "failed";

/** A flow as stored (see docs/storage-schema.md). */
export interface FlowRecord {
  v: 1;
  id: string;
  kind: FlowKind;
  userId: string;
  accountId?: string;
  status: FlowStatus;
  errorCode?: string;
  returnTo: string;
  /** digi.me's onboarding URL that launch redirects to (it carries the reference code); sealed at rest, dropped on completion. */
  upstreamUrl?: string;
  /** SHA-256 of the `state` secret (user and authorize flows). */
  stateHash?: string;
  /** The PKCE verifier, sealed; dropped on completion. */
  verifier?: Envelope;
  /** digi.me's session (its key reads the user's data); sealed at rest, dropped on completion. */
  session?: DigimeSession;
  /** Succeeded user and authorize flows: the digi.me identity (`sub`) of the token stored. */
  digimeUserId?: string;
  /**
   * Succeeded user and authorize flows: how that identity relates to the one
   * the edge knew. `confirmed`: it matched (user flows always, or the flow
   * fails `USER_MISMATCH`); `new`: none was known; `replaced`: a full
   * authorization brought another identity than the stored token's.
   */
  identity?: "confirmed" | "new" | "replaced";
  /** Pending user and authorize flows: the digi.me identity known at start (the stored token's `user.id`). */
  expectedDigimeUserId?: string;
  /** Pending account flows started with the backend's own access token: kept (sealed) to confirm the account at the callback. */
  userAccessToken?: string;
  /** The `accountReference` digi.me's full-authorization callback carried (authorize flows). */
  accountReference?: string;
  /** SHA-256 of the browser binding secret, set at launch. */
  bindingHash?: string;
  createdAt: number;
  expiresAt: number;
  completedAt?: number;
}

/** A flow as it sits in KV: the onboarding URL and the session sealed (see docs/storage-schema.md). */
type StoredFlow = Omit<FlowRecord, "upstreamUrl" | "session" | "userAccessToken"> & { upstreamUrl?: Envelope; session?: Envelope; userAccessToken?: Envelope };

/** Reads and writes flow records; seals and opens the fields that must not sit in clear. */
export class FlowStore {
  readonly #kv: Kv;
  readonly #sealer: Sealer;
  readonly #now: () => number;
  constructor({ kv, sealer, now }: StoreDeps) {
    [this.#kv, this.#sealer, this.#now] = [kv, sealer, now];
  }

  /** Stores a new flow for `ttlSeconds`. */
  async create(record: FlowRecord, ttlSeconds: number): Promise<void> {
    await this.#kv.putJson(flowKey(record.id), await this.#seal(record), ttlSeconds);
  }

  /** The flow, or `null` when unknown or past its expiry (KV deletes lazily). */
  async get(flowId: string): Promise<FlowRecord | null> {
    const stored = await this.#kv.getJson<StoredFlow>(flowKey(flowId));
    if (!stored || stored.v !== 1) return null;
    if (stored.status === "pending" && stored.expiresAt <= this.#now()) return null;
    // A record copied under another key is not that flow (its envelopes would not open there either).
    if (stored.id !== flowId) throw new AppError(500, "storage_corrupt", "a stored flow does not match its key", { detail: { flowId } });
    return this.#open(stored);
  }

  /** Rewrites a pending flow, keeping its original expiry. */
  async update(record: FlowRecord): Promise<void> {
    await this.#kv.putJson(flowKey(record.id), await this.#seal(record), (record.expiresAt - this.#now()) / 1000);
  }

  /**
   * Records the outcome: drops the verifier, the onboarding URL, the session
   * and the expected identity, keeps the outcome (and `extra`, such as the
   * identity stored) an hour.
   */
  async complete(
    record: FlowRecord,
    status: "succeeded" | "failed",
    errorCode?: string,
    extra: Pick<FlowRecord, "digimeUserId" | "identity"> = {},
  ): Promise<FlowRecord> {
    const { verifier: _verifier, upstreamUrl: _upstreamUrl, session: _session, expectedDigimeUserId: _expected, userAccessToken: _token, ...rest } = record;
    const done: FlowRecord = { ...rest, ...extra, status, completedAt: this.#now(), ...(errorCode ? { errorCode } : {}) };
    await this.#kv.putJson(flowKey(record.id), done, COMPLETED_FLOW_TTL_SECONDS);
    return done;
  }

  async #seal(record: FlowRecord): Promise<StoredFlow> {
    const { upstreamUrl, session, userAccessToken, ...rest } = record;
    const key = flowKey(record.id);
    return {
      ...rest,
      ...(upstreamUrl === undefined ? {} : { upstreamUrl: await this.#sealer.seal(upstreamUrl, `${key}:upstreamUrl`) }),
      ...(session === undefined ? {} : { session: await this.#sealer.seal(JSON.stringify(session), `${key}:session`) }),
      ...(userAccessToken === undefined ? {} : { userAccessToken: await this.#sealer.seal(userAccessToken, `${key}:userAccessToken`) }),
    };
  }

  async #open(stored: StoredFlow): Promise<FlowRecord> {
    const { upstreamUrl, session, userAccessToken, ...rest } = stored;
    const key = flowKey(stored.id);
    // Flows written before these fields were sealed (pending at most an hour after a deploy) still launch.
    const legacy = stored as unknown as { upstreamUrl?: unknown; session?: { key?: unknown } };
    if (typeof legacy.upstreamUrl === "string" || typeof legacy.session?.key === "string") return stored as unknown as FlowRecord;
    return {
      ...rest,
      ...(upstreamUrl === undefined ? {} : { upstreamUrl: await this.#sealer.open(upstreamUrl, `${key}:upstreamUrl`) }),
      ...(session === undefined ? {} : { session: JSON.parse(await this.#sealer.open(session, `${key}:session`)) as DigimeSession }),
      ...(userAccessToken === undefined ? {} : { userAccessToken: await this.#sealer.open(userAccessToken, `${key}:userAccessToken`) }),
    };
  }

  /** Seals a PKCE verifier for a flow's record. */
  sealVerifier(flowId: string, verifier: string): Promise<Envelope> {
    return this.#sealer.seal(verifier, `${flowKey(flowId)}:verifier`);
  }

  /** Opens a flow's PKCE verifier. */
  openVerifier(record: FlowRecord): Promise<string | undefined> {
    return record.verifier ? this.#sealer.open(record.verifier, `${flowKey(record.id)}:verifier`) : Promise.resolve(undefined);
  }
}
