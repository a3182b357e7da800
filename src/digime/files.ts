/**
 * digi.me's files, as the official SDK reads them (`readFile`): the body is
 * 256 bytes of a data key encrypted with RSA-OAEP (SHA-1) to the contract's
 * public key, a 16-byte IV, then the content in AES-256-CBC (PKCS#7 padding),
 * at least 288 bytes and a multiple of 16 in all; the `x-metadata` header is
 * base64url JSON `{ compression?, metadata }`, and the content is gzip or
 * brotli compressed as `compression` says.
 *
 * Unlike the SDK, nothing here holds a file whole: the body is decrypted
 * chunk by chunk as it arrives (CBC allows it: each chunk's IV is the
 * previous chunk's last ciphertext block) and decompressed as a stream, so a
 * file of any size passes through a bounded buffer.
 */
import { DigimeError } from "./errors.ts";

/** Bytes of the RSA-OAEP-wrapped data key at the start of a file. */
export const FILE_KEY_BYTES = 256;
/** Bytes of the IV after it. */
export const FILE_IV_BYTES = 16;
/** The shortest file: key, IV and one AES block. */
export const FILE_MIN_BYTES = FILE_KEY_BYTES + FILE_IV_BYTES + 16;
/** AES's block size. */
const BLOCK = 16;
/** How much ciphertext is decrypted at a time (a multiple of the block): 64 KiB. */
export const FILE_CHUNK_BYTES = 64 * 1024;

/** How a file's content is compressed. */
export type FileCompression = "none" | "gzip" | "brotli";

/** What digi.me's `x-metadata` header says of a file. */
export interface FileHeader {
  compression: FileCompression;
  /** digi.me's metadata as sent (a raw file's `mimetype`, `accounts`, …; a mapped file's `objectType`, …). */
  metadata: Record<string, unknown>;
  /** The content's MIME type, when the metadata names one. */
  mimeType?: string;
}

/** What a stream decryption buffered at most (ciphertext waiting to be decrypted), for tests and the bench. */
export interface DecryptStats {
  maxBufferedBytes: number;
}

function undecryptable(message: string, cause?: unknown): DigimeError {
  return new DigimeError({ kind: "undecryptable", message, call: "permission-access/query/file", ...(cause === undefined ? {} : { cause }) });
}

function base64UrlDecode(value: string): string {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/**
 * A MIME type as a header may carry it: `type/subtype` in token characters,
 * then parameters of printable ASCII. Anything else (a line break, a NUL) is
 * not taken from digi.me's metadata: the file is answered as octet-stream.
 */
const MIME_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$/;

/** Reads `x-metadata`; a missing or unreadable header is an answer the edge cannot trust. */
export function parseFileHeader(value: string | null): FileHeader {
  const invalid = (message: string) => new DigimeError({ kind: "invalid_response", message, call: "permission-access/query/file" });
  if (!value) throw invalid("the file came without x-metadata");
  let decoded: unknown;
  try {
    decoded = JSON.parse(base64UrlDecode(value.trim()));
  } catch {
    throw invalid("x-metadata is not base64url JSON");
  }
  if (typeof decoded !== "object" || decoded === null) throw invalid("x-metadata is not an object");
  const { compression, metadata, fileMetadata } = decoded as Record<string, unknown>;
  // The SDK reads `metadata`; its own type calls it `fileMetadata`: either is accepted.
  const meta = (metadata ?? fileMetadata ?? {}) as unknown;
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw invalid("x-metadata's metadata is not an object");
  let kind: FileCompression;
  if (compression === undefined || compression === null || compression === "none" || compression === "") kind = "none";
  else if (compression === "gzip" || compression === "brotli") kind = compression;
  else throw invalid(`unknown compression ${JSON.stringify(compression)}`);
  const mimeType = (meta as { mimetype?: unknown }).mimetype;
  return { compression: kind, metadata: meta as Record<string, unknown>, ...(typeof mimeType === "string" && MIME_TYPE.test(mimeType) ? { mimeType } : {}) };
}

const ZERO_IV = new Uint8Array(BLOCK);
const ZLIB = "node:zlib";

/**
 * Decrypts whole blocks that are not the file's last: WebCrypto's AES-CBC
 * always strips PKCS#7 padding, so a block that decrypts to a full padding
 * block (E(0x10… XOR last), made with one AES-CBC encryption under a zero IV)
 * goes into the spare block at the end of `blocks` and is stripped again.
 * `blocks`: the ciphertext, then one block of room (`Buffered.take`'s `spare`),
 * so the chunk is not copied again to append it.
 */
async function decryptBlocks(key: CryptoKey, iv: Uint8Array<ArrayBuffer>, blocks: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const end = blocks.length - BLOCK;
  const padding = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) padding[i] = BLOCK ^ blocks[end - BLOCK + i]!;
  blocks.set(new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: ZERO_IV }, key, padding), 0, BLOCK), end);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv }, key, blocks));
}

/** Collects chunks of a byte stream and takes whole prefixes off it, copying only what is taken. */
class Buffered {
  readonly #chunks: Uint8Array[] = [];
  length = 0;
  readonly #drained: (chunk: Uint8Array) => void;
  /** `drained`: told of each pushed chunk once everything in it has been taken (its buffer can be read into again). */
  constructor(drained: (chunk: Uint8Array) => void = () => undefined) {
    this.#drained = drained;
  }
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }
  /** The next `bytes`, in a new array with `spare` bytes of room after them. */
  take(bytes: number, spare = 0): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(bytes + spare);
    let filled = 0;
    while (filled < bytes) {
      const head = this.#chunks[0]!;
      const part = Math.min(head.length, bytes - filled);
      out.set(head.subarray(0, part), filled);
      filled += part;
      if (part === head.length) this.#drained(this.#chunks.shift()!);
      else this.#chunks[0] = head.subarray(part);
    }
    this.length -= bytes;
    return out;
  }
}

/** How much of a body one read asks for where the body allows it (a byte stream): 64 KiB. */
const READ_BYTES = 64 * 1024;

/** The reader of a body as this module uses it. */
interface ChunkReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(reason?: unknown): Promise<void>;
  /** Hands back a chunk this reader answered once it has been copied out: the next read fills its buffer again instead of a new one. */
  recycle(chunk: Uint8Array): void;
}

/**
 * Reads a body in large pieces where it can: a fetched body is a byte stream,
 * whose BYOB reader (`readAtLeast`, a Workers extension) fills 64 KiB per read
 * where the default reader hands out the network's 4 KiB pieces one await at
 * a time — the reads, not the cipher, were the cost of a large file. Any other
 * stream is read as it comes.
 */
function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  let byob: (ReadableStreamBYOBReader & { readAtLeast?: (min: number, view: Uint8Array) => Promise<ReadableStreamReadResult<Uint8Array>> }) | undefined;
  try {
    byob = body.getReader({ mode: "byob" }) as typeof byob;
  } catch {
    byob = undefined; // not a byte stream
  }
  if (!byob) {
    const reader = body.getReader();
    return { read: () => reader.read(), cancel: (reason) => reader.cancel(reason), recycle: () => undefined };
  }
  const reader = byob;
  // One 64 KiB buffer goes round (a BYOB read transfers it and answers a view of it), so a
  // large file does not leave a new buffer per read for the collector.
  let spare: ArrayBuffer | undefined;
  return {
    read: () => {
      const view = new Uint8Array(spare ?? new ArrayBuffer(READ_BYTES));
      spare = undefined;
      return reader.readAtLeast ? reader.readAtLeast(READ_BYTES, view) : reader.read(view);
    },
    cancel: (reason) => reader.cancel(reason),
    recycle: (chunk) => {
      if (chunk.buffer instanceof ArrayBuffer && chunk.buffer.byteLength === READ_BYTES) spare = chunk.buffer;
    },
  };
}

/**
 * Opens a file body: unwraps its data key (a file encrypted to another key
 * fails here, before anything is answered) and answers the plaintext as a
 * stream, decrypted `FILE_CHUNK_BYTES` at a time. A length that is not a
 * whole number of blocks, or a last block whose padding is wrong, errors the
 * stream (`DigimeError` kind `undecryptable`).
 */
export async function decryptFileStream(privateKey: CryptoKey, body: ReadableStream<Uint8Array>, stats?: DecryptStats): Promise<ReadableStream<Uint8Array>> {
  const reader = chunkReader(body);
  const pending = new Buffered((chunk) => reader.recycle(chunk));
  let done = false;
  let total = 0;
  const fill = async (atLeast: number) => {
    while (!done && pending.length < atLeast) {
      const next = await reader.read();
      if (next.done) done = true;
      else {
        pending.push(next.value);
        total += next.value.length;
        if (stats) stats.maxBufferedBytes = Math.max(stats.maxBufferedBytes, pending.length);
      }
    }
  };
  await fill(FILE_KEY_BYTES + FILE_IV_BYTES + BLOCK);
  if (pending.length < FILE_MIN_BYTES) {
    await reader.cancel().catch(() => undefined);
    throw undecryptable(`a file is at least ${FILE_MIN_BYTES} bytes; this one is ${pending.length}`);
  }
  let aes: CryptoKey;
  try {
    const dataKey = await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, pending.take(FILE_KEY_BYTES));
    aes = await crypto.subtle.importKey("raw", dataKey, "AES-CBC", false, ["encrypt", "decrypt"]);
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw undecryptable("the file's data key does not decrypt with the contract key", error);
  }
  let iv = pending.take(FILE_IV_BYTES);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          await fill(FILE_CHUNK_BYTES + BLOCK);
          if (!done) {
            // Keep at least the last block back: only the file's very last block carries the padding.
            const bytes = Math.floor((pending.length - BLOCK) / BLOCK) * BLOCK;
            const blocks = pending.take(bytes, BLOCK);
            const nextIv = blocks.slice(bytes - BLOCK, bytes);
            controller.enqueue(await decryptBlocks(aes, iv, blocks));
            iv = nextIv;
            return;
          }
          if (pending.length === 0 || pending.length % BLOCK !== 0) {
            throw undecryptable(`a file is a whole number of ${BLOCK}-byte blocks; this one is ${total} bytes`);
          }
          const last = pending.take(pending.length);
          let plain: ArrayBuffer;
          try {
            plain = await crypto.subtle.decrypt({ name: "AES-CBC", iv }, aes, last);
          } catch (error) {
            throw undecryptable("the file's last block does not decrypt (bad padding)", error);
          }
          if (plain.byteLength) controller.enqueue(new Uint8Array(plain));
          controller.close();
        } catch (error) {
          await reader.cancel().catch(() => undefined);
          controller.error(error);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** What this module uses of `node:zlib`'s brotli stream (the Workers runtime's native one). */
interface NodeInflate {
  on(event: "data", listener: (chunk: Uint8Array) => void): void;
  on(event: "error", listener: (error: unknown) => void): void;
  once(event: "end" | "error", listener: (error?: unknown) => void): void;
  write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
  end(): void;
}

/** A brotli decompressor as a web stream, from the runtime's native `node:zlib` (loaded when first needed: no bundle cost). */
function brotliDecompression(): TransformStream<Uint8Array, Uint8Array> {
  let inflate: NodeInflate;
  let failure: unknown;
  return new TransformStream<Uint8Array, Uint8Array>({
    async start(controller) {
      // A variable specifier keeps bundlers from resolving it: the runtime provides it.
      const zlib = (await import(/* @vite-ignore */ ZLIB)) as { createBrotliDecompress(): NodeInflate };
      inflate = zlib.createBrotliDecompress();
      inflate.on("data", (chunk: Uint8Array) => controller.enqueue(new Uint8Array(chunk)));
      inflate.on("error", (error: unknown) => {
        failure = error;
        controller.error(undecryptable("the file's brotli content does not decompress", error));
      });
    },
    transform(chunk) {
      return new Promise<void>((resolve, reject) => inflate.write(chunk, (error) => (error || failure ? reject(error ?? failure) : resolve())));
    },
    flush() {
      return new Promise<void>((resolve, reject) => {
        inflate.once("end", () => resolve());
        inflate.once("error", reject);
        inflate.end();
      });
    },
  });
}

/** The content of a decrypted file, decompressed as its header says. */
export function decompress(plain: ReadableStream<Uint8Array>, compression: FileCompression): ReadableStream<Uint8Array> {
  if (compression === "gzip") return plain.pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>);
  if (compression === "brotli") return plain.pipeThrough(brotliDecompression());
  return plain;
}
