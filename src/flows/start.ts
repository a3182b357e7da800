/**
 * Starting flows. The Worker checks the input and makes the ids
 * (`startUserFlow`, `startAccountFlow`); the user's object makes the one
 * upstream round trip with the user's token (`beginUserFlow`,
 * `beginAccountFlow`: the account flow's two calls run in parallel) and
 * records the flow as pending; then the Worker writes the flow's start entry
 * to KV, once.
 */
import { DigimeError, type DigimeSession, type SessionOptions } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import type { Services } from "../services.ts";
import { sha256 } from "../storage/crypto.ts";
import type { FlowEntry, FlowKind } from "../storage/flows.ts";
import { flowEntryTtlSeconds } from "../storage/keys.ts";
import type { UserHandle } from "../users/client.ts";
import { withCustodyRefresh, type StepDeps } from "./custody.ts";
import { newFlowId, newSecret } from "./ids.ts";
import { checkReturnTo } from "./return-to.ts";

/** What the backend gets back from a start. */
export interface StartedFlow {
  flowId: string;
  kind: FlowKind;
  launchUrl: string;
  expiresAt: string;
}

/** Input of a user-reauthorization start. */
export interface StartUserFlowInput {
  userId: string;
  returnTo: string;
  locale?: string;
  triggerQuery?: boolean;
  sessionOptions?: SessionOptions;
  userAccessToken?: string;
  allowFullAuthorization?: boolean;
}

/** Input of an account-reauthorization start. */
export interface StartAccountFlowInput {
  userId: string;
  accountId: string;
  returnTo: string;
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
export type BeginUserFlow = BeginFlow & Omit<StartUserFlowInput, "userId" | "returnTo"> & { state: string };

/** `beginAccountFlow`'s input. */
export type BeginAccountFlow = BeginFlow & Omit<StartAccountFlowInput, "userId" | "returnTo">;

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
  return new AppError(404, "token_not_found", `no digi.me token is stored for user ${userId}`, {
    hint: "store one with PUT /v1/users/{userId}/token or pass userAccessToken",
  });
}

/**
 * In the user's object: gets the reauthorization reference (PKCE, state). An
 * access token digi.me refuses means the user cannot be reauthorized: 409
 * `invalid_token`, or with `allowFullAuthorization` a full-authorization flow.
 */
export async function beginUserFlow(deps: StepDeps, input: BeginUserFlow): Promise<Begun> {
  // The user's known digi.me identity is the stored token's, even when the backend passes a token:
  // the exchanged token must carry it (see completeUserFlow).
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
    });
  } catch (error) {
    if (!(error instanceof DigimeError && error.isInvalidToken("access_token") && input.allowFullAuthorization)) throw error;
    kind = "authorize";
    started = await deps.digime.getAuthorizeUrl({ callbackUrl: input.callbackUrl, state: input.state, locale: input.locale, sessionOptions: input.sessionOptions });
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
 * In the user's object: gets the reference code and the account reference.
 * If digi.me refuses the stored access token, the token is refreshed once
 * (through the custody: one refresh however many callers) and the call retried once.
 */
export async function beginAccountFlow(deps: StepDeps, input: BeginAccountFlow): Promise<Begun> {
  const call = (userAccessToken: string) =>
    deps.digime.getReauthorizeAccountUrl({ userAccessToken, callbackUrl: input.callbackUrl, accountId: input.accountId, locale: input.locale });
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

function callbackUrl(services: Services, route: "user" | "account", flowId: string): string {
  return `${services.config.publicBaseUrl}/reauth/${route}/callback?flow=${flowId}`;
}

function times(services: Services): { createdAt: number; expiresAt: number } {
  const createdAt = services.now();
  return { createdAt, expiresAt: createdAt + services.config.flowTtlSeconds * 1000 };
}

/** Writes the start entry; if KV fails, the object forgets the flow so it never announces it. */
async function save(services: Services, user: UserHandle, entry: FlowEntry): Promise<StartedFlow> {
  try {
    await services.flowEntries.create(entry, flowEntryTtlSeconds(services.config.flowTtlSeconds));
  } catch (error) {
    await user.abandonFlow(entry.id).catch(() => undefined);
    throw error;
  }
  return {
    flowId: entry.id,
    kind: entry.kind,
    launchUrl: `${services.config.publicBaseUrl}/reauth/launch/${entry.id}`,
    expiresAt: new Date(entry.expiresAt).toISOString(),
  };
}

/** Starts user reauthorization (POST /v1/reauth/user). */
export async function startUserFlow(services: Services, user: UserHandle, input: StartUserFlowInput): Promise<StartedFlow> {
  const returnTo = checkReturnTo(services.config, input.returnTo);
  const flowId = newFlowId();
  const state = newSecret();
  const { userId: _userId, returnTo: _returnTo, ...rest } = input;
  const when = times(services);
  const begun = await user.beginUserFlow({ ...rest, ...when, flowId, state, callbackUrl: callbackUrl(services, "user", flowId) });
  return save(services, user, { v: 2, id: flowId, userId: input.userId, returnTo, ...begun, stateHash: await sha256(state), ...when });
}

/** Starts account reauthorization (POST /v1/reauth/account). */
export async function startAccountFlow(services: Services, user: UserHandle, input: StartAccountFlowInput): Promise<StartedFlow> {
  const returnTo = checkReturnTo(services.config, input.returnTo);
  const flowId = newFlowId();
  const { userId: _userId, returnTo: _returnTo, ...rest } = input;
  const when = times(services);
  const begun = await user.beginAccountFlow({ ...rest, ...when, flowId, callbackUrl: callbackUrl(services, "account", flowId) });
  return save(services, user, {
    v: 2,
    id: flowId,
    userId: input.userId,
    returnTo,
    ...begun,
    // The callback confirms the account with digi.me using this token when the backend passed one (sealed at rest).
    ...(input.userAccessToken ? { userAccessToken: input.userAccessToken } : {}),
    ...when,
  });
}
