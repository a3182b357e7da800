/**
 * Storage's own failure: what went wrong with a store, not what to answer.
 * src/errors.ts maps it to HTTP in one place (`fromStorageError`), so storage
 * knows no status codes and callers match on `kind`.
 */

/**
 * `unavailable`: KV or the object's storage failed (retryable);
 * `corrupt`: a stored record does not read as what it should be;
 * `key_missing`: a record was sealed with a key no longer configured.
 */
export type StorageErrorKind = "unavailable" | "corrupt" | "key_missing";

/** Where and how a store failed. */
export interface StorageErrorInit {
  cause?: unknown;
  /** Logged, never sent: the operation, the store, the key's prefix. */
  detail?: Record<string, unknown>;
}

/** What the caller reads when storage cannot be reached, whichever store failed. */
export const STORAGE_UNAVAILABLE_MESSAGE = "storage is temporarily unavailable; retry shortly";

/** A store failed. Its message is what the caller reads: never a value or a key. */
export class StorageError extends Error {
  override name = "StorageError";
  readonly kind: StorageErrorKind;
  readonly detail?: Record<string, unknown>;
  constructor(kind: StorageErrorKind, message: string, init: StorageErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = kind;
    if (init.detail) this.detail = init.detail;
  }

  /** Storage could not be reached (KV, or a user object's storage): retryable. */
  static unavailable(cause: unknown, detail: Record<string, unknown>): StorageError {
    return new StorageError("unavailable", STORAGE_UNAVAILABLE_MESSAGE, { cause, detail });
  }
}

/** Whether `error` is storage being unreachable (the one storage failure worth retrying). */
export function isStorageUnavailable(error: unknown): error is StorageError {
  return error instanceof StorageError && error.kind === "unavailable";
}
