/**
 * Per-user routes: what needs reauthorization, and custody of the user's
 * digi.me token (import, read, forget).
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import { ReauthStatusQuerySchema, ReauthStatusSchema, StoredTokenSchema, UserIdSchema, UserTokenSchema } from "../schemas.ts";
import { defineRoute, json, jsonError, mount, type RouteSpec } from "./define.ts";
import { requestScope } from "./scope.ts";

const param = z.object({ userId: UserIdSchema });
const auth = [{ ApiKey: [] }];

const status = defineRoute({
  method: "get",
  path: "/v1/users/{userId}/reauth-status",
  tags: ["users"],
  summary: "List what needs reauthorization",
  description:
    "Reads the user's accounts and, with `sessionKey`, that session's sync status (in parallel), and lists accounts reported with 511 " +
    "(ServiceAuthorizationError) or as unauthorized, plus whether the user's token still works (refreshing it once if needed).",
  security: auth,
  request: { param, query: ReauthStatusQuerySchema },
  responses: {
    200: json("Status", ReauthStatusSchema),
    ...jsonError(400, "Invalid userId or sessionKey"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "No token stored for the user (token_not_found), or digi.me does not know `sessionKey` for this user (session_not_found, with digi.me's `upstream` code and reference)"),
    ...jsonError(502, "digi.me failed"),
    ...jsonError(503, "A refreshed token could not be stored (token_not_stored: keep `error.token`), or storage is unavailable"),
    ...jsonError(504, "digi.me did not answer in time"),
  },
});

const putToken = defineRoute({
  method: "put",
  path: "/v1/users/{userId}/token",
  tags: ["users"],
  summary: "Store the user's token",
  description: "Imports a token obtained elsewhere (for example at onboarding). Stored encrypted (AES-GCM).",
  security: auth,
  request: { param, json: UserTokenSchema },
  responses: {
    204: { description: "Stored" },
    ...jsonError(400, "Invalid token shape, or an expiry in milliseconds or outside 2001–2100 (expiries are Unix seconds)"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(413, "Body larger than 16 KiB (payload_too_large)"),
    ...jsonError(415, "Body not sent as Content-Type: application/json (unsupported_media_type)"),
  },
});

const getToken = defineRoute({
  method: "get",
  path: "/v1/users/{userId}/token",
  tags: ["users"],
  summary: "Read the user's current token",
  description: "The latest token from any location (the user's Durable Object answers), including one rotated by a refresh or issued by a reauthorization.",
  security: auth,
  request: { param },
  responses: {
    200: json("The token", StoredTokenSchema),
    ...jsonError(400, "Invalid userId"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "No token stored"),
  },
});

const deleteToken = defineRoute({
  method: "delete",
  path: "/v1/users/{userId}/token",
  tags: ["users"],
  summary: "Forget the user's token",
  security: auth,
  request: { param },
  responses: { 204: { description: "Forgotten (or was not there)" }, ...jsonError(400, "Invalid userId"), ...jsonError(401, "Missing or unknown API key") },
});

/** The routes of this module, for the OpenAPI document. */
export const userRouteSpecs: RouteSpec[] = [status, putToken, getToken, deleteToken];

/** The per-user routes. */
export function userRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, status, async (c) => {
    const { userId } = c.req.valid("param");
    return c.json(await c.var.services.users.of(userId, requestScope(c)).reauthStatus(c.req.valid("query").sessionKey), 200);
  });
  mount(app, putToken, async (c) => {
    const { userId } = c.req.valid("param");
    const token = c.req.valid("json");
    await c.var.services.users.of(userId, requestScope(c)).importToken({ ...token, user: token.user ?? { id: userId } });
    return c.body(null, 204);
  });
  mount(app, getToken, async (c) => {
    const { userId } = c.req.valid("param");
    const stored = await c.var.services.users.of(userId, requestScope(c)).token();
    if (!stored) throw new AppError("token_not_found", `no digi.me token is stored for user ${userId}`);
    return c.json({ userId, token: stored.token, updatedAt: new Date(stored.updatedAt).toISOString() }, 200);
  });
  mount(app, deleteToken, async (c) => {
    await c.var.services.users.of(c.req.valid("param").userId, requestScope(c)).forgetToken();
    return c.body(null, 204);
  });
  return app;
}
