/**
 * Independent JWT checks for tests, built on jose rather than the project's
 * own JWT code, so a bug there cannot hide itself.
 */
import { compactVerify, decodeProtectedHeader, importSPKI } from "jose";
import spkiPem from "../fixtures/dev-contract.spki.pem?raw";

/** Verifies a request JWT with the development contract's public key; returns header and claims. */
export async function verifyWithContractKey(token: string): Promise<{ header: Record<string, unknown>; claims: Record<string, unknown> }> {
  const key = await importSPKI(spkiPem, "PS512");
  const { payload } = await compactVerify(token, key, { algorithms: ["PS512"] });
  return { header: decodeProtectedHeader(token) as Record<string, unknown>, claims: JSON.parse(new TextDecoder().decode(payload)) };
}
