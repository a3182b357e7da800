/**
 * Request bodies up to a size, with or without `Content-Length`: a declared
 * length over the limit is refused at once; a streamed (chunked) body is read
 * up to the limit and refused as soon as it passes it.
 *
 * Unlike hono's `bodyLimit`, the rest of an overflowing stream is read and
 * dropped (up to `drainBytes`) before the answer goes out: answered half
 * read, `wrangler dev` reset the connection of a client still sending
 * (Node's fetch: ECONNRESET) instead of delivering the 413.
 */
import type { Context, MiddlewareHandler } from "hono";

/** Options of `limitBody`. */
export interface LimitBodyOptions {
  /** The largest body accepted, in bytes. */
  maxBytes: number;
  /** Called (and its result or throw used) when a body is larger. */
  onTooLarge: (c: Context) => Response | Promise<Response>;
  /** How much of an overflowing stream is read and dropped before answering (default 64 MiB). */
  drainBytes?: number;
}

/** How much of an overflowing streamed body is read and dropped so the client gets the 413: 64 MiB. */
export const DEFAULT_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Reads and drops the rest of a body (up to `limit` bytes), then cancels it:
 * a client still sending gets the answer instead of a reset connection.
 */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number): Promise<void> {
  let dropped = 0;
  try {
    while (dropped <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      dropped += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to answer.
  }
}

/** Refuses bodies over `maxBytes`; a body within the limit is buffered for the route. */
export function limitBody(options: LimitBodyOptions): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const length = c.req.raw.headers.get("Content-Length");
    if (length !== null && !c.req.raw.headers.has("Transfer-Encoding")) {
      return Number.parseInt(length, 10) > options.maxBytes ? options.onTooLarge(c) : next();
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > options.maxBytes) {
        await drain(reader, options.drainBytes ?? DEFAULT_DRAIN_BYTES);
        return options.onTooLarge(c);
      }
      chunks.push(value);
    }
    const buffer = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      buffer.set(chunk, offset);
      offset += chunk.byteLength;
    }
    c.req.raw = new Request(c.req.raw, { body: buffer });
    return next();
  };
}
