/**
 * 405 instead of 404 when the path exists under other methods: the answer
 * names the methods it has in `Allow`. Reads the app's own route table, so it
 * stays true whatever routes are added.
 */
import { AppError } from "../errors.ts";

/** A route as Hono lists it in `app.routes`. */
export interface RouteEntry {
  method: string;
  path: string;
}

/** Options of `methodNotAllowed`. */
export interface MethodNotAllowedOptions {
  /** The app's routes (read once, on the first miss, when every route is registered). */
  routes: () => readonly RouteEntry[];
}

function matcher(path: string): RegExp {
  const pattern = path
    .split("/")
    .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${pattern}/?$`);
}

/**
 * Returns a function for the app's `notFound`: the 405 `method_not_allowed`
 * error (with `Allow`) when the path has other methods, else `undefined`, so
 * the caller answers 404.
 */
export function methodNotAllowed(options: MethodNotAllowedOptions): (method: string, path: string) => AppError | undefined {
  let table: Array<{ pattern: RegExp; methods: Set<string> }> | undefined;
  const build = () => {
    const byPath = new Map<string, Set<string>>();
    for (const route of options.routes()) {
      if (route.method === "ALL" || route.path.includes("*")) continue; // middleware, not routes
      const methods = byPath.get(route.path) ?? new Set<string>();
      methods.add(route.method.toUpperCase());
      if (route.method.toUpperCase() === "GET") methods.add("HEAD");
      byPath.set(route.path, methods);
    }
    return [...byPath].map(([path, methods]) => ({ pattern: matcher(path), methods }));
  };
  return (method, path) => {
    table ??= build();
    const allowed = new Set<string>();
    for (const entry of table) if (entry.pattern.test(path)) for (const m of entry.methods) allowed.add(m);
    if (allowed.size === 0 || allowed.has(method.toUpperCase())) return undefined;
    const allow = [...allowed].sort().join(", ");
    return new AppError("method_not_allowed", `${method.toUpperCase()} is not allowed on this path; it answers ${allow}`, { headers: { Allow: allow } });
  };
}
