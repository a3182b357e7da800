/**
 * Randomness for nonces, PKCE verifiers, `state` and flow ids, all from
 * `crypto.getRandomValues`.
 */

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A string of `length` characters drawn uniformly from `[A-Za-z0-9]`.
 * Rejection sampling avoids the modulo bias of `byte % 62`.
 */
export function randomAlphanumeric(length: number): string {
  let out = "";
  const limit = 256 - (256 % ALPHANUMERIC.length);
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      if (byte < limit) out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** `byteLength` random bytes. */
export function randomBytes(byteLength: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(byteLength));
}
