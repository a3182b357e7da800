/**
 * What a route hands the user objects about its request: the request id, the
 * log level, and `waitUntil` (absent where the runtime gives no execution
 * context, as in some tests: then event enqueues are awaited).
 */
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import type { RequestScope } from "../users/client.ts";

/**
 * The request's scope. `defer`: enqueue events after the answer (the browser
 * callbacks, the hot path); otherwise before it, as the backend API does, so
 * an event is on the queue when the answer arrives.
 */
export function requestScope(c: Context<AppEnv>, { defer = false }: { defer?: boolean } = {}): RequestScope {
  let waitUntil: RequestScope["waitUntil"];
  if (defer) {
    try {
      const ctx = c.executionCtx;
      waitUntil = (promise) => ctx.waitUntil(promise);
    } catch {
      // No execution context: awaited instead.
      waitUntil = undefined;
    }
  }
  return { requestId: c.get("requestId"), logLevel: c.env.LOG_LEVEL, ...(waitUntil ? { waitUntil } : {}) };
}
