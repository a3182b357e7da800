/**
 * digi.me's token-signing key set, fetched from the `jku` a token names (only
 * when it lies on the configured API origin), cached per isolate for a bounded
 * time, and refetched at most once when a token names an unknown `kid`.
 */
import { DigimeError } from "./errors.ts";
import { importPublicKey } from "./keys.ts";

/** The longest a fetched key set is trusted without refetching: 15 minutes. */
export const MAX_KEY_SET_TTL_MS = 15 * 60 * 1000;

interface CachedKeySet {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
}

/** How the key-set cache reaches the network and reads the time. */
export interface KeySetCacheOptions {
  /** Fetches a key-set URL and returns its parsed JSON body; throws `DigimeError`. */
  load: (url: string) => Promise<unknown>;
  now: () => number;
  /** Lifetime of a fetched set; capped at `MAX_KEY_SET_TTL_MS`. */
  ttlMs?: number;
}

/** Per-isolate cache of imported key-set keys, keyed by key-set URL. */
export class KeySetCache {
  readonly #sets = new Map<string, CachedKeySet>();
  readonly #inflight = new Map<string, Promise<CachedKeySet>>();
  readonly #options: KeySetCacheOptions;
  readonly #ttlMs: number;

  constructor(options: KeySetCacheOptions) {
    this.#options = options;
    this.#ttlMs = Math.min(options.ttlMs ?? MAX_KEY_SET_TTL_MS, MAX_KEY_SET_TTL_MS);
  }

  /**
   * The key named `kid` in the set at `url`. Serves from cache while fresh; an
   * unknown `kid` in a cached set triggers one refetch, after which an unknown
   * `kid` is an `invalid_response` error.
   */
  async getKey(url: string, kid: string): Promise<CryptoKey> {
    let set = this.#sets.get(url);
    const fresh = set !== undefined && this.#options.now() - set.fetchedAt < this.#ttlMs;
    if (!set || !fresh) set = await this.#refresh(url);
    else if (!set.keys.has(kid)) set = await this.#refresh(url);
    const key = set.keys.get(kid);
    if (!key) {
      throw new DigimeError({ kind: "invalid_response", message: `token signed with unknown key id "${kid}"`, call: "jwks" });
    }
    return key;
  }

  /** Forgets every cached set (tests, key rotation drills). */
  clear(): void {
    this.#sets.clear();
  }

  #refresh(url: string): Promise<CachedKeySet> {
    // Concurrent verifications share one fetch instead of stampeding digi.me.
    const pending = this.#inflight.get(url);
    if (pending) return pending;
    const started = this.#fetch(url).finally(() => this.#inflight.delete(url));
    this.#inflight.set(url, started);
    return started;
  }

  async #fetch(url: string): Promise<CachedKeySet> {
    const body = await this.#options.load(url);
    const entries = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(entries)) {
      throw new DigimeError({ kind: "invalid_response", message: "key set has no keys array", call: "jwks" });
    }
    const keys = new Map<string, CryptoKey>();
    for (const entry of entries as Array<{ kid?: unknown; pem?: unknown }>) {
      if (typeof entry?.kid !== "string" || typeof entry.pem !== "string") continue;
      try {
        keys.set(entry.kid, await importPublicKey(entry.pem));
      } catch {
        // One unusable entry must not take the others down; its kid stays unknown.
      }
    }
    const set = { keys, fetchedAt: this.#options.now() };
    this.#sets.set(url, set);
    return set;
  }
}
