/**
 * The edge's file decryption alone, in Node 24: src/digime/files.ts's
 * `decryptFileStream` (and `decompress`) over an encrypted body held in memory,
 * made by the mock's own encryption (mock-server/data.ts: a large file's
 * deterministic JSON records, RSA-OAEP data key to the development contract's
 * key, AES-256-CBC). No network, no workerd: Node's WebCrypto (OpenSSL) and
 * streams, not workerd's (BoringSSL), so the figure is the code's cost on this
 * CPU, not the Worker's.
 *
 *   node bench/decrypt.ts [--mib 20] [--runs 5]
 *
 * `npm run bench -- --file-reads` runs it too and records it in bench/file-reads.json.
 */
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { decompress, decryptFileStream, type DecryptStats, type FileCompression } from "../src/digime/files.ts";
import { importDecryptionKey } from "../src/digime/keys.ts";
import { encryptedBody, importEncryptionKey, seedOf, type MockFile } from "../mock-server/data.ts";
import { DEV_CONTRACT } from "../mock-server/standalone.ts";

/** How the body is handed to the decryption: in pieces of this size, as a network read would (64 KiB). */
const DELIVERY_BYTES = 64 * 1024;

export interface NodeDecryptFigure {
  compression: FileCompression;
  plaintextBytes: number;
  encryptedBytes: number;
  runs: number;
  /** Each run's time to decrypt (and decompress) the whole body and read every byte, ms. */
  runsMs: number[];
  medianMs: number;
  /** Plaintext megabytes (10^6 bytes) per second, at the median. */
  mbPerS: number;
  /** The most ciphertext the decryption held waiting at once (its bounded buffer). */
  maxBufferedBytes: number;
}

export interface NodeDecryptRun {
  node: string;
  figures: NodeDecryptFigure[];
}

function inMemory(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at + DELIVERY_BYTES));
      at += DELIVERY_BYTES;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) {
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Decrypts (and decompresses) a `sizeBytes` file of each compression `runs` times; the first run is a warm-up, not counted. */
export async function nodeDecryptThroughput(sizeBytes: number, runs: number, compressions: FileCompression[] = ["none", "gzip"]): Promise<NodeDecryptRun> {
  const spki = createPublicKey(readFileSync(DEV_CONTRACT.publicKeyPath, "utf8")).export({ type: "spki", format: "der" });
  const publicKey = await importEncryptionKey(new Uint8Array(spki));
  const privateKey = await importDecryptionKey(readFileSync(DEV_CONTRACT.privateKeyPath, "utf8"));
  const figures: NodeDecryptFigure[] = [];
  for (const compression of compressions) {
    const name = `bench-node-${sizeBytes}.json`;
    const file: MockFile = {
      name,
      accountId: "bench",
      updatedDate: 0,
      compression,
      mimetype: "application/json",
      objectType: "object",
      objectCount: 0,
      encryptedTo: "contract",
      content: { kind: "large", sizeBytes, seed: seedOf(name) },
    };
    const body = await encryptedBody(file, publicKey);
    const encrypted = body instanceof Uint8Array ? body : await collect(body);
    const runsMs: number[] = [];
    let maxBufferedBytes = 0;
    for (let i = 0; i <= runs; i++) {
      const stats: DecryptStats = { maxBufferedBytes: 0 };
      const began = performance.now();
      const content = decompress(await decryptFileStream(privateKey, inMemory(encrypted), stats), compression);
      let read = 0;
      for await (const part of content as unknown as AsyncIterable<Uint8Array>) read += part.length;
      const ms = performance.now() - began;
      if (read !== sizeBytes) throw new Error(`decrypted ${read} bytes of a ${sizeBytes}-byte ${compression} file`);
      maxBufferedBytes = Math.max(maxBufferedBytes, stats.maxBufferedBytes);
      if (i > 0) runsMs.push(Math.round(ms * 100) / 100);
    }
    const sorted = [...runsMs].sort((a, b) => a - b);
    const medianMs = sorted[Math.ceil(sorted.length / 2) - 1]!;
    figures.push({ compression, plaintextBytes: sizeBytes, encryptedBytes: encrypted.length, runs, runsMs, medianMs, mbPerS: Math.round((sizeBytes / 1e6 / (medianMs / 1000)) * 10) / 10, maxBufferedBytes });
  }
  return { node: process.version, figures };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { mib: { type: "string", default: "20" }, runs: { type: "string", default: "5" } } });
  const run = await nodeDecryptThroughput(Number(values.mib) * 1024 * 1024, Number(values.runs));
  for (const f of run.figures) {
    console.log(`Node ${run.node} decryptFileStream ${f.compression} ${f.plaintextBytes} bytes (${f.encryptedBytes} encrypted): median ${f.medianMs} ms = ${f.mbPerS} MB/s (runs ${f.runsMs.join(", ")}); at most ${f.maxBufferedBytes} bytes of ciphertext held`);
  }
}
