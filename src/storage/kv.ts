/**
 * The only place that calls Workers KV. Every write carries a TTL of at least
 * KV's minimum, and every KV failure becomes a `StorageError` (unavailable:
 * retryable), naming the key's prefix, never the key.
 */
import type { Sealer } from "./crypto.ts";
import { StorageError } from "./errors.ts";
import { KV_MAX_TTL_SECONDS, KV_MIN_TTL_SECONDS } from "./keys.ts";

/** A key's first two segments (`flow:v2`): enough to tell the store, nothing of the user or flow. */
function keyPrefix(key: string): string {
  return key.split(":").slice(0, 2).join(":");
}

function unavailable(operation: string, key: string, cause: unknown): StorageError {
  return StorageError.unavailable(cause, { operation, keyPrefix: keyPrefix(key) });
}

/** Waits before the retries of a failed write: past KV's one-write-per-second-per-key limit. */
export const PUT_RETRY_DELAYS_MS = [300, 1000] as const;

/** What a store needs: KV, the sealer for what must not sit in clear, and the clock. */
export interface StoreDeps {
  kv: Kv;
  sealer: Sealer;
  now: () => number;
}

/**
 * A TTL KV accepts: whole seconds from `KV_MIN_TTL_SECONDS` to
 * `KV_MAX_TTL_SECONDS`; anything that is not a finite number gets the minimum.
 */
export function clampTtl(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds)) return KV_MIN_TTL_SECONDS;
  return Math.min(Math.max(Math.ceil(ttlSeconds), KV_MIN_TTL_SECONDS), KV_MAX_TTL_SECONDS);
}

/** A thin wrapper over a KV namespace. */
export class Kv {
  readonly namespace: KVNamespace;
  constructor(namespace: KVNamespace) {
    this.namespace = namespace;
  }

  /** Reads a JSON value, or `null` when absent. */
  async getJson<T>(key: string): Promise<T | null> {
    let text: string | null;
    try {
      text = await this.namespace.get(key, "text");
    } catch (error) {
      throw unavailable("get", key, error);
    }
    if (text === null) return null;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new StorageError("corrupt", "a stored record could not be read", { cause: error, detail: { keyPrefix: keyPrefix(key) } });
    }
  }

  /**
   * Writes a JSON value that expires after `ttlSeconds` (clamped by
   * `clampTtl`). KV allows about one write per second to a key and answers more
   * with 429, which a fast start → launch → callback can hit, so a failed
   * write is retried after `PUT_RETRY_DELAYS_MS`.
   */
  async putJson(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    const text = JSON.stringify(value);
    const options = { expirationTtl: clampTtl(ttlSeconds) };
    let lastError: unknown;
    for (const wait of [0, ...PUT_RETRY_DELAYS_MS]) {
      if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        await this.namespace.put(key, text, options);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw unavailable("put", key, lastError);
  }

  /** Deletes a key (absent keys are fine). */
  async delete(key: string): Promise<void> {
    try {
      await this.namespace.delete(key);
    } catch (error) {
      throw unavailable("delete", key, error);
    }
  }
}
