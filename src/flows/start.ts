/**
 * Starting flows, in the Worker: check the input and make the ids
 * (`startUserFlow`, `startAccountFlow`), have the user's object make the
 * upstream round trip and record the flow as pending (begin.ts), then write
 * the flow's start entry to KV, once.
 */
import type { Services } from "../services.ts";
import { sha256 } from "../storage/crypto.ts";
import type { FlowEntry, FlowKind } from "../storage/flows.ts";
import { flowEntryTtlSeconds } from "../storage/keys.ts";
import type { UserHandle } from "../users/client.ts";
import type { AccountFlowOptions, AuthorizeFlowOptions, BeginFlow, Begun, UserFlowOptions } from "./begin.ts";
import { newFlowId, newSecret } from "./ids.ts";
import { checkReturnTo } from "./return-to.ts";

/** What the backend gets back from a start. */
export interface StartedFlow {
  flowId: string;
  kind: FlowKind;
  contractId: string;
  launchUrl: string;
  expiresAt: string;
}

/** Input of a user-reauthorization start (POST /v1/reauth/user). */
export interface StartUserFlowInput extends UserFlowOptions {
  userId: string;
  returnTo: string;
}

/** Input of a first connection (POST /v1/authorize). */
export interface StartAuthorizeFlowInput extends AuthorizeFlowOptions {
  userId: string;
  returnTo: string;
}

/** Input of an account-reauthorization start (POST /v1/reauth/account). */
export interface StartAccountFlowInput extends AccountFlowOptions {
  userId: string;
  returnTo: string;
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
    await services.flowEntries.create({ ...entry, contractId: user.contractId }, flowEntryTtlSeconds(services.config.flowTtlSeconds));
  } catch (error) {
    await user.abandonFlow(entry.id).catch(() => undefined);
    throw error;
  }
  return {
    flowId: entry.id,
    kind: entry.kind,
    contractId: user.contractId,
    launchUrl: `${services.config.publicBaseUrl}/reauth/launch/${entry.id}`,
    expiresAt: new Date(entry.expiresAt).toISOString(),
  };
}

/**
 * A flow with PKCE and `state` that comes back to the user callback (user
 * reauthorization, a first connection): the ids, the object's round trip
 * (`begin`, told what the Worker made), the start entry with the state hashed.
 */
async function startPkceFlow<I extends { userId: string; returnTo: string }>(
  services: Services,
  user: UserHandle,
  input: I,
  begin: (input: Omit<I, "userId" | "returnTo"> & BeginFlow & { state: string }) => Promise<Begun>,
): Promise<StartedFlow> {
  const returnTo = checkReturnTo(services.config, input.returnTo);
  const flowId = newFlowId();
  const state = newSecret();
  const { userId: _userId, returnTo: _returnTo, ...rest } = input;
  const when = times(services);
  const begun = await begin({ ...rest, ...when, flowId, state, callbackUrl: callbackUrl(services, "user", flowId) });
  return save(services, user, { v: 2, id: flowId, userId: input.userId, returnTo, ...begun, stateHash: await sha256(state), ...when });
}

/** Starts user reauthorization (POST /v1/reauth/user). */
export function startUserFlow(services: Services, user: UserHandle, input: StartUserFlowInput): Promise<StartedFlow> {
  return startPkceFlow(services, user, input, (begin) => user.beginUserFlow(begin));
}

/**
 * Starts a first connection (POST /v1/authorize): digi.me's authorization for
 * a user whose token the edge does not keep; its callback is the user flow's.
 */
export function startAuthorizeFlow(services: Services, user: UserHandle, input: StartAuthorizeFlowInput): Promise<StartedFlow> {
  return startPkceFlow(services, user, input, (begin) => user.beginAuthorizeFlow(begin));
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
