/**
 * Keeping the user's token safe across refreshes: store a rotated token before
 * anything else, hand it to the backend if storage fails, and adopt a token a
 * concurrent request already rotated instead of declaring the user lost.
 */
import { DigimeError, type UserAccessToken, type WithTokenRefreshOptions } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import type { Services } from "../services.ts";

/** How long a refused refresh waits for a concurrent refresh to store its token. */
export const REFRESH_RACE_GRACE_MS = 300;

/**
 * Stores a token digi.me just issued. If storage fails, the answer says so
 * (503 `token_not_stored`) and carries the token, so the backend can store it
 * with PUT /v1/users/{userId}/token: the old refresh token is already dead.
 */
export async function storeIssuedToken(services: Services, userId: string, token: UserAccessToken): Promise<void> {
  try {
    await services.tokens.put(userId, token);
  } catch (error) {
    if (!(error instanceof AppError && error.code === "storage_unavailable")) throw error;
    throw new AppError(503, "token_not_stored", "digi.me issued a new token but storage failed; keep the token in this answer", {
      retryable: true,
      hint: "store error.token with PUT /v1/users/{userId}/token",
      extra: { token },
      cause: error,
      detail: { userId },
    });
  }
}

/**
 * The refresh hooks for `withTokenRefresh`: a refresh whose refresh token was
 * already spent by a concurrent request adopts the token that request stored
 * (best effort under KV's eventual consistency); a rotated token is stored
 * before the retry.
 */
export function refreshHooks(services: Services, userId: string): WithTokenRefreshOptions {
  return {
    refresh: async (token) => {
      try {
        return await services.digime.refreshToken(token);
      } catch (error) {
        if (!(error instanceof DigimeError && error.isInvalidToken("refresh_token"))) throw error;
        // A concurrent winner may still be writing its rotated token: give it a moment.
        await new Promise((resolve) => setTimeout(resolve, REFRESH_RACE_GRACE_MS));
        const latest = await services.tokens.get(userId);
        if (latest && latest.token.refreshToken.value !== token.refreshToken.value) return latest.token;
        throw error;
      }
    },
    onRefreshed: async (token) => {
      try {
        await storeIssuedToken(services, userId, token);
      } finally {
        // Webhook: the backend gets the rotated token without reading it back through KV.
        await services.webhooks.tokenRotated(userId, token);
      }
    },
  };
}
