/**
 * The mock digi.me API, happy path first: each handler checks what digi.me
 * checks and answers as digi.me answers, with the statuses of digi.me's
 * recorded answers (the official Node SDK 16.1.5's fixtures, see
 * docs/digime-protocol.md "Every call, as the official SDK 16.1.5 makes it").
 * Scenarios (see `scenarios.ts`) and faults (see `respond.ts`) bend these
 * answers per user.
 */
import { http, HttpResponse, type RequestHandler } from "msw";
import { metadataHeader } from "./data.ts";
import { apiError, applyBodyFaults, applyPreFaults, journaled, signatureFault, type HandlerContext } from "./respond.ts";
import type { Endpoint } from "./scenarios.ts";
import type { MockDigime, MockUser } from "./state.ts";

type Claims = Record<string, unknown>;

/** SDK names the mock accepts in the `agent` block; digi.me refuses others with 400 `SDKInvalid`. */
export const KNOWN_SDK_NAMES: readonly string[] = ["nodejs"];

/** How long a session handed out with a reference or by `permission-access/trigger` lasts. */
const SESSION_LIFETIME_MS = 30 * 60 * 1000;

/** Signs an API request and returns its claims, or the error to answer with. */
async function authenticated(mock: MockDigime, context: HandlerContext): Promise<{ claims: Claims; clientId: string } | Response> {
  const auth = await mock.authenticate(context.request.headers.get("Authorization"));
  if (auth.claims) context.notes.claims = auth.claims;
  if (!auth.ok) {
    context.notes.signatureVerified = auth.verified;
    context.notes.errorCode = auth.code;
    if (auth.detail) context.notes.errorDetail = auth.detail;
    return apiError(auth.status, auth.code, auth.message);
  }
  context.notes.claims = auth.claims;
  context.notes.signatureVerified = true;
  return { claims: auth.claims, clientId: auth.contract.clientId };
}

function refuse(context: HandlerContext, status: number, code: string, message: string): Response {
  context.notes.errorCode = code;
  return apiError(status, code, message);
}

/** A missing or malformed JWT claim or body field: digi.me's terse 400; the detail goes to the journal. */
function invalidParameters(context: HandlerContext, detail: string): Response {
  context.notes.errorDetail = detail;
  return refuse(context, 400, "ValidationErrors", "Parameter validation errors");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks the `agent` block of `oauth/authorize`, `oauth/token/reference` and
 * `permission-access/trigger`: an unknown SDK name is 400 `SDKInvalid`; the
 * `sdk-version-invalid` scenario refuses the version with 403 `SDKVersionInvalid`.
 */
function checkAgent(mock: MockDigime, context: HandlerContext, body: unknown, user: MockUser | undefined): Response | undefined {
  const agent = isObject(body) ? body.agent : undefined;
  const sdk = isObject(agent) ? agent.sdk : undefined;
  const name = isObject(sdk) ? sdk.name : undefined;
  if (typeof name !== "string" || !KNOWN_SDK_NAMES.includes(name) || !isObject(sdk) || typeof sdk.version !== "string") {
    return refuse(context, 400, "SDKInvalid", `The SDK is invalid: ${String(name)}`);
  }
  if (mock.scenarioFor(user).name === "sdk-version-invalid") {
    return refuse(context, 403, "SDKVersionInvalid", "This SDK version is no longer supported.");
  }
  return undefined;
}

/** The last path segment, decoded (the SDK sends the literal `h:accountId` there). */
function lastSegment(request: Request): string {
  const raw = new URL(request.url).pathname.split("/").pop() ?? "";
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The account a `permission-access/{revoke,service}` call names: the `accountId` header, as the SDK sends it. */
function namedAccount(request: Request): string | null {
  const segment = lastSegment(request);
  return request.headers.get("accountId") ?? (segment && segment !== "h:accountId" ? segment : null);
}

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return Symbol.for("invalid");
  }
}

function validRedirectUri(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** Builds the mock's API handlers, most specific first. */
export function apiHandlers(mock: MockDigime): RequestHandler[] {
  const api = (path: string) => new URL(path, mock.apiBaseUrl).toString();

  const onboard = (path: string) => new URL(path, mock.onboardBaseUrl).toString();

  /** A token-bearing answer (201, as digi.me's fixtures), with the faults that spoil tokens and bodies. */
  async function tokenAnswer(context: HandlerContext, payload: Claims, extra: Claims = {}): Promise<Response> {
    const token = await mock.signToken(payload, signatureFault(context));
    return applyBodyFaults(context, HttpResponse.json({ ...extra, token }, { status: 201 }));
  }

  /** The user an access-token call is about, refused with 401 `InvalidToken` when the token is not good. */
  function withAccessToken(
    endpoint: Endpoint,
    body: (context: HandlerContext, user: MockUser, claims: Claims) => Promise<Response>,
    before?: (context: HandlerContext, user: MockUser | undefined) => Promise<Response | undefined>,
  ) {
    return journaled(mock, endpoint, async (context) => {
      const auth = await authenticated(mock, context);
      if (auth instanceof Response) return auth;
      const access = mock.checkAccessToken(auth.claims.access_token, auth.clientId);
      context.forUser(access.user);
      const early = await applyPreFaults(context);
      if (early) return early;
      const refused = await before?.(context, access.user);
      if (refused) return refused;
      if (!access.ok) return refuse(context, 401, "InvalidToken", access.message);
      return body(context, access.user, auth.claims);
    });
  }

  /** Shared by `oauth/token/reference` and `oauth/authorize`. */
  function reference(endpoint: Endpoint, kind: "reference" | "authorize") {
    return journaled(mock, endpoint, async (context) => {
      const auth = await authenticated(mock, context);
      if (auth instanceof Response) return auth;
      const { claims, clientId } = auth;
      const body = await readJson(context.request);
      context.notes.body = body;
      const pkce = claims.code_challenge !== undefined;
      // Full authorization is the way out for users whose token is dead, so it never refuses one.
      const access = kind === "authorize" ? undefined : mock.checkAccessToken(claims.access_token, clientId, pkce);
      const known = kind === "authorize" ? mock.userByAccessToken(claims.access_token) : access?.user;
      context.forUser(known);
      const early = await applyPreFaults(context);
      if (early) return early;
      const badAgent = checkAgent(mock, context, body, known);
      if (badAgent) return badAgent;
      if (!validRedirectUri(claims.redirect_uri)) {
        return refuse(context, 404, "InvalidRedirectUri", `The redirect_uri (${String(claims.redirect_uri)}) is invalid`);
      }
      if (pkce && (claims.code_challenge_method !== "S256" || typeof claims.code_challenge !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(claims.code_challenge))) {
        return invalidParameters(context, "code_challenge must be an S256 challenge (code_challenge_method S256)");
      }
      if (kind === "authorize") {
        if (!pkce) return invalidParameters(context, "oauth/authorize requires PKCE (code_challenge)");
        if (claims.response_type !== "code") return invalidParameters(context, 'oauth/authorize requires response_type "code"');
        if (claims.response_mode !== "query") return invalidParameters(context, 'oauth/authorize requires response_mode "query"');
        if (typeof claims.state !== "string" || claims.state === "") return invalidParameters(context, "oauth/authorize requires state");
      }
      if (claims.state !== undefined && typeof claims.state !== "string") return invalidParameters(context, "state must be a string");
      if (access && !access.ok) return refuse(context, 401, "InvalidToken", access.message);
      const user = access?.ok ? access.user : known;
      const sessionKey = user?.sessionKey ?? crypto.randomUUID();
      const code = mock.createReference({
        kind: kind === "authorize" ? "authorize" : pkce ? "user-reauth" : "account",
        userId: user?.id,
        clientId,
        redirectUri: claims.redirect_uri,
        state: typeof claims.state === "string" ? claims.state : undefined,
        codeChallenge: typeof claims.code_challenge === "string" ? claims.code_challenge : undefined,
        sessionKey,
      });
      // digi.me's recorded oauth/authorize answer is `{ token }` alone, its code named preauthorization_code.
      if (kind === "authorize") return tokenAnswer(context, { preauthorization_code: code });
      return tokenAnswer(context, { reference_code: code }, { session: { expiry: mock.now() + SESSION_LIFETIME_MS, key: sessionKey } });
    });
  }

  /**
   * A file of a session, as digi.me serves it: only what the session's file
   * list shows now can be read (a file of an account still syncing, or of a
   * 511 account, is 404 `FileNotFound`, as is a name the user has no file of).
   */
  function fileAnswer(withBody: boolean) {
    return withAccessToken("permission-access/query/file", async (context, user) => {
      const segments = new URL(context.request.url).pathname.split("/");
      const decode = (raw: string) => {
        try {
          return decodeURIComponent(raw);
        } catch {
          return raw;
        }
      };
      const sessionKey = decode(segments.at(-2) ?? "");
      const fileName = decode(segments.at(-1) ?? "");
      const view = mock.sessionView(user, sessionKey);
      if (!view) return refuse(context, 404, "SessionNotFound", "session not found for this user");
      const file = view.files.find((f) => f.name === fileName);
      if (!file) return refuse(context, 404, "FileNotFound", `The file (${fileName}) was not found`);
      const { body, length } = withBody ? await mock.fileBody(user, file) : { body: null, length: undefined };
      const headers: Record<string, string> = {
        "Content-Type": "application/octet-stream",
        "x-metadata": metadataHeader(file),
        "Last-Modified": new Date(file.updatedDate).toUTCString(),
      };
      if (length !== undefined) headers["Content-Length"] = String(length);
      return applyBodyFaults(context, new HttpResponse(body, { status: 200, headers }));
    });
  }

  return [
    http.post(api("oauth/token/reference"), reference("oauth/token/reference", "reference")),
    http.post(api("oauth/authorize"), reference("oauth/authorize", "authorize")),

    http.post(
      api("reference"),
      journaled(mock, "reference", async (context) => {
        const auth = await authenticated(mock, context);
        if (auth instanceof Response) return auth;
        const body = (await readJson(context.request)) as { type?: unknown; value?: unknown } | undefined;
        context.notes.body = body;
        const user = mock.userByAccount(body?.value);
        context.forUser(user);
        const early = await applyPreFaults(context);
        if (early) return early;
        if ((body?.type !== "accountId" && body?.type !== "cloudId") || typeof body.value !== "string" || body.value === "") {
          return invalidParameters(context, 'body must be { "type": "accountId" | "cloudId", "value": <id> }');
        }
        // The SDK's getAuthorizeUrl with a storageId turns a cloud id into a storageRef.
        if (body.type === "cloudId") return applyBodyFaults(context, HttpResponse.json({ id: `stg_${crypto.randomUUID()}` }, { status: 201 }));
        if (!user || user.clientId !== auth.clientId) return refuse(context, 404, "ResourceNotFound", `account ${body.value} not found`);
        return applyBodyFaults(context, HttpResponse.json({ id: mock.createAccountRef(user.id, body.value) }, { status: 201 }));
      }),
    ),

    http.post(
      api("oauth/token"),
      journaled(mock, "oauth/token", async (context) => {
        const auth = await authenticated(mock, context);
        if (auth instanceof Response) return auth;
        const { claims, clientId } = auth;
        if (claims.grant_type === "refresh_token") {
          const pending = typeof claims.refresh_token === "string" ? mock.refreshTokens.get(claims.refresh_token) : undefined;
          context.forUser(mock.userById(pending?.userId));
          // Faults answer before the refresh happens, so the old refresh token still works.
          const early = await applyPreFaults(context);
          if (early) return early;
          const refresh = mock.useRefreshToken(claims.refresh_token, clientId);
          if (!refresh.ok) return refuse(context, 401, "InvalidToken", refresh.message);
          return tokenAnswer(context, userTokenPayload(mock, refresh.user));
        }
        if (claims.grant_type === "authorization_code") {
          const pending = typeof claims.code === "string" ? mock.authorizationCodes.get(claims.code) : undefined;
          context.forUser(mock.userById(pending?.userId));
          const early = await applyPreFaults(context);
          if (early) return early;
          const record = mock.useAuthorizationCode(claims.code, clientId);
          if (!record) return refuse(context, 400, "InvalidRequest", "The authorization code is invalid, expired or already used");
          if (typeof claims.code_verifier !== "string" || (await s256(claims.code_verifier)) !== record.codeChallenge) {
            return refuse(context, 400, "InvalidRequest", "The code_verifier does not match the code_challenge");
          }
          const user = mock.userById(record.userId);
          if (!user) return refuse(context, 400, "InvalidRequest", "The authorization code is invalid, expired or already used");
          return tokenAnswer(context, userTokenPayload(mock, user));
        }
        return refuse(context, 400, "InvalidRequest", `unsupported grant_type ${String(claims.grant_type)}`);
      }),
    ),

    http.get(
      api("permission-access/accounts"),
      withAccessToken("permission-access/accounts", async (context, user) =>
        applyBodyFaults(context, HttpResponse.json(user.accounts.map((account) => accountView(account, user)), { status: 202 })),
      ),
    ),

    http.get(
      api("permission-access/query/:sessionKey"),
      withAccessToken("permission-access/query", async (context, user) => {
        const view = mock.sessionView(user, lastSegment(context.request));
        if (!view) return refuse(context, 404, "SessionNotFound", "session not found for this user");
        return applyBodyFaults(context, HttpResponse.json(view.body));
      }),
    ),

    // readFile: the encrypted file, its metadata in `x-metadata`; readFileMetadata asks the same with HEAD.
    http.get(api("permission-access/query/:sessionKey/:fileName"), fileAnswer(true)),
    http.head(api("permission-access/query/:sessionKey/:fileName"), fileAnswer(false)),

    // readSession: the session options sit at the top level of the body, beside the agent.
    http.post(
      api("permission-access/trigger"),
      withAccessToken(
        "permission-access/trigger",
        async (context, user) => {
          const session = { expiry: mock.now() + SESSION_LIFETIME_MS, key: mock.triggerSession(user) };
          return applyBodyFaults(context, HttpResponse.json({ session }, { status: 202 }));
        },
        async (context, user) => {
          const body = await readJson(context.request);
          context.notes.body = body;
          if (!isObject(body)) return invalidParameters(context, "body must be a JSON object with an agent block");
          return checkAgent(mock, context, body, user);
        },
      ),
    ),

    // getRevokeAccountPermissionUrl: the SDK sends the path literally as `h:accountId`, the values in headers.
    http.get(
      api("permission-access/revoke/:accountId"),
      withAccessToken("permission-access/revoke", async (context, user, claims) => {
        const accountId = namedAccount(context.request);
        const redirectUri = context.request.headers.get("redirectUri");
        if (!validRedirectUri(redirectUri)) return refuse(context, 404, "InvalidRedirectUri", `The redirect_uri (${String(redirectUri)}) is invalid`);
        if (!accountId) return invalidParameters(context, "an accountId header is required");
        if (!user.accounts.some((a) => a.id === accountId)) return refuse(context, 404, "ResourceNotFound", `account ${accountId} not found`);
        const code = mock.createReference({ kind: "revoke", userId: user.id, clientId: String(claims.client_id), redirectUri, accountId, sessionKey: user.sessionKey });
        const location = new URL(onboard("revoke"));
        location.searchParams.set("code", code);
        return applyBodyFaults(context, HttpResponse.json({ location: location.toString() }, { status: 201 }));
      }),
    ),

    // deleteAccount: the same literal path, the account in the `accountId` header; the SDK reads any 2xx as deleted.
    http.delete(
      api("permission-access/service/:accountId"),
      withAccessToken("permission-access/service", async (context, user) => {
        const accountId = namedAccount(context.request);
        if (!accountId) return invalidParameters(context, "an accountId header is required");
        if (!mock.removeAccount(user, accountId)) return refuse(context, 404, "ResourceNotFound", `account ${accountId} not found`);
        return new HttpResponse(null, { status: 201 });
      }),
    ),

    http.delete(
      api("user"),
      withAccessToken("user", async (_context, user) => {
        mock.deleteUser(user);
        return new HttpResponse(null, { status: 201 });
      }),
    ),

    http.get(
      api("jwks/oauth"),
      journaled(mock, "jwks/oauth", async (context) => {
        const early = await applyPreFaults(context);
        if (early) return early;
        return applyBodyFaults(context, HttpResponse.json(mock.keySet(), { status: 201 }));
      }),
    ),
  ];
}

async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * A fresh token pair in digi.me's payload shape. Refresh and exchange both
 * retire the user's older access tokens; a spent refresh token is dead.
 */
function userTokenPayload(mock: MockDigime, user: MockUser): Claims {
  mock.revokeAccessTokens(user.id);
  const issued = mock.issueToken(user);
  return {
    access_token: { value: issued.accessToken.value, expires_on: issued.accessToken.expiry },
    refresh_token: { value: issued.refreshToken.value, expires_on: issued.refreshToken.expiry },
    sub: user.id,
    consentid: issued.consentid,
    token_type: "Bearer",
    identifier: { id: user.id },
  };
}

function accountView(account: MockUser["accounts"][number], user: MockUser): Claims {
  const created = Date.UTC(2024, 0, 1);
  return {
    id: account.id,
    reference: `ref-${account.id}`,
    type: "USER",
    createdDate: created,
    updatedDate: created,
    serviceGroupId: 1,
    serviceGroupName: "Social",
    serviceTypeId: 1,
    serviceTypeName: account.serviceTypeName,
    serviceTypeReference: account.serviceTypeName.toLowerCase(),
    sourceId: 1,
    username: `${user.id}@${account.serviceTypeName.toLowerCase()}`,
    accessTokenStatus: { authorized: !account.needsReauth },
  };
}
