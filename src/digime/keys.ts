/**
 * Imports RSA keys for PS512 into WebCrypto. Importing a 2048-bit key costs
 * about a millisecond of CPU, so contract keys are imported once per isolate
 * and the `CryptoKey` is reused by every request that isolate serves.
 */
import { decodePem, pkcs1PrivateToPkcs8, pkcs1PublicToSpki } from "./pem.ts";

/** WebCrypto parameters for PS512 (RSA-PSS with SHA-512). */
export const PS512_IMPORT = { name: "RSA-PSS", hash: "SHA-512" } as const;

/** PS512 signatures use a salt as long as the digest: 64 bytes. */
export const PS512_SIGN = { name: "RSA-PSS", saltLength: 64 } as const;

/** WebCrypto parameters for digi.me's file keys: RSA-OAEP with SHA-1, as the official SDK (node-rsa's default) decrypts them. */
export const FILE_KEY_IMPORT = { name: "RSA-OAEP", hash: "SHA-1" } as const;

const privateKeyCache = new Map<string, Promise<CryptoKey>>();
const decryptionKeyCache = new Map<string, Promise<CryptoKey>>();

/** Thrown when a configured key cannot be used; the message says why. */
export class KeyImportError extends Error {
  override name = "KeyImportError";
}

/**
 * Imports an RSA private key from PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
 * (`BEGIN PRIVATE KEY`) PEM for PS512 signing. The import is memoised by PEM
 * text for the life of the isolate; a failed import is not cached.
 */
export function importPrivateKey(pem: string): Promise<CryptoKey> {
  return memoised(privateKeyCache, pem, () => importPrivateKeyUncached(pem, PS512_IMPORT, ["sign"]));
}

/**
 * The same contract key for decrypting files' data keys (RSA-OAEP, SHA-1);
 * memoised like `importPrivateKey`, imported only when a file is first read.
 */
export function importDecryptionKey(pem: string): Promise<CryptoKey> {
  return memoised(decryptionKeyCache, pem, () => importPrivateKeyUncached(pem, FILE_KEY_IMPORT, ["decrypt"]));
}

function memoised(cache: Map<string, Promise<CryptoKey>>, pem: string, load: () => Promise<CryptoKey>): Promise<CryptoKey> {
  const cached = cache.get(pem);
  if (cached) return cached;
  const pending = load();
  cache.set(pem, pending);
  pending.catch(() => cache.delete(pem));
  return pending;
}

async function importPrivateKeyUncached(pem: string, algorithm: { name: string; hash: string }, usages: Array<"sign" | "decrypt">): Promise<CryptoKey> {
  let block;
  try {
    block = decodePem(pem);
  } catch (error) {
    throw new KeyImportError(`contract private key: ${(error as Error).message}`);
  }
  let pkcs8: Uint8Array<ArrayBuffer>;
  if (block.label === "RSA PRIVATE KEY") {
    try {
      pkcs8 = pkcs1PrivateToPkcs8(block.der);
    } catch (error) {
      throw new KeyImportError(`contract private key: ${(error as Error).message}`);
    }
  } else if (block.label === "PRIVATE KEY") {
    pkcs8 = block.der;
  } else {
    throw new KeyImportError(`contract private key: expected a private key PEM, got "${block.label}"`);
  }
  try {
    return await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, false, usages);
  } catch {
    throw new KeyImportError("contract private key: not a usable RSA private key");
  }
}

/**
 * Imports an RSA public key from PKCS#1 (`BEGIN RSA PUBLIC KEY`) or SPKI
 * (`BEGIN PUBLIC KEY`) PEM for PS512 verification. Not cached here: callers
 * (the key-set cache) keep the result.
 */
export async function importPublicKey(pem: string): Promise<CryptoKey> {
  const block = decodePem(pem);
  let spki: Uint8Array<ArrayBuffer>;
  if (block.label === "RSA PUBLIC KEY") spki = pkcs1PublicToSpki(block.der);
  else if (block.label === "PUBLIC KEY") spki = block.der;
  else throw new KeyImportError(`expected a public key PEM, got "${block.label}"`);
  return crypto.subtle.importKey("spki", spki, PS512_IMPORT, false, ["verify"]);
}
