/**
 * The token a callback could not store, carried by the browser: when storage
 * fails after digi.me issued a token, the code is spent and the token exists
 * nowhere else, so the recovery page holds it sealed (AES-GCM, bound to the
 * flow and the user) and posts it back to /reauth/recover.
 */
import type { UserAccessToken } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import type { Envelope, Sealer } from "../storage/crypto.ts";
import { tokenKey } from "../storage/keys.ts";

/** The additional data of a recovery blob: the flow and the token record it stands in for. */
function recoveryContext(flowId: string, userId: string): string {
  return `recovery:v1:${flowId}:${tokenKey(userId)}`;
}

/**
 * Seals a token for the browser to carry back when storing it failed. Bound
 * to the flow and the user, so it opens only for that flow's recovery.
 */
export async function sealForRecovery(sealer: Sealer, flowId: string, userId: string, token: UserAccessToken): Promise<string> {
  return btoa(JSON.stringify(await sealer.seal(JSON.stringify(token), recoveryContext(flowId, userId))));
}

/** Opens what `sealForRecovery` sealed; anything else is a 400. */
export async function openRecovery(sealer: Sealer, flowId: string, userId: string, sealed: string): Promise<UserAccessToken> {
  let envelope: Envelope;
  try {
    envelope = JSON.parse(atob(sealed)) as Envelope;
  } catch {
    throw new AppError("invalid_request", "the recovery data is malformed");
  }
  try {
    return JSON.parse(await sealer.open(envelope, recoveryContext(flowId, userId))) as UserAccessToken;
  } catch {
    throw new AppError("invalid_request", "the recovery data does not belong to this flow");
  }
}
