/**
 * The only place that calls Workers KV. Every write carries a TTL of at least
 * KV's minimum, and every KV failure becomes a retryable `storage_unavailable`.
 */
import { AppError } from "../errors.ts";
import { KV_MIN_TTL_SECONDS } from "./keys.ts";

function unavailable(operation: string, key: string, cause: unknown): AppError {
  const prefix = key.split(":").slice(0, 2).join(":");
  return new AppError(503, "storage_unavailable", "storage is temporarily unavailable; retry shortly", {
    retryable: true,
    cause,
    detail: { operation, keyPrefix: prefix },
    page: "We could not reach our storage. Please try again in a moment.",
  });
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
      throw new AppError(500, "storage_corrupt", "a stored record could not be read", { cause: error, detail: { keyPrefix: key.split(":").slice(0, 2).join(":") } });
    }
  }

  /** Writes a JSON value that expires after `ttlSeconds` (raised to KV's minimum). */
  async putJson(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    try {
      await this.namespace.put(key, JSON.stringify(value), { expirationTtl: Math.max(Math.ceil(ttlSeconds), KV_MIN_TTL_SECONDS) });
    } catch (error) {
      throw unavailable("put", key, error);
    }
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
