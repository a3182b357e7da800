/**
 * Per-user routes: what needs reauthorization, and custody of the user's
 * digi.me token: a read is fresh (refreshed first when it would expire within
 * `minValidity`) and versioned (`ETag`); a write over a stored token names the
 * version it replaces (`If-Match`) or says none may be stored
 * (`If-None-Match: *`).
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import {
  ContractQuerySchema,
  parseIfMatch,
  ReauthStatusQuerySchema,
  ReauthStatusSchema,
  StoredTokenSchema,
  TokenPreconditionSchema,
  TokenReadQuerySchema,
  UserIdSchema,
  UserTokenSchema,
} from "../schemas.ts";
import { TOKEN_MIN_VALIDITY_DEFAULT_SECONDS } from "../storage/keys.ts";
import type { TokenCondition } from "../storage/user-store.ts";
import { defineRoute, json, jsonError, mount, type RouteSpec } from "./define.ts";
import { contractFor, requestScope } from "./scope.ts";

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
  description:
    "Imports a token obtained elsewhere (for example at onboarding, or a pair digi.me's SDK refreshed during your reads). Stored encrypted (AES-GCM) under a new version, " +
    "answered as the `ETag`. Over a stored token, send `If-Match` with the ETag of your last read (a stale one answers 412 token_changed: read again); " +
    "`If-None-Match: *` stores only when none is stored. With neither, a write over a stored token answers 428: no blind overwrite.",
  security: auth,
  request: { param, query: ContractQuerySchema, header: TokenPreconditionSchema, json: UserTokenSchema },
  responses: {
    204: { description: "Stored; `ETag` is the new version" },
    ...jsonError(400, "Invalid token shape, an expiry in milliseconds or outside 2001–2100 (expiries are Unix seconds), a malformed If-Match / If-None-Match, or both"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(412, "The stored token is not the version If-Match names, or a token is stored and If-None-Match is * (token_changed; `error.currentVersion`, null when none is stored)"),
    ...jsonError(413, "Body larger than 16 KiB (payload_too_large)"),
    ...jsonError(415, "Body not sent as Content-Type: application/json (unsupported_media_type)"),
    ...jsonError(428, "A token is stored and the request has neither If-Match nor If-None-Match (precondition_required; `error.currentVersion`)"),
  },
});

const getToken = defineRoute({
  method: "get",
  path: "/v1/users/{userId}/token",
  tags: ["users"],
  summary: "Read the user's current token, fresh",
  description:
    "The latest token from any location (the user's Durable Object answers). Never an access token that expires within `minValidity` seconds (default " +
    `${TOKEN_MIN_VALIDITY_DEFAULT_SECONDS}): the object refreshes it first, once however many callers ask, and announces the rotation (token.rotated). ` +
    "Read it just before each batch of digi.me reads, never from a cache. `ETag` (and `version`) is what a later PUT names in If-Match.",
  security: auth,
  request: { param, query: TokenReadQuerySchema },
  responses: {
    200: json("The token", StoredTokenSchema),
    ...jsonError(400, "Invalid userId, or minValidity not a whole number of seconds from 0 to 1800"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "No token stored (token_not_found)"),
    ...jsonError(409, "digi.me refused to refresh the token (refresh_token_expired: start user reauthorization, POST /v1/reauth/user)"),
    ...jsonError(502, "digi.me failed while refreshing"),
    ...jsonError(503, "A refreshed token could not be stored (token_not_stored: keep `error.token`), or storage is unavailable"),
    ...jsonError(504, "digi.me did not answer in time while refreshing"),
  },
});

const deleteToken = defineRoute({
  method: "delete",
  path: "/v1/users/{userId}/token",
  tags: ["users"],
  summary: "Forget the user's token",
  description: "With `If-Match`, only if the stored token is still that version. A refresh still out at digi.me when this lands does not bring the token back.",
  security: auth,
  request: { param, query: ContractQuerySchema, header: TokenPreconditionSchema },
  responses: {
    204: { description: "Forgotten (or was not there)" },
    ...jsonError(400, "Invalid userId, or a malformed If-Match"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(412, "The stored token is not the version If-Match names (token_changed)"),
  },
});

const eraseUser = defineRoute({
  method: "delete",
  path: "/v1/users/{userId}",
  tags: ["users"],
  summary: "Erase everything the edge keeps for the user",
  description:
    "For a user who deleted their account: the token, the flows and the user's Durable Object's storage and alarm are erased. A flow still open ends " +
    "`failed` / `USER_ERASED` first (flow.failed is sent; its browser then gets the not-found page, and no code is ever exchanged for it). " +
    "KV start entries of past flows stay until their TTL (at most 2 × FLOW_TTL_SECONDS + 1 hour after the start); they hold no token. 204 even for a user the edge never knew.",
  security: auth,
  request: { param, query: ContractQuerySchema },
  responses: { 204: { description: "Erased (or there was nothing)" }, ...jsonError(400, "Invalid userId"), ...jsonError(401, "Missing or unknown API key"), ...jsonError(503, "Storage unavailable (retryable)") },
});

/** The write condition the precondition headers name; `undefined` for none. */
function conditionOf(headers: { "if-match"?: string; "if-none-match"?: string }): TokenCondition | undefined {
  const ifMatch = headers["if-match"];
  const ifNoneMatch = headers["if-none-match"];
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new AppError("invalid_request", "send If-Match or If-None-Match, not both");
  }
  if (ifNoneMatch !== undefined) return { absent: true };
  if (ifMatch === undefined) return undefined;
  const version = parseIfMatch(ifMatch);
  return version === "*" ? { present: true } : { version };
}

/** A version as an entity tag. */
function etag(version: number): string {
  return `"${version}"`;
}

/** The routes of this module, for the OpenAPI document. */
export const userRouteSpecs: RouteSpec[] = [status, putToken, getToken, deleteToken, eraseUser];

/** The per-user routes. */
export function userRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, status, async (c) => {
    const { userId } = c.req.valid("param");
    const { sessionKey, contractId } = c.req.valid("query");
    return c.json(await contractFor(c, contractId).users.of(userId, requestScope(c)).reauthStatus(sessionKey), 200);
  });
  mount(app, putToken, async (c) => {
    const { userId } = c.req.valid("param");
    const token = c.req.valid("json");
    const condition = conditionOf(c.req.valid("header"));
    const version = await contractFor(c, c.req.valid("query").contractId).users.of(userId, requestScope(c)).importToken({ ...token, user: token.user ?? { id: userId } }, condition);
    return c.body(null, 204, { ETag: etag(version) });
  });
  mount(app, getToken, async (c) => {
    const { userId } = c.req.valid("param");
    const minValidity = c.req.valid("query").minValidity ?? TOKEN_MIN_VALIDITY_DEFAULT_SECONDS;
    const stored = await contractFor(c, c.req.valid("query").contractId).users.of(userId, requestScope(c)).token(minValidity);
    if (!stored) throw new AppError("token_not_found", `no digi.me token is stored for user ${userId}`, { hint: "store one with PUT /v1/users/{userId}/token" });
    const accessTokenExpiresIn = Math.max(0, Math.floor(stored.token.accessToken.expiry - c.var.services.now() / 1000));
    return c.json(
      { userId, token: stored.token, version: stored.version, updatedAt: new Date(stored.updatedAt).toISOString(), accessTokenExpiresIn, refreshed: stored.refreshed },
      200,
      { ETag: etag(stored.version) },
    );
  });
  mount(app, deleteToken, async (c) => {
    await contractFor(c, c.req.valid("query").contractId).users.of(c.req.valid("param").userId, requestScope(c)).forgetToken(conditionOf(c.req.valid("header")));
    return c.body(null, 204);
  });
  mount(app, eraseUser, async (c) => {
    await contractFor(c, c.req.valid("query").contractId).users.of(c.req.valid("param").userId, requestScope(c)).erase();
    return c.body(null, 204);
  });
  return app;
}
