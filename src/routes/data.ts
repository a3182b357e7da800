/**
 * Reads through the edge: a backend reads its users' digi.me data with its
 * API key alone (src/reads/). The token never appears in an answer; a file is
 * decrypted with the contract key and decompressed at the edge, as a stream.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { namedContract } from "../config/contracts.ts";
import type { AppEnv } from "../env.ts";
import { readAccounts, readFile, readFileHeader, readFileList, startSession } from "../reads/data.ts";
import type { ReadDeps } from "../reads/read.ts";
import {
  AccountsQuerySchema,
  AccountsSchema,
  FileListQuerySchema,
  FileContentSchema,
  FileListSchema,
  FileMetadataSchema,
  FileParamSchema,
  ReadQuerySchema,
  SessionParamSchema,
  SessionSchema,
  StartSessionSchema,
  UserIdSchema,
} from "../schemas.ts";
import { TOKEN_MIN_VALIDITY_DEFAULT_SECONDS } from "../storage/keys.ts";
import { defineRoute, json, jsonError, mount, withRetryAfter, type RouteSpec } from "./define.ts";
import * as z from "zod/mini";
import { contractFor, requestScope } from "./scope.ts";

const auth = [{ ApiKey: [] }];

/**
 * The answers every read may give besides its own: `notFound` says what else
 * its 404 may mean, `invalid` what its 400 checks.
 */
function readErrors(invalid: string, notFound = "") {
  return {
    ...jsonError(400, `Invalid ${invalid}, or minValidity not a whole number of seconds from 0 to 1800 (invalid_request, naming the field)`),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, `No token stored for the user (token_not_found: connect the user, POST /v1/authorize)${notFound}`),
    ...jsonError(
      409,
      "digi.me refused to refresh the user's token (refresh_token_expired: start user reauthorization, POST /v1/reauth/user), " +
        "or refused its access token even after the edge refreshed it (invalid_token: POST /v1/reauth/user with allowFullAuthorization: true)",
    ),
    ...withRetryAfter(jsonError(502, "digi.me failed (upstream_error, with digi.me's Retry-After when it gave one) or answered something untrustworthy")),
    ...withRetryAfter(jsonError(503, "A refreshed token could not be stored (token_not_stored: the new token went out with token.rotated), or storage is unavailable")),
    ...withRetryAfter(jsonError(504, "digi.me did not answer in time (upstream_timeout)")),
  };
}

const SESSION_NOT_FOUND = ", or digi.me does not know the session for this user (session_not_found: start a new one, with digi.me's `upstream`)";
const FILE_NOT_FOUND = `${SESSION_NOT_FOUND}, or the file in it (file_not_found)`;

/** What a file answer carries besides its content. */
const FILE_HEADERS = {
  "X-Digime-Metadata": { description: "digi.me's metadata of the file, base64url JSON" },
  "X-Digime-Compression": { description: "How digi.me compressed the file (none, gzip, brotli); the answer is decompressed" },
  "Content-Disposition": { description: 'attachment; filename="<fileName>"' },
};

const accounts = defineRoute({
  method: "get",
  path: "/v1/users/{userId}/accounts",
  tags: ["data"],
  summary: "Read the user's accounts, each with whether it needs reauthorization",
  description:
    "digi.me's accounts of the user, each with `reauth: { needed, reason?, start? }`: `reason` is `ServiceAuthorizationError` (a 511 in the sync of `sessionKey`) " +
    "or `unauthorized` (digi.me's `accessTokenStatus.authorized: false`); `start` is the exact body of POST /v1/reauth/account to send, adding `returnTo`.",
  security: auth,
  request: { param: z.object({ userId: UserIdSchema }), query: AccountsQuerySchema },
  responses: { 200: json("The accounts", AccountsSchema), ...readErrors("userId or sessionKey", SESSION_NOT_FOUND) },
});

const sessions = defineRoute({
  method: "post",
  path: "/v1/users/{userId}/sessions",
  tags: ["data"],
  summary: "Start a sync session",
  description:
    "digi.me's `permission-access/trigger`: starts syncing the user's data and answers the session's key. `sessionOptions` (digi.me's PullSessionOptions) is sent as the trigger's body; " +
    "`scope` goes in as its `scope`, over any `scope` inside `sessionOptions`.",
  security: auth,
  request: { param: z.object({ userId: UserIdSchema }), query: ReadQuerySchema, json: StartSessionSchema },
  responses: {
    201: json("The session", SessionSchema),
    ...readErrors("userId or body"),
    ...jsonError(413, "Body larger than 16 KiB (payload_too_large)"),
    ...jsonError(415, "Body not sent as Content-Type: application/json (unsupported_media_type)"),
  },
});

const files = defineRoute({
  method: "get",
  path: "/v1/users/{userId}/sessions/{sessionKey}/files",
  tags: ["data"],
  summary: "Read a session's file list and sync state",
  description:
    "The sync's `state` (pending, running, partial, completed), each account's part (a 511 `partial` account with its reauthorization ready, as in the accounts read) " +
    "and the files so far. `wait=N` (0–25 s) long-polls: the answer comes once the sync is no longer pending or running, or after N seconds.",
  security: auth,
  request: { param: SessionParamSchema, query: FileListQuerySchema },
  responses: { 200: json("The file list", FileListSchema), ...readErrors("userId, sessionKey or wait (0 to 25 seconds)", SESSION_NOT_FOUND) },
});

const file = defineRoute({
  method: "get",
  path: "/v1/users/{userId}/sessions/{sessionKey}/files/{fileName}",
  tags: ["data"],
  summary: "Read a file, decrypted and decompressed",
  description:
    "The file's content, decrypted with the contract key at the edge (the backend holds no digi.me secret) and decompressed (gzip or brotli, as digi.me says), streamed. " +
    "`Content-Type` is the file's MIME type; `X-Digime-Metadata` is digi.me's metadata of the file as base64url JSON (or read it alone: …/{fileName}/metadata). " +
    "502 `file_undecryptable` when it does not decrypt under the contract key.",
  security: auth,
  request: { param: FileParamSchema, query: ReadQuerySchema },
  responses: {
    200: {
      description: "The file's content, decrypted and decompressed (`Content-Type` from its metadata, else application/octet-stream)",
      content: { "application/octet-stream": { schema: FileContentSchema } },
      headers: FILE_HEADERS,
    },
    ...readErrors("userId, sessionKey or fileName", FILE_NOT_FOUND),
    ...withRetryAfter(jsonError(502, "digi.me failed (upstream_error, with its Retry-After), or the file does not decrypt under the contract key (file_undecryptable: `fileName` names it; the hint names the contract's key secret)")),
  },
});

const metadata = defineRoute({
  method: "get",
  path: "/v1/users/{userId}/sessions/{sessionKey}/files/{fileName}/metadata",
  tags: ["data"],
  summary: "Read a file's metadata only",
  description: "What digi.me says of the file (compression, MIME type, metadata), without its content.",
  security: auth,
  request: { param: FileParamSchema, query: ReadQuerySchema },
  responses: { 200: json("The file's metadata", FileMetadataSchema), ...readErrors("userId, sessionKey or fileName", FILE_NOT_FOUND) },
});

/** The routes of this module, for the OpenAPI document. */
export const dataRouteSpecs: RouteSpec[] = [accounts, sessions, files, file, metadata];

function deps(c: Context<AppEnv>, userId: string, query: { minValidity?: number; contractId?: string }): ReadDeps {
  const { services } = c.var;
  const contract = contractFor(c, query.contractId);
  const startContractId = namedContract(contract.id, services.config.contractId);
  const minValidity = query.minValidity;
  return {
    user: contract.users.of(userId, requestScope(c)),
    digime: contract.digime,
    contract: { id: contract.id, keyBinding: contract.keyBinding },
    ...(startContractId ? { startContractId } : {}),
    minValiditySeconds: minValidity ?? TOKEN_MIN_VALIDITY_DEFAULT_SECONDS,
    now: services.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The read routes. */
export function dataRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, accounts, async (c) => {
    const query = c.req.valid("query");
    return c.json(await readAccounts(deps(c, c.req.valid("param").userId, query), query.sessionKey), 200);
  });
  mount(app, sessions, async (c) => {
    const { scope, sessionOptions } = c.req.valid("json");
    const options = scope || sessionOptions ? { ...sessionOptions, ...(scope ? { scope } : {}) } : undefined;
    return c.json(await startSession(deps(c, c.req.valid("param").userId, c.req.valid("query")), options), 201);
  });
  mount(app, files, async (c) => {
    const { userId, sessionKey } = c.req.valid("param");
    const query = c.req.valid("query");
    return c.json(await readFileList(deps(c, userId, query), sessionKey, (query.wait ?? 0) * 1000), 200);
  });
  mount(app, file, async (c) => {
    const { userId, sessionKey, fileName } = c.req.valid("param");
    const opened = await readFile(deps(c, userId, c.req.valid("query")), sessionKey, fileName);
    return c.body(opened.content, 200, {
      "Content-Type": opened.header.mimeType ?? "application/octet-stream",
      // The content is the user's data, not the edge's page: never rendered on the edge's origin.
      "Content-Disposition": `attachment; filename="${fileName}"`,
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "X-Digime-Metadata": base64url(JSON.stringify(opened.header.metadata)),
      "X-Digime-Compression": opened.header.compression,
    });
  });
  mount(app, metadata, async (c) => {
    const { userId, sessionKey, fileName } = c.req.valid("param");
    const header = await readFileHeader(deps(c, userId, c.req.valid("query")), sessionKey, fileName);
    return c.json({ sessionKey, fileName, compression: header.compression, ...(header.mimeType ? { mimeType: header.mimeType } : {}), metadata: header.metadata }, 200);
  });
  return app;
}
