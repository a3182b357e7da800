/**
 * The JWT primitives' refusals (docs/mutation-sweep.md found them unwatched):
 * a token claiming another alg, and a token with more than three parts.
 */
import { describe, expect, it } from "vitest";
import { decodeJwt, JwtFormatError, signJwt, verifyPs512 } from "../../src/digime/jwt.ts";

async function rsaPss() {
  return (await crypto.subtle.generateKey(
    { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
    false,
    ["sign", "verify"],
  )) as CryptoKeyPair;
}

describe("verifyPs512", () => {
  it("accepts a PS512 token signed with the key, and refuses the same signature under a header claiming another alg", async () => {
    const { privateKey, publicKey } = await rsaPss();
    expect(await verifyPs512(decodeJwt(await signJwt({ sub: "u" }, privateKey)), publicKey)).toBe(true);
    const lying = decodeJwt(await signJwt({ sub: "u" }, privateKey, { alg: "RS512" }));
    expect(await verifyPs512(lying, publicKey)).toBe(false);
  });
});

describe("decodeJwt", () => {
  it("refuses a token with a fourth part", async () => {
    const { privateKey } = await rsaPss();
    const token = await signJwt({ sub: "u" }, privateKey);
    expect(() => decodeJwt(token)).not.toThrow();
    expect(() => decodeJwt(`${token}.extra`)).toThrow(JwtFormatError);
  });
});
