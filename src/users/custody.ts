/**
 * The user object's custody of the user's token: versioned, conditional
 * writes, the one refresh per refresh token (single flight), fresh reads,
 * and the refusals it remembers. The object (object.ts) coordinates; this
 * module owns what happens to the token.
 *
 * Every write names what it expects to find (`TokenCondition`), the edge's own
 * included: a refresh stores its result only over the version it refreshed,
 * so a token the backend deleted or replaced while digi.me was answering stays
 * deleted or replaced, and no `token.rotated` carries the lineage it dropped.
 */
import { DigimeError, type UserAccessToken } from "../digime/index.ts";
import { namedContract } from "../config/contracts.ts";
import { AppError, refreshRefusalReason } from "../errors.ts";
import type { Custody } from "../flows/custody.ts";
import { timingSafeEqual } from "../flows/ids.ts";
import { log, type LogScope } from "../log.ts";
import type { Services } from "../services.ts";
import { sha256 } from "../storage/crypto.ts";
import { isStorageUnavailable } from "../storage/errors.ts";
import type { StoredToken } from "../storage/tokens.ts";
import type { FlowState, TokenCondition, UserStore } from "../storage/user-store.ts";
import { tokenRefreshFailedEvent, tokenRotatedEvent, userReauthStart } from "../webhooks/events.ts";
import { newEventId, type OutboundEvent } from "../webhooks/outbox.ts";
import type { FreshToken, ObjectCall } from "./api.ts";

/** What the custody needs of its object. */
export interface TokenKeeperOptions {
  deps: () => { services: Services; store: UserStore };
  /** After a token write: the alarm comes by the token's notice. */
  alarmForToken: (refreshTokenExpiry: number, nowMs: number) => Promise<void>;
  scope: (call?: ObjectCall) => LogScope;
}

/** The refusal a refresh token digi.me refused once gets, without asking digi.me again (saying why digi.me refused it). */
function refusedAgain(reason: "expired" | "invalid" = "invalid"): DigimeError {
  return new DigimeError({
    kind: "api",
    code: "InvalidToken",
    status: 401,
    tokenSubject: "refresh_token",
    call: "oauth/token",
    message: `digi.me refused this refresh token before (${reason === "expired" ? "it is expired" : "it is not valid"}); it is not sent again`,
  });
}

/**
 * A refused refresh as the backend gets it (409 `refresh_token_expired`):
 * with `next`, the exact start that brings the user back, as
 * `token.refresh_failed` carries it — naming the contract when it is not the
 * default, allowing full authorization when the refresh token was invalid.
 */
export function withNextStart(failure: AppError, call: Pick<ObjectCall, "userId" | "contractId">, defaultContractId: string): AppError {
  if (failure.code !== "refresh_token_expired") return failure;
  const reason = failure.init.extra?.reason === "expired" ? "expired" : "invalid";
  const next = userReauthStart(call.userId, reason, namedContract(call.contractId, defaultContractId));
  return AppError.withStatus(failure.status, failure.code, failure.message, { ...failure.init, extra: { ...failure.init.extra, next } });
}

/** The token was deleted while something was using it. */
function tokenGone(userId: string): AppError {
  return new AppError("token_not_found", `no digi.me token is stored for user ${userId} (it was deleted meanwhile)`, {
    hint: "store one with PUT /v1/users/{userId}/token",
  });
}

/** A conditional write found another version. */
export function tokenChanged(current: number | null): AppError {
  return new AppError("token_changed", current === null ? "no token is stored for this user now" : `the stored token is at version ${current} now`, {
    hint: "read the token again (GET /v1/users/{userId}/token) and decide with what it answers; send its ETag as If-Match",
    extra: { currentVersion: current },
  });
}

/** A write over a stored token that named no version. */
function preconditionRequired(current: number | null): AppError {
  return new AppError("precondition_required", "a token is stored for this user: say which version you replace", {
    hint: 'send If-Match: "<version>" with the ETag of your last read of the token, or If-None-Match: * to store only when none is stored',
    extra: { currentVersion: current },
  });
}

/** One user object's custody of its user's token. */
export class TokenKeeper {
  readonly #options: TokenKeeperOptions;
  /** Refreshes running now, by the refresh token they spend. */
  readonly #refreshing = new Map<string, Promise<UserAccessToken>>();

  constructor(options: TokenKeeperOptions) {
    this.#options = options;
  }

  get #store(): UserStore {
    return this.#options.deps().store;
  }

  /** The custody a flow step works with. */
  custody(call: ObjectCall, events: OutboundEvent[]): Custody {
    return {
      userId: call.userId,
      token: () => this.#store.token(call.userId),
      store: async (token) => (await this.write(call, token)).version,
      refresh: (seen) => this.refresh(call, seen, events),
    };
  }

  /**
   * The token, never one whose access token expires within `minValiditySeconds`:
   * refreshed first when it would (the one refresh of its refresh token). A
   * refreshed token that digi.me still issued short-lived is answered as it is.
   */
  async fresh(call: ObjectCall, minValiditySeconds: number, events: OutboundEvent[]): Promise<FreshToken | null> {
    const stored = await this.#store.token(call.userId);
    if (!stored) return null;
    if (stored.token.accessToken.expiry * 1000 - call.now > minValiditySeconds * 1000) return { ...stored, refreshed: false };
    return this.#refreshed(call, stored, events);
  }

  /**
   * After digi.me refused the access token of version `seenVersion` (a read
   * through the edge): the refresh of that token, or the newer token already
   * stored; answered whole, for the Worker's retry.
   */
  async refreshFrom(call: ObjectCall, seenVersion: number, events: OutboundEvent[]): Promise<FreshToken> {
    const stored = await this.#store.token(call.userId);
    if (!stored) throw tokenGone(call.userId);
    if (stored.version !== seenVersion) return { ...stored, refreshed: false };
    return this.#refreshed(call, stored, events);
  }

  /** Refreshes `stored` (once, shared) and answers what is stored after it, with its version. */
  async #refreshed(call: ObjectCall, stored: StoredToken, events: OutboundEvent[]): Promise<FreshToken> {
    await this.refresh(call, stored.token, events);
    const latest = await this.#store.token(call.userId);
    if (!latest) throw tokenGone(call.userId);
    return { ...latest, refreshed: true };
  }

  /**
   * Stores a token: unconditionally for one digi.me just issued through the
   * edge (reauthorization, confirm, recovery); as `condition` says for the
   * backend's. Without a condition from the backend, only while none is
   * stored (428 otherwise: no blind overwrite).
   */
  async write(call: ObjectCall, token: UserAccessToken, backend?: { condition?: TokenCondition }, flow?: (version: number) => FlowState): Promise<StoredToken> {
    const condition = backend ? (backend.condition ?? { absent: true }) : undefined;
    const written = await this.#store.putToken(call.userId, token, call.now, condition, flow);
    if (!written.written) throw backend?.condition ? tokenChanged(written.current) : preconditionRequired(written.current);
    const record = written.record!;
    await this.#options.alarmForToken(token.refreshToken.expiry, call.now);
    return { token, updatedAt: record.updatedAt, version: record.version! };
  }

  /** Forgets the token, if the stored one meets `condition`. */
  async forget(condition?: TokenCondition): Promise<void> {
    // The alarm may now come for nothing; it then sets itself again from what is left.
    const done = await this.#store.deleteToken(condition);
    if (!done.written) throw tokenChanged(done.current);
  }

  /** The refresh of `seen`, or the newer token already stored; one digi.me call per refresh token, ever. */
  async refresh(call: ObjectCall, seen: UserAccessToken, events: OutboundEvent[]): Promise<UserAccessToken> {
    const store = this.#store;
    const key = seen.refreshToken.value;
    const running = this.#refreshing.get(key);
    if (running) return running;
    const current = await store.token(call.userId);
    if (!current) throw tokenGone(call.userId);
    if (current.token.refreshToken.value !== key) return current.token;
    const meta = await store.meta();
    if (meta.refusedRefreshHash !== undefined && timingSafeEqual(meta.refusedRefreshHash, await sha256(key))) throw refusedAgain(meta.refusedReason);
    // Checked again: the awaits above let another caller start this refresh meanwhile.
    const started = this.#refreshing.get(key);
    if (started) return started;
    const refresh = this.#run(call, current, events).finally(() => this.#refreshing.delete(key));
    this.#refreshing.set(key, refresh);
    return refresh;
  }

  async #run(call: ObjectCall, base: StoredToken, events: OutboundEvent[]): Promise<UserAccessToken> {
    const { services, store } = this.#options.deps();
    let rotated: UserAccessToken;
    try {
      rotated = await services.forContract(call.contractId).digime.refreshToken(base.token);
    } catch (error) {
      if (error instanceof DigimeError && error.isInvalidToken("refresh_token")) {
        // Remembered, so the next caller meets refusedAgain() without asking digi.me: announced once per refresh token.
        await store.putMeta({ ...(await store.meta()), refusedRefreshHash: await sha256(base.token.refreshToken.value), refusedReason: refreshRefusalReason(error) });
        // The start that brings the user back names a contract other than the default, as any start must.
        events.push({ id: newEventId(), event: tokenRefreshFailedEvent(call.userId, refreshRefusalReason(error), base.version, call.now, namedContract(call.contractId, services.config.contractId)) });
      }
      throw error;
    }
    let written;
    try {
      written = await store.putToken(call.userId, rotated, call.now, { version: base.version });
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      // The old refresh token is dead and this pair exists nowhere else: the caller and the webhook carry it.
      events.push({ id: newEventId(), event: tokenRotatedEvent(call.userId, rotated, call.now) });
      throw new AppError("token_not_stored", "digi.me issued a new token but storage failed; keep the token in this answer", {
        retryable: true,
        hint: "store error.token with PUT /v1/users/{userId}/token, sending If-Match with the version you last read (or If-None-Match: * when none is stored)",
        extra: { token: rotated },
        cause: error,
      });
    }
    if (!written.written) {
      // Deleted or replaced while digi.me answered: that change stands, and the lineage refreshed here is dropped.
      log(this.#options.scope(call), "info", "refresh_dropped", { refreshedVersion: base.version, currentVersion: written.current });
      const latest = await store.token(call.userId);
      if (!latest) throw tokenGone(call.userId);
      return latest.token;
    }
    events.push({ id: newEventId(), event: tokenRotatedEvent(call.userId, rotated, call.now, written.record!.version) });
    await this.#options.alarmForToken(rotated.refreshToken.expiry, call.now);
    return rotated;
  }
}
