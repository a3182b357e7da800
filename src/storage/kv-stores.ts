/**
 * The stores the Worker keeps in KV, built over one namespace: the services
 * (src/services.ts) get them here, so the one module that calls KV
 * (storage/kv.ts) is imported from src/storage only (eslint.config.js).
 */
import type { Sealer } from "./crypto.ts";
import { FlowEntryStore } from "./flows.ts";
import { Kv } from "./kv.ts";
import { LegacyKvTokens } from "./tokens.ts";

/** The KV-backed stores. */
export interface KvStores {
  /** Flow start entries. */
  flowEntries: FlowEntryStore;
  /** Token records KV held before the user objects (read by an object taking one over). */
  legacyTokens: LegacyKvTokens;
}

/** The KV-backed stores over `namespace`, sealing with `sealer`. */
export function kvStores(namespace: KVNamespace, sealer: Sealer): KvStores {
  const kv = new Kv(namespace);
  return { flowEntries: new FlowEntryStore({ kv, sealer }), legacyTokens: new LegacyKvTokens(kv) };
}
