import { describe, expect, it } from "vitest";
import { importPublicKey } from "../../src/digime/keys.ts";
import { decodePem, pkcs1PrivateToPkcs8, pkcs1PublicToSpki, PemError, spkiToPkcs1Public } from "../../src/digime/pem.ts";
import pkcs8Pem from "../fixtures/dev-contract.pkcs8.pem?raw";
import spkiPem from "../fixtures/dev-contract.spki.pem?raw";
import { devPrivateKey, devPublicKey } from "../support/mock.ts";

describe("PEM conversion", () => {
  it("wraps a PKCS#1 private key into the same PKCS#8 that openssl produces", () => {
    expect(pkcs1PrivateToPkcs8(decodePem(devPrivateKey).der)).toEqual(decodePem(pkcs8Pem).der);
  });

  it("wraps a PKCS#1 public key into the same SPKI that openssl produces, and back", () => {
    const pkcs1 = decodePem(devPublicKey).der;
    const spki = decodePem(spkiPem).der;
    expect(pkcs1PublicToSpki(pkcs1)).toEqual(spki);
    expect(spkiToPkcs1Public(spki)).toEqual(pkcs1);
  });

  it("accepts a PEM whose newlines arrive escaped, as in an environment variable", () => {
    expect(decodePem(devPrivateKey.trim().replace(/\n/g, "\\n")).label).toBe("RSA PRIVATE KEY");
  });

  it.each([
    ["no PEM at all", "hello", /no PEM block/],
    ["an unsupported label", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", /unsupported PEM label/],
    ["a body that is not base64", "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----", /not valid base64/],
  ])("rejects %s with a clear message", (_what, pem, message) => {
    expect(() => decodePem(pem)).toThrow(PemError);
    expect(() => decodePem(pem)).toThrow(message);
  });

  it("refuses DER that is not an RSAPrivateKey", () => {
    expect(() => pkcs1PrivateToPkcs8(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00))).toThrow(/RSAPrivateKey fields/);
  });
});

describe("public key import", () => {
  it.each([
    ["PKCS#1", devPublicKey],
    ["SPKI", spkiPem],
  ])("imports a %s public key for PS512 verification", async (_kind, pem) => {
    const key = await importPublicKey(pem);
    expect(key.algorithm).toMatchObject({ name: "RSA-PSS", hash: { name: "SHA-512" } });
    expect(key.usages).toEqual(["verify"]);
  });
});
