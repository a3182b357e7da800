/**
 * Identifiers and secrets handed out by the edge: flow ids, `state` and
 * browser-binding secrets, each 128 random bits.
 */
import { toBase64Url } from "../digime/encoding.ts";
import { randomBytes } from "../digime/random.ts";

/** 128 random bits as 22 base64url characters. */
export function newSecret(): string {
  return toBase64Url(randomBytes(16));
}

/** A flow id (128 random bits). */
export const newFlowId = newSecret;


/** Compares two strings in constant time (for equal lengths; lengths are not secret here). */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  if (left.length !== right.length) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}
