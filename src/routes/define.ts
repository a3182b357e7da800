/**
 * Route definitions. One declarative object per route (method, path, request
 * schemas, OpenAPI summary/description/responses/security) drives both the
 * validation at request time (`mount`) and the OpenAPI document, which
 * `npm run openapi` builds from the same objects at build time.
 */
import type { Context, Env, Hono, MiddlewareHandler } from "hono";
import { validator } from "hono/validator";
import type * as z from "zod/mini";
import type { $ZodIssue, $ZodRawIssue } from "zod/v4/core";
import { AppError } from "../errors.ts";
import { ErrorSchema } from "../schemas.ts";

/** Where a request schema applies: path parameters, query, headers (lower-case names), JSON body or form body. */
export type RequestTarget = "param" | "query" | "header" | "json" | "form";

/** A documented response: its description and, if it has one, its body's schema per media type. */
export interface ResponseSpec {
  description: string;
  content?: Record<string, { schema: z.ZodMiniType }>;
  /** Headers the answer carries (string values), by name. */
  headers?: Record<string, { description: string }>;
}

/** One route: what it accepts and what it answers, for validation and for the document. */
export interface RouteSpec {
  method: "get" | "post" | "put" | "delete";
  /** OpenAPI template (`/v1/flows/{flowId}`); Hono's `:flowId` form is derived. */
  path: string;
  tags: string[];
  summary: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  /** Schemas of the request's parts; `param` and `query` must be objects. */
  request?: Partial<Record<RequestTarget, z.ZodMiniType>>;
  responses: Record<number, ResponseSpec>;
}

type Validated<S extends RouteSpec> = {
  out: { [K in keyof NonNullable<S["request"]>]: z.output<Exclude<NonNullable<S["request"]>[K], undefined>> };
};

/** A route's handler: `c.req.valid(target)` is typed from the spec's schemas. */
export type RouteHandler<E extends Env, S extends RouteSpec> = (c: Context<E, string, Validated<S>>) => Response | Promise<Response>;

/** Keeps a spec's literal types (for `c.req.valid`) while checking it is a `RouteSpec`. */
export function defineRoute<const S extends RouteSpec>(spec: S): S {
  return spec;
}

/** `/v1/flows/{flowId}` → `/v1/flows/:flowId`. */
export function honoPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ":$1");
}

/**
 * Registers a route on `app`: one validator per request part (invalid input is
 * a 400 `invalid_request` naming the fields), then the handler.
 */
export function mount<E extends Env, S extends RouteSpec>(app: Hono<E>, spec: S, handler: RouteHandler<E, S>): void {
  const validators = Object.entries(spec.request ?? {}).map(([target, schema]) =>
    validator(target as RequestTarget, (value) => {
      const result = (schema as z.ZodMiniType).safeParse(value, { error: defaultMessage });
      if (!result.success) throw new AppError("invalid_request", describeIssues(result.error.issues));
      return result.data;
    }),
  );
  // Hono's overloads type a fixed number of handlers; the validators vary per route.
  const untyped = app as unknown as { on(method: string, path: string, ...handlers: MiddlewareHandler[]): void };
  untyped.on(spec.method.toUpperCase(), honoPath(spec.path), ...validators, handler as unknown as MiddlewareHandler);
}

/** Formats issues as `field: problem; ...` (never the input values). */
export function describeIssues(issues: readonly $ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
    .join("; ");
}

/**
 * The message of an issue whose schema gives none. zod/mini loads no locale
 * (smaller, faster start-up), so without this every such issue would read
 * "Invalid input"; passed per parse, it also ignores any locale another module
 * (full zod, in tests) configured, so messages are the same everywhere.
 */
export function defaultMessage(issue: $ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}`;
    case "too_small":
      return issue.origin === "string" ? `must be at least ${issue.minimum} characters` : `must be at least ${issue.minimum}`;
    case "too_big":
      return issue.origin === "string" ? `must be at most ${issue.maximum} characters` : `must be at most ${issue.maximum}`;
    case "invalid_format":
      return `invalid ${issue.format === "regex" ? "format" : issue.format}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "unrecognized_keys":
      return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`;
    default:
      return "invalid value";
  }
}

/** An error response entry for a route's `responses`. */
export function jsonError<S extends number>(status: S, description: string): Record<S, ResponseSpec> {
  return { [status]: { description, content: { "application/json": { schema: ErrorSchema } } } } as Record<S, ResponseSpec>;
}

/** The same error entries, each saying it may carry `Retry-After` (seconds: digi.me's, or the edge's own). */
export function withRetryAfter<S extends number>(entries: Record<S, ResponseSpec>): Record<S, ResponseSpec> {
  const headers = { "Retry-After": { description: "Seconds to wait before trying again: digi.me's when it gave one" } };
  return Object.fromEntries(Object.entries(entries).map(([status, entry]) => [status, { ...(entry as ResponseSpec), headers }])) as unknown as Record<S, ResponseSpec>;
}

/** A JSON response entry. */
export function json(description: string, schema: z.ZodMiniType): ResponseSpec {
  return { description, content: { "application/json": { schema } } };
}
