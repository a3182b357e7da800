/**
 * The signed return: the redirect to `returnTo` carries `ts` and `sig`, an
 * HMAC-SHA256 (RETURN_SIGNING_SECRET) over the flow id, status, errorCode
 * and who reported it, the flow's kind, the digi.me identity it brought, the
 * contract, the flow's userId and `ts`, so the application can trust the outcome, and
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
  /** `browser`: a failure only the browser reported (digi.me's failure callback carries no proof). */
  errorSource?: string;
  /** `user`, `account` or `authorize`. */
  kind: string;
  /** User and authorize flows that brought a token: `confirmed`, `new` or `replaced`. */
  identity?: string;
  /** The flow's contract: a return for one contract never verifies as another's. */
  contractId: string;
  userId: string;
  /** Unix seconds when the edge signed it. */
  ts: number;
}

/** The version of the signed text; the first line of it. */
export const RETURN_SIGNATURE_VERSION = "v3";

/**
 * The signed text: a version, then the fields one per line (none can hold a
 * newline: flow ids, statuses, codes, kinds and user ids are validated).
 */
export function returnSignatureInput(outcome: ReturnOutcome): string {
  return [
    RETURN_SIGNATURE_VERSION,
    outcome.flowId,
    outcome.status,
    outcome.errorCode ?? "",
    outcome.errorSource ?? "",
    outcome.kind,
    outcome.identity ?? "",
    outcome.contractId,
    outcome.userId,
    String(outcome.ts),
  ].join("\n");
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

/** The outcome a return reports, besides the flow's status. */
export interface ReturnDetail {
  errorCode?: string;
  errorSource?: string;
  identity?: string;
}

/**
 * The URL the browser goes back to:
 * `returnTo?flowId&status&kind&contractId[&identity][&errorCode&errorSource]&ts&sig`.
 * Parameters of these names already in `returnTo` are replaced or removed.
 */
export async function signedOutcomeUrl(
  secret: string,
  flow: { returnTo: string; id: string; userId: string; kind?: string; contractId: string },
  status: string,
  detail: ReturnDetail | string | undefined,
  nowMs: number,
): Promise<string> {
  const { errorCode, errorSource, identity } = typeof detail === "string" ? { errorCode: detail } : (detail ?? {});
  const kind = flow.kind ?? "";
  const ts = Math.floor(nowMs / 1000);
  const url = new URL(flow.returnTo);
  const set = (name: string, value: string | undefined) => (value ? url.searchParams.set(name, value) : url.searchParams.delete(name));
  set("flowId", flow.id);
  set("status", status);
  set("kind", kind);
  set("contractId", flow.contractId);
  set("identity", identity);
  set("errorCode", errorCode);
  set("errorSource", errorSource);
  set("ts", String(ts));
  set("sig", await signReturn(secret, { flowId: flow.id, status, errorCode, errorSource, kind, identity, contractId: flow.contractId, userId: flow.userId, ts }));
  return url.toString();
}
