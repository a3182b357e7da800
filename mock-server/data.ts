/**
 * The data the mock digi.me serves: each account's files, encrypted the way
 * digi.me encrypts them, and the sync that lists them.
 *
 * A file's body is what the official SDK's `readFile` decrypts: 256 bytes of a
 * random 32-byte AES data key encrypted with RSA-OAEP (SHA-1) to the
 * contract's registered public key, a random 16-byte IV, then AES-256-CBC
 * (PKCS#7 padding) of the content, gzip or brotli compressed first when the
 * file says so. Its `x-metadata` header is base64url JSON
 * `{ compression, metadata: { mimetype, accounts: [{ accountid }], objecttypes, created } }`.
 *
 * Small files are encrypted once, when first read, and kept. A large file is
 * never held: it is generated, compressed and encrypted as a stream on each
 * read (CBC allows it: each chunk's IV is the previous chunk's last
 * ciphertext block), so the mock's memory stays flat whatever its size.
 * Everything here is WebCrypto, `CompressionStream` and `node:zlib`, which
 * both Node and workerd (with `nodejs_compat`) provide.
 */
import { createHash } from "node:crypto";
import { brotliCompressSync, constants as zlibConstants, createBrotliCompress } from "node:zlib";
import type { MockAccount, MockUser } from "./state.ts";

/** How a file's content is compressed before encryption. */
export const COMPRESSIONS = ["none", "gzip", "brotli"] as const;
export type FileCompression = (typeof COMPRESSIONS)[number];

/** Largest file the admin API makes (`POST /__mock/users/:userId/files/large`): 64 MiB. */
export const LARGE_FILE_MAX_BYTES = 64 * 1024 * 1024;
/** Bytes of a large file's plaintext generated (and encrypted) at a time: 1 MiB, a whole number of AES blocks. */
const CHUNK_BYTES = 1024 * 1024;
/** Each record of a large file is this many bytes, whitespace included. */
const RECORD_BYTES = 1024;
/** Characters of a large file's record's `text`. */
const RECORD_TEXT = 960;
const BLOCK = 16;
/** Brotli quality: 4 keeps a 64 MiB file's compression to about a second (the SDK decompresses any quality). */
const BROTLI_QUALITY = 4;

/** A file on one of a user's accounts. */
export interface MockFile {
  name: string;
  accountId: string;
  /** When the file was put, in milliseconds on the mock's clock (the file list's `updatedDate`). */
  updatedDate: number;
  compression: FileCompression;
  mimetype: string;
  objectType: string;
  objectCount: number;
  /** `contract`: to the contract's registered key, as digi.me does; `foreign`: to a key no contract holds. */
  encryptedTo: "contract" | "foreign";
  /** A small file's JSON content, or the recipe of a large one. */
  content: { kind: "json"; value: unknown } | { kind: "large"; sizeBytes: number; seed: number };
  /** A large file's SHA-256 (hex) of its plaintext. */
  sha256?: string;
  /** A small file's encrypted body once first read, and the key it was encrypted to. */
  encrypted?: { key: CryptoKey; bytes: Uint8Array<ArrayBuffer> };
}

/** What `putFile` takes: any JSON content on one of the user's accounts. */
export interface PutFileInput {
  accountId: string;
  /** Default: `18_<accountId>_<n>.json`, the next free `n` on that account. A file of the same name is replaced. */
  name?: string;
  content: unknown;
  /** Default `none`. */
  compression?: FileCompression;
  /** Default `application/json`. */
  mimetype?: string;
  /** Default: the account's service's (`post`, `track`, …). */
  objectType?: string;
}

/** What `putLargeFile` takes. */
export interface PutLargeFileInput {
  accountId: string;
  /** Plaintext size, 2 bytes to `LARGE_FILE_MAX_BYTES`. */
  sizeBytes: number;
  name?: string;
  /** Default `none`. */
  compression?: FileCompression;
}

/** What `putForeignFile` takes: a file encrypted to another key than the contract's. */
export interface PutForeignFileInput {
  accountId: string;
  name?: string;
  /** Default `[{ "id": "foreign-1", "text": "encrypted to another key" }]`. */
  content?: unknown;
  compression?: FileCompression;
}

/** A `fileList` item, as digi.me lists it. */
export interface FileListItem {
  name: string;
  updatedDate: number;
  objectCount: number;
  objectType: string;
  serviceGroup: string;
  serviceName: string;
}

const OBJECT_TYPES: Record<string, string> = { Facebook: "post", Spotify: "track", Fitbit: "activity", Instagram: "media" };

/** The object type of an account's files: by its service (`post`, `track`, `activity`, `media`), else `object`. */
export function objectTypeOf(account: MockAccount): string {
  return OBJECT_TYPES[account.serviceTypeName] ?? "object";
}

/** The next free `18_<accountId>_<n>.json` on a user's account. */
export function nextFileName(user: MockUser, accountId: string): string {
  let n = user.files.filter((f) => f.accountId === accountId).length + 1;
  while (user.files.some((f) => f.name === `18_${accountId}_${n}.json`)) n += 1;
  return `18_${accountId}_${n}.json`;
}

/** The JSON of a default file: `[{ id: "<accountId>-<n>-<k>", text: "<service> <objectType> <k> of file <n>" }]`, two objects. */
export function defaultFileContent(account: MockAccount, n: number): Array<{ id: string; text: string }> {
  const type = objectTypeOf(account);
  return [1, 2].map((k) => ({ id: `${account.id}-${n}-${k}`, text: `${account.serviceTypeName} ${type} ${k} of file ${n}` }));
}

/**
 * The compressions of an account's default files, by the account's position
 * among the user's: the first account has two files (`none`, then `gzip`), the
 * second one (`brotli`), every later one one (`gzip`).
 */
export function defaultCompressions(index: number): FileCompression[] {
  if (index === 0) return ["none", "gzip"];
  if (index === 1) return ["brotli"];
  return ["gzip"];
}

/** The `x-metadata` header of a file: base64url JSON `{ compression, metadata }`, as the SDK's `readFile` reads it. */
export function metadataHeader(file: MockFile): string {
  const metadata = {
    mimetype: file.mimetype,
    accounts: [{ accountid: file.accountId }],
    objecttypes: [{ name: file.objectType }],
    created: file.updatedDate,
  };
  return base64Url(new TextEncoder().encode(JSON.stringify({ compression: file.compression, metadata })));
}

/** The body's length, when it is known before it is made (a small file once encrypted, a large uncompressed one). */
export function encryptedLength(file: MockFile): number | undefined {
  if (file.encrypted) return file.encrypted.bytes.length;
  if (file.content.kind === "large" && file.compression === "none") return 256 + BLOCK + (Math.floor(file.content.sizeBytes / BLOCK) + 1) * BLOCK;
  return undefined;
}

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// --- encryption ----------------------------------------------------------

/** Imports a contract's SPKI public key for RSA-OAEP (SHA-1), the way digi.me encrypts a file's data key to it. */
export function importEncryptionKey(spki: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("spki", spki, { name: "RSA-OAEP", hash: "SHA-1" }, false, ["encrypt"]);
}

/** A fresh RSA-OAEP (SHA-1) key pair's public key: what a foreign file is encrypted to. */
export async function generateForeignKey(): Promise<CryptoKey> {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-1" },
    false,
    ["encrypt", "decrypt"],
  )) as CryptoKeyPair;
  return pair.publicKey;
}

/** A fresh data key and IV: the file's first 272 bytes (the key wrapped to `publicKey`, the IV) and the AES key. */
async function fileHead(publicKey: CryptoKey): Promise<{ head: Uint8Array<ArrayBuffer>; aes: CryptoKey; iv: Uint8Array<ArrayBuffer> }> {
  const dataKey = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(BLOCK));
  const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: "RSA-OAEP" }, publicKey, dataKey));
  const aes = await crypto.subtle.importKey("raw", dataKey, { name: "AES-CBC" }, false, ["encrypt"]);
  return { head: concat(wrapped, iv), aes, iv };
}

/** Encrypts a whole (already compressed) content at once. */
async function encryptBytes(publicKey: CryptoKey, plain: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const { head, aes, iv } = await fileHead(publicKey);
  return concat(head, new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, aes, plain)));
}

/**
 * Encrypts a stream chunk by chunk: whole blocks go through AES-CBC with the
 * previous ciphertext block as IV (WebCrypto's padding block is dropped), and
 * the last call pads. The result equals a one-shot AES-CBC of the whole.
 */
function encryptStream(publicKey: CryptoKey, source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let aes: CryptoKey;
  let chain: Uint8Array<ArrayBuffer>;
  let carry: Uint8Array = new Uint8Array(0);
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        const head = await fileHead(publicKey);
        aes = head.aes;
        chain = head.iv;
        controller.enqueue(head.head);
      },
      async pull(controller) {
        for (;;) {
          const next = await reader.read();
          if (next.done) {
            controller.enqueue(new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: chain }, aes, concat(carry, new Uint8Array(0)))));
            controller.close();
            return;
          }
          const data = concat(carry, next.value);
          const whole = data.length - (data.length % BLOCK);
          carry = data.subarray(whole);
          if (whole === 0) continue;
          const out = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: chain }, aes, data.subarray(0, whole))).subarray(0, whole);
          chain = out.slice(whole - BLOCK);
          controller.enqueue(out);
          return;
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

// --- compression ---------------------------------------------------------

/** A brotli compressor as a web stream, from `node:zlib`'s streaming one. */
function brotliStream(): TransformStream<Uint8Array, Uint8Array> {
  const zlib = createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } });
  let failure: unknown;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      zlib.on("data", (chunk: Uint8Array) => controller.enqueue(new Uint8Array(chunk)));
      zlib.on("error", (error: unknown) => {
        failure = error;
      });
    },
    transform(chunk) {
      return new Promise<void>((resolve, reject) => void zlib.write(chunk, (error) => (error || failure ? reject(error ?? failure) : resolve())));
    },
    flush() {
      return new Promise<void>((resolve, reject) => {
        zlib.once("end", () => resolve());
        zlib.once("error", reject);
        zlib.end();
      });
    },
  });
}

function compressStream(stream: ReadableStream<Uint8Array>, compression: FileCompression): ReadableStream<Uint8Array> {
  if (compression === "gzip") return stream.pipeThrough(new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>);
  if (compression === "brotli") return stream.pipeThrough(brotliStream());
  return stream;
}

async function compressBytes(bytes: Uint8Array<ArrayBuffer>, compression: FileCompression): Promise<Uint8Array<ArrayBuffer>> {
  if (compression === "brotli") return new Uint8Array(brotliCompressSync(bytes, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } }));
  if (compression === "gzip") return new Uint8Array(await new Response(compressStream(new Blob([bytes]).stream(), "gzip")).arrayBuffer());
  return bytes;
}

// --- large files ---------------------------------------------------------

/** FNV-1a of a file's name: the seed of its content, so the same name and size always give the same bytes. */
export function seedOf(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const COMMA = new Uint8Array([0x2c]);
const ALPHABET = new TextEncoder().encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");

/** How many records a large file of `sizeBytes` holds: `[` + records of 1024 bytes joined by `,` + spaces + `]`. */
export function largeRecordCount(sizeBytes: number): number {
  return Math.max(0, Math.floor((sizeBytes - 1) / (RECORD_BYTES + 1)));
}

/**
 * A large file's plaintext, `CHUNK_BYTES` at a time: a JSON array of exactly
 * `sizeBytes` bytes, `[{"id":1,"text":"<960 pseudo-random letters and digits>"} …]`,
 * each record padded with spaces to 1024 bytes, spaces before the closing
 * bracket making up the rest. Random text keeps it from compressing to nothing
 * (gzip leaves about three quarters).
 */
export function* largeContent(sizeBytes: number, seed: number): Generator<Uint8Array<ArrayBuffer>> {
  const random = prng(seed);
  const encoder = new TextEncoder();
  let chunk = new Uint8Array(Math.min(CHUNK_BYTES, sizeBytes));
  let filled = 0;
  let written = 0;
  const ready: Array<Uint8Array<ArrayBuffer>> = [];
  const put = (bytes: Uint8Array) => {
    let offset = 0;
    while (offset < bytes.length) {
      const part = Math.min(bytes.length - offset, chunk.length - filled);
      chunk.set(bytes.subarray(offset, offset + part), filled);
      filled += part;
      offset += part;
      written += part;
      if (filled === chunk.length) {
        ready.push(chunk);
        chunk = new Uint8Array(Math.min(CHUNK_BYTES, sizeBytes - written));
        filled = 0;
      }
    }
  };
  const record = new Uint8Array(RECORD_BYTES);
  const count = largeRecordCount(sizeBytes);
  put(encoder.encode("["));
  for (let i = 0; i < count; i++) {
    if (i > 0) put(COMMA);
    record.fill(0x20);
    const start = encoder.encode(`{"id":${i + 1},"text":"`);
    record.set(start);
    let at = start.length;
    for (let k = 0; k < RECORD_TEXT; k += 5) {
      let r = random();
      for (let j = 0; j < 5 && k + j < RECORD_TEXT; j++) {
        record[at++] = ALPHABET[r % 62]!;
        r = Math.floor(r / 62);
      }
    }
    record[at] = 0x22; // "
    record[at + 1] = 0x7d; // }
    put(record);
    while (ready.length) yield ready.shift()!;
  }
  const spaces = sizeBytes - written - 1;
  if (spaces > 0) put(new Uint8Array(spaces).fill(0x20));
  put(encoder.encode("]"));
  while (ready.length) yield ready.shift()!;
}

/** SHA-256 (hex) of a large file's plaintext, computed chunk by chunk. */
export function largeContentSha256(sizeBytes: number, seed: number): string {
  const hash = createHash("sha256");
  for (const chunk of largeContent(sizeBytes, seed)) hash.update(chunk);
  return hash.digest("hex");
}

function generatorStream(chunks: Generator<Uint8Array<ArrayBuffer>>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel() {
        chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A file's encrypted body to `publicKey`: a small file's bytes (encrypted on
 * first read, then kept while the key is the same), a large file's stream.
 */
export async function encryptedBody(file: MockFile, publicKey: CryptoKey): Promise<Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>> {
  if (file.content.kind === "large") {
    const plain = generatorStream(largeContent(file.content.sizeBytes, file.content.seed));
    return encryptStream(publicKey, compressStream(plain, file.compression));
  }
  if (file.encrypted?.key !== publicKey) {
    const plain = await compressBytes(new Uint8Array(new TextEncoder().encode(JSON.stringify(file.content.value))), file.compression);
    file.encrypted = { key: publicKey, bytes: await encryptBytes(publicKey, plain) };
  }
  return file.encrypted.bytes;
}

// --- the sync ------------------------------------------------------------

/** A partial account's 511, in the scenario's shape (`nested`: the seed document's; `flat`: the SDK type's). */
function serviceAuthorizationError(shape: "nested" | "flat"): Record<string, unknown> {
  return shape === "flat"
    ? { code: "ServiceAuthorizationError", statusCode: 511, message: "Service authorization required", reauth: true }
    : { code: "ServiceAuthorizationError", error: { message: "Service authorization required", reauth: true }, statusCode: 511 };
}

/** What a session's `permission-access/query/{sessionKey}` shows at one instant, and the files it lists. */
export interface SyncView {
  body: { status: { state: "running" | "completed" | "partial"; details: Record<string, Record<string, unknown>> }; fileList: FileListItem[] };
  files: MockFile[];
}

/**
 * The sync of a session at `elapsedMs` after it started (`undefined`: the
 * user's own session key, whose sync is done). Of `n` accounts, the `k`-th
 * (from 1, in the user's order) finishes at `syncMs × k / n`: until then it
 * is `running` and lists nothing; then it is `completed` and lists its files,
 * or, flagged by `account-511`, `partial` with the 511 and lists none. The
 * session is `running` until every account has finished, then `partial` if
 * one is, else `completed`. `syncMs` 0 finishes everything at once.
 */
export function syncView(user: MockUser, syncMs: number, shape: "nested" | "flat", elapsedMs: number | undefined): SyncView {
  const n = user.accounts.length;
  const details: Record<string, Record<string, unknown>> = {};
  const files: MockFile[] = [];
  let running = elapsedMs !== undefined && elapsedMs < syncMs;
  let partial = false;
  user.accounts.forEach((account, index) => {
    const done = elapsedMs === undefined || syncMs === 0 || elapsedMs * n >= syncMs * (index + 1);
    if (!done) {
      running = true;
      details[account.id] = { state: "running" };
    } else if (account.needsReauth) {
      partial = true;
      details[account.id] = { state: "partial", error: serviceAuthorizationError(shape) };
    } else {
      details[account.id] = { state: "completed" };
      files.push(...user.files.filter((f) => f.accountId === account.id));
    }
  });
  const serviceOf = (file: MockFile) => user.accounts.find((a) => a.id === file.accountId)?.serviceTypeName ?? "Service";
  const fileList = files.map((file) => ({
    name: file.name,
    updatedDate: file.updatedDate,
    objectCount: file.objectCount,
    objectType: file.objectType,
    serviceGroup: "social",
    serviceName: serviceOf(file).toLowerCase(),
  }));
  return { body: { status: { state: running ? "running" : partial ? "partial" : "completed", details }, fileList }, files };
}
