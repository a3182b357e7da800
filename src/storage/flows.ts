/**
 * Flow start entries: one KV entry per reauthorization flow, written once at
 * start and read by launch and the callbacks. What changes as the flow goes on
 * (the browser binding, the outcome) lives in the user's object
 * (src/users/object.ts, src/storage/user-store.ts), never here: KV caches per
 * location and has no compare-and-set.
 */
import type { DigimeSession } from "../digime/index.ts";
import type { Envelope, Sealer } from "./crypto.ts";
import { flowKey } from "./keys.ts";
import { StorageError } from "./errors.ts";
import type { Kv, StoreDeps } from "./kv.ts";

/** `user` and `account` reauthorization; `authorize` is the full-authorization fallback. */
export type FlowKind = "user" | "account" | "authorize";

/** A flow's start entry, as the code sees it (see docs/storage-schema.md). */
export interface FlowEntry {
  v: 2;
  id: string;
  kind: FlowKind;
  /** The contract the flow is for (absent in entries written before several contracts: the default). */
  contractId?: string;
  userId: string;
  accountId?: string;
  returnTo: string;
  /** digi.me's onboarding URL that launch redirects to (it carries the reference code); sealed at rest. */
  upstreamUrl: string;
  /** SHA-256 of the `state` secret (user and authorize flows). */
  stateHash?: string;
  /** The PKCE verifier (user and authorize flows); sealed at rest. */
  verifier?: string;
  /** digi.me's session (its key reads the user's data); sealed at rest. */
  session?: DigimeSession;
  /** User and authorize flows: the digi.me identity known at start (the stored token's `user.id`). */
  expectedDigimeUserId?: string;
  /** Account flows started with the backend's own access token: kept (sealed) to confirm the account at the callback. */
  userAccessToken?: string;
  createdAt: number;
  expiresAt: number;
}

/** The sealed fields of an entry. */
const SEALED = ["upstreamUrl", "verifier", "session", "userAccessToken"] as const;
type SealedField = (typeof SEALED)[number];

/** An entry as it sits in KV: the secrets sealed, each bound to `flow:v2:<flowId>:<field>`. */
type StoredEntry = Omit<FlowEntry, SealedField> & Partial<Record<SealedField, Envelope>>;

/** Writes and reads flow start entries; seals and opens the fields that must not sit in clear. */
export class FlowEntryStore {
  readonly #kv: Kv;
  readonly #sealer: Sealer;
  constructor({ kv, sealer }: Pick<StoreDeps, "kv" | "sealer">) {
    [this.#kv, this.#sealer] = [kv, sealer];
  }

  /** Stores a new flow's entry for `ttlSeconds` (`flowEntryTtlSeconds`). */
  async create(entry: FlowEntry, ttlSeconds: number): Promise<void> {
    const key = flowKey(entry.id);
    const stored: Record<string, unknown> = { ...entry };
    for (const field of SEALED) {
      const value = entry[field];
      if (value === undefined) continue;
      stored[field] = await this.#sealer.seal(typeof value === "string" ? value : JSON.stringify(value), `${key}:${field}`);
    }
    await this.#kv.putJson(key, stored, ttlSeconds);
  }

  /** The flow's entry, or `null` when unknown or gone. */
  async get(flowId: string): Promise<FlowEntry | null> {
    const key = flowKey(flowId);
    const stored = await this.#kv.getJson<StoredEntry>(key);
    if (!stored || stored.v !== 2) return null;
    // An entry copied under another key is not that flow (its envelopes would not open there either).
    if (stored.id !== flowId) throw new StorageError("corrupt", "a stored flow does not match its key", { detail: { flowId } });
    const entry: Record<string, unknown> = { ...stored };
    for (const field of SEALED) {
      const envelope = stored[field];
      if (envelope === undefined) continue;
      const plain = await this.#sealer.open(envelope, `${key}:${field}`);
      entry[field] = field === "session" ? (JSON.parse(plain) as DigimeSession) : plain;
    }
    return entry as unknown as FlowEntry;
  }
}
