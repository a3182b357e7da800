/**
 * Checking the edge's signed return in Node, as an application does it (the
 * docs/learning-the-outcome.md shows the same lines). Used by the demo app
 * and the QA runner. Development code: never bundled with the Worker.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** How old a signed return may be: 5 minutes. */
export const RETURN_MAX_AGE_SECONDS = 300;

/** What the application expected, and the outcome when the return is genuine. */
export type ReturnCheck =
  | { ok: true; flowId: string; status: string; kind: string; contractId: string; identity?: string; errorCode?: string; errorSource?: string }
  | { ok: false; reason: "missing" | "wrong_flow" | "bad_signature" | "expired" };

/**
 * Checks `returnUrl` against the flow this browser's session started and the
 * user signed in: the signature must cover exactly those, and be recent.
 */
export function checkSignedReturn(returnUrl: URL, expected: { flowId: string; userId: string; contractId?: string }, secret: string, nowMs = Date.now()): ReturnCheck {
  const q = returnUrl.searchParams;
  const [flowId, status, kind, contractId, identity, errorCode, errorSource, ts, sig] = ["flowId", "status", "kind", "contractId", "identity", "errorCode", "errorSource", "ts", "sig"].map((name) =>
    q.get(name),
  );
  if (!flowId || !status || !kind || !contractId || !ts || !sig) return { ok: false, reason: "missing" };
  if (flowId !== expected.flowId) return { ok: false, reason: "wrong_flow" };
  // The contract is signed and sent: the application also checks it is the one it started the flow for.
  if (expected.contractId !== undefined && contractId !== expected.contractId) return { ok: false, reason: "wrong_flow" };
  const text = ["v3", flowId, status, errorCode ?? "", errorSource ?? "", kind, identity ?? "", contractId, expected.userId, ts].join("\n");
  const mac = createHmac("sha256", secret).update(text).digest();
  const given = Buffer.from(sig, "base64url");
  if (given.length !== mac.length || !timingSafeEqual(given, mac)) return { ok: false, reason: "bad_signature" };
  if (Math.abs(nowMs / 1000 - Number(ts)) > RETURN_MAX_AGE_SECONDS) return { ok: false, reason: "expired" };
  return { ok: true, flowId, status, kind, contractId, ...(identity ? { identity } : {}), ...(errorCode ? { errorCode } : {}), ...(errorSource ? { errorSource } : {}) };
}
