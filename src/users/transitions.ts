/**
 * A user's flows as the user object moves them: pending → awaiting
 * confirmation / succeeded / failed / expired, each move made once, in one
 * place (`end`), which records the outcome, wakes the long polls and hands
 * the move's event on. Callbacks of one flow run one at a time (`serial`); a
 * flow whose callback is talking to digi.me is `busy`, and nothing expires it
 * meanwhile. The object (object.ts) coordinates; the alarm (alarm.ts) expires
 * through here too.
 */
import type { DigimeSession, UserAccessToken } from "../digime/index.ts";
import { AppError, FLOW_NOT_FOUND_PAGE } from "../errors.ts";
import type { Outcome } from "../flows/complete.ts";
import { timingSafeEqual } from "../flows/ids.ts";
import type { Services } from "../services.ts";
import { sha256 } from "../storage/crypto.ts";
import type { FlowState, UserStore } from "../storage/user-store.ts";
import { flowEndedEvent } from "../webhooks/events.ts";
import { flowEventId, type OutboundEvent } from "../webhooks/outbox.ts";
import type { FlowRead, ObjectCall } from "./api.ts";
import { flowDueAt, isOpen, nextAlarmAt } from "./schedule.ts";

/** How a flow ends: its outcome, without the token (which `end` takes on its own). */
export type FlowEnding = Omit<Outcome, "status" | "token"> & { status: "succeeded" | "failed" | "expired" | "awaiting_confirmation"; tokenVersion?: number };

/** What goes with an ending: the token digi.me issued and its session; `persist` writes the outcome instead of a plain flow write (with the token, atomically). */
export interface EndingExtras {
  token?: UserAccessToken;
  session?: DigimeSession;
  persist?: (next: FlowState) => Promise<FlowState>;
}

/** What the transitions need of their object. */
export interface FlowTransitionsOptions {
  deps: () => { services: Services; store: UserStore };
  /** After an ending: the alarm comes by the flow's next due time. */
  alarmBy: (atMs: number) => Promise<void>;
}

/** The additional data of a token kept for confirmation. */
export function pendingTokenContext(flowId: string): string {
  return `flow:v1:${flowId}:token`;
}

/** The additional data of a flow's session. */
function sessionContext(flowId: string): string {
  return `flow:v1:${flowId}:session`;
}

/** The user object's flows: reads, the one place a flow ends, and one callback at a time per flow. */
export class FlowTransitions {
  readonly #options: FlowTransitionsOptions;
  /** Flows whose callback is talking to digi.me: the alarm does not expire them meanwhile. */
  readonly busy = new Set<string>();
  /** One callback at a time per flow (a second waits and sees the first's outcome). */
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Long polls waiting for a flow to end. */
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(options: FlowTransitionsOptions) {
    this.#options = options;
  }

  /** The flow's state; a pending flow past its expiry is expired on the spot (once). */
  async current(call: ObjectCall, flowId: string, events: OutboundEvent[]): Promise<FlowState | null> {
    const state = await this.#options.deps().store.flow(flowId);
    if (!state) return null;
    if (isOpen(state) && flowDueAt(state) <= call.now && !this.busy.has(flowId)) {
      return this.end(state, { status: "expired" }, call.now, (produced) => void events.push(...produced));
    }
    return state;
  }

  /** The flow's state, or 404 `flow_not_found` for an unknown or expired one. */
  async known(call: ObjectCall, flowId: string, events: OutboundEvent[]): Promise<FlowState> {
    const state = await this.current(call, flowId, events);
    if (!state || state.status === "expired") {
      throw new AppError("flow_not_found", "this flow is unknown or has expired", { retryable: true, page: FLOW_NOT_FOUND_PAGE, detail: { flowId } });
    }
    return state;
  }

  /**
   * The one place a flow ends: records the outcome, wakes long polls, and
   * hands the event to `publish` (the caller's events, or the queue).
   */
  async end(state: FlowState, outcome: FlowEnding, nowMs: number, publish: (events: OutboundEvent[]) => Promise<void> | void, { token, session, persist }: EndingExtras = {}): Promise<FlowState> {
    const { pendingToken: _pendingToken, confirmBy: _confirmBy, ...rest } = state;
    const { services, store } = this.#options.deps();
    const { sealer, config } = services;
    // The session of a user or full-authorization flow that digi.me issued a token for: kept sealed with its outcome.
    const sealedSession = session && token ? { sealedSession: await sealer.seal(JSON.stringify(session), sessionContext(state.id)) } : {};
    let next: FlowState;
    if (outcome.status === "awaiting_confirmation") {
      // Kept sealed for the application's confirmation (POST /v1/flows/{flowId}/confirm), never stored under the user meanwhile.
      const sealed = await sealer.seal(JSON.stringify(token), pendingTokenContext(state.id));
      next = { ...rest, ...outcome, ...sealedSession, pendingToken: sealed, confirmBy: nowMs + config.flowTtlSeconds * 1000, completedAt: nowMs };
    } else {
      // An unconfirmed flow that expires keeps when its confirmation ran out: flow.expired reports it.
      const unconfirmed = outcome.status === "expired" && state.confirmBy !== undefined ? { confirmBy: state.confirmBy } : {};
      next = { ...rest, ...outcome, ...sealedSession, ...unconfirmed, completedAt: nowMs };
    }
    if (persist) next = await persist(next);
    else await store.putFlow(next);
    this.#wake(state.id);
    const announced = next.status === "awaiting_confirmation" ? undefined : token;
    const announcedSession = announced ? (session ?? (await this.session(next))) : undefined;
    await publish([{ id: flowEventId(next.id, next.status), event: flowEndedEvent(next, nowMs, announced, announcedSession) }]);
    await this.#options.alarmBy(nextAlarmAt([next], undefined, {}, 0, nowMs)!);
    return next;
  }

  /** A flow as the API reads it: its session opened (only a succeeded flow's: an unconfirmed one's is not the user's yet). */
  async read(state: FlowState): Promise<FlowRead>;
  async read(state: FlowState | null): Promise<FlowRead | null>;
  async read(state: FlowState | null): Promise<FlowRead | null> {
    if (!state) return null;
    const session = state.status === "succeeded" ? await this.session(state) : undefined;
    return session ? { ...state, session } : state;
  }

  /** The flow's session, opened, if it keeps one. */
  async session(state: FlowState): Promise<DigimeSession | undefined> {
    if (!state.sealedSession) return undefined;
    return JSON.parse(await this.#options.deps().services.sealer.open(state.sealedSession, sessionContext(state.id))) as DigimeSession;
  }

  /** Whether `presented` is the secret of the browser that launched the flow (compared in constant time, by hash). */
  async bound(state: FlowState, presented: string | undefined): Promise<boolean> {
    return presented !== undefined && state.bindingHash !== undefined && timingSafeEqual(await sha256(presented), state.bindingHash);
  }

  /** One callback at a time per flow: a duplicate waits for the first and sees its outcome. */
  async serial<T>(flowId: string, body: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(flowId) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(body);
    const tail = mine.catch(() => undefined);
    this.#locks.set(flowId, tail);
    try {
      return await mine;
    } finally {
      if (this.#locks.get(flowId) === tail) this.#locks.delete(flowId);
    }
  }

  /** Resolves when the flow ends (`end` wakes it) or after `ms`, whichever comes first. */
  waitForEnd(flowId: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let waiters = this.#waiters.get(flowId);
      if (!waiters) this.#waiters.set(flowId, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(flowId);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      waiters.add(done);
    });
  }

  #wake(flowId: string): void {
    for (const done of [...(this.#waiters.get(flowId) ?? [])]) done();
  }
}
