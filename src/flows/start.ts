/**
 * Starting flows: one upstream round trip each (the account flow's two calls
 * run in parallel), then one KV write.
 */
import { DigimeError, withTokenRefresh, type SessionOptions } from "../digime/index.ts";
import { AppError } from "../errors.ts";
import { sha256 } from "../storage/crypto.ts";
import type { FlowKind, FlowRecord } from "../storage/flows.ts";
import type { Services } from "../services.ts";
import { newFlowId, newSecret } from "./ids.ts";
import { checkReturnTo } from "./return-to.ts";
import { refreshHooks } from "./tokens.ts";

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

function noToken(userId: string): AppError {
  return new AppError(404, "token_not_found", `no digi.me token is stored for user ${userId}`, {
    hint: "store one with PUT /v1/users/{userId}/token or pass userAccessToken",
  });
}

function callbackUrl(services: Services, route: "user" | "account", flowId: string): string {
  return `${services.config.publicBaseUrl}/reauth/${route}/callback?flow=${flowId}`;
}

async function save(services: Services, record: Omit<FlowRecord, "v" | "status" | "createdAt" | "expiresAt">): Promise<StartedFlow> {
  const now = services.now();
  const ttl = services.config.flowTtlSeconds;
  const flow: FlowRecord = { v: 1, status: "pending", createdAt: now, expiresAt: now + ttl * 1000, ...record };
  await services.flows.create(flow, ttl);
  // Webhook: a delayed check (delay = the TTL) announces the flow if it expires unfinished.
  await services.webhooks.flowStarted(flow);
  return {
    flowId: flow.id,
    kind: flow.kind,
    launchUrl: `${services.config.publicBaseUrl}/reauth/launch/${flow.id}`,
    expiresAt: new Date(flow.expiresAt).toISOString(),
  };
}

/**
 * Starts user reauthorization. An access token digi.me refuses means the user
 * cannot be reauthorized: 409 `invalid_token`, or with
 * `allowFullAuthorization` a full-authorization flow instead.
 */
export async function startUserFlow(services: Services, input: StartUserFlowInput): Promise<StartedFlow> {
  const returnTo = checkReturnTo(services.config, input.returnTo);
  // The user's known digi.me identity is the stored token's, even when the backend passes a token:
  // the exchanged token must carry it (see completeUserCallback).
  const stored = await services.tokens.get(input.userId);
  const accessToken = input.userAccessToken ?? stored?.token.accessToken.value;
  if (!accessToken) throw noToken(input.userId);
  const flowId = newFlowId();
  const state = newSecret();
  const callback = callbackUrl(services, "user", flowId);
  let kind: FlowKind = "user";
  let started;
  try {
    started = await services.digime.getReauthorizeUrl({
      userAccessToken: accessToken,
      callbackUrl: callback,
      state,
      locale: input.locale,
      triggerQuery: input.triggerQuery,
      sessionOptions: input.sessionOptions,
    });
  } catch (error) {
    if (!(error instanceof DigimeError && error.isInvalidToken("access_token") && input.allowFullAuthorization)) throw error;
    kind = "authorize";
    started = await services.digime.getAuthorizeUrl({ callbackUrl: callback, state, locale: input.locale, sessionOptions: input.sessionOptions });
  }
  return save(services, {
    id: flowId,
    kind,
    userId: input.userId,
    returnTo,
    upstreamUrl: started.url,
    stateHash: await sha256(state),
    verifier: await services.flows.sealVerifier(flowId, started.codeVerifier),
    session: started.session,
    ...(stored ? { expectedDigimeUserId: stored.token.user.id } : {}),
  });
}

/**
 * Starts account reauthorization. If digi.me refuses the access token, the
 * stored token is refreshed once (and the rotated token stored before
 * anything else can fail), then the call is retried once.
 */
export async function startAccountFlow(services: Services, input: StartAccountFlowInput): Promise<StartedFlow> {
  const returnTo = checkReturnTo(services.config, input.returnTo);
  const flowId = newFlowId();
  const call = (userAccessToken: string) =>
    services.digime.getReauthorizeAccountUrl({ userAccessToken, callbackUrl: callbackUrl(services, "account", flowId), accountId: input.accountId, locale: input.locale });

  let started;
  if (input.userAccessToken) {
    started = await call(input.userAccessToken);
  } else {
    const stored = await services.tokens.get(input.userId);
    if (!stored) throw noToken(input.userId);
    ({ result: started } = await withTokenRefresh(services.digime, stored.token, call, refreshHooks(services, input.userId)));
  }
  return save(services, {
    id: flowId,
    kind: "account",
    userId: input.userId,
    accountId: input.accountId,
    returnTo,
    upstreamUrl: started.url,
    session: started.session,
    // The callback confirms the account with digi.me using this token when the backend passed one (sealed at rest).
    ...(input.userAccessToken ? { userAccessToken: input.userAccessToken } : {}),
  });
}
