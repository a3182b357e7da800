/**
 * POST /v1/reauth/user, POST /v1/reauth/account and POST /v1/authorize:
 * backends start flows.
 */
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { startAccountFlow, startAuthorizeFlow, startUserFlow } from "../flows/start.ts";
import { StartAccountFlowSchema, StartAuthorizeFlowSchema, StartedFlowSchema, StartUserFlowSchema } from "../schemas.ts";
import { defineRoute, json, jsonError, mount, type RouteSpec } from "./define.ts";
import { contractFor, requestScope } from "./scope.ts";

const startUser = defineRoute({
  method: "post",
  path: "/v1/reauth/user",
  tags: ["flows"],
  summary: "Start user reauthorization",
  description:
    "Gets a reauthorization reference from digi.me (PKCE S256, state) and returns the edge's launch URL for the user's browser. " +
    "Uses the stored token unless `userAccessToken` is given. 409 `invalid_token` means digi.me refused the access token: the user must authorize afresh " +
    "(`allowFullAuthorization: true` returns a full-authorization flow instead).",
  security: [{ ApiKey: [] }],
  request: { json: StartUserFlowSchema },
  responses: {
    201: json("Flow started", StartedFlowSchema),
    ...jsonError(400, "Invalid input, or returnTo not on an allowed origin"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "No token stored for the user (token_not_found)"),
    ...jsonError(409, "digi.me refused the access token (invalid_token)"),
    ...jsonError(413, "Body larger than 16 KiB (payload_too_large)"),
    ...jsonError(415, "Body not sent as Content-Type: application/json (unsupported_media_type)"),
    ...jsonError(502, "digi.me failed or answered something untrustworthy"),
    ...jsonError(503, "Storage is unavailable (retryable): the flow was not started"),
    ...jsonError(504, "digi.me did not answer in time"),
  },
});

const startAccount = defineRoute({
  method: "post",
  path: "/v1/reauth/account",
  tags: ["flows"],
  summary: "Start account reauthorization",
  description:
    "Gets the reference code and the account reference from digi.me (two calls in parallel) and returns the launch URL. " +
    "If digi.me refuses the stored access token, the token is refreshed once, the rotated token stored, and the call retried once.",
  security: [{ ApiKey: [] }],
  request: { json: StartAccountFlowSchema },
  responses: {
    201: json("Flow started", StartedFlowSchema),
    ...jsonError(400, "Invalid input, or returnTo not on an allowed origin"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "No token stored for the user (token_not_found), or digi.me does not know the account (account_not_found, with digi.me's `upstream` code and reference)"),
    ...jsonError(409, "refresh_token_expired (start user reauthorization) or invalid_token"),
    ...jsonError(413, "Body larger than 16 KiB (payload_too_large)"),
    ...jsonError(415, "Body not sent as Content-Type: application/json (unsupported_media_type)"),
    ...jsonError(502, "digi.me failed or answered something untrustworthy"),
    ...jsonError(503, "A refreshed token could not be stored (token_not_stored: keep `error.token`), or storage is unavailable"),
    ...jsonError(504, "digi.me did not answer in time"),
  },
});

const startAuthorize = defineRoute({
  method: "post",
  path: "/v1/authorize",
  tags: ["flows"],
  summary: "Connect a new user (first authorization)",
  description:
    "For a user whose token the edge does not keep: runs digi.me's authorization (PKCE S256, state) and returns the launch URL, so the backend needs no digi.me secret. " +
    "The flow ends `awaiting_confirmation` with identity `new`: check the signed return against your own signed-in session, then POST /v1/flows/{flowId}/confirm to store the token.",
  security: [{ ApiKey: [] }],
  request: { json: StartAuthorizeFlowSchema },
  responses: {
    201: json("Flow started", StartedFlowSchema),
    ...jsonError(400, "Invalid input, or returnTo not on an allowed origin"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(409, "A token is already stored for the user (token_exists): reauthorize instead"),
    ...jsonError(413, "Body larger than 16 KiB (payload_too_large)"),
    ...jsonError(415, "Body not sent as Content-Type: application/json (unsupported_media_type)"),
    ...jsonError(502, "digi.me failed or answered something untrustworthy"),
    ...jsonError(503, "Storage is unavailable (retryable): the flow was not started"),
    ...jsonError(504, "digi.me did not answer in time"),
  },
});

/** The routes of this module, for the OpenAPI document. */
export const reauthRouteSpecs: RouteSpec[] = [startUser, startAccount, startAuthorize];

/** The flow-starting routes. */
export function reauthRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, startUser, async (c) => {
    const input = c.req.valid("json");
    return c.json(await startUserFlow(c.var.services, contractFor(c, input.contractId).users.of(input.userId, requestScope(c)), input), 201);
  });
  mount(app, startAccount, async (c) => {
    const input = c.req.valid("json");
    return c.json(await startAccountFlow(c.var.services, contractFor(c, input.contractId).users.of(input.userId, requestScope(c)), input), 201);
  });
  mount(app, startAuthorize, async (c) => {
    const input = c.req.valid("json");
    return c.json(await startAuthorizeFlow(c.var.services, contractFor(c, input.contractId).users.of(input.userId, requestScope(c)), input), 201);
  });
  return app;
}
