/**
 * Shapes of digi.me's answers, checked at the boundary so that anything else
 * becomes an `invalid_response` error instead of an `undefined` further on.
 */
import * as z from "zod/mini";

const nonEmpty = () => z.string().check(z.minLength(1));

export const tokenResponseSchema = z.object({ token: nonEmpty() });

export const sessionSchema = z.object({ expiry: z.number(), key: nonEmpty() });

export const referenceResponseSchema = z.object({ token: nonEmpty(), session: sessionSchema });

export const accountReferenceSchema = z.object({ id: nonEmpty() });

export const referencePayloadSchema = z.object({ reference_code: nonEmpty() });

const tokenValueSchema = z.object({ value: nonEmpty(), expires_on: z.number() });

export const userTokenPayloadSchema = z.object({
  access_token: tokenValueSchema,
  refresh_token: tokenValueSchema,
  sub: nonEmpty(),
  consentid: z.optional(z.string()),
  token_type: z.optional(z.string()),
});

export const apiErrorSchema = z.object({
  error: z.object({ code: nonEmpty(), message: z._default(z.string(), ""), reference: z.optional(z.string()) }),
});

export const accountsSchema = z.array(z.looseObject({ id: nonEmpty() }));

export const fileListSchema = z.looseObject({
  status: z.looseObject({
    state: z.string(),
    details: z.optional(z.record(z.string(), z.looseObject({ state: z.string(), error: z.optional(z.record(z.string(), z.unknown())) }))),
  }),
  fileList: z.optional(z.array(z.unknown())),
});
