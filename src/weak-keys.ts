/**
 * Recognises key material that cannot have come from a random generator:
 * shared by the encryption keys (src/config/production.ts) and the webhook secret
 * (src/webhooks/settings.ts), so both refuse the same patterns.
 */

/**
 * The fewest distinct byte values a key may have: 8. Random keys of 24 or
 * 32 bytes have about 23 or 30; one with fewer than 8 happens with a chance
 * below 10^-20, while hand-made keys (two alternating bytes, a few ASCII
 * letters) fall under it.
 */
export const MIN_DISTINCT_KEY_BYTES = 8;

/** The shortest period `bytes` repeats with (its length when it does not repeat). */
function period(bytes: Uint8Array): number {
  for (let p = 1; p <= bytes.length / 2; p++) {
    let repeats = true;
    for (let i = p; i < bytes.length && repeats; i++) repeats = bytes[i] === bytes[i - p];
    if (repeats) return p;
  }
  return bytes.length;
}

/**
 * Why `bytes` is not a random key, or `undefined` when nothing gives it away:
 * "one repeated byte", "N distinct byte values" (fewer than 8), or "a pattern
 * of N bytes repeated" (a period of at most half its length; a random key
 * repeats itself with a chance of 256^-(length/2)). Says nothing of the
 * values, only their shape, so the reason can go in a problem line.
 */
export function weakKeyReason(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return "empty";
  const distinct = new Set(bytes).size;
  if (distinct === 1) return "one repeated byte";
  if (distinct < MIN_DISTINCT_KEY_BYTES) return `only ${distinct} distinct byte values`;
  const p = period(bytes);
  if (p < bytes.length) return `a pattern of ${p} bytes repeated`;
  return undefined;
}
