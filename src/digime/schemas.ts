/**
 * Shapes of digi.me's answers, checked at the boundary so that anything else
 * becomes an `invalid_response` error instead of an `undefined` further on.
 */
import * as z from "zod/mini";
import { DigimeError } from "./errors.ts";

/**
 * `value` as `schema` reads it; anything else is an `invalid_response` naming
 * where the shape differs (never the value, which may hold a token).
 */
export function decode<S extends z.ZodMiniType>(schema: S, value: unknown, call: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    throw new DigimeError({ kind: "invalid_response", message: `unexpected response shape at ${where}`, call });
  }
  return result.data;
}

const nonEmpty = () => z.string().check(z.minLength(1));

/** The body of `oauth/token`: a JWT to verify. */
export const tokenResponseSchema = z.object({ token: nonEmpty() });

/** A digi.me session: its key reads the user's data until `expiry`. */
export const sessionSchema = z.object({ expiry: z.number(), key: nonEmpty() });

/**
 * digi.me may leave `session` out (the official SDK then uses `{}` and checks
 * nothing), so a missing or malformed session is dropped, never fatal.
 */
export const referenceResponseSchema = z.object({ token: nonEmpty(), session: z.catch(z.optional(sessionSchema), undefined) });

/** The body of `reference`: the account reference the onboarding page takes. */
export const accountReferenceSchema = z.object({ id: nonEmpty() });

/** The verified payload of `oauth/token/reference`. */
export const referencePayloadSchema = z.object({ reference_code: nonEmpty() });

/** `oauth/authorize` names its code `preauthorization_code`, not `reference_code`. */
export const authorizePayloadSchema = z.object({ preauthorization_code: nonEmpty() });

const tokenValueSchema = z.object({ value: nonEmpty(), expires_on: z.number() });

/** The verified payload of a user token (`oauth/token`): both tokens, their expiries (Unix seconds) and whose they are (`sub`). */
export const userTokenPayloadSchema = z.object({
  access_token: tokenValueSchema,
  refresh_token: tokenValueSchema,
  sub: nonEmpty(),
  consentid: z.optional(z.string()),
  token_type: z.optional(z.string()),
});

/**
 * digi.me's error body, as the official SDK reads it: `{ error: { code, message,
 * reference? } }`, or `{ error: "<code>" }`. Anything else is not an API error.
 */
export const apiErrorSchema = z.object({
  error: z.union([
    z.object({ code: nonEmpty(), message: z._default(z.string(), ""), reference: z.optional(z.string()) }),
    z.pipe(
      nonEmpty(),
      z.transform((code) => ({ code, message: "", reference: undefined as string | undefined })),
    ),
  ]),
});

/** The body of `permission-access/trigger`: the new session, strictly checked (as the SDK checks it). */
export const triggerResponseSchema = z.object({ session: sessionSchema });

/** The body of `permission-access/accounts`: the accounts, each with an id (the rest is kept as sent). */
export const accountsSchema = z.array(z.looseObject({ id: nonEmpty() }));

/** The body of `permission-access/query/{sessionKey}`: the sync status (where 511 shows up) and the file list. */
export const fileListSchema = z.looseObject({
  status: z.looseObject({
    state: z.string(),
    details: z.optional(z.record(z.string(), z.looseObject({ state: z.string(), error: z.optional(z.record(z.string(), z.unknown())) }))),
  }),
  fileList: z.optional(z.array(z.unknown())),
});
