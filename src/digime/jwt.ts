/**
 * Compact JWS with PS512 only. Request JWTs are signed with the contract key;
 * response tokens are parsed strictly and verified against digi.me's key set.
 */
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from "./encoding.ts";
import { PS512_SIGN } from "./keys.ts";

/** A JOSE header as digi.me sends it. */
export interface JwtHeader {
  alg: string;
  typ?: string;
  kid?: string;
  jku?: string;
  [name: string]: unknown;
}

/** A parsed, not yet verified, compact JWS. */
export interface DecodedJwt {
  header: JwtHeader;
  payload: Record<string, unknown>;
  signingInput: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

/** Thrown for a token that is not a well-formed compact JWS. */
export class JwtFormatError extends Error {
  override name = "JwtFormatError";
}

/** Signs `payload` with PS512. `header` adds fields such as `kid` and `jku`. */
export async function signJwt(
  payload: Record<string, unknown>,
  key: CryptoKey,
  header: Record<string, unknown> = {},
): Promise<string> {
  const head = toBase64Url(utf8(JSON.stringify({ alg: "PS512", typ: "JWT", ...header })));
  const body = toBase64Url(utf8(JSON.stringify(payload)));
  const signingInput = `${head}.${body}`;
  const signature = await crypto.subtle.sign(PS512_SIGN, key, utf8(signingInput));
  return `${signingInput}.${toBase64Url(new Uint8Array(signature))}`;
}

function parseJsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(fromBase64Url(segment)));
  } catch {
    throw new JwtFormatError(`JWT ${what} is not base64url JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtFormatError(`JWT ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Splits and decodes a compact JWS without verifying it. */
export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtFormatError("JWT does not have three parts");
  const [head, body, sig] = parts as [string, string, string];
  const header = parseJsonObject(head, "header");
  if (typeof header.alg !== "string") throw new JwtFormatError("JWT header has no alg");
  const payload = parseJsonObject(body, "payload");
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = fromBase64Url(sig);
  } catch {
    throw new JwtFormatError("JWT signature is not base64url");
  }
  return { header: header as JwtHeader, payload, signingInput: utf8(`${head}.${body}`), signature };
}

/** Verifies a decoded token's PS512 signature. Refuses every other `alg`. */
export async function verifyPs512(jwt: DecodedJwt, key: CryptoKey): Promise<boolean> {
  if (jwt.header.alg !== "PS512") return false;
  return crypto.subtle.verify(PS512_SIGN, key, jwt.signature, jwt.signingInput);
}
