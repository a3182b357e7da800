/**
 * The events in the OpenAPI document (OpenAPI 3.1 `webhooks`), from the
 * schemas in events.ts, added by the build-time generator (src/openapi-document.ts).
 */
import * as z from "zod/mini";
import {
  FlowAwaitingConfirmationEventSchema,
  FlowExpiredEventSchema,
  FlowFailedEventSchema,
  FlowSucceededEventSchema,
  TokenExpiredEventSchema,
  TokenExpiringEventSchema,
  TokenRefreshFailedEventSchema,
  TokenRotatedEventSchema,
} from "./events.ts";

const EVENTS = [
  {
    type: "flow.succeeded",
    schema: FlowSucceededEventSchema,
    summary: "A flow succeeded",
    description:
      "Sent when a flow ends well. User and full-authorization flows carry the new token (`data.token`) and the version it is stored under (`data.version`, " +
      "the ETag of GET /v1/users/{userId}/token); a copy you keep is replaced by it, and the old refresh token is dead. `data.session` is the session digi.me " +
      "opened for the flow (`{ key, expiry }`): with `triggerQuery`, its key reads what digi.me synced.",
  },
  {
    type: "flow.awaiting_confirmation",
    schema: FlowAwaitingConfirmationEventSchema,
    summary: "A flow brought a digi.me identity the edge could not match to the user",
    description:
      "Sent when a full authorization (or a user flow without a known identity) brought a token of digi.me identity `new` or `replaced`. No token: " +
      "nothing is stored until the application checks the signed return against its own signed-in session and calls POST /v1/flows/{flowId}/confirm " +
      "(then `flow.succeeded` carries the token); unconfirmed by `confirmBy`, the flow expires.",
  },
  { type: "flow.failed", schema: FlowFailedEventSchema, summary: "A flow failed", description: "Sent when a flow ends with an error code (digi.me's, or the edge's such as `EXCHANGE_FAILED`)." },
  {
    type: "flow.expired",
    schema: FlowExpiredEventSchema,
    summary: "A flow expired unfinished",
    description: "Sent by the user's Durable Object's alarm at the flow's expiry when the flow was still pending (the browser never came back); the flow then reads `expired`.",
  },
  {
    type: "token.rotated",
    schema: TokenRotatedEventSchema,
    summary: "The edge rotated a user's token",
    description:
      "Sent when a refresh by the edge (a token read, an account start, reauth-status, an account callback's confirming read, the keep-alive) rotated the token; " +
      "carries the new token and its version. A copy you keep is dead from now on: replace it (or, better, read the token from the edge before each batch of reads).",
  },
  {
    type: "token.refresh_failed",
    schema: TokenRefreshFailedEventSchema,
    summary: "digi.me refused to refresh a user's token",
    description:
      "Sent once per refresh token digi.me refused: `reason` `expired` (its lifetime ran out) or `invalid` (unknown, spent elsewhere or revoked). " +
      "Reads with the token fail from now on; `data.next` is the request that brings the user back (add `returnTo`).",
  },
  {
    type: "token.expiring",
    schema: TokenExpiringEventSchema,
    summary: "A user's refresh token expires soon",
    description:
      "Sent once per refresh token, TOKEN_EXPIRING_NOTICE_SECONDS (default 7 days) before it expires, unless a refresh replaced it first: " +
      "invite the user to reauthorize (POST /v1/reauth/user) before data reads start failing.",
  },
  {
    type: "token.expired",
    schema: TokenExpiredEventSchema,
    summary: "A user's refresh token has expired",
    description: "Sent once when the stored refresh token lapses: only user reauthorization (or a new token via PUT) brings the user back.",
  },
] as const;

const header = (name: string, description: string) => ({ name, in: "header", required: true, description, schema: { type: "string" } });

/** The Standard Webhooks headers every delivery carries. */
const HEADERS = [
  header("webhook-id", "The event's id: the same on every attempt, so receivers de-duplicate on it."),
  header("webhook-timestamp", "Unix seconds of this attempt."),
  header("webhook-signature", "`v1,<base64 HMAC-SHA256>` over `id.timestamp.body` with WEBHOOK_SECRET (Standard Webhooks)."),
];

function jsonSchema(schema: z.ZodMiniType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
  return rest;
}

/** Returns `document` with a `webhooks` entry per event type. */
export function withWebhookEvents<D extends object>(document: D): D & { webhooks: Record<string, unknown> } {
  const webhooks: Record<string, unknown> = {};
  for (const event of EVENTS) {
    webhooks[event.type] = {
      post: {
        summary: event.summary,
        description: `${event.description} Signed per Standard Webhooks; retried with a growing delay until a 2xx, then dead-lettered.`,
        parameters: HEADERS,
        requestBody: { required: true, content: { "application/json": { schema: jsonSchema(event.schema) } } },
        responses: { "2XX": { description: "Received; any other answer (or none within 10 s) is retried" } },
      },
    };
  }
  return { ...document, webhooks };
}
