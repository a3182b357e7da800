/**
 * PEM and DER plumbing for RSA keys. digi.me delivers contract keys as PKCS#1
 * (`BEGIN RSA PRIVATE KEY`) and publishes key-set entries as PKCS#1 public keys
 * (`BEGIN RSA PUBLIC KEY`), while WebCrypto only imports PKCS#8 and SPKI. The
 * PKCS#1 structures are wrapped (or unwrapped) here with a minimal DER codec.
 */
import { fromBase64, toBase64 } from "./encoding.ts";

/** The labels this module understands. */
export type PemLabel = "RSA PRIVATE KEY" | "PRIVATE KEY" | "RSA PUBLIC KEY" | "PUBLIC KEY";

/** A PEM block decoded to DER. */
export interface PemBlock {
  label: PemLabel;
  der: Uint8Array<ArrayBuffer>;
}

/** Thrown for input that is not a PEM block of a supported kind. */
export class PemError extends Error {
  override name = "PemError";
}

const PEM_PATTERN = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/;
const LABELS: readonly PemLabel[] = ["RSA PRIVATE KEY", "PRIVATE KEY", "RSA PUBLIC KEY", "PUBLIC KEY"];

/**
 * Decodes the first PEM block in `pem`. Accepts `\n`-escaped PEMs as they often
 * arrive in environment variables.
 */
export function decodePem(pem: string): PemBlock {
  const text = pem.includes("\\n") ? pem.replace(/\\n/g, "\n") : pem;
  const match = PEM_PATTERN.exec(text);
  if (!match) throw new PemError("no PEM block found (expected -----BEGIN ...----- ... -----END ...-----)");
  const label = match[1] as PemLabel;
  if (!LABELS.includes(label)) throw new PemError(`unsupported PEM label "${match[1]}"`);
  const body = (match[2] ?? "").replace(/\s+/g, "");
  if (body.length === 0) throw new PemError("empty PEM body");
  try {
    return { label, der: fromBase64(body) };
  } catch {
    throw new PemError("PEM body is not valid base64");
  }
}

/** Encodes DER as a PEM block with 64-character lines. */
export function encodePem(label: PemLabel, der: Uint8Array): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

// --- minimal DER ---------------------------------------------------------

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const NULL = 0x05;
const OID = 0x06;

/** rsaEncryption, 1.2.840.113549.1.1.1 */
const RSA_ENCRYPTION_OID = Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01);

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>>= 8) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const bodyLength = contents.reduce((sum, c) => sum + c.length, 0);
  const length = encodeLength(bodyLength);
  const out = new Uint8Array(1 + length.length + bodyLength);
  out[0] = tag;
  out.set(length, 1);
  let offset = 1 + length.length;
  for (const c of contents) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

interface DerNode {
  tag: number;
  /** Contents, without tag and length. */
  value: Uint8Array;
  /** Offset just past this node. */
  end: number;
}

function readNode(der: Uint8Array, offset: number): DerNode {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw new PemError("truncated DER");
  let length = first;
  let cursor = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new PemError("unsupported DER length");
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = der[cursor++];
      if (b === undefined) throw new PemError("truncated DER");
      length = length * 256 + b;
    }
  }
  const end = cursor + length;
  if (end > der.length) throw new PemError("truncated DER");
  return { tag, value: der.subarray(cursor, end), end };
}

function readChildren(value: Uint8Array): DerNode[] {
  const nodes: DerNode[] = [];
  for (let offset = 0; offset < value.length; ) {
    const node = readNode(value, offset);
    nodes.push(node);
    offset = node.end;
  }
  return nodes;
}

function algorithmIdentifier(): Uint8Array {
  return tlv(SEQUENCE, tlv(OID, RSA_ENCRYPTION_OID), tlv(NULL));
}

function expectSequence(der: Uint8Array, what: string): DerNode[] {
  const node = readNode(der, 0);
  if (node.tag !== SEQUENCE || node.end !== der.length) throw new PemError(`${what} is not a DER SEQUENCE`);
  return readChildren(node.value);
}

function isRsaAlgorithm(node: DerNode | undefined): boolean {
  if (!node || node.tag !== SEQUENCE) return false;
  const [oid] = readChildren(node.value);
  return oid?.tag === OID && oid.value.length === RSA_ENCRYPTION_OID.length && oid.value.every((b, i) => b === RSA_ENCRYPTION_OID[i]);
}

/** Wraps a PKCS#1 RSAPrivateKey into a PKCS#8 PrivateKeyInfo. */
export function pkcs1PrivateToPkcs8(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  const fields = expectSequence(pkcs1, "PKCS#1 private key");
  if (fields.length < 9 || fields.some((f) => f.tag !== INTEGER)) {
    throw new PemError("PKCS#1 private key does not have the RSAPrivateKey fields");
  }
  return tlv(SEQUENCE, tlv(INTEGER, Uint8Array.of(0)), algorithmIdentifier(), tlv(OCTET_STRING, pkcs1));
}

/** Wraps a PKCS#1 RSAPublicKey into an SPKI SubjectPublicKeyInfo. */
export function pkcs1PublicToSpki(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  const fields = expectSequence(pkcs1, "PKCS#1 public key");
  if (fields.length !== 2 || fields.some((f) => f.tag !== INTEGER)) {
    throw new PemError("PKCS#1 public key does not have the RSAPublicKey fields");
  }
  return tlv(SEQUENCE, algorithmIdentifier(), tlv(BIT_STRING, Uint8Array.of(0), pkcs1));
}

/** Extracts the PKCS#1 RSAPublicKey from an RSA SPKI. */
export function spkiToPkcs1Public(spki: Uint8Array): Uint8Array<ArrayBuffer> {
  const [algorithm, bits] = expectSequence(spki, "SPKI public key");
  if (!isRsaAlgorithm(algorithm) || bits?.tag !== BIT_STRING || bits.value[0] !== 0) {
    throw new PemError("SPKI public key is not an RSA key");
  }
  return bits.value.slice(1);
}

/** Extracts the PKCS#1 RSAPrivateKey from an RSA PKCS#8. */
export function pkcs8ToPkcs1Private(pkcs8: Uint8Array): Uint8Array<ArrayBuffer> {
  const [, algorithm, key] = expectSequence(pkcs8, "PKCS#8 private key");
  if (!isRsaAlgorithm(algorithm) || key?.tag !== OCTET_STRING) {
    throw new PemError("PKCS#8 private key is not an RSA key");
  }
  return key.value.slice();
}
