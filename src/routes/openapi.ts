/**
 * Helpers shared by route definitions: the validation hook that turns zod
 * issues into a 400 naming the fields, and response/request shorthands.
 */
import type { Hook } from "@hono/zod-openapi";
import type { z } from "@hono/zod-openapi";
import { AppError } from "../errors.ts";
import { ErrorSchema } from "../schemas.ts";

/** Formats zod issues as `field: problem; ...` (no input values). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`)
    .join("; ");
}

/** The `defaultHook` of every route group: invalid input is a 400 `invalid_request`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (!result.success) throw new AppError(400, "invalid_request", describeIssues(result.error as z.ZodError));
};

/** An error response entry for a route's `responses`. */
export function jsonError<S extends number>(status: S, description: string) {
  return { [status]: { description, content: { "application/json": { schema: ErrorSchema } } } } as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

/** A required JSON request body. */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return { body: { required: true, content: { "application/json": { schema } } } };
}
