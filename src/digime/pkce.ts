/**
 * PKCE (RFC 7636, S256) as the official SDK makes it: the verifier a flow
 * keeps, and the challenge sent to digi.me in its place.
 */
import { toBase64Url, utf8 } from "./encoding.ts";
import { randomAlphanumeric } from "./random.ts";

/** A PKCE verifier: base64url of 32 random alphanumeric characters, as the official SDK makes it. */
export function createCodeVerifier(): string {
  return toBase64Url(utf8(randomAlphanumeric(32)));
}

/** The S256 `code_challenge` of a verifier: base64url(SHA-256(verifier)). */
export async function codeChallenge(codeVerifier: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(codeVerifier))));
}
