/**
 * The Worker's side of the user objects: finds a user's object by name,
 * calls it (one call per step), turns its answer back into values and
 * `AppError`s, and enqueues the events its transitions produced.
 */
import type { UserAccessToken } from "../digime/index.ts";
import { fromStorageError, fromWireError, type AppError } from "../errors.ts";
import type { CallbackEntry, CallbackQuery } from "../flows/complete.ts";
import type { BeginAccountFlow, BeginAuthorizeFlow, Begun, BeginUserFlow } from "../flows/begin.ts";
import type { ReauthStatus } from "../flows/status.ts";
import { StorageError } from "../storage/errors.ts";
import type { TokenCondition } from "../storage/user-store.ts";
import type { WebhookOutbox } from "../webhooks/outbox.ts";
import type { CallbackAnswer, FlowRead, FreshToken, LaunchAnswer, ObjectCall, UserObjectApi, Wire } from "./api.ts";

/**
 * The object's name: contract and user, versioned, so each contract of a
 * deployment gets objects of its own. A contract id holds no `:` (the
 * configuration refuses one), so no two (contract, user) pairs share a name.
 */
export function userObjectName(contractId: string, userId: string): string {
  return `user:v1:${contractId}:${userId}`;
}

/** What a request hands its calls: its id (for logs) and where work after the answer goes. */
export interface RequestScope {
  requestId?: string;
  /** LOG_LEVEL, for the lines the Worker writes about the request. */
  logLevel?: string;
  /** `ExecutionContext.waitUntil`; without it, event enqueues are awaited. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** Options of `UserObjects`. */
export interface UserObjectsOptions {
  namespace: DurableObjectNamespace;
  contractId: string;
  /** Where a new object is created (it stays there); by default near its first caller. */
  locationHint?: DurableObjectLocationHint;
  webhooks: WebhookOutbox;
  now: () => number;
}

/** The user objects of one contract. */
export class UserObjects {
  readonly #options: UserObjectsOptions;
  constructor(options: UserObjectsOptions) {
    this.#options = options;
  }

  /** A handle on `userId`'s object for one request. */
  of(userId: string, scope: RequestScope = {}): UserHandle {
    const { namespace, contractId, locationHint } = this.#options;
    const stub = namespace.get(namespace.idFromName(userObjectName(contractId, userId)), locationHint ? { locationHint } : undefined);
    return new UserHandle(userId, stub, this.#options, scope);
  }
}

/**
 * The object unreachable, overloaded or reset: to the Worker the object is
 * storage, so this is the same retryable 503 as any storage failure.
 */
function unavailable(cause: unknown): AppError {
  return fromStorageError(StorageError.unavailable(cause, { store: "user-object", overloaded: (cause as { overloaded?: boolean } | null)?.overloaded === true }));
}

/** One user's object, as one request uses it. */
export class UserHandle {
  readonly userId: string;
  /** The contract whose object this is. */
  readonly contractId: string;
  readonly #stub: DurableObjectStub;
  readonly #options: UserObjectsOptions;
  readonly #scope: RequestScope;
  constructor(userId: string, stub: DurableObjectStub, options: UserObjectsOptions, scope: RequestScope) {
    [this.userId, this.#stub, this.#options, this.#scope] = [userId, stub, options, scope];
    this.contractId = options.contractId;
  }

  #call(): ObjectCall {
    const { requestId, logLevel } = this.#scope;
    return { userId: this.userId, contractId: this.#options.contractId, now: this.#options.now(), ...(requestId ? { requestId } : {}), ...(logLevel ? { logLevel } : {}) };
  }

  async #invoke<T>(send: (stub: UserObjectApi, call: ObjectCall) => Promise<Wire<T>>): Promise<T> {
    let wire: Wire<T>;
    try {
      // The stub's methods mirror the object's; RPC returns the same data.
      wire = await send(this.#stub as unknown as UserObjectApi, this.#call());
    } catch (error) {
      throw unavailable(error);
    }
    if (wire.events.length) {
      const sent = this.#options.webhooks.publish(wire.events);
      if (this.#scope.waitUntil) this.#scope.waitUntil(sent);
      else await sent;
    }
    if (!wire.ok) throw fromWireError(wire.error);
    return wire.value;
  }

  /** The user's token, or `null`; its access token valid for `minValiditySeconds` more at least (refreshed first if needed). */
  token(minValiditySeconds = 0): Promise<FreshToken | null> {
    return this.#invoke((o, c) => o.readToken(c, minValiditySeconds));
  }

  /** Stores a token obtained elsewhere, if the stored one meets `condition` (without one: only when none is stored); answers its version. */
  importToken(token: UserAccessToken, condition?: TokenCondition): Promise<number> {
    return this.#invoke((o, c) => o.importToken(c, token, condition));
  }

  /** After digi.me refused the access token of `seenVersion`: the refreshed (or newer) token. */
  refreshToken(seenVersion: number): Promise<FreshToken> {
    return this.#invoke((o, c) => o.refreshToken(c, seenVersion));
  }

  /** Erases everything the edge keeps for the user (open flows end failed / USER_ERASED first). */
  async erase(): Promise<void> {
    await this.#invoke((o, c) => o.eraseUser(c));
  }

  /** Forgets the user's token (if the stored one meets `condition`). */
  async forgetToken(condition?: TokenCondition): Promise<void> {
    await this.#invoke((o, c) => o.forgetToken(c, condition));
  }

  /** What needs reauthorization. */
  reauthStatus(sessionKey?: string): Promise<ReauthStatus> {
    return this.#invoke((o, c) => o.reauthStatus(c, sessionKey));
  }

  /** Begins a user flow (upstream round trip; the flow recorded as pending). */
  beginUserFlow(input: BeginUserFlow): Promise<Begun> {
    return this.#invoke((o, c) => o.beginUserFlow(c, input));
  }

  /** Begins an account flow. */
  beginAccountFlow(input: BeginAccountFlow): Promise<Begun> {
    return this.#invoke((o, c) => o.beginAccountFlow(c, input));
  }

  /** Begins a first connection (digi.me's authorization) for a user without a token. */
  beginAuthorizeFlow(input: BeginAuthorizeFlow): Promise<Begun> {
    return this.#invoke((o, c) => o.beginAuthorizeFlow(c, input));
  }

  /** Forgets a flow whose start entry could not be written. */
  async abandonFlow(flowId: string): Promise<void> {
    await this.#invoke((o, c) => o.abandonFlow(c, flowId));
  }

  /** A flow's state (waiting up to `waitMs` for a pending one to end). */
  flow(flowId: string, waitMs = 0): Promise<FlowRead | null> {
    return this.#invoke((o, c) => o.flow(c, flowId, waitMs));
  }

  /** The application confirms a flow awaiting confirmation: its token is stored and announced. */
  confirm(flowId: string): Promise<FlowRead> {
    return this.#invoke((o, c) => o.confirm(c, flowId));
  }

  /** Launch: bind this browser. */
  launch(flowId: string, presented?: string): Promise<LaunchAnswer> {
    return this.#invoke((o, c) => o.launch(c, flowId, presented));
  }

  /** The user or full-authorization callback. */
  completeUser(entry: CallbackEntry, query: CallbackQuery, presented?: string): Promise<CallbackAnswer> {
    return this.#invoke((o, c) => o.completeUser(c, entry, query, presented));
  }

  /** The account callback. */
  completeAccount(entry: CallbackEntry, query: CallbackQuery, presented?: string): Promise<CallbackAnswer> {
    return this.#invoke((o, c) => o.completeAccount(c, entry, query, presented));
  }

  /** The recovery form. */
  recover(entry: CallbackEntry, sealed: string, presented?: string): Promise<CallbackAnswer> {
    return this.#invoke((o, c) => o.recover(c, entry, sealed, presented));
  }
}
