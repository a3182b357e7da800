/**
 * The signed return: the redirect to `returnTo` carries `ts` and `sig`, an
 * HMAC-SHA256 (RETURN_SIGNING_SECRET) over the flow id, status, errorCode,
 * the flow's userId and `ts`, so the application can trust the outcome, and
 * check that the returning browser's user is the one the flow was for,
 * without an API read. The userId is signed but not sent: the application
 * supplies the user it expects, and a flow of another user does not verify.
 */
import { toBase64Url, utf8 } from "../digime/encoding.ts";

/** What the signature covers. */
export interface ReturnOutcome {
  flowId: string;
  status: string;
  errorCode?: string;
  userId: string;
  /** Unix seconds when the edge signed it. */
  ts: number;
}

/**
 * The signed text: a version, then the fields one per line (none can hold a
 * newline: flow ids, statuses, codes and user ids are validated).
 */
export function returnSignatureInput(outcome: ReturnOutcome): string {
  return ["v1", outcome.flowId, outcome.status, outcome.errorCode ?? "", outcome.userId, String(outcome.ts)].join("\n");
}

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", utf8(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

/** base64url(HMAC-SHA256(secret, returnSignatureInput(outcome))). */
export async function signReturn(secret: string, outcome: ReturnOutcome): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), utf8(returnSignatureInput(outcome)));
  return toBase64Url(new Uint8Array(mac));
}

/** The URL the browser goes back to: `returnTo?flowId&status[&errorCode]&ts&sig`. */
export async function signedOutcomeUrl(
  secret: string,
  flow: { returnTo: string; id: string; userId: string },
  status: string,
  errorCode: string | undefined,
  nowMs: number,
): Promise<string> {
  const ts = Math.floor(nowMs / 1000);
  const url = new URL(flow.returnTo);
  url.searchParams.set("flowId", flow.id);
  url.searchParams.set("status", status);
  if (errorCode) url.searchParams.set("errorCode", errorCode);
  else url.searchParams.delete("errorCode");
  url.searchParams.set("ts", String(ts));
  url.searchParams.set("sig", await signReturn(secret, { flowId: flow.id, status, errorCode, userId: flow.userId, ts }));
  return url.toString();
}
