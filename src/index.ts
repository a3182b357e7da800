/**
 * The edge service for digi.me reauthorization.
 *
 * Backend API (Authorization: Bearer <API key>):
 *   POST   /v1/reauth/user                    start user reauthorization
 *   POST   /v1/reauth/account                 start account reauthorization
 *   POST   /v1/authorize                      connect a new user (first authorization)
 *   GET    /v1/flows/:flowId                  a flow's status (?wait=N: long poll)
 *   GET    /v1/users/:userId/reauth-status    what needs reauthorization
 *   PUT    /v1/users/:userId/token            store the user's token (If-Match over a stored one)
 *   GET    /v1/users/:userId/token            read it, fresh (?minValidity=N)
 *   DELETE /v1/users/:userId/token            forget it
 *   DELETE /v1/users/:userId                  erase everything kept for the user
 *   GET    /v1/users/:userId/accounts         the user's accounts, each with its reauthorization
 *   POST   /v1/users/:userId/sessions         start a sync session
 *   GET    /v1/users/:userId/sessions/:key/files             its file list (?wait=N: long poll)
 *   GET    /v1/users/:userId/sessions/:key/files/:name       a file, decrypted and decompressed
 *   GET    /v1/users/:userId/sessions/:key/files/:name/metadata  its metadata only
 * Browser:
 *   GET    /reauth/launch/:flowId             bind to this browser, go to digi.me
 *   GET    /reauth/user/callback              digi.me's callback, flow 1
 *   GET    /reauth/account/callback           digi.me's callback, flow 2
 *   POST   /reauth/recover                    store a token the callback could not store
 * Service:
 *   GET    /healthz                           liveness and configuration check
 *   GET    /openapi.json                      the OpenAPI document
 * Queue (WEBHOOK_QUEUE, see wrangler.toml):
 *   queue  webhook deliveries (src/webhooks/consumer.ts)
 * Durable Objects (USERS): one per user, src/users/object.ts.
 */
import { createApp } from "./app.ts";
import type { Env } from "./env.ts";
import { handleWebhookBatch } from "./webhooks/consumer.ts";

/** The user objects' class (binding USERS in wrangler.toml). */
export { UserObject } from "./users/object.ts";

const app = createApp();

// A Worker module exports only handlers and Durable Object classes, so createApp lives in app.ts.
export default {
  fetch: app.fetch,
  queue: (batch, env) => handleWebhookBatch(batch, env),
} satisfies ExportedHandler<Env>;
