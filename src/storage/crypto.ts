/**
 * AES-GCM envelopes for what must not sit in KV in clear: user tokens and
 * PKCE verifiers. Each envelope names the key that sealed it, so keys rotate:
 * the first configured key seals, every configured key opens. The KV key is
 * bound in as additional data, so a record moved to another key fails to open.
 */
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from "../digime/encoding.ts";
import { StorageError } from "./errors.ts";

/** A sealed value as stored. */
export interface Envelope {
  /** Key id. */
  kid: string;
  /** 96-bit IV, base64url. */
  iv: string;
  /** Ciphertext with tag, base64url. */
  ct: string;
}

/** A key as configured: id and 32 raw bytes. */
export interface RawKey {
  id: string;
  raw: Uint8Array<ArrayBuffer>;
}

const imported = new Map<string, Promise<CryptoKey>>();

function importAesKey(key: RawKey): Promise<CryptoKey> {
  // Keyed by id and bytes: a key id reused with new material gets a new CryptoKey.
  const cacheKey = `${key.id}:${toBase64Url(key.raw)}`;
  let pending = imported.get(cacheKey);
  if (!pending) {
    pending = crypto.subtle.importKey("raw", key.raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    imported.set(cacheKey, pending);
  }
  return pending;
}

/** Seals and opens envelopes with a ring of keys. */
export class Sealer {
  readonly keys: RawKey[];
  constructor(keys: RawKey[]) {
    if (keys.length === 0) throw new Error("at least one encryption key is required");
    this.keys = keys;
  }

  /** Encrypts `plaintext` with the current key, bound to `context`. */
  async seal(plaintext: string, context: string): Promise<Envelope> {
    const current = this.keys[0]!;
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(context) }, await importAesKey(current), utf8(plaintext));
    return { kid: current.id, iv: toBase64Url(iv), ct: toBase64Url(new Uint8Array(ct)) };
  }

  /** Decrypts an envelope sealed for `context`; a missing key or a failed tag is an error. */
  async open(envelope: Envelope, context: string): Promise<string> {
    const key = this.keys.find((k) => k.id === envelope.kid);
    if (!key) {
      throw new StorageError("key_missing", "a stored record was sealed with a key that is no longer configured", { detail: { kid: envelope.kid } });
    }
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromBase64Url(envelope.iv), additionalData: utf8(context) },
        await importAesKey(key),
        fromBase64Url(envelope.ct),
      );
      return fromUtf8(new Uint8Array(plain));
    } catch (error) {
      throw new StorageError("corrupt", "a stored record could not be decrypted", { cause: error, detail: { kid: envelope.kid } });
    }
  }
}

/** SHA-256 of a string, base64url: how secrets handed to browsers are kept. */
export async function sha256(text: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(text))));
}
