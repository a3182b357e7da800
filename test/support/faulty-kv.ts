/**
 * A KV namespace that fails on demand, for KV fault tests: gets or puts throw
 * (optionally only for keys with a prefix, optionally only N times), as KV does
 * when it is unavailable or throttles (429).
 */

/** What to break. */
export interface KvFault {
  op: "get" | "put" | "list" | "delete";
  /** Only keys starting with this. */
  prefix?: string;
  /** Fail this many times, then work (default: always). */
  times?: number;
  /** The error message KV would give. */
  message?: string;
}

/** Wraps `inner`; `faults` can be changed while tests run. */
export function faultyKv(inner: KVNamespace): { kv: KVNamespace; faults: KvFault[]; calls: Array<{ op: string; key: string; failed: boolean }> } {
  const faults: KvFault[] = [];
  const calls: Array<{ op: string; key: string; failed: boolean }> = [];
  const shouldFail = (op: KvFault["op"], key: string): KvFault | undefined => {
    const fault = faults.find((f) => f.op === op && (!f.prefix || key.startsWith(f.prefix)) && (f.times === undefined || f.times > 0));
    if (fault && fault.times !== undefined) fault.times -= 1;
    return fault;
  };
  const kv = new Proxy(inner, {
    get(target, property) {
      if (property === "get" || property === "put" || property === "delete") {
        return async (key: string, ...rest: unknown[]) => {
          const fault = shouldFail(property, key);
          calls.push({ op: property, key, failed: Boolean(fault) });
          if (fault) throw new Error(fault.message ?? `KV ${property.toUpperCase()} failed: 503 Service Unavailable`);
          return (Reflect.get(target, property) as (...args: unknown[]) => unknown).call(target, key, ...rest);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv, faults, calls };
}
