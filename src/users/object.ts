/**
 * One Durable Object per (contract, user): the one reader and writer of the
 * user's token and of the state of the user's flows, wherever in the world
 * the request that needs them arrives.
 *
 * - Every refresh of the user's token runs here, once: concurrent callers
 *   share it, and a refresh token is never sent to digi.me twice.
 * - A flow moves pending → succeeded / failed / expired here, exactly once,
 *   and the move's webhook event goes to the one caller that made it (or, for
 *   the alarm's moves, straight to the queue).
 * - The alarm expires flows, forgets outcomes after their hour, and tells the
 *   backend before the user's refresh token expires (`token.expiring`) and
 *   when it has (`token.expired`).
 *
 * Every method answers a `Wire` result (RPC carries data, not error classes,
 * src/users/api.ts); src/users/client.ts is the Worker's side.
 *
 * This module coordinates: the RPC methods, first contact (and the KV
 * takeover), starts and callbacks. Beside it: the token's custody
 * (custody.ts), the flows' moves (transitions.ts), the alarm (alarm.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { parseConfig } from "../config.ts";
import type { UserAccessToken } from "../digime/index.ts";
import type { Env } from "../env.ts";
import { AppError, asAppError, toWireError } from "../errors.ts";
import { confirmAccountCallback, exchangeUserCallback, recoveredOutcome, type CallbackEntry, type CallbackQuery, type Outcome } from "../flows/complete.ts";
import type { StepDeps } from "../flows/custody.ts";
import { newSecret, timingSafeEqual } from "../flows/ids.ts";
import { openRecovery, sealForRecovery } from "../flows/recovery.ts";
import {
  beginAccountFlow,
  beginAuthorizeFlow,
  beginUserFlow,
  type BeginAccountFlow,
  type BeginAuthorizeFlow,
  type BeginFlow,
  type Begun,
  type BeginUserFlow,
} from "../flows/begin.ts";
import { reauthStatus, type ReauthStatus } from "../flows/status.ts";
import { log, type LogScope } from "../log.ts";
import { getServices, type Services } from "../services.ts";
import { sha256 } from "../storage/crypto.ts";
import { isStorageUnavailable, StorageError } from "../storage/errors.ts";
import type { FlowKind } from "../storage/flows.ts";
import { openToken } from "../storage/tokens.ts";
import { UserStore, type FlowState, type TokenCondition } from "../storage/user-store.ts";
import type { OutboundEvent } from "../webhooks/outbox.ts";
import type { CallbackAnswer, FlowRead, FreshToken, LaunchAnswer, ObjectCall, UserObjectApi, Wire } from "./api.ts";
import { EXCHANGE_RECHECK_MS, ObjectAlarm } from "./alarm.ts";
import { TokenKeeper, withNextStart } from "./custody.ts";
import { isOpen } from "./schedule.ts";
import { FlowTransitions, pendingTokenContext } from "./transitions.ts";

/**
 * How user objects get their services and storage. In production: from their
 * own bindings, once per isolate (getServices memoises). Tests replace these
 * (the objects run in the test's isolate) for a shorter deadline, a cold key
 * set, a failing storage or a recording queue, and put them back after.
 */
export const objectWiring = {
  services: (env: Env): Services => getServices(parseConfig(env), env, { webhookQueue: env.WEBHOOK_QUEUE }),
  storage: (storage: DurableObjectStorage): DurableObjectStorage => storage,
};

/** The user object (binding `USERS`, SQLite storage). */
export class UserObject extends DurableObject<Env> implements UserObjectApi {
  #built?: { services: Services; storage: DurableObjectStorage; store: UserStore };
  /** The token's custody: versions, conditional writes, the one refresh per refresh token (custody.ts). */
  readonly #keeper = new TokenKeeper({
    deps: () => this.#deps(),
    alarmForToken: (refreshTokenExpiry, nowMs) => this.#alarm.forToken(refreshTokenExpiry, nowMs),
    scope: (call) => this.#scope(call),
  });
  /** The flows' moves, each made once; one callback at a time per flow (transitions.ts). */
  readonly #flows: FlowTransitions = new FlowTransitions({ deps: () => this.#deps(), alarmBy: (atMs) => this.#alarm.by(atMs) });
  /** What the object does unasked (alarm.ts). */
  readonly #alarm: ObjectAlarm = new ObjectAlarm({
    deps: () => this.#deps(),
    stored: () => this.ctx.storage.getAlarm(),
    busy: this.#flows.busy,
    expire: (flow, nowMs, publish) => this.#flows.end(flow, { status: "expired" }, nowMs, publish),
    keeper: () => this.#keeper,
    scope: () => this.#scope(),
    publish: (events, contractId) => this.publishAlarmEvents(withContract(events, contractId)),
  });
  /** The first contact's takeover, while it runs: concurrent first calls share it. */
  #adopting?: Promise<void>;
  /** A KV record taken over whose delete failed: tried again at the next call. */
  #legacyLeft = false;
  /** Tokens digi.me issued for a flow whose write after the exchange failed: its reload uses this, never the spent code. */
  readonly #issued = new Map<string, UserAccessToken>();
  /** The user this instance has checked its bookkeeping (and a KV token record) for. */
  #adoptedFor?: string;

  /** Where the alarm's events go: the webhook queue. Tests replace it to watch them. */
  publishAlarmEvents: (events: OutboundEvent[]) => Promise<void> = (events) => this.#deps().services.webhooks.publish(events);

  #deps(): { services: Services; store: UserStore } {
    const services = objectWiring.services(this.env);
    const storage = objectWiring.storage(this.ctx.storage);
    if (this.#built?.services !== services || this.#built.storage !== storage) {
      this.#built = { services, storage, store: new UserStore(storage, services.sealer) };
    }
    return this.#built;
  }

  #scope(call?: ObjectCall): LogScope {
    return { logLevel: call?.logLevel ?? this.env.LOG_LEVEL, ...(call?.requestId ? { requestId: call.requestId } : {}) };
  }

  /**
   * Runs a method: learns the user on first contact, takes over a KV token
   * record once, and shapes the answer. `remember`: a method that stores something of the user
   * (a token, a flow) remembers the user at first contact; any other call
   * for a user this object never saw writes nothing.
   */
  async #run<T>(call: ObjectCall, body: (deps: StepDeps) => Promise<T>, { remember = false }: { remember?: boolean } = {}): Promise<Wire<T>> {
    const events: OutboundEvent[] = [];
    try {
      const { services } = this.#deps();
      await this.#adopt(call.userId, remember, call.contractId);
      const step: StepDeps = {
        config: services.config,
        digime: services.forContract(call.contractId).digime,
        custody: this.#keeper.custody(call, events),
        now: call.now,
        log: this.#scope(call),
        events,
      };
      const value = await body(step);
      return { ok: true, value, events: withContract(events, call.contractId) };
    } catch (error) {
      const raised = asAppError(error);
      // A refused refresh answers the start that brings the user back (only a refresh refuses so: deps were built).
      const failure = raised.code === "refresh_token_expired" ? withNextStart(raised, call, this.#deps().services.config.contractId) : raised;
      if (failure.status >= 500) {
        const cause = failure.init.cause instanceof Error ? `${failure.init.cause.name}: ${failure.init.cause.message}` : undefined;
        log(this.#scope(call), "error", "user_object_failed", { ...failure.init.detail, errorCode: failure.code, cause });
      }
      return { ok: false, error: toWireError(failure), events: withContract(events, call.contractId) };
    }
  }

  /**
   * First contact: remember the user (the alarm has no request to learn it
   * from), and take over the token record the Worker kept in KV before the
   * objects existed (then delete it there). Once per object. A call that does
   * not `remember`, for a user the edge does not know, writes nothing: no ghost objects.
   */
  async #adopt(userId: string, remember: boolean, contractId?: string): Promise<void> {
    if (this.#adoptedFor === userId) {
      if (this.#legacyLeft) await this.#deleteLegacy(userId);
      return;
    }
    // Concurrent first calls share one takeover: a second KV read could otherwise bring back a token deleted meanwhile.
    this.#adopting ??= this.#takeOver(userId, remember, contractId).finally(() => (this.#adopting = undefined));
    await this.#adopting;
    // A call for another user than the one being adopted meets the corrupt-name check on its own; so does
    // a writing call that shared a read's takeover, which remembered nothing.
    if (this.#adoptedFor !== userId) await this.#takeOver(userId, remember, contractId);
  }

  async #takeOver(userId: string, remember: boolean, contractId?: string): Promise<void> {
    const { services, store } = this.#deps();
    const meta = await store.meta();
    if (meta.userId === userId && meta.kvChecked) {
      this.#adoptedFor = userId;
      this.#legacyLeft = meta.kvDeletePending === true;
      if (this.#legacyLeft) await this.#deleteLegacy(userId);
      return;
    }
    if (meta.userId !== undefined && meta.userId !== userId) {
      throw new StorageError("corrupt", "a user object was reached for another user", { detail: { store: "user-object" } });
    }
    // A KV read once per user, ever: the first call for a user pays one trip to KV's central store.
    const legacy = await services.legacyTokens.get(userId);
    // Opened first: a record sealed for another user, or with a retired key, is left in KV and logged, never adopted.
    const opens = legacy ? await openToken(services.sealer, userId, legacy).then(() => true, () => false) : false;
    if (legacy && !opens) log(this.#scope(), "error", "legacy_token_unreadable", { source: "kv" });
    // A read for a user this object has never seen, with nothing to take over: nothing to remember.
    if (!remember && meta.userId === undefined && !(legacy && opens)) return;
    // Only while none is stored, under a new version: never over a token written since.
    if (legacy && opens && (await store.putTokenRecord(legacy)).written) log(this.#scope(), "info", "token_taken_over", { source: "kv" });
    await store.putMeta({ ...(await store.meta()), userId, ...(contractId ? { contractId } : {}), kvChecked: true, ...(legacy && opens ? { kvDeletePending: true } : {}) });
    this.#adoptedFor = userId;
    if (legacy && opens) {
      this.#legacyLeft = true;
      await this.#deleteLegacy(userId);
      await this.#alarm.forToken(legacy.refreshTokenExpiry, Date.now());
    }
  }

  /** Deletes a KV record taken over; a failure is logged and tried again at the next call, never answered. */
  async #deleteLegacy(userId: string): Promise<void> {
    try {
      const { services, store } = this.#deps();
      await services.legacyTokens.delete(userId);
      const { kvDeletePending: _done, ...meta } = await store.meta();
      await store.putMeta(meta);
      this.#legacyLeft = false;
    } catch (error) {
      log(this.#scope(), "warn", "legacy_token_not_deleted", { cause: error instanceof Error ? error.message : String(error) });
    }
  }

  // ---- Tokens ------------------------------------------------------------

  /**
   * The user's token, or `null`; never one whose access token expires within
   * `minValiditySeconds` (refreshed first, once for every concurrent caller).
   */
  readToken(call: ObjectCall, minValiditySeconds = 0): Promise<Wire<FreshToken | null>> {
    return this.#run(call, (deps) => this.#keeper.fresh(call, minValiditySeconds, deps.events));
  }

  /**
   * Stores a token obtained elsewhere (PUT /v1/users/{userId}/token) if the
   * stored one meets `condition`; without one, only while none is stored.
   * Answers the new version.
   */
  importToken(call: ObjectCall, token: UserAccessToken, condition?: TokenCondition): Promise<Wire<number>> {
    return this.#run(call, async () => (await this.#keeper.write(call, token, condition ? { condition } : {})).version, { remember: true });
  }

  /** The token after digi.me refused version `seenVersion`'s access token: refreshed once, or the newer one stored. */
  refreshToken(call: ObjectCall, seenVersion: number): Promise<Wire<FreshToken>> {
    return this.#run(call, (deps) => this.#keeper.refreshFrom(call, seenVersion, deps.events));
  }

  /**
   * Erases everything this object keeps for the user (DELETE /v1/users/{userId}):
   * each flow still open ends `failed` / `USER_ERASED` (its event goes out; a
   * callback already under way finishes first), then the token, the flows, the
   * bookkeeping and the alarm go, and the token record an older release kept
   * in KV with them. Erasing a user the edge never knew writes nothing.
   */
  eraseUser(call: ObjectCall): Promise<Wire<null>> {
    return this.#run(
      call,
      async (deps) => {
        const { services, store } = this.#deps();
        for (const flow of await store.flows()) {
          if (!isOpen(flow)) continue;
          await this.#flows.serial(flow.id, async () => {
            const current = await store.flow(flow.id);
            if (current && isOpen(current)) {
              await this.#flows.end(current, { status: "failed", errorCode: "USER_ERASED", errorSource: "edge" }, call.now, (events) => void deps.events.push(...events));
            }
          });
        }
        await services.legacyTokens.delete(call.userId);
        await store.eraseAll();
        // Nothing of the user is left in this instance either: the next call starts as for a user never seen.
        this.#adoptedFor = undefined;
        this.#legacyLeft = false;
        this.#alarm.cleared();
        log(deps.log, "info", "user_erased", {});
        return null;
      },
    );
  }

  /** Forgets the user's token (if the stored one meets `condition`). */
  forgetToken(call: ObjectCall, condition?: TokenCondition): Promise<Wire<null>> {
    return this.#run(call, async () => {
      await this.#keeper.forget(condition);
      return null;
    });
  }

  /** What needs reauthorization (GET /v1/users/{userId}/reauth-status). */
  reauthStatus(call: ObjectCall, sessionKey?: string): Promise<Wire<ReauthStatus>> {
    return this.#run(call, (deps) => reauthStatus(deps, sessionKey));
  }

  // ---- Flows -------------------------------------------------------------

  /** Begins a user flow: the upstream round trip, the flow recorded as pending while it is out. */
  beginUserFlow(call: ObjectCall, input: BeginUserFlow): Promise<Wire<Begun>> {
    return this.#run(call, (deps) => this.#begin(call, deps, input, "user", (sent) => beginUserFlow(sent, input)), { remember: true });
  }

  /** Begins an account flow. */
  beginAccountFlow(call: ObjectCall, input: BeginAccountFlow): Promise<Wire<Begun>> {
    return this.#run(call, (deps) => this.#begin(call, deps, input, "account", (sent) => beginAccountFlow(sent, input)), { remember: true });
  }

  /** Begins a first connection (digi.me's authorization) for a user without a token. */
  beginAuthorizeFlow(call: ObjectCall, input: BeginAuthorizeFlow): Promise<Wire<Begun>> {
    return this.#run(call, (deps) => this.#begin(call, deps, input, "authorize", (sent) => beginAuthorizeFlow(sent, input)), { remember: true });
  }

  /**
   * Records the flow as pending (and its expiry in the alarm) while the
   * start's digi.me request is out: the writes go without holding that
   * request (unconfirmed), and the start answers only once they are durable
   * (`sync`). Written after the request has left, because a commit can block
   * the runtime's thread (locally, an fsync) and would otherwise delay it. A
   * start that fails forgets the flow, so its alarm never announces a flow the
   * backend was never given.
   */
  async #begin(call: ObjectCall, deps: StepDeps, input: BeginFlow & { accountId?: string }, kind: FlowKind, run: (deps: StepDeps) => Promise<Begun>): Promise<Begun> {
    const { store } = this.#deps();
    const state: FlowState = {
      v: 1,
      id: input.flowId,
      kind,
      userId: call.userId,
      ...(input.accountId ? { accountId: input.accountId } : {}),
      status: "pending",
      createdAt: input.createdAt,
      expiresAt: input.expiresAt,
    };
    let recorded: Promise<void> | undefined;
    const record = (): Promise<void> =>
      (recorded ??= (async () => {
        // One turn of the event loop: the request leaves the isolate before the commit can block it.
        await new Promise((resolve) => setTimeout(resolve, 0));
        await store.putFlow(state, { unconfirmed: true });
        await this.#alarm.by(state.expiresAt, { unconfirmed: true });
      })());
    try {
      // A failure here is awaited below, where it fails the start.
      const begun = await run({ ...deps, sent: () => void record().catch(() => undefined) });
      await record();
      // A user flow whose access token digi.me refused became a full authorization.
      if (begun.kind !== kind) await store.putFlow({ ...state, kind: begun.kind });
      await store.sync();
      return begun;
    } catch (error) {
      if (recorded) {
        await recorded.catch(() => undefined);
        await store.deleteFlow(state.id).catch((failure: unknown) => log(this.#scope(call), "error", "flow_not_forgotten", { flowId: state.id, cause: String(failure) }));
      }
      throw error;
    }
  }

  /** Forgets a flow whose start failed after it was recorded (the backend never got its id). */
  abandonFlow(call: ObjectCall, flowId: string): Promise<Wire<null>> {
    return this.#run(call, async () => {
      const { store } = this.#deps();
      const state = await store.flow(flowId);
      if (state?.status === "pending") await store.deleteFlow(flowId);
      return null;
    });
  }

  /**
   * A flow's state; with `waitMs`, a pending flow's answer waits until it
   * ends or the wait is over (the long poll).
   */
  flow(call: ObjectCall, flowId: string, waitMs = 0): Promise<Wire<FlowRead | null>> {
    return this.#run(call, async (deps) => {
      const state = await this.#flows.current(call, flowId, deps.events);
      if (!state || state.status !== "pending" || waitMs <= 0) return this.#flows.read(state);
      await this.#flows.waitForEnd(flowId, Math.min(waitMs, state.expiresAt - call.now + EXCHANGE_RECHECK_MS));
      return this.#flows.read((await this.#deps().store.flow(flowId)) ?? null);
    });
  }

  /**
   * The application confirms that the browser which came back is its user:
   * the token kept for the flow is stored under the user and announced.
   * Confirming again answers the same; any other state is a 409.
   */
  confirm(call: ObjectCall, flowId: string): Promise<Wire<FlowRead>> {
    return this.#run(call, (deps) =>
      this.#flows.serial(flowId, async () => {
        const state = await this.#flows.current(call, flowId, deps.events);
        if (!state) throw new AppError("flow_not_found", "unknown flow, or its outcome is no longer kept", { detail: { flowId } });
        if (state.status === "succeeded" && state.identity !== "confirmed" && state.identity !== undefined) return this.#flows.read(state);
        if (state.status !== "awaiting_confirmation" || !state.pendingToken) {
          throw new AppError("flow_not_awaiting_confirmation", `this flow is ${state.status}, not awaiting confirmation`, {
            hint: "only a flow whose status is awaiting_confirmation can be confirmed",
            extra: { status: state.status },
            detail: { flowId },
          });
        }
        const token = JSON.parse(await this.#deps().services.sealer.open(state.pendingToken, pendingTokenContext(flowId))) as UserAccessToken;
        // The token and the outcome in one write: both or neither (a confirm that failed can simply be retried).
        const done = await this.#flows.end(state, { status: "succeeded" }, call.now, (events) => void deps.events.push(...events), {
          token,
          persist: async (next) => {
            let written: FlowState | undefined;
            await this.#keeper.write(call, token, undefined, (tokenVersion) => (written = { ...next, tokenVersion }));
            return written!;
          },
        });
        log(deps.log, "info", "flow_confirmed", { flowId, kind: state.kind, identity: state.identity });
        return this.#flows.read(done);
      }),
    );
  }

  /**
   * Launch: the first browser binds the flow (the same browser may launch
   * again); any other gets 409 `flow_bound_elsewhere`. An ended flow answers
   * its state and whether this browser held it.
   */
  launch(call: ObjectCall, flowId: string, presented?: string): Promise<Wire<LaunchAnswer>> {
    return this.#run(call, async (deps) => {
      const state = await this.#flows.known(call, flowId, deps.events);
      const bound = await this.#flows.bound(state, presented);
      if (state.status !== "pending") return { state, bound };
      if (state.bindingHash) {
        if (!bound) {
          throw new AppError("flow_bound_elsewhere", "this flow was already opened in another browser", {
            page: "This link was already opened in another browser. Please go back to the application and start again.",
            detail: { flowId },
          });
        }
        return { state, bound, secret: presented };
      }
      const secret = newSecret();
      const launched = { ...state, bindingHash: await sha256(secret) };
      await this.#deps().store.putFlow(launched);
      log(this.#scope(call), "info", "flow_launched", { flowId, kind: state.kind });
      return { state: launched, bound: true, secret };
    });
  }

  /** digi.me's callback for a user or full-authorization flow. */
  completeUser(call: ObjectCall, entry: CallbackEntry, query: CallbackQuery, presented?: string): Promise<Wire<CallbackAnswer>> {
    return this.#callback(
      call,
      entry,
      presented,
      (deps) => exchangeUserCallback(deps, entry, query),
      // `state` is checked before the binding: it is what proves digi.me's page was completed for this flow.
      async (deps, state, bound) => {
        if (query.state === undefined && query.success !== "true") return;
        if (!query.state || !entry.stateHash || !timingSafeEqual(await sha256(query.state), entry.stateHash)) {
          throw new AppError("state_mismatch", "state does not match this flow", {
            page: "This reauthorization answer does not belong to the flow it names. Please go back to the application and start again.",
            detail: { flowId: state.id },
          });
        }
        if (bound) return;
        // The flow's own state, from a browser that never launched it: digi.me's page was forwarded and completed
        // elsewhere. The flow ends here, so its code can never be redeemed, not even by the launching browser later.
        await this.#flows.end(state, { status: "failed", errorCode: "BROWSER_MISMATCH", errorSource: "edge" }, call.now, (events) => void deps.events.push(...events));
        log(deps.log, "warn", "browser_mismatch", { flowId: state.id, hadCookie: presented !== undefined });
        throw new AppError("browser_not_bound", "digi.me's page for this flow was completed in a browser that did not start it", {
          page: "This reauthorization was completed in another browser than the one that started it, so it was stopped. Please go back to the application and start again.",
          detail: { flowId: state.id, hadCookie: presented !== undefined },
        });
      },
    );
  }

  /** digi.me's callback for an account flow. */
  completeAccount(call: ObjectCall, entry: CallbackEntry, query: CallbackQuery, presented?: string): Promise<Wire<CallbackAnswer>> {
    return this.#callback(call, entry, presented, (deps) => confirmAccountCallback(deps, entry, query));
  }

  /** Stores a token the callback could not store, carried back sealed by the browser that owns the flow. */
  recover(call: ObjectCall, entry: CallbackEntry, sealed: string, presented?: string): Promise<Wire<CallbackAnswer>> {
    return this.#callback(call, entry, presented, async (deps) => {
      const token = await openRecovery(this.#deps().services.sealer, entry.id, call.userId, sealed);
      log(deps.log, "info", "token_recovered", { flowId: entry.id });
      // Sealed only after the identity check passed; checked again so the outcome names it.
      return recoveredOutcome(entry, token);
    }, undefined, { fromBrowser: true });
  }

  async #callback(
    call: ObjectCall,
    entry: CallbackEntry,
    presented: string | undefined,
    decide: (deps: StepDeps, state: FlowState) => Promise<Outcome>,
    check?: (deps: StepDeps, state: FlowState, bound: boolean) => Promise<void>,
    { fromBrowser = false }: { fromBrowser?: boolean } = {},
  ): Promise<Wire<CallbackAnswer>> {
    const result = await this.#run(call, (deps) =>
      this.#flows.serial(entry.id, async (): Promise<CallbackAnswer> => {
        const state = await this.#flows.known(call, entry.id, deps.events);
        const bound = await this.#flows.bound(state, presented);
        if (state.status !== "pending") return { state, bound, ended: false };
        await check?.(deps, state, bound);
        if (!bound) {
          throw new AppError("browser_not_bound", "this flow was not started in this browser", {
            page: "This reauthorization was started in another browser. Please go back to the application and start again.",
            detail: { flowId: state.id, hadCookie: presented !== undefined },
          });
        }
        this.#flows.busy.add(state.id);
        try {
          // A token this instance already holds for the flow (a write after its exchange failed): a reload of the
          // callback uses it, never the spent code. The recovery form brings its own, which must open.
          const held = fromBrowser ? undefined : this.#issued.get(state.id);
          const outcome = held ? recoveredOutcome(entry, held) : await decide(deps, state);
          const { token, ...decided } = outcome;
          const recorded: typeof decided & { tokenVersion?: number } = decided;
          try {
            if (token && outcome.status === "succeeded") recorded.tokenVersion = await deps.custody.store(token);
            const done = await this.#flows.end(state, recorded, call.now, (events) => void deps.events.push(...events), { token, session: entry.session });
            this.#issued.delete(state.id);
            log(deps.log, "info", "flow_completed", { flowId: state.id, kind: state.kind, status: done.status, errorCode: done.errorCode });
            return { state: done, bound: true, ended: true };
          } catch (error) {
            if (!token || !isStorageUnavailable(error)) throw error;
            // The code is spent: this token exists nowhere else (or is stored, with the flow's outcome unwritten).
            // The browser carries it back, sealed; a reload of the callback uses the copy kept here, never the code.
            this.#issued.set(state.id, token);
            log(deps.log, "error", "token_not_stored", { flowId: state.id, status: outcome.status, stored: recorded.tokenVersion !== undefined });
            return { state, bound: true, ended: false, recovery: await sealForRecovery(this.#deps().services.sealer, state.id, call.userId, token) };
          }
        } finally {
          this.#flows.busy.delete(state.id);
        }
      }),
    );
    return result;
  }

  // ---- The alarm ---------------------------------------------------------

  /** Expires due flows, forgets old outcomes, keeps the token alive, sends token notices, then sets the next alarm (alarm.ts). */
  override async alarm(): Promise<void> {
    await this.#alarm.ring(Date.now());
  }
}

/** Events as the backend gets them: each names its contract (`data.contractId`). */
function withContract(events: OutboundEvent[], contractId: string | undefined): OutboundEvent[] {
  if (!contractId) return events;
  return events.map((outbound) => ({ ...outbound, event: { ...outbound.event, data: { ...outbound.event.data, contractId } } as typeof outbound.event }));
}
