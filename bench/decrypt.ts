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
  /**
   * WebCrypto's AES-256-CBC decryption of the same number of bytes without the stream around
   * it: in one call, and in 64 KiB calls one after the other (each with the one-block
   * encryption `decryptFileStream` adds per chunk for the padding), median ms: how much of the
   * stream's time is the cipher and how much the per-chunk calls.
   */
  aes?: { bytes: number; oneCallMs: number; chunkedMs: number; oneCallMbPerS: number; chunkedMbPerS: number };
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
  return { node: process.version, figures, aes: await aesAlone(sizeBytes, runs) };
}

/** AES-256-CBC in Node's WebCrypto over `bytes`: one call, and 64 KiB calls in sequence (see `NodeDecryptRun.aes`). */
async function aesAlone(bytes: number, runs: number): Promise<NonNullable<NodeDecryptRun["aes"]>> {
  const chunk = 64 * 1024;
  const key = await crypto.subtle.generateKey({ name: "AES-CBC", length: 256 }, false, ["encrypt", "decrypt"]);
  const iv = new Uint8Array(16);
  const plain = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(plain.subarray(i, Math.min(bytes, i + 65536)));
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, plain));
  const timeOf = async (work: () => Promise<unknown>) => {
    const all: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const began = performance.now();
      await work();
      if (i > 0) all.push(performance.now() - began);
    }
    return all.sort((a, b) => a - b)[Math.ceil(all.length / 2) - 1]!;
  };
  const oneCallMs = await timeOf(() => crypto.subtle.decrypt({ name: "AES-CBC", iv }, key, cipher));
  const chunkedMs = await timeOf(async () => {
    // As decryptFileStream's decryptBlocks: per chunk one block encrypted (the padding block), a copy, one decryption.
    for (let at = 0; at + chunk <= bytes; at += chunk) {
      const data = cipher.subarray(at, at + chunk);
      const extra = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, data.subarray(chunk - 16))).subarray(0, 16);
      const joined = new Uint8Array(chunk + 16);
      joined.set(data);
      joined.set(extra, chunk);
      await crypto.subtle.decrypt({ name: "AES-CBC", iv: at === 0 ? iv : cipher.subarray(at - 16, at) }, key, joined).catch(() => undefined);
    }
  });
  const mbPerS = (ms: number) => Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;
  return { bytes, oneCallMs: Math.round(oneCallMs * 100) / 100, chunkedMs: Math.round(chunkedMs * 100) / 100, oneCallMbPerS: mbPerS(oneCallMs), chunkedMbPerS: mbPerS(chunkedMs) };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { mib: { type: "string", default: "20" }, runs: { type: "string", default: "5" } } });
  const run = await nodeDecryptThroughput(Number(values.mib) * 1024 * 1024, Number(values.runs));
  for (const f of run.figures) {
    console.log(`Node ${run.node} decryptFileStream ${f.compression} ${f.plaintextBytes} bytes (${f.encryptedBytes} encrypted): median ${f.medianMs} ms = ${f.mbPerS} MB/s (runs ${f.runsMs.join(", ")}); at most ${f.maxBufferedBytes} bytes of ciphertext held`);
  }
  if (run.aes) console.log(`AES-256-CBC alone over ${run.aes.bytes} bytes: one call ${run.aes.oneCallMs} ms (${run.aes.oneCallMbPerS} MB/s); 64 KiB calls ${run.aes.chunkedMs} ms (${run.aes.chunkedMbPerS} MB/s)`);
}
