/**
 * What a user object answers, as data: the Worker (src/users/client.ts) and
 * the object (src/users/object.ts) both import this, never each other.
 */
import type { DigimeSession, UserAccessToken } from "../digime/index.ts";
import type { WireError } from "../errors.ts";
import type { CallbackEntry, CallbackQuery } from "../flows/complete.ts";
import type { BeginAccountFlow, BeginAuthorizeFlow, Begun, BeginUserFlow } from "../flows/begin.ts";
import type { ReauthStatus } from "../flows/status.ts";
import type { StoredToken } from "../storage/tokens.ts";
import type { FlowState, TokenCondition } from "../storage/user-store.ts";
import type { OutboundEvent } from "../webhooks/outbox.ts";

/** Who asks, and when: every call carries the user and the request's time. */
export interface ObjectCall {
  userId: string;
  /** The contract the object is for (its name's first part): the one whose key signs its digi.me calls. */
  contractId?: string;
  /** The request's clock (ms); tests set it. */
  now: number;
  requestId?: string;
  /** The caller's LOG_LEVEL: the object logs as the request would. */
  logLevel?: string;
}

/** A method's answer: its value or its error, and the events it produced (to enqueue once). */
export type Wire<T> = { ok: true; value: T; events: OutboundEvent[] } | { ok: false; error: WireError; events: OutboundEvent[] };

/** A token read's answer: the stored token, fresh enough, and whether this read refreshed it. */
export interface FreshToken extends StoredToken {
  refreshed: boolean;
}

/** A flow as the API reads it: a succeeded flow's session opened. */
export type FlowRead = FlowState & { session?: DigimeSession };

/** Launch's answer: the flow, whether this browser holds its binding, and the binding secret to set. */
export interface LaunchAnswer {
  state: FlowState;
  bound: boolean;
  /** For a pending flow: the secret this browser's cookie carries (new at the first launch). */
  secret?: string;
}

/** A callback's (or recovery's) answer. */
export interface CallbackAnswer {
  state: FlowState;
  /** Whether this browser holds the flow's binding (for a flow that had already ended). */
  bound: boolean;
  /** Whether this call ended the flow (otherwise it had ended before: a reload, a duplicate). */
  ended: boolean;
  /** digi.me issued a token but storing it failed: the token sealed for the recovery page. */
  recovery?: string;
}

/** The user object's methods, as the Worker calls them over RPC. */
export interface UserObjectApi {
  readToken(call: ObjectCall, minValiditySeconds?: number): Promise<Wire<FreshToken | null>>;
  importToken(call: ObjectCall, token: UserAccessToken, condition?: TokenCondition): Promise<Wire<number>>;
  forgetToken(call: ObjectCall, condition?: TokenCondition): Promise<Wire<null>>;
  refreshToken(call: ObjectCall, seenVersion: number): Promise<Wire<FreshToken>>;
  eraseUser(call: ObjectCall): Promise<Wire<null>>;
  reauthStatus(call: ObjectCall, sessionKey?: string): Promise<Wire<ReauthStatus>>;
  beginUserFlow(call: ObjectCall, input: BeginUserFlow): Promise<Wire<Begun>>;
  beginAccountFlow(call: ObjectCall, input: BeginAccountFlow): Promise<Wire<Begun>>;
  beginAuthorizeFlow(call: ObjectCall, input: BeginAuthorizeFlow): Promise<Wire<Begun>>;
  abandonFlow(call: ObjectCall, flowId: string): Promise<Wire<null>>;
  flow(call: ObjectCall, flowId: string, waitMs?: number): Promise<Wire<FlowRead | null>>;
  confirm(call: ObjectCall, flowId: string): Promise<Wire<FlowRead>>;
  launch(call: ObjectCall, flowId: string, presented?: string): Promise<Wire<LaunchAnswer>>;
  completeUser(call: ObjectCall, entry: CallbackEntry, query: CallbackQuery, presented?: string): Promise<Wire<CallbackAnswer>>;
  completeAccount(call: ObjectCall, entry: CallbackEntry, query: CallbackQuery, presented?: string): Promise<Wire<CallbackAnswer>>;
  recover(call: ObjectCall, entry: CallbackEntry, sealed: string, presented?: string): Promise<Wire<CallbackAnswer>>;
}
