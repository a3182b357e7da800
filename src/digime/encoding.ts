/**
 * Byte and text encodings shared by the digi.me client: base64url for JWTs and
 * PKCE, plain base64 for PEM bodies. Kept free of Node's Buffer so the same
 * code runs in workerd, Node and browsers.
 */

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** UTF-8 encodes a string. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return textEncoder.encode(text) as Uint8Array<ArrayBuffer>;
}

/** Decodes UTF-8, throwing on invalid sequences rather than inserting U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

/** Standard base64 (with padding) of the given bytes. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // Chunked so very large inputs do not exceed the argument limit of fromCharCode.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decodes standard base64; throws a TypeError on characters outside the alphabet. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** base64url without padding (RFC 7515 §2). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes unpadded base64url; throws a TypeError on anything else. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!BASE64URL.test(text) || text.length % 4 === 1) {
    throw new TypeError("not base64url");
  }
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return fromBase64(padded);
}
