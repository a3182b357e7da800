/**
 * The signed return across the two implementations: the Worker signs
 * (src/flows/signed-return.ts, WebCrypto), an application checks in Node
 * (harness/signed-return.ts, node:crypto — the README's lines).
 */
import { describe, expect, it } from "vitest";
import { checkSignedReturn, RETURN_MAX_AGE_SECONDS } from "../../harness/signed-return.ts";
import { signedOutcomeUrl } from "../../src/flows/signed-return.ts";

const SECRET = "a-return-signing-secret-of-32-chars!";
const NOW = Date.UTC(2026, 10, 22, 3, 0, 0);
const FLOW = { returnTo: "https://app.example.com/back?tab=1", id: "q0Vx0t6wz7N3b1k2R9yH1Q", userId: "user-42", kind: "user", contractId: "dev-contract" };
const expected = { flowId: FLOW.id, userId: "user-42" };

async function returned(status = "succeeded", errorCode?: string): Promise<URL> {
  return new URL(await signedOutcomeUrl(SECRET, FLOW, status, errorCode, NOW));
}

describe("checking the signed return in Node", () => {
  it("accepts the edge's return for the flow and user the application expects", async () => {
    expect(checkSignedReturn(await returned(), expected, SECRET, NOW + 2000)).toEqual({ ok: true, flowId: FLOW.id, status: "succeeded", kind: "user", contractId: "dev-contract" });
    expect(checkSignedReturn(await returned("failed", "USER_CANCEL"), expected, SECRET, NOW)).toEqual({ ok: true, flowId: FLOW.id, status: "failed", kind: "user", contractId: "dev-contract", errorCode: "USER_CANCEL" });
  });

  it("refuses a return without a signature", async () => {
    const url = await returned();
    url.searchParams.delete("sig");
    expect(checkSignedReturn(url, expected, SECRET, NOW)).toEqual({ ok: false, reason: "missing" });
  });

  it("refuses a tampered status or errorCode", async () => {
    const url = await returned("failed", "USER_CANCEL");
    url.searchParams.set("status", "succeeded");
    expect(checkSignedReturn(url, expected, SECRET, NOW)).toMatchObject({ ok: false, reason: "bad_signature" });
    const dropped = await returned("failed", "USER_CANCEL");
    dropped.searchParams.delete("errorCode");
    expect(checkSignedReturn(dropped, expected, SECRET, NOW)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  it("refuses a tampered kind, identity, errorSource or contract", async () => {
    const url = new URL(await signedOutcomeUrl(SECRET, { ...FLOW, kind: "authorize" }, "awaiting_confirmation", { identity: "replaced" }, NOW));
    expect(checkSignedReturn(url, expected, SECRET, NOW)).toEqual({ ok: true, flowId: FLOW.id, status: "awaiting_confirmation", kind: "authorize", contractId: "dev-contract", identity: "replaced" });
    for (const [name, value] of [["identity", "confirmed"], ["kind", "user"], ["errorSource", "edge"], ["contractId", "another-contract"]] as const) {
      const tampered = new URL(url);
      tampered.searchParams.set(name, value);
      expect(checkSignedReturn(tampered, expected, SECRET, NOW), name).toMatchObject({ ok: false, reason: "bad_signature" });
    }
  });

  it("refuses a return for another contract than the application started the flow for", async () => {
    expect(checkSignedReturn(await returned(), { ...expected, contractId: "another-contract" }, SECRET, NOW)).toMatchObject({ ok: false, reason: "wrong_flow" });
    expect(checkSignedReturn(await returned(), { ...expected, contractId: "dev-contract" }, SECRET, NOW)).toMatchObject({ ok: true });
  });

  it("refuses a return for another user, or another flow than the session started", async () => {
    expect(checkSignedReturn(await returned(), { ...expected, userId: "user-43" }, SECRET, NOW)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(checkSignedReturn(await returned(), { ...expected, flowId: "another-flow-id-000000" }, SECRET, NOW)).toMatchObject({ ok: false, reason: "wrong_flow" });
  });

  it("refuses a signature made with another secret, or a moved timestamp", async () => {
    expect(checkSignedReturn(await returned(), expected, "another-secret-of-at-least-32-chars", NOW)).toMatchObject({ reason: "bad_signature" });
    const moved = await returned();
    moved.searchParams.set("ts", String(Number(moved.searchParams.get("ts")) + 600));
    expect(checkSignedReturn(moved, expected, SECRET, NOW + 600_000)).toMatchObject({ reason: "bad_signature" });
  });

  it(`refuses a return older than ${RETURN_MAX_AGE_SECONDS} s`, async () => {
    const url = await returned();
    expect(checkSignedReturn(url, expected, SECRET, NOW + RETURN_MAX_AGE_SECONDS * 1000)).toMatchObject({ ok: true });
    expect(checkSignedReturn(url, expected, SECRET, NOW + (RETURN_MAX_AGE_SECONDS + 1) * 1000)).toEqual({ ok: false, reason: "expired" });
  });
});
