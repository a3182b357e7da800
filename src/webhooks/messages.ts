/**
 * What goes through the queue (zod/mini, checked by the consumer): a
 * delivery, whose payload is sealed like everything else at rest (it may
 * carry a token), or a delayed expiry check sent at flow start.
 */
import * as z from "zod/mini";

const EnvelopeSchema = z.object({ kid: z.string(), iv: z.string(), ct: z.string() });

/** Deliver one event; `id` is the `webhook-id`, the same on every attempt. */
export const DeliverMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal("deliver"),
  id: z.string(),
  /** The event type, for logs (the payload itself is sealed). */
  type: z.string(),
  /** The JSON payload, sealed with the token-encryption keys, bound to `id`. */
  payload: EnvelopeSchema,
  /** When it was enqueued (ms), for the delivery latency in logs. */
  enqueuedAt: z.number(),
});

/** Sent at flow start, delayed by the flow TTL: finds the flow still pending or gone, and announces its expiry. */
export const ExpiryCheckMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal("expiry-check"),
  flow: z.object({
    id: z.string(),
    kind: z.enum(["user", "account", "authorize"]),
    userId: z.string(),
    accountId: z.optional(z.string()),
    expiresAt: z.number(),
  }),
  enqueuedAt: z.number(),
});

/** Any queue message. */
export const WebhookMessageSchema = z.discriminatedUnion("kind", [DeliverMessageSchema, ExpiryCheckMessageSchema]);

/** A queue message. */
export type WebhookMessage = z.infer<typeof WebhookMessageSchema>;
/** A delivery message. */
export type DeliverMessage = z.infer<typeof DeliverMessageSchema>;
/** An expiry-check message. */
export type ExpiryCheckMessage = z.infer<typeof ExpiryCheckMessageSchema>;
