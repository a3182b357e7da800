/**
 * The HTTP surface's schemas (zod/mini): they validate every input and, with
 * the route definitions, generate the OpenAPI document (`npm run openapi`),
 * so the two cannot drift apart. `describe` attaches the document's metadata.
 */
import * as z from "zod/mini";
import { FLOW_WAIT_MAX_SECONDS, TOKEN_EXPIRY_MAX_SECONDS, TOKEN_EXPIRY_MIN_SECONDS, TOKEN_MIN_VALIDITY_DEFAULT_SECONDS, TOKEN_MIN_VALIDITY_MAX_SECONDS } from "./storage/keys.ts";

/** What a schema adds to the OpenAPI document: a component id, a description, an example. */
export type SchemaDoc = {
  /** Makes the schema a named component (`#/components/schemas/<id>`). */
  id?: string;
  description?: string;
  example?: unknown;
};

/** Attaches OpenAPI metadata to a schema (zod's global registry) and returns it. */
export function describe<T extends z.ZodMiniType>(schema: T, doc: SchemaDoc): T {
  z.globalRegistry.add(schema, doc);
  return schema;
}

const ID = /^[A-Za-z0-9._:@-]+$/;

/** A contract id (config/contracts.ts `CONTRACT_ID`); absent: the deployment's default contract. */
export const ContractIdSchema = describe(z.string().check(z.regex(/^[A-Za-z0-9._-]{1,128}$/, "letters, digits and . _ - only")), {
  description: "The digi.me contract (one of the deployment's; absent: its default)",
  example: "health",
});

export const UserIdSchema = describe(z.string().check(z.minLength(1), z.maxLength(128), z.regex(ID, "letters, digits and . _ : @ - only")), { example: "user-42" });
export const AccountIdSchema = describe(z.string().check(z.minLength(1), z.maxLength(128), z.regex(ID, "letters, digits and . _ : @ - only")), { example: "1_1xxxxxxxxx" });
export const FlowIdSchema = describe(z.string().check(z.regex(/^[A-Za-z0-9_-]{22}$/, "not a flow id")), { example: "q0Vx0t6wz7N3b1k2R9yH1Q" });
const ReturnToSchema = describe(z.string().check(z.minLength(1), z.maxLength(2048)), { description: "Absolute URL on an allowed origin", example: "https://app.example.com/settings/digime" });
const LocaleSchema = describe(z.string().check(z.regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/, "a language tag such as en or pt-BR")), { example: "en" });
const AccessTokenValueSchema = describe(z.string().check(z.minLength(1), z.maxLength(4096)), { description: "A user access token value, instead of the stored token" });
const SessionOptionsSchema = describe(
  z.record(z.string(), z.unknown()).check(z.refine((value) => JSON.stringify(value).length <= 4096, "must be at most 4096 bytes of JSON")),
  { description: "digi.me session options (`actions`), passed through", example: { pull: {} } },
);

export const StartUserFlowSchema = describe(
  z.strictObject({
    userId: UserIdSchema,
    contractId: z.optional(ContractIdSchema),
    returnTo: ReturnToSchema,
    locale: z.optional(LocaleSchema),
    triggerQuery: z.optional(z.boolean()),
    sessionOptions: z.optional(SessionOptionsSchema),
    userAccessToken: z.optional(AccessTokenValueSchema),
    allowFullAuthorization: z.optional(
      describe(z.boolean(), { description: "When digi.me refuses the access token, start a full-authorization flow instead of answering 409" }),
    ),
  }),
  { id: "StartUserFlow" },
);

export const StartAuthorizeFlowSchema = describe(
  z.strictObject({
    userId: UserIdSchema,
    contractId: z.optional(ContractIdSchema),
    returnTo: ReturnToSchema,
    locale: z.optional(LocaleSchema),
    sessionOptions: z.optional(SessionOptionsSchema),
  }),
  { id: "StartAuthorizeFlow" },
);

export const StartAccountFlowSchema = describe(
  z.strictObject({
    userId: UserIdSchema,
    contractId: z.optional(ContractIdSchema),
    accountId: AccountIdSchema,
    returnTo: ReturnToSchema,
    locale: z.optional(LocaleSchema),
    userAccessToken: z.optional(AccessTokenValueSchema),
  }),
  { id: "StartAccountFlow" },
);

const FlowKindSchema = z.enum(["user", "account", "authorize"]);

export const StartedFlowSchema = describe(
  z.object({
    flowId: FlowIdSchema,
    kind: FlowKindSchema,
    contractId: z.string(),
    launchUrl: describe(z.string(), { description: "Send the user's browser here", example: "https://reauth.example.com/reauth/launch/q0Vx0t6wz7N3b1k2R9yH1Q" }),
    expiresAt: describe(z.string(), { example: "2026-11-21T10:10:00.000Z" }),
  }),
  { id: "StartedFlow" },
);

export const FlowSchema = describe(
  z.object({
    flowId: FlowIdSchema,
    kind: FlowKindSchema,
    contractId: z.string(),
    userId: z.string(),
    accountId: z.optional(z.string()),
    status: describe(z.enum(["pending", "awaiting_confirmation", "succeeded", "failed", "expired"]), {
      description:
        "`awaiting_confirmation`: digi.me issued a token of a digi.me identity the edge could not match to the user (`identity` new or replaced); " +
        "nothing is stored until POST /v1/flows/{flowId}/confirm, and the flow expires unconfirmed at `confirmBy`",
    }),
    errorCode: z.optional(z.string()),
    errorSource: z.optional(
      describe(z.enum(["edge", "browser"]), {
        description: "Failed flows: `edge` when the edge found the failure (USER_MISMATCH, NOT_REAUTHORIZED, EXCHANGE_FAILED), `browser` when only the browser reported it (digi.me's failure callback carries no proof)",
      }),
    ),
    confirmBy: z.optional(describe(z.string(), { description: "Awaiting confirmation: when the flow expires unconfirmed" })),
    identity: z.optional(
      describe(z.enum(["confirmed", "new", "replaced"]), {
        description: "Succeeded user/authorize flows: the stored token's digi.me identity matched the known one (confirmed), none was known (new), or a full authorization brought another (replaced)",
      }),
    ),
    digimeUserId: z.optional(describe(z.string(), { description: "Succeeded user/authorize flows: digi.me's `sub` of the token stored" })),
    tokenVersion: z.optional(describe(z.int(), { description: "Succeeded user/authorize flows: the version the new token was stored under (the ETag of GET /v1/users/{userId}/token)" })),
    session: z.optional(
      describe(z.object({ key: z.string(), expiry: z.number() }), {
        description: "Succeeded user/authorize flows: the session digi.me opened for the flow; with `triggerQuery`, its key reads what digi.me synced (permission-access/query/{key})",
      }),
    ),
    createdAt: z.string(),
    expiresAt: z.string(),
    completedAt: z.optional(z.string()),
  }),
  { id: "Flow" },
);

const TokenPartSchema = z.object({
  value: z.string().check(z.minLength(1), z.maxLength(4096)),
  // Seconds, not milliseconds: a millisecond expiry is refused by name rather than stored wrong.
  expiry: describe(
    z.int().check(
      z.minimum(TOKEN_EXPIRY_MIN_SECONDS, "must be Unix seconds (from 2001-09-09)"),
      z.maximum(TOKEN_EXPIRY_MAX_SECONDS, "must be Unix seconds, not milliseconds (until 2100-01-01)"),
    ),
    { description: "Unix seconds" },
  ),
});

export const UserTokenSchema = describe(
  z.strictObject({
    accessToken: TokenPartSchema,
    refreshToken: TokenPartSchema,
    user: z.optional(z.object({ id: z.string().check(z.minLength(1), z.maxLength(256)) })),
    consentid: z.optional(z.string().check(z.maxLength(256))),
  }),
  { id: "UserToken" },
);

export const StoredTokenSchema = describe(
  z.object({
    userId: z.string(),
    token: UserTokenSchema,
    version: describe(z.int(), { description: "Goes up on every write of the token (import, refresh, reauthorization, confirm); the ETag, for If-Match", example: 7 }),
    updatedAt: z.string(),
    accessTokenExpiresIn: describe(z.int(), { description: "Seconds until the access token expires (at least minValidity, unless digi.me issued it shorter)", example: 3599 }),
    refreshed: describe(z.boolean(), { description: "Whether this read refreshed the token first (the previous refresh token is dead)" }),
  }),
  { id: "StoredToken" },
);

/** A query parameter of whole seconds, 0 to `max` (as many digits as `max` has, then its value). */
function secondsParam(name: string, max: number) {
  return z
    .pipe(
      z.string().check(z.regex(new RegExp(`^\\d{1,${String(max).length}}$`), `${name} must be a whole number of seconds`)),
      z.transform((value) => Number(value)),
    )
    .check(z.maximum(max, `must be at most ${max} seconds`));
}

/** `GET /v1/users/{userId}/token?minValidity=N`: seconds, 0 to `TOKEN_MIN_VALIDITY_MAX_SECONDS`. */
export const TokenReadQuerySchema = z.object({
  contractId: z.optional(ContractIdSchema),
  minValidity: z.optional(
    describe(
      secondsParam("minValidity", TOKEN_MIN_VALIDITY_MAX_SECONDS),
      {
        description: `Seconds the answered access token must stay valid (0–${TOKEN_MIN_VALIDITY_MAX_SECONDS}, default ${TOKEN_MIN_VALIDITY_DEFAULT_SECONDS}); the edge refreshes it first when it would expire sooner`,
        example: "600",
      },
    ),
  ),
});

/** An entity tag as the token routes give it: the version in quotes. */
const ETAG = /^"(\d{1,15})"$/;

/** The version an `If-Match` names, or `*`. */
export function parseIfMatch(value: string): number | "*" {
  if (value.trim() === "*") return "*";
  return Number(ETAG.exec(value.trim())![1]);
}

/** Preconditions of a token write (`PUT` / `DELETE /v1/users/{userId}/token`). */
export const TokenPreconditionSchema = z.object({
  "if-match": z.optional(
    describe(z.string().check(z.regex(/^\s*(\*|"\d{1,15}")\s*$/, 'If-Match must be one strong ETag of a token read, such as "7", or *')), {
      description: 'The ETag of your last read of the token (`"7"`): the write happens only if the stored token is still that version (else 412 token_changed); `*`: only if a token is stored',
      example: '"7"',
    }),
  ),
  "if-none-match": z.optional(
    describe(z.string().check(z.regex(/^\s*\*\s*$/, "If-None-Match must be *")), { description: "`*`: store only if no token is stored (else 412 token_changed)", example: "*" }),
  ),
});

export const ReauthStatusSchema = describe(
  z.object({
    userId: z.string(),
    token: z.object({
      status: z.enum(["valid", "refreshed", "needs_user_reauth", "needs_full_authorization"]),
      accessTokenExpiry: z.number(),
      refreshTokenExpiry: z.number(),
    }),
    accounts: z.array(
      z.object({
        accountId: z.string(),
        serviceTypeName: z.optional(z.string()),
        reason: z.enum(["ServiceAuthorizationError", "unauthorized"]),
        message: z.optional(z.string()),
      }),
    ),
    syncState: z.optional(z.string()),
  }),
  { id: "ReauthStatus" },
);

export const ErrorSchema = describe(
  z.object({
    error: z.object({
      code: describe(z.string(), { example: "invalid_token" }),
      message: z.string(),
      hint: z.optional(z.string()),
      retryable: z.optional(z.boolean()),
      /** What digi.me said, when the error is digi.me's answer. */
      upstream: z.optional(
        describe(z.object({ code: z.optional(z.string()), reference: z.optional(z.string()), call: z.optional(z.string()) }), { description: "digi.me's own code, reference and the call it answered, when the error is digi.me's answer" }),
      ),
      fileName: z.optional(describe(z.string(), { description: "file_undecryptable: the file that does not decrypt" })),
      currentVersion: z.optional(describe(z.nullable(z.number()), { description: "token_changed / precondition_required: the stored token's version now (null: none stored)" })),
      status: z.optional(describe(z.string(), { description: "flow_not_awaiting_confirmation: the flow's status" })),
      reason: z.optional(describe(z.enum(["expired", "invalid"]), { description: "refresh_token_expired: why digi.me refused the refresh token (invalid: spent elsewhere or revoked)" })),
      next: z.optional(
        describe(
          z.object({
            method: z.literal("POST"),
            path: z.literal("/v1/reauth/user"),
            body: z.object({ userId: z.string(), contractId: z.optional(z.string()), allowFullAuthorization: z.optional(z.literal(true)) }),
          }),
          { description: "refresh_token_expired: the user reauthorization to start (add returnTo to the body), as token.refresh_failed carries it" },
        ),
      ),
      token: z.optional(describe(z.record(z.string(), z.unknown()), { description: "token_not_stored (token routes only): the token digi.me issued, which storage could not keep: store it again" })),
    }),
  }),
  { id: "Error" },
);

export const CallbackQuerySchema = z.object({
  flow: FlowIdSchema,
  success: z.enum(["true", "false"]),
  state: z.optional(z.string().check(z.maxLength(256))),
  code: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
  errorCode: z.optional(z.string().check(z.maxLength(256))),
  accountReference: z.optional(z.string().check(z.maxLength(1024))),
});

/** `GET /v1/flows/{flowId}?wait=N`: seconds, 0 to `FLOW_WAIT_MAX_SECONDS`. */
export const FlowWaitQuerySchema = z.object({
  wait: z.optional(
    describe(
      secondsParam("wait", FLOW_WAIT_MAX_SECONDS),
      { description: `Long poll: seconds to wait for a pending flow to end (0–${FLOW_WAIT_MAX_SECONDS})`, example: "20" },
    ),
  ),
});

/**
 * A session key or a file name: one segment of digi.me's path. `.` and `..`
 * are refused, since a URL resolves them: the signed request (and the user's
 * token) would go to another of digi.me's paths.
 */
const PATH_SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;
const pathSegment = () => z.string().check(z.minLength(1), z.maxLength(256), z.regex(PATH_SEGMENT, "letters, digits and . _ - only, and not . or .."));

const SessionKeySchema = describe(pathSegment(), {
  description: "A digi.me session key (from POST /v1/users/{userId}/sessions, or a flow's `session`)",
  example: "8f2a…",
});
const FileNameSchema = describe(pathSegment(), {
  description: "A file's name from the session's file list",
  example: "18_1_1xxxxxxxxx_1.json",
});

export const ReauthStatusQuerySchema = z.object({
  contractId: z.optional(ContractIdSchema),
  sessionKey: z.optional(describe(pathSegment(), { description: "A digi.me session key, to read its sync status for 511s" })),
});

/** The path parameters of the session routes. */
export const SessionParamSchema = z.object({ userId: UserIdSchema, sessionKey: SessionKeySchema });
/** The path parameters of a file route. */
export const FileParamSchema = z.object({ userId: UserIdSchema, sessionKey: SessionKeySchema, fileName: FileNameSchema });

/** `GET /v1/users/{userId}/accounts`: an optional session whose 511s to merge, and how fresh the token must be. */
export const AccountsQuerySchema = z.object({
  contractId: z.optional(ContractIdSchema),
  sessionKey: z.optional(describe(SessionKeySchema, { description: "A session whose sync status to read beside the accounts, for its 511s" })),
  minValidity: TokenReadQuerySchema.shape.minValidity,
});

/** `GET …/files`: the long poll and the token's freshness. */
export const FileListQuerySchema = z.object({
  contractId: z.optional(ContractIdSchema),
  wait: FlowWaitQuerySchema.shape.wait,
  minValidity: TokenReadQuerySchema.shape.minValidity,
});

/** A read's token freshness alone. */
export const ReadQuerySchema = z.object({ contractId: z.optional(ContractIdSchema), minValidity: TokenReadQuerySchema.shape.minValidity });

/** A user route's contract alone. */
export const ContractQuerySchema = z.object({ contractId: z.optional(ContractIdSchema) });

const AccountReauthSchema = describe(
  z.object({
    needed: z.boolean(),
    reason: z.optional(z.enum(["ServiceAuthorizationError", "unauthorized"])),
    message: z.optional(z.string()),
    start: z.optional(
      describe(z.object({ userId: z.string(), accountId: z.string(), contractId: z.optional(z.string()) }), {
        description: "The body of POST /v1/reauth/account that starts this account's reauthorization (with `contractId` when the user's contract is not the default): add `returnTo`",
      }),
    ),
  }),
  { id: "AccountReauth" },
);

export const AccountsSchema = describe(
  z.object({
    userId: z.string(),
    accounts: z.array(
      z.looseObject({
        id: z.string(),
        serviceTypeName: z.optional(z.string()),
        accessTokenStatus: z.optional(z.object({ authorized: z.boolean(), expiresAt: z.optional(z.number()) })),
        reauth: AccountReauthSchema,
      }),
    ),
    syncState: z.optional(z.string()),
  }),
  { id: "Accounts" },
);

/** digi.me's PullSessionOptions, for a sync: the trigger's body, at its top level. */
const PullSessionOptionsSchema = describe(
  z.record(z.string(), z.unknown()).check(z.refine((value) => JSON.stringify(value).length <= 4096, "must be at most 4096 bytes of JSON")),
  { description: "digi.me's PullSessionOptions (`limits`, `scope`, `sourceFetch`, …), sent as the trigger's body, at its top level", example: { limits: { duration: { sourceFetch: 60 } } } },
);

export const StartSessionSchema = describe(
  z.strictObject({
    scope: z.optional(
      describe(z.record(z.string(), z.unknown()), {
        description: "digi.me's scope of the sync (time ranges, service groups, object types), sent as the trigger's `scope`: it wins over a `scope` inside `sessionOptions`",
      }),
    ),
    sessionOptions: z.optional(PullSessionOptionsSchema),
  }),
  { id: "StartSession" },
);

export const SessionSchema = describe(z.object({ sessionKey: z.string(), expiry: describe(z.number(), { description: "When the session ends (ms since the epoch, as digi.me states it)" }) }), {
  id: "Session",
});

export const FileListSchema = describe(
  z.object({
    userId: z.string(),
    sessionKey: z.string(),
    state: describe(z.string(), { description: "The sync: pending, running, partial or completed" }),
    accounts: z.array(z.object({ accountId: z.string(), state: z.string(), reauth: AccountReauthSchema, error: z.optional(z.record(z.string(), z.unknown())) })),
    fileList: z.array(z.object({ name: z.string(), updated: z.optional(z.number()), objectType: z.optional(z.string()), serviceName: z.optional(z.string()) })),
  }),
  { id: "FileList" },
);

/** A file's content as the file read answers it: the bytes, decrypted and decompressed. */
export const FileContentSchema = describe(z.string(), { description: "The file's bytes, in the MIME type Content-Type names" });

export const FileMetadataSchema = describe(
  z.object({
    sessionKey: z.string(),
    fileName: z.string(),
    compression: z.enum(["none", "gzip", "brotli"]),
    mimeType: z.optional(z.string()),
    metadata: z.record(z.string(), z.unknown()),
  }),
  { id: "FileMetadata" },
);
