/**
 * digi.me's token-signing key set, fetched from the `jku` a token names (only
 * when it lies on the configured API origin), cached per isolate for a bounded
 * time, and refetched at most once when a token names an unknown `kid`.
 *
 * Cold path: a fresh isolate would otherwise pay a digi.me round trip for the
 * set after the call that returned the token. So the client `prefetch`es it
 * when such a call starts (the fetch overlaps the call), and a shared store
 * (the Cache API: one per Cloudflare location, across isolates) lets a fresh
 * isolate read it locally instead. Every copy, shared or not, lives at most
 * `MAX_KEY_SET_TTL_MS` from the moment it was fetched from digi.me.
 */
import { DigimeError } from "./errors.ts";
import { importPublicKey } from "./keys.ts";

/** The longest a fetched key set is trusted without refetching: 15 minutes. */
export const MAX_KEY_SET_TTL_MS = 15 * 60 * 1000;

/** Where digi.me publishes its token-signing keys, below the API base (tokens' `jku`). */
export const KEY_SET_PATH = "jwks/oauth";

/**
 * Cache API keys of shared key sets: this versioned prefix, then the key-set
 * URL (which starts with the API base), URL-encoded. Not a real origin: the
 * entries are never fetched, only matched.
 */
export const KEY_SET_CACHE_PREFIX = "https://key-set-cache.invalid/v1/";

interface CachedKeySet {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
  /** Whether this isolate read it from the shared store rather than from digi.me. */
  shared: boolean;
  /** Which load brought it (loads are numbered as they start; see `KeySetCache.prefetch`). */
  load: number;
}

/** A key set as fetched from digi.me: its JSON body and when it was fetched. */
export interface StoredKeySet {
  body: unknown;
  fetchedAt: number;
}

/**
 * Key sets shared by the isolates of one location. Best effort: a store that
 * fails must answer `undefined` or resolve anyway, never fail a verification.
 */
export interface SharedKeySetStore {
  get(url: string): Promise<StoredKeySet | undefined>;
  put(url: string, set: StoredKeySet, ttlMs: number): Promise<void>;
}

/** How the key-set cache reaches the network and reads the time. */
export interface KeySetCacheOptions {
  /** Fetches a key-set URL and returns its parsed JSON body; throws `DigimeError`. */
  load: (url: string) => Promise<unknown>;
  now: () => number;
  /** Lifetime of a fetched set; capped at `MAX_KEY_SET_TTL_MS`. */
  ttlMs?: number;
  /** Sets shared across isolates (the Cache API); none by default. */
  shared?: SharedKeySetStore;
}

/** Per-isolate cache of imported key-set keys, keyed by key-set URL. */
export class KeySetCache {
  readonly #sets = new Map<string, CachedKeySet>();
  readonly #inflight = new Map<string, { set: Promise<CachedKeySet>; load: number }>();
  /** Loads started so far: a load numbered above a call's mark started after the call did. */
  #loads = 0;
  readonly #options: KeySetCacheOptions;
  readonly #ttlMs: number;

  constructor(options: KeySetCacheOptions) {
    this.#options = options;
    this.#ttlMs = Math.min(options.ttlMs ?? MAX_KEY_SET_TTL_MS, MAX_KEY_SET_TTL_MS);
  }

  /**
   * The key named `kid` in the set at `url`. Serves from cache while fresh; an
   * unknown `kid` triggers one refetch from digi.me, after which it is an
   * `invalid_response` error. No refetch when the set came from digi.me by a
   * load started after `since` (the mark `prefetch` returned when the call
   * that brought the token began; by default, now): that set is the newest there is.
   */
  async getKey(url: string, kid: string, since = this.#loads): Promise<CryptoKey> {
    // A copy held from before, read from the shared store, or loaded by a fetch that began
    // before this call did (another request's, still in flight) may predate a rotation.
    const set = this.#fresh(url) ?? (await this.#refresh(url, true));
    const justFetched = !set.shared && set.load > since;
    if (set.keys.has(kid) || justFetched) return this.#key(set, kid);
    // The one refetch: a load begun before this call (another request's) is waited out, not joined.
    const older = this.#inflight.get(url);
    if (older && older.load <= since) await older.set.catch(() => undefined);
    return this.#key(await this.#refresh(url, false), kid);
  }

  #key(set: CachedKeySet, kid: string): CryptoKey {
    const key = set.keys.get(kid);
    if (!key) {
      throw new DigimeError({ kind: "invalid_response", message: `token signed with unknown key id "${kid}"`, call: "jwks" });
    }
    return key;
  }

  /**
   * Starts loading the set at `url` unless a fresh copy is at hand or on its
   * way, so that it arrives beside the upstream call whose token needs it. A
   * failure here is left to `getKey`, which tries again. Returns the call's
   * mark for `getKey`: a load it starts counts as fresh for that call, one
   * already in flight (another request's) does not.
   */
  prefetch(url: string): number {
    const mark = this.#loads;
    if (!this.#fresh(url) && !this.#inflight.has(url)) this.#refresh(url, true).catch(() => undefined);
    return mark;
  }

  /** Forgets every cached set (tests, key rotation drills). */
  clear(): void {
    this.#sets.clear();
  }

  #fresh(url: string): CachedKeySet | undefined {
    const set = this.#sets.get(url);
    return set !== undefined && this.#options.now() - set.fetchedAt < this.#ttlMs ? set : undefined;
  }

  #refresh(url: string, useShared: boolean): Promise<CachedKeySet> {
    // Concurrent verifications share one fetch instead of stampeding digi.me.
    const pending = this.#inflight.get(url);
    if (pending) return pending.set;
    const load = ++this.#loads;
    const started = this.#load(url, useShared, load).finally(() => this.#inflight.delete(url));
    this.#inflight.set(url, { set: started, load });
    return started;
  }

  async #load(url: string, useShared: boolean, load: number): Promise<CachedKeySet> {
    const shared = this.#options.shared;
    if (shared && useShared) {
      const stored = await shared.get(url).catch(() => undefined);
      if (stored && this.#options.now() - stored.fetchedAt < this.#ttlMs) {
        try {
          return await this.#keep(url, stored, true, load);
        } catch {
          // A malformed shared copy is ignored: digi.me's own answer decides.
        }
      }
    }
    const fetched = { body: await this.#options.load(url), fetchedAt: this.#options.now() };
    const set = await this.#keep(url, fetched, false, load);
    if (shared) await shared.put(url, fetched, this.#ttlMs).catch(() => undefined);
    return set;
  }

  async #keep(url: string, stored: StoredKeySet, shared: boolean, load: number): Promise<CachedKeySet> {
    const entries = (stored.body as { keys?: unknown } | null)?.keys;
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
    const set = { keys, fetchedAt: stored.fetchedAt, shared, load };
    this.#sets.set(url, set);
    return set;
  }
}

/**
 * A `SharedKeySetStore` on the Cache API (`caches.default` in a Worker: shared
 * by the isolates of one location). Entries carry the time digi.me was asked,
 * so a copy read later still expires `ttlMs` after that fetch.
 */
export function cacheApiKeySetStore(cache: Cache | (() => Promise<Cache>)): SharedKeySetStore {
  const open = typeof cache === "function" ? cache : () => Promise.resolve(cache);
  const key = (url: string) => `${KEY_SET_CACHE_PREFIX}${encodeURIComponent(url)}`;
  return {
    async get(url) {
      try {
        const response = await (await open()).match(key(url));
        if (!response) return undefined;
        const fetchedAt = Number(response.headers.get("X-Fetched-At"));
        if (!Number.isFinite(fetchedAt)) return undefined;
        return { body: await response.json(), fetchedAt };
      } catch {
        return undefined;
      }
    },
    async put(url, set, ttlMs) {
      try {
        const maxAge = Math.max(1, Math.floor(Math.min(ttlMs, MAX_KEY_SET_TTL_MS) / 1000));
        const headers = { "Content-Type": "application/json", "Cache-Control": `max-age=${maxAge}`, "X-Fetched-At": String(set.fetchedAt) };
        await (await open()).put(key(url), new Response(JSON.stringify(set.body), { headers }));
      } catch {
        // Best effort: the next isolate fetches from digi.me instead.
      }
    },
  };
}
