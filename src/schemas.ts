/**
 * The HTTP surface's schemas: they validate every input and generate the
 * OpenAPI document (`/openapi.json`), so the two cannot drift apart.
 */
import { z } from "@hono/zod-openapi";
import { TOKEN_EXPIRY_MAX_SECONDS, TOKEN_EXPIRY_MIN_SECONDS } from "./storage/keys.ts";

const ID = /^[A-Za-z0-9._:@-]+$/;

export const UserIdSchema = z.string().min(1).max(128).regex(ID, "letters, digits and . _ : @ - only").openapi({ example: "user-42" });
export const AccountIdSchema = z.string().min(1).max(128).regex(ID, "letters, digits and . _ : @ - only").openapi({ example: "1_1xxxxxxxxx" });
export const FlowIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, "not a flow id").openapi({ example: "q0Vx0t6wz7N3b1k2R9yH1Q" });
const ReturnToSchema = z.string().min(1).max(2048).openapi({ description: "Absolute URL on an allowed origin", example: "https://app.example.com/settings/digime" });
const LocaleSchema = z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/, "a language tag such as en or pt-BR").openapi({ example: "en" });
const AccessTokenValueSchema = z.string().min(1).max(4096).openapi({ description: "A user access token value, instead of the stored token" });
const SessionOptionsSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => JSON.stringify(value).length <= 4096, "sessionOptions must be at most 4096 bytes of JSON")
  .openapi({ description: "digi.me session options (`actions`), passed through", example: { pull: {} } });

export const StartUserFlowSchema = z
  .object({
    userId: UserIdSchema,
    returnTo: ReturnToSchema,
    locale: LocaleSchema.optional(),
    triggerQuery: z.boolean().optional(),
    sessionOptions: SessionOptionsSchema.optional(),
    userAccessToken: AccessTokenValueSchema.optional(),
    allowFullAuthorization: z.boolean().optional().openapi({ description: "When digi.me refuses the access token, start a full-authorization flow instead of answering 409" }),
  })
  .strict()
  .openapi("StartUserFlow");

export const StartAccountFlowSchema = z
  .object({
    userId: UserIdSchema,
    accountId: AccountIdSchema,
    returnTo: ReturnToSchema,
    locale: LocaleSchema.optional(),
    userAccessToken: AccessTokenValueSchema.optional(),
  })
  .strict()
  .openapi("StartAccountFlow");

export const StartedFlowSchema = z
  .object({
    flowId: FlowIdSchema,
    kind: z.enum(["user", "account", "authorize"]),
    launchUrl: z.string().openapi({ description: "Send the user's browser here", example: "https://reauth.example.com/reauth/launch/q0Vx0t6wz7N3b1k2R9yH1Q" }),
    expiresAt: z.string().openapi({ example: "2026-11-21T10:10:00.000Z" }),
  })
  .openapi("StartedFlow");

export const FlowSchema = z
  .object({
    flowId: FlowIdSchema,
    kind: z.enum(["user", "account", "authorize"]),
    userId: z.string(),
    accountId: z.string().optional(),
    status: z.enum(["pending", "succeeded", "failed"]),
    errorCode: z.string().optional(),
    identity: z
      .enum(["confirmed", "new", "replaced"])
      .optional()
      .openapi({ description: "Succeeded user/authorize flows: the stored token's digi.me identity matched the known one (confirmed), none was known (new), or a full authorization brought another (replaced)" }),
    digimeUserId: z.string().optional().openapi({ description: "Succeeded user/authorize flows: digi.me's `sub` of the token stored" }),
    createdAt: z.string(),
    expiresAt: z.string(),
    completedAt: z.string().optional(),
  })
  .openapi("Flow");

const TokenPartSchema = z.object({
  value: z.string().min(1).max(4096),
  // Seconds, not milliseconds: a millisecond expiry is refused by name rather than stored wrong.
  expiry: z
    .number()
    .int()
    .min(TOKEN_EXPIRY_MIN_SECONDS, "must be Unix seconds (from 2001-09-09)")
    .max(TOKEN_EXPIRY_MAX_SECONDS, "must be Unix seconds, not milliseconds (until 2100-01-01)")
    .openapi({ description: "Unix seconds" }),
});

export const UserTokenSchema = z
  .object({
    accessToken: TokenPartSchema,
    refreshToken: TokenPartSchema,
    user: z.object({ id: z.string().min(1).max(256) }).optional(),
    consentid: z.string().max(256).optional(),
  })
  .strict()
  .openapi("UserToken");

export const StoredTokenSchema = z
  .object({ userId: z.string(), token: UserTokenSchema, updatedAt: z.string() })
  .openapi("StoredToken");

export const ReauthStatusSchema = z
  .object({
    userId: z.string(),
    token: z.object({
      status: z.enum(["valid", "refreshed", "needs_user_reauth", "needs_full_authorization"]),
      accessTokenExpiry: z.number(),
      refreshTokenExpiry: z.number(),
    }),
    accounts: z.array(
      z.object({
        accountId: z.string(),
        serviceTypeName: z.string().optional(),
        reason: z.enum(["ServiceAuthorizationError", "unauthorized"]),
        message: z.string().optional(),
      }),
    ),
    syncState: z.string().optional(),
  })
  .openapi("ReauthStatus");

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_token" }),
      message: z.string(),
      hint: z.string().optional(),
      retryable: z.boolean().optional(),
    }),
  })
  .openapi("Error");

export const CallbackQuerySchema = z.object({
  flow: FlowIdSchema,
  success: z.enum(["true", "false"]),
  state: z.string().max(256).optional(),
  code: z.string().min(1).max(4096).optional(),
  errorCode: z.string().max(256).optional(),
  accountReference: z.string().max(1024).optional(),
});

export const ReauthStatusQuerySchema = z.object({
  sessionKey: z.string().min(1).max(256).regex(/^[A-Za-z0-9._-]+$/).optional().openapi({ description: "A digi.me session key, to read its sync status for 511s" }),
});
