/**
 * Beginning flows, in the user's object: the one upstream round trip with the
 * user's token (`beginUserFlow`, `beginAccountFlow`: the account flow's two
 * calls run in parallel). The Worker's side, which checks the input, makes
 * the ids and writes the start entry, is start.ts; the object records the
 * flow as pending (src/users/object.ts).
 */
import { DigimeError, type DigimeSession, type SessionOptions } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import type { FlowKind } from "../storage/flows.ts";
import { withCustodyRefresh, type StepDeps } from "./custody.ts";

/** What the backend may ask of a user flow besides the user and `returnTo` (POST /v1/reauth/user). */
export interface UserFlowOptions {
  locale?: string;
  triggerQuery?: boolean;
  sessionOptions?: SessionOptions;
  userAccessToken?: string;
  allowFullAuthorization?: boolean;
}

/** What the backend asks of an account flow besides the user and `returnTo` (POST /v1/reauth/account). */
export interface AccountFlowOptions {
  accountId: string;
  locale?: string;
  userAccessToken?: string;
}

/** What the user's object needs to begin a flow: the Worker's ids and times. */
export interface BeginFlow {
  flowId: string;
  callbackUrl: string;
  createdAt: number;
  expiresAt: number;
}

/** `beginUserFlow`'s input. */
export type BeginUserFlow = BeginFlow & UserFlowOptions & { state: string };

/** `beginAccountFlow`'s input. */
export type BeginAccountFlow = BeginFlow & AccountFlowOptions;

/** What the backend may ask of a first connection besides the user and `returnTo` (POST /v1/authorize). */
export interface AuthorizeFlowOptions {
  locale?: string;
  sessionOptions?: SessionOptions;
}

/** `beginAuthorizeFlow`'s input. */
export type BeginAuthorizeFlow = BeginFlow & AuthorizeFlowOptions & { state: string };

/** What the upstream round trip produced, for the start entry. */
export interface Begun {
  kind: FlowKind;
  accountId?: string;
  upstreamUrl: string;
  verifier?: string;
  session?: DigimeSession;
  expectedDigimeUserId?: string;
}

function noToken(userId: string): AppError {
  return new AppError("token_not_found", `no digi.me token is stored for user ${userId}`, {
    hint: "store one with PUT /v1/users/{userId}/token or pass userAccessToken",
  });
}

/**
 * Gets the reauthorization reference (PKCE, state). An access token digi.me
 * refuses means the user cannot be reauthorized: 409 `invalid_token`, or
 * with `allowFullAuthorization` a full-authorization flow.
 */
export async function beginUserFlow(deps: StepDeps, input: BeginUserFlow): Promise<Begun> {
  // The user's known digi.me identity is the stored token's, even when the backend passes a token:
  // the exchanged token must carry it (see exchangeUserCallback in complete.ts).
  const stored = await deps.custody.token();
  const accessToken = input.userAccessToken ?? stored?.token.accessToken.value;
  if (!accessToken) throw noToken(deps.custody.userId);
  let kind: FlowKind = "user";
  let started;
  try {
    started = await deps.digime.getReauthorizeUrl({
      userAccessToken: accessToken,
      callbackUrl: input.callbackUrl,
      state: input.state,
      locale: input.locale,
      triggerQuery: input.triggerQuery,
      sessionOptions: input.sessionOptions,
      onSent: deps.sent,
    });
  } catch (error) {
    if (!(error instanceof DigimeError && error.isInvalidToken("access_token") && input.allowFullAuthorization)) throw error;
    kind = "authorize";
    started = await deps.digime.getAuthorizeUrl({ callbackUrl: input.callbackUrl, state: input.state, locale: input.locale, sessionOptions: input.sessionOptions, onSent: deps.sent });
  }
  return {
    kind,
    upstreamUrl: started.url,
    verifier: started.codeVerifier,
    ...(started.session ? { session: started.session } : {}),
    ...(stored ? { expectedDigimeUserId: stored.token.user.id } : {}),
  };
}

/**
 * A first connection (POST /v1/authorize): digi.me's authorization (PKCE,
 * state), for a user whose token the edge does not keep. Its callback ends
 * the flow `awaiting_confirmation` with identity `new`, as any identity the
 * edge cannot match.
 */
export async function beginAuthorizeFlow(deps: StepDeps, input: BeginAuthorizeFlow): Promise<Begun> {
  if (await deps.custody.token()) {
    throw new AppError("token_exists", `a digi.me token is already stored for user ${deps.custody.userId}`, {
      hint: "reauthorize the user instead (POST /v1/reauth/user, with allowFullAuthorization: true if digi.me refuses the token), or DELETE /v1/users/{userId}/token first",
    });
  }
  const started = await deps.digime.getAuthorizeUrl({ callbackUrl: input.callbackUrl, state: input.state, locale: input.locale, sessionOptions: input.sessionOptions, onSent: deps.sent });
  return { kind: "authorize", upstreamUrl: started.url, verifier: started.codeVerifier, ...(started.session ? { session: started.session } : {}) };
}

/**
 * Gets the reference code and the account reference. If digi.me refuses the
 * stored access token, the token is refreshed once (through the custody: one
 * refresh however many callers) and the call retried once.
 */
export async function beginAccountFlow(deps: StepDeps, input: BeginAccountFlow): Promise<Begun> {
  const call = (userAccessToken: string) =>
    deps.digime.getReauthorizeAccountUrl({ userAccessToken, callbackUrl: input.callbackUrl, accountId: input.accountId, locale: input.locale, onSent: deps.sent });
  let started;
  if (input.userAccessToken) {
    started = await call(input.userAccessToken);
  } else {
    const stored = await deps.custody.token();
    if (!stored) throw noToken(deps.custody.userId);
    ({ result: started } = await withCustodyRefresh(deps, stored.token, call));
  }
  return { kind: "account", accountId: input.accountId, upstreamUrl: started.url, ...(started.session ? { session: started.session } : {}) };
}
