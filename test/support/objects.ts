/**
 * The user objects in tests. They run in the test's own isolate, so a test
 * can rewire how they build their services (a shorter deadline, a cold key
 * set, webhooks on with a recording queue) or their storage (failing on
 * demand), and reach an object directly.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { getServices, type ServicesOptions } from "../../src/services.ts";
import { USER_KEYS } from "../../src/storage/user-store.ts";
import { userObjectName } from "../../src/users/client.ts";
import { objectWiring, type UserObject } from "../../src/users/object.ts";

const original = { ...objectWiring };

/** Rewires the objects until the end of the current test. */
export function wireObjects(wiring: Partial<typeof objectWiring>): void {
  Object.assign(objectWiring, wiring);
}

/** Puts the production wiring back after every test of the file. */
export function restoreObjectWiringAfterEach(): void {
  afterEach(() => void Object.assign(objectWiring, original));
}

/** Wiring that builds the objects' services from `bindings` with `options` (once, like an isolate). */
export function objectServicesFrom(bindings: Env, options: ServicesOptions = {}): Pick<typeof objectWiring, "services"> {
  const services = getServices(parseConfig(bindings), bindings, { webhookQueue: bindings.WEBHOOK_QUEUE, ...options });
  return { services: () => services };
}

/** The stub of `userId`'s object (the development contract). */
export function userObject(userId: string): DurableObjectStub<UserObject> {
  const namespace = (env as unknown as { USERS: DurableObjectNamespace<UserObject> }).USERS;
  return namespace.get(namespace.idFromName(userObjectName("dev-contract", userId)));
}

/** The ids of the flows `userId`'s object keeps, read from its storage. */
export async function keptFlowIds(userId: string): Promise<string[]> {
  return runInDurableObject(userObject(userId), async (_instance, state) =>
    [...(await state.storage.list({ prefix: USER_KEYS.flowPrefix })).keys()].map((key) => key.slice(USER_KEYS.flowPrefix.length)),
  );
}

/** What to break in an object's storage. */
export interface StorageFault {
  op: "get" | "put" | "delete" | "list" | "sync";
  /** Only keys starting with this. */
  prefix?: string;
  /** Fail this many times, then work (default: always). */
  times?: number;
  /** Let this many matching calls through first (default: none). */
  skip?: number;
}

/** Wiring whose storage fails as `faults` says (the array can change while tests run). */
export function faultyStorage(faults: StorageFault[]): Pick<typeof objectWiring, "storage"> {
  // A key, a list's `{ prefix }`, or a multi-key put's entries (it fails if any of its keys would).
  const keysOf = (key: unknown): string[] => {
    if (typeof key === "string") return [key];
    if (Array.isArray(key)) return key.map(String);
    if (typeof key === "object" && key) return "prefix" in key ? [String((key as { prefix?: string }).prefix ?? "")] : Object.keys(key);
    return [""];
  };
  const failing = (op: StorageFault["op"], key: unknown): boolean => {
    const keys = keysOf(key);
    const fault = faults.find((f) => f.op === op && (!f.prefix || keys.some((k) => k.startsWith(f.prefix!))) && (f.times === undefined || f.times > 0));
    if (fault && fault.skip) {
      fault.skip -= 1;
      return false;
    }
    if (fault && fault.times !== undefined) fault.times -= 1;
    return Boolean(fault);
  };
  return {
    storage: (storage) =>
      new Proxy(storage, {
        get(target, property) {
          const value = Reflect.get(target, property);
          if (typeof value !== "function") return value;
          if (property === "get" || property === "put" || property === "delete" || property === "list" || property === "sync") {
            return (key: unknown, ...rest: unknown[]) => {
              if (failing(property, key)) return Promise.reject(new Error(`Durable Object storage ${property} failed: internal error`));
              return (value as (...args: unknown[]) => unknown).call(target, key, ...rest);
            };
          }
          return (value as (...args: unknown[]) => unknown).bind(target);
        },
      }),
  };
}
