/**
 * The mock digi.me API, happy path first: each handler checks what digi.me
 * checks and answers as digi.me answers. Scenarios (see `scenarios.ts`) and
 * faults (see `respond.ts`) bend these answers per user.
 */
import { http, HttpResponse, type RequestHandler } from "msw";
import { apiError, applyBodyFaults, applyPreFaults, journaled, signatureFault, type HandlerContext } from "./respond.ts";
import type { Endpoint } from "./scenarios.ts";
import type { MockDigime, MockUser } from "./state.ts";

type Claims = Record<string, unknown>;

/** Signs an API request and returns its claims, or the error to answer with. */
async function authenticated(mock: MockDigime, context: HandlerContext): Promise<{ claims: Claims; clientId: string } | Response> {
  const auth = await mock.authenticate(context.request.headers.get("Authorization"));
  if (auth.claims) context.notes.claims = auth.claims;
  if (!auth.ok) {
    context.notes.signatureVerified = auth.verified;
    context.notes.errorCode = auth.code;
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

  /** A token-bearing answer, with the faults that spoil tokens and bodies. */
  async function tokenAnswer(context: HandlerContext, payload: Claims, extra: Claims = {}): Promise<Response> {
    const token = await mock.signToken(payload, signatureFault(context));
    return applyBodyFaults(context, HttpResponse.json({ ...extra, token }));
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
      if (typeof body !== "object" || body === null || typeof (body as { agent?: unknown }).agent !== "object") {
        return refuse(context, 400, "SDKInvalid", "The request body must carry an agent block");
      }
      if (!validRedirectUri(claims.redirect_uri)) {
        return refuse(context, 400, "InvalidRedirectUri", `The redirect_uri (${String(claims.redirect_uri)}) is invalid`);
      }
      if (pkce && (claims.code_challenge_method !== "S256" || typeof claims.code_challenge !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(claims.code_challenge))) {
        return refuse(context, 400, "InvalidRequest", "code_challenge must be an S256 challenge");
      }
      if (kind === "authorize" && !pkce) return refuse(context, 400, "InvalidRequest", "oauth/authorize requires PKCE");
      if (pkce && typeof claims.state !== "string") return refuse(context, 400, "InvalidRequest", "state is required with PKCE");
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
      const session = { expiry: mock.now() + 30 * 60 * 1000, key: sessionKey };
      return tokenAnswer(context, { reference_code: code }, { session });
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
        if (body?.type !== "accountId" || typeof body.value !== "string") {
          return refuse(context, 400, "InvalidRequest", 'body must be { "type": "accountId", "value": <accountId> }');
        }
        if (!user || user.clientId !== auth.clientId) return refuse(context, 404, "ResourceNotFound", `account ${body.value} not found`);
        return applyBodyFaults(context, HttpResponse.json({ id: mock.createAccountRef(user.id, body.value) }));
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
      journaled(mock, "permission-access/accounts", async (context) => {
        const auth = await authenticated(mock, context);
        if (auth instanceof Response) return auth;
        const access = mock.checkAccessToken(auth.claims.access_token, auth.clientId);
        context.forUser(access.user);
        const early = await applyPreFaults(context);
        if (early) return early;
        if (!access.ok) return refuse(context, 401, "InvalidToken", access.message);
        return applyBodyFaults(context, HttpResponse.json(access.user.accounts.map((account) => accountView(account, access.user))));
      }),
    ),

    http.get(
      api("permission-access/query/:sessionKey"),
      journaled(mock, "permission-access/query", async (context) => {
        const auth = await authenticated(mock, context);
        if (auth instanceof Response) return auth;
        const access = mock.checkAccessToken(auth.claims.access_token, auth.clientId);
        context.forUser(access.user);
        const early = await applyPreFaults(context);
        if (early) return early;
        if (!access.ok) return refuse(context, 401, "InvalidToken", access.message);
        const sessionKey = decodeURIComponent(new URL(context.request.url).pathname.split("/").pop() ?? "");
        if (sessionKey !== access.user.sessionKey) return refuse(context, 404, "SessionNotFound", "session not found for this user");
        return applyBodyFaults(context, HttpResponse.json(syncStatus(mock, access.user)));
      }),
    ),

    http.get(
      api("jwks/oauth"),
      journaled(mock, "jwks/oauth", async (context) => {
        const early = await applyPreFaults(context);
        if (early) return early;
        return applyBodyFaults(context, HttpResponse.json(mock.keySet()));
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

function syncStatus(mock: MockDigime, user: MockUser): Claims {
  const shape = mock.scenarioFor(user).shape;
  const details: Record<string, Claims> = {};
  for (const account of user.accounts) {
    if (!account.needsReauth) {
      details[account.id] = { state: "completed" };
    } else if (shape === "flat") {
      details[account.id] = {
        state: "partial",
        error: { code: "ServiceAuthorizationError", statusCode: 511, message: "Service authorization required", reauth: true },
      };
    } else {
      details[account.id] = {
        state: "partial",
        error: { code: "ServiceAuthorizationError", error: { message: "Service authorization required", reauth: true }, statusCode: 511 },
      };
    }
  }
  const partial = user.accounts.some((a) => a.needsReauth);
  return { status: { state: partial ? "partial" : "completed", details }, fileList: [] };
}
