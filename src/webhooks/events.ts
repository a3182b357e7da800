/**
 * The events the edge sends to the backend, defined once (zod/mini): they
 * shape what the producer builds, what tests parse, and the OpenAPI
 * document's `webhooks` (src/webhooks/openapi.ts). The envelope is the one
 * Standard Webhooks recommends: `{ type, timestamp, data }`.
 */
import * as z from "zod/mini";
import type { DigimeSession, UserAccessToken } from "../digime/index.ts";
import type { FlowState } from "../storage/user-store.ts";

const TokenPartSchema = z.object({ value: z.string(), expiry: z.number() });

/** A digi.me token as events carry it: the same shape as PUT /v1/users/{userId}/token. */
export const EventTokenSchema = z.object({
  accessToken: TokenPartSchema,
  refreshToken: TokenPartSchema,
  user: z.object({ id: z.string() }),
  consentid: z.optional(z.string()),
});

const FlowKindSchema = z.enum(["user", "account", "authorize"]);
/** The stored token's version (`ETag` of GET /v1/users/{userId}/token). */
const VersionSchema = z.number();
/** The session digi.me opened for the flow: its key reads what the flow's `triggerQuery` asked digi.me to sync. */
const SessionSchema = z.object({ key: z.string(), expiry: z.number() });
/** Which contract the event is about (every event names it: a user has one token per contract). */
const contractField = { contractId: z.optional(z.string()) };

const flowFields = {
  ...contractField,
  flowId: z.string(),
  kind: FlowKindSchema,
  userId: z.string(),
  accountId: z.optional(z.string()),
};

/**
 * A flow ended well. User and full-authorization flows carry the new token,
 * and whose it is: a full authorization opened by another person brings
 * another digi.me identity (`replaced`), which a backend learning outcomes
 * from webhooks alone must be able to see.
 */
export const FlowSucceededEventSchema = z.object({
  type: z.literal("flow.succeeded"),
  timestamp: z.string(),
  data: z.object({
    ...flowFields,
    status: z.literal("succeeded"),
    completedAt: z.string(),
    token: z.optional(EventTokenSchema),
    /** With `token`: the version it is stored under. */
    version: z.optional(VersionSchema),
    session: z.optional(SessionSchema),
    identity: z.optional(z.enum(["confirmed", "new", "replaced"])),
    digimeUserId: z.optional(z.string()),
  }),
});

/** A flow ended with digi.me's (or the edge's) error code; `errorSource` says who reported it. */
export const FlowFailedEventSchema = z.object({
  type: z.literal("flow.failed"),
  timestamp: z.string(),
  data: z.object({ ...flowFields, status: z.literal("failed"), errorCode: z.string(), errorSource: z.optional(z.enum(["edge", "browser"])), completedAt: z.string() }),
});

/**
 * digi.me issued a token of a digi.me identity the edge could not match to the
 * user (`new`, `replaced`): nothing is stored until the application confirms
 * the returning browser is its user (POST /v1/flows/{flowId}/confirm). No token.
 */
export const FlowAwaitingConfirmationEventSchema = z.object({
  type: z.literal("flow.awaiting_confirmation"),
  timestamp: z.string(),
  data: z.object({
    ...flowFields,
    status: z.literal("awaiting_confirmation"),
    identity: z.enum(["new", "replaced"]),
    digimeUserId: z.string(),
    confirmBy: z.string(),
  }),
});

/** A flow reached its expiry unfinished (the browser never came back). */
export const FlowExpiredEventSchema = z.object({
  type: z.literal("flow.expired"),
  timestamp: z.string(),
  data: z.object({
    ...flowFields,
    status: z.literal("expired"),
    expiresAt: z.string(),
    /** A flow that expired awaiting the application's confirmation: when that ran out. */
    confirmBy: z.optional(z.string()),
  }),
});

/**
 * The edge refreshed a user's token (a token read, an account start,
 * reauth-status, the keep-alive); the old refresh token is dead. `version` is
 * the one it is stored under (absent only when storing it failed: then this
 * event and the API's `token_not_stored` answer are its only copies).
 */
export const TokenRotatedEventSchema = z.object({
  type: z.literal("token.rotated"),
  timestamp: z.string(),
  data: z.object({ ...contractField, userId: z.string(), token: EventTokenSchema, version: z.optional(VersionSchema), rotatedAt: z.string() }),
});

/**
 * digi.me refused to refresh the user's token, once per refresh token:
 * `expired` (its lifetime ran out) or `invalid` (unknown, spent elsewhere or
 * revoked). `next` is the request that brings the user back (add `returnTo`).
 */
export const TokenRefreshFailedEventSchema = z.object({
  type: z.literal("token.refresh_failed"),
  timestamp: z.string(),
  data: z.object({
    ...contractField,
    userId: z.string(),
    reason: z.enum(["expired", "invalid"]),
    /** The version of the token whose refresh was refused. */
    version: VersionSchema,
    failedAt: z.string(),
    next: z.object({
      method: z.literal("POST"),
      path: z.literal("/v1/reauth/user"),
      body: z.object({ userId: z.string(), contractId: z.optional(z.string()), allowFullAuthorization: z.optional(z.literal(true)) }),
    }),
  }),
});

/**
 * The user's refresh token expires soon (TOKEN_EXPIRING_NOTICE_SECONDS before,
 * default 7 days) and nothing has refreshed it: invite the user to reauthorize
 * (POST /v1/reauth/user) before data reads start failing.
 */
export const TokenExpiringEventSchema = z.object({
  type: z.literal("token.expiring"),
  timestamp: z.string(),
  data: z.object({ ...contractField, userId: z.string(), refreshTokenExpiresAt: z.string(), accessTokenExpiresAt: z.string() }),
});

/** The user's refresh token has expired: only user reauthorization (or a new token) brings the user back. */
export const TokenExpiredEventSchema = z.object({
  type: z.literal("token.expired"),
  timestamp: z.string(),
  data: z.object({ ...contractField, userId: z.string(), refreshTokenExpiresAt: z.string() }),
});

/** Any event. */
export const WebhookEventSchema = z.discriminatedUnion("type", [
  FlowSucceededEventSchema,
  FlowFailedEventSchema,
  FlowAwaitingConfirmationEventSchema,
  FlowExpiredEventSchema,
  TokenRotatedEventSchema,
  TokenRefreshFailedEventSchema,
  TokenExpiringEventSchema,
  TokenExpiredEventSchema,
]);

/** An event as sent. */
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;
/** Its type name. */
export type WebhookEventType = WebhookEvent["type"];

function flowPart(flow: Pick<FlowState, "id" | "kind" | "userId" | "accountId">) {
  return { flowId: flow.id, kind: flow.kind, userId: flow.userId, ...(flow.accountId ? { accountId: flow.accountId } : {}) };
}

/** The range a JavaScript Date holds (ms either side of the epoch). */
const MAX_DATE_MS = 8.64e15;

/** A time as ISO 8601; one a Date cannot hold (an expiry digi.me stated absurdly) is clamped, never thrown on. */
function iso(ms: number): string {
  const clamped = Number.isFinite(ms) ? Math.min(Math.max(ms, -MAX_DATE_MS), MAX_DATE_MS) : ms > 0 ? MAX_DATE_MS : -MAX_DATE_MS;
  return new Date(clamped).toISOString();
}

/**
 * The event for a flow that ended; `token` only for a succeeded user or
 * full-authorization flow (with the version it is stored under), `session`
 * when digi.me opened one for it.
 */
export function flowEndedEvent(flow: FlowState, nowMs: number, token?: UserAccessToken, session?: DigimeSession): WebhookEvent {
  if (flow.status === "expired") return flowExpiredEvent(flow, nowMs);
  if (flow.status === "awaiting_confirmation") {
    return {
      type: "flow.awaiting_confirmation",
      timestamp: iso(nowMs),
      data: {
        ...flowPart(flow),
        status: "awaiting_confirmation",
        identity: flow.identity === "new" ? "new" : "replaced",
        digimeUserId: flow.digimeUserId ?? "",
        confirmBy: iso(flow.confirmBy ?? flow.expiresAt),
      },
    };
  }
  const completedAt = iso(flow.completedAt ?? nowMs);
  if (flow.status === "succeeded") {
    const identity = flow.identity ? { identity: flow.identity, ...(flow.digimeUserId ? { digimeUserId: flow.digimeUserId } : {}) } : {};
    const stored = token ? { token, ...(flow.tokenVersion !== undefined ? { version: flow.tokenVersion } : {}) } : {};
    return { type: "flow.succeeded", timestamp: iso(nowMs), data: { ...flowPart(flow), status: "succeeded", completedAt, ...stored, ...(session ? { session } : {}), ...identity } };
  }
  return {
    type: "flow.failed",
    timestamp: iso(nowMs),
    data: { ...flowPart(flow), status: "failed", errorCode: flow.errorCode ?? "UNKNOWN", ...(flow.errorSource ? { errorSource: flow.errorSource } : {}), completedAt },
  };
}

/** The event for a flow found unfinished (or gone) at its expiry. */
export function flowExpiredEvent(flow: Pick<FlowState, "id" | "kind" | "userId" | "accountId" | "expiresAt" | "confirmBy">, nowMs: number): WebhookEvent {
  return {
    type: "flow.expired",
    timestamp: iso(nowMs),
    data: {
      flowId: flow.id,
      kind: flow.kind,
      userId: flow.userId,
      ...(flow.accountId ? { accountId: flow.accountId } : {}),
      status: "expired",
      expiresAt: iso(flow.expiresAt),
      ...(flow.confirmBy !== undefined ? { confirmBy: iso(flow.confirmBy) } : {}),
    },
  };
}

/** The event for a token the edge rotated (`version`: stored under it; absent when storing failed). */
export function tokenRotatedEvent(userId: string, token: UserAccessToken, nowMs: number, version?: number): WebhookEvent {
  return { type: "token.rotated", timestamp: iso(nowMs), data: { userId, token, ...(version !== undefined ? { version } : {}), rotatedAt: iso(nowMs) } };
}

/**
 * The event for a refresh digi.me refused, with the start that brings the user back
 * (naming `contractId`, the user's contract, when it is not the default one).
 */
export function tokenRefreshFailedEvent(userId: string, reason: "expired" | "invalid", version: number, nowMs: number, contractId?: string): WebhookEvent {
  return { type: "token.refresh_failed", timestamp: iso(nowMs), data: { userId, reason, version, failedAt: iso(nowMs), next: userReauthStart(userId, reason, contractId) } };
}

/**
 * The user reauthorization that follows a refused refresh (the event's and the
 * 409's `next`): naming `contractId` when given (a contract not the default).
 */
export function userReauthStart(userId: string, reason: "expired" | "invalid", contractId?: string) {
  const who = { userId, ...(contractId ? { contractId } : {}) };
  // An invalid refresh token may come with a dead access token too: the start may then fall back to full authorization.
  const body = reason === "expired" ? who : { ...who, allowFullAuthorization: true as const };
  return { method: "POST" as const, path: "/v1/reauth/user" as const, body };
}

/** The event for a refresh token about to expire (expiries in Unix seconds). */
export function tokenExpiringEvent(userId: string, expiries: { accessTokenExpiry: number; refreshTokenExpiry: number }, nowMs: number): WebhookEvent {
  return {
    type: "token.expiring",
    timestamp: iso(nowMs),
    data: { userId, refreshTokenExpiresAt: iso(expiries.refreshTokenExpiry * 1000), accessTokenExpiresAt: iso(expiries.accessTokenExpiry * 1000) },
  };
}

/** The event for a refresh token that has expired (Unix seconds). */
export function tokenExpiredEvent(userId: string, refreshTokenExpiry: number, nowMs: number): WebhookEvent {
  return { type: "token.expired", timestamp: iso(nowMs), data: { userId, refreshTokenExpiresAt: iso(refreshTokenExpiry * 1000) } };
}
