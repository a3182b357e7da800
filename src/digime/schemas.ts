/**
 * Shapes of digi.me's answers, checked at the boundary so that anything else
 * becomes an `invalid_response` error instead of an `undefined` further on.
 */
import { z } from "zod";

export const tokenResponseSchema = z.object({ token: z.string().min(1) });

export const sessionSchema = z.object({ expiry: z.number(), key: z.string().min(1) });

export const referenceResponseSchema = z.object({ token: z.string().min(1), session: sessionSchema });

export const accountReferenceSchema = z.object({ id: z.string().min(1) });

export const referencePayloadSchema = z.object({ reference_code: z.string().min(1) });

const tokenValueSchema = z.object({ value: z.string().min(1), expires_on: z.number() });

export const userTokenPayloadSchema = z.object({
  access_token: tokenValueSchema,
  refresh_token: tokenValueSchema,
  sub: z.string().min(1),
  consentid: z.string().optional(),
  token_type: z.string().optional(),
});

export const apiErrorSchema = z.object({
  error: z.object({ code: z.string().min(1), message: z.string().default(""), reference: z.string().optional() }),
});

export const accountsSchema = z.array(z.looseObject({ id: z.string().min(1) }));

export const fileListSchema = z.looseObject({
  status: z.looseObject({
    state: z.string(),
    details: z.record(z.string(), z.looseObject({ state: z.string(), error: z.record(z.string(), z.unknown()).optional() })).optional(),
  }),
  fileList: z.array(z.unknown()).optional(),
});

