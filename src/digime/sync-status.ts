/**
 * Finds the accounts a sync status reports as needing reauthorization
 * (`partial` with ServiceAuthorizationError / 511 / reauth), in both shapes
 * digi.me is known to send.
 */
import type { FileListResponse, SyncStatus } from "./types.ts";

/** One account that lost its authorization at the third-party source. */
export interface AccountNeedingReauth {
  accountId: string;
  message?: string;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * Lists accounts whose entry is `partial` with error code
 * `ServiceAuthorizationError`, `statusCode` 511 and `reauth: true`, where
 * `reauth` and `message` sit either in a nested `error` (the seed document's
 * shape) or beside `code` (the SDK type's flat shape).
 */
export function accountsNeedingReauth(status: SyncStatus | FileListResponse): AccountNeedingReauth[] {
  const details = "status" in status ? status.status.details : status.details;
  const found: AccountNeedingReauth[] = [];
  for (const [accountId, entry] of Object.entries(details ?? {})) {
    if (entry?.state !== "partial") continue;
    const error = record(entry.error);
    if (!error || error.code !== "ServiceAuthorizationError" || Number(error.statusCode) !== 511) continue;
    const nested = record(error.error);
    const reauth = nested?.reauth === true || error.reauth === true;
    if (!reauth) continue;
    const message = typeof nested?.message === "string" ? nested.message : typeof error.message === "string" ? error.message : undefined;
    found.push(message === undefined ? { accountId } : { accountId, message });
  }
  return found;
}
