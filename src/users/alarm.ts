/**
 * The user object's alarm: what the object does unasked. It expires due
 * flows, forgets outcomes after their hour, keeps the token alive
 * (TOKEN_KEEPALIVE_SECONDS), sends `token.expiring` / `token.expired`, and
 * sets itself for the next of these. The object (object.ts) coordinates;
 * when things are due is schedule.ts, pure.
 */
import { DigimeError } from "../digime/index.ts";
import { log, type LogScope } from "../log.ts";
import type { Services } from "../services.ts";
import { TOKEN_KEEPALIVE_RETRY_SECONDS } from "../storage/keys.ts";
import type { FlowState, UserStore, WriteOptions } from "../storage/user-store.ts";
import { tokenExpiredEvent, tokenExpiringEvent } from "../webhooks/events.ts";
import { newEventId, type OutboundEvent } from "../webhooks/outbox.ts";
import type { TokenKeeper } from "./custody.ts";
import { dueTokenNotice, flowDueAt, isOpen, keepAliveDueAt, nextAlarmAt } from "./schedule.ts";

/** How long the alarm waits to look again at a flow whose callback is still exchanging: 5 seconds. */
export const EXCHANGE_RECHECK_MS = 5_000;

/** What the alarm needs of its object. */
export interface ObjectAlarmOptions {
  deps: () => { services: Services; store: UserStore };
  /** The alarm as the runtime holds it (`null`: none). */
  stored: () => Promise<number | null>;
  /** Flows whose callback is talking to digi.me: left to the callback. */
  busy: ReadonlySet<string>;
  /** Ends a flow (the object's one place for it) and hands its event to `publish`. */
  expire: (flow: FlowState, nowMs: number, publish: (events: OutboundEvent[]) => void) => Promise<FlowState>;
  keeper: () => TokenKeeper;
  scope: () => LogScope;
  /** Where the alarm's events go (the webhook queue), each already naming its contract. */
  publish: (events: OutboundEvent[], contractId: string | undefined) => Promise<void>;
}

/** The user object's alarm: when it is set, and what it does when it rings. */
export class ObjectAlarm {
  readonly #options: ObjectAlarmOptions;
  /** The alarm as this instance last set or read it (`null`: none; `undefined`: not read yet). */
  #at: number | null | undefined;

  constructor(options: ObjectAlarmOptions) {
    this.#options = options;
  }

  /** Everything was erased, the alarm with it. */
  cleared(): void {
    this.#at = null;
  }

  /**
   * After a write: makes sure the alarm comes no later than `atMs`. An alarm
   * already set earlier stays (it recomputes everything when it runs, so an
   * early one costs nothing but a look), which spares most writes a second
   * commit and the reads a full recompute needs.
   */
  async by(atMs: number, options?: WriteOptions): Promise<void> {
    if (this.#at === undefined) this.#at = await this.#options.stored();
    if (this.#at !== null && this.#at <= atMs) return;
    await this.#options.deps().store.setAlarm(atMs, options);
    this.#at = atMs;
  }

  /** After a token write: the alarm comes by its `token.expiring` notice (or its lapse, or its keep-alive). */
  async forToken(refreshTokenExpiry: number, nowMs: number): Promise<void> {
    const { services, store } = this.#options.deps();
    const { tokenExpiringNoticeSeconds, tokenKeepAliveSeconds } = services.config;
    const at = nextAlarmAt([], { refreshTokenExpiry, updatedAt: nowMs }, await store.meta(), tokenExpiringNoticeSeconds, nowMs, tokenKeepAliveSeconds);
    if (at !== undefined) await this.by(at);
  }

  /** Expires due flows, forgets old outcomes, keeps the token alive, sends token notices, then sets the next alarm. */
  async ring(now: number): Promise<void> {
    const { services, store } = this.#options.deps();
    const { busy, scope } = this.#options;
    this.#at = null; // the runtime cleared it to run this
    const { userId, contractId } = await store.meta();
    const events: OutboundEvent[] = [];
    try {
      for (const flow of await store.flows()) {
        // A flow whose callback is exchanging is left to the callback: its outcome decides (#schedule looks again later).
        if (flowDueAt(flow) > now || (isOpen(flow) && busy.has(flow.id))) continue;
        if (isOpen(flow)) {
          await this.#options.expire(flow, now, (produced) => void events.push(...produced));
          log(scope(), "info", "flow_expired", { flowId: flow.id, kind: flow.kind });
        } else {
          await store.deleteFlow(flow.id);
        }
      }
      if (userId !== undefined) await this.#keepAlive(userId, contractId, now, events);
      // Read after the keep-alive: a refresh it made replaced the token, and what is due of notices with it.
      const record = await store.tokenRecord();
      const meta = await store.meta();
      const notice = record && userId !== undefined ? dueTokenNotice(record, meta, services.config.tokenExpiringNoticeSeconds, now) : undefined;
      if (record && userId !== undefined && notice) {
        const expiry = record.refreshTokenExpiry;
        const event = notice === "expired" ? tokenExpiredEvent(userId, expiry, now) : tokenExpiringEvent(userId, record, now);
        events.push({ id: newEventId(), event });
        // After `expired` it is too late to warn.
        await store.putMeta({ ...meta, expiringSentFor: expiry, ...(notice === "expired" ? { expiredSentFor: expiry } : {}) });
      }
    } finally {
      // What was written is announced even when a later step failed: the retried alarm finds those flows ended and announces them no more.
      if (events.length) await this.#options.publish(events, contractId);
    }
    await this.#schedule(now);
  }

  /**
   * Sets the alarm to the earliest thing the object must do unasked: a
   * pending flow's expiry, an outcome's end of keeping, a token notice. Run by
   * the alarm itself, which looks at everything.
   */
  async #schedule(nowMs: number): Promise<void> {
    const { services, store } = this.#options.deps();
    const { busy } = this.#options;
    const [flows, record, meta] = await Promise.all([store.flows(), store.tokenRecord(), store.meta()]);
    // A flow whose callback is exchanging is looked at again after the recheck, never at once: its past expiry would make the alarm spin.
    const exchanging = flows.some((flow) => busy.has(flow.id) && isOpen(flow));
    const idle = flows.filter((flow) => !(busy.has(flow.id) && isOpen(flow)));
    const due = nextAlarmAt(idle, record, meta, services.config.tokenExpiringNoticeSeconds, nowMs, services.config.tokenKeepAliveSeconds);
    const at = exchanging ? Math.min(due ?? Infinity, nowMs + EXCHANGE_RECHECK_MS) : due;
    await store.setAlarm(at);
    this.#at = at ?? null;
  }

  /**
   * Keep-alive (TOKEN_KEEPALIVE_SECONDS): refreshes the token when its
   * refresh token is about to expire, through the one refresh. A refusal stops
   * it for that token (and is announced as any refused refresh is); digi.me
   * not answering makes it try again later.
   */
  async #keepAlive(userId: string, contractId: string | undefined, now: number, events: OutboundEvent[]): Promise<void> {
    const { services, store } = this.#options.deps();
    const record = await store.tokenRecord();
    const due = record ? keepAliveDueAt(record, await store.meta(), services.config.tokenKeepAliveSeconds) : undefined;
    if (!record || due === undefined || due > now) return;
    const stored = await store.token(userId);
    if (!stored) return;
    try {
      await this.#options.keeper().refresh({ userId, now, ...(contractId ? { contractId } : {}) }, stored.token, events);
      log(this.#options.scope(), "info", "token_kept_alive", { version: stored.version });
    } catch (error) {
      const refused = error instanceof DigimeError && error.isInvalidToken("refresh_token");
      const meta = await store.meta();
      await store.putMeta(refused ? { ...meta, keepAliveGaveUpFor: record.refreshTokenExpiry } : { ...meta, keepAliveNotBefore: now + TOKEN_KEEPALIVE_RETRY_SECONDS * 1000 });
      log(this.#options.scope(), refused ? "warn" : "error", "keep_alive_failed", { refused, cause: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  }
}
