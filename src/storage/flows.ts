/**
 * Flow records: one KV entry per reauthorization flow, from start to outcome.
 */
import type { DigimeSession } from "../digime/index.ts";
import type { Envelope, Sealer } from "./crypto.ts";
import { COMPLETED_FLOW_TTL_SECONDS, flowKey } from "./keys.ts";
import type { Kv, StoreDeps } from "./kv.ts";

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
  /** digi.me's onboarding URL that launch redirects to; dropped on completion. */
  upstreamUrl?: string;
  /** SHA-256 of the `state` secret (user and authorize flows). */
  stateHash?: string;
  /** The PKCE verifier, sealed; dropped on completion. */
  verifier?: Envelope;
  session?: DigimeSession;
  /** The `accountReference` digi.me's full-authorization callback carried (authorize flows). */
  accountReference?: string;
  /** SHA-256 of the browser binding secret, set at launch. */
  bindingHash?: string;
  createdAt: number;
  expiresAt: number;
  completedAt?: number;
}

/** Reads and writes flow records. */
export class FlowStore {
  readonly #kv: Kv;
  readonly #sealer: Sealer;
  readonly #now: () => number;
  constructor({ kv, sealer, now }: StoreDeps) {
    [this.#kv, this.#sealer, this.#now] = [kv, sealer, now];
  }

  /** Stores a new flow for `ttlSeconds`. */
  async create(record: FlowRecord, ttlSeconds: number): Promise<void> {
    await this.#kv.putJson(flowKey(record.id), record, ttlSeconds);
  }

  /** The flow, or `null` when unknown or past its expiry (KV deletes lazily). */
  async get(flowId: string): Promise<FlowRecord | null> {
    const record = await this.#kv.getJson<FlowRecord>(flowKey(flowId));
    if (!record || record.v !== 1) return null;
    if (record.status === "pending" && record.expiresAt <= this.#now()) return null;
    return record;
  }

  /** Rewrites a pending flow, keeping its original expiry. */
  async update(record: FlowRecord): Promise<void> {
    await this.#kv.putJson(flowKey(record.id), record, (record.expiresAt - this.#now()) / 1000);
  }

  /** Records the outcome: drops the verifier and the onboarding URL, keeps the outcome an hour. */
  async complete(record: FlowRecord, status: "succeeded" | "failed", errorCode?: string): Promise<FlowRecord> {
    const { verifier: _verifier, upstreamUrl: _upstreamUrl, ...rest } = record;
    const done: FlowRecord = { ...rest, status, completedAt: this.#now(), ...(errorCode ? { errorCode } : {}) };
    await this.#kv.putJson(flowKey(record.id), done, COMPLETED_FLOW_TTL_SECONDS);
    return done;
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
