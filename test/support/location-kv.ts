/**
 * A Workers KV double with per-location caches, for what the local simulator
 * never shows: a value (or a "not found") read at a location is served from
 * that location's cache for up to 60 s, whatever was written elsewhere since.
 * A write is seen at once where it was made. The clock is injected.
 */

/** How long a location serves a read from its cache: 60 seconds (KV's documented minimum cacheTtl). */
export const LOCATION_CACHE_MS = 60_000;

interface Stored {
  value: string;
  expiresAt?: number;
}

/** The central store and every location's cache. */
export class LocationKv {
  readonly #central = new Map<string, Stored>();
  readonly #caches = new Map<string, Map<string, { value: string | null; cachedAt: number }>>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  #cache(location: string) {
    let cache = this.#caches.get(location);
    if (!cache) this.#caches.set(location, (cache = new Map()));
    return cache;
  }

  #read(key: string): string | null {
    const stored = this.#central.get(key);
    if (!stored || (stored.expiresAt !== undefined && stored.expiresAt <= this.#now())) return null;
    return stored.value;
  }

  /** The namespace as a Worker at `location` sees it. */
  at(location: string): KVNamespace {
    const cache = this.#cache(location);
    const get = async (key: string, type?: unknown): Promise<unknown> => {
      const hit = cache.get(key);
      let value: string | null;
      if (hit && this.#now() - hit.cachedAt < LOCATION_CACHE_MS) {
        value = hit.value;
      } else {
        value = this.#read(key);
        cache.set(key, { value, cachedAt: this.#now() });
      }
      const kind = typeof type === "object" && type ? (type as { type?: string }).type : type;
      return value !== null && kind === "json" ? JSON.parse(value) : value;
    };
    const put = async (key: string, value: string, options?: KVNamespacePutOptions): Promise<void> => {
      this.#central.set(key, { value, ...(options?.expirationTtl ? { expiresAt: this.#now() + options.expirationTtl * 1000 } : {}) });
      cache.set(key, { value, cachedAt: this.#now() });
    };
    const del = async (key: string): Promise<void> => {
      this.#central.delete(key);
      cache.set(key, { value: null, cachedAt: this.#now() });
    };
    return { get, put, delete: del } as unknown as KVNamespace;
  }
}
