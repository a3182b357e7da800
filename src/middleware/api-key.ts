/**
 * Backend authentication: `Authorization: Bearer <API key>`, any of several
 * configured keys (for rotation), compared in constant time.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import { utf8 } from "../digime/encoding.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The contracts the request's API key may use (`undefined`: every one). */
    apiKeyContracts: readonly string[] | undefined;
  }
}

/** Options of `apiKeyAuth`. */
export interface ApiKeyAuthOptions {
  /** The accepted keys for this request (read from configuration). */
  keys: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => readonly string[];
  /** The contracts each key (by its place in `keys`) may use; none listed: all. */
  contracts?: (c: Parameters<MiddlewareHandler<AppEnv>>[0], index: number) => readonly string[] | undefined;
}

const digests = new WeakMap<readonly string[], Promise<ArrayBuffer[]>>();

function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", utf8(text));
}

/**
 * Whether `header` is `Bearer <key>` for one of `keys`. Compares SHA-256
 * digests, so every comparison has the same length, and checks every key,
 * so timing does not tell which one matched.
 */
export async function presentsApiKey(header: string | undefined, keys: readonly string[]): Promise<boolean> {
  return (await matchedApiKey(header, keys)) >= 0;
}

/** Which of `keys` the header presents (its index), or -1; every key is compared, whichever matched. */
export async function matchedApiKey(header: string | undefined, keys: readonly string[]): Promise<number> {
  const presented = bearer(header);
  if (!presented) return -1;
  let known = digests.get(keys);
  if (!known) digests.set(keys, (known = Promise.all(keys.map(digest))));
  const candidate = await digest(presented);
  let match = -1;
  for (const [index, key] of (await known).entries()) if (crypto.subtle.timingSafeEqual(key, candidate)) match = index;
  return match;
}

function bearer(header: string | undefined): string | undefined {
  return /^Bearer (\S{1,512})$/.exec(header ?? "")?.[1];
}

/** Refuses a request without one of the configured keys: 401 `unauthorized`. */
export function apiKeyAuth(options: ApiKeyAuthOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("Authorization");
    if (!bearer(header)) {
      throw new AppError("unauthorized", "an API key is required: Authorization: Bearer <key>");
    }
    const index = await matchedApiKey(header, options.keys(c));
    if (index < 0) throw new AppError("unauthorized", "the API key is not valid");
    c.set("apiKeyContracts", options.contracts?.(c, index));
    await next();
  };
}
