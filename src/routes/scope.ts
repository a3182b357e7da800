/**
 * What a route hands the user objects about its request, and which contract
 * it is for: the request id, the
 * log level, and `waitUntil` (absent where the runtime gives no execution
 * context, as in some tests: then event enqueues are awaited).
 */
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import type { ContractServices } from "../services.ts";
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

/**
 * The contract a backend request names (`contractId`; the default when it
 * names none), if the request's API key may use it: 404 `contract_not_found`
 * for one not configured, 403 `contract_forbidden` for one the key is not
 * limited to.
 */
export function contractFor(c: Context<AppEnv>, requested: string | undefined): ContractServices {
  const contract = c.var.services.forContract(requested);
  const allowed = c.get("apiKeyContracts");
  if (allowed && !allowed.includes(contract.id)) {
    throw new AppError("contract_forbidden", `this API key may not use contract ${contract.id}`, {
      hint: `this key is limited to: ${allowed.join(", ")}`,
    });
  }
  return contract;
}
