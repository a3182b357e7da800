/**
 * Shapes of digi.me's answers, checked at the boundary so that anything else
 * becomes an `invalid_response` error instead of an `undefined` further on.
 */
import { z } from "zod";

export const tokenResponseSchema = z.object({ token: z.string().min(1) });

export const sessionSchema = z.object({ expiry: z.number(), key: z.string().min(1) });

/**
 * digi.me may leave `session` out (the official SDK then uses `{}` and checks
 * nothing), so a missing or malformed session is dropped, never fatal.
 */
export const referenceResponseSchema = z.object({ token: z.string().min(1), session: sessionSchema.optional().catch(undefined) });

export const accountReferenceSchema = z.object({ id: z.string().min(1) });

export const referencePayloadSchema = z.object({ reference_code: z.string().min(1) });

/** `oauth/authorize` names its code `preauthorization_code`, not `reference_code`. */
export const authorizePayloadSchema = z.object({ preauthorization_code: z.string().min(1) });

const tokenValueSchema = z.object({ value: z.string().min(1), expires_on: z.number() });

export const userTokenPayloadSchema = z.object({
  access_token: tokenValueSchema,
  refresh_token: tokenValueSchema,
  sub: z.string().min(1),
  consentid: z.string().optional(),
  token_type: z.string().optional(),
});

/**
 * digi.me's error body, as the official SDK reads it: `{ error: { code, message,
 * reference? } }`, or `{ error: "<code>" }`. Anything else is not an API error.
 */
export const apiErrorSchema = z.object({
  error: z.union([
    z.object({ code: z.string().min(1), message: z.string().default(""), reference: z.string().optional() }),
    z.string().min(1).transform((code) => ({ code, message: "", reference: undefined })),
  ]),
});

export const accountsSchema = z.array(z.looseObject({ id: z.string().min(1) }));

export const fileListSchema = z.looseObject({
  status: z.looseObject({
    state: z.string(),
    details: z.record(z.string(), z.looseObject({ state: z.string(), error: z.record(z.string(), z.unknown()).optional() })).optional(),
  }),
  fileList: z.array(z.unknown()).optional(),
});

