/**
 * Webhook steps of the QA runner: expect an event at the stack's recording
 * receiver (harness/webhook-receiver.ts) within a deadline, check its
 * signature, token and delivery count; or make the receiver refuse the next
 * deliveries for this scenario's user (an endpoint that is down, then recovers).
 */
import { isDeepStrictEqual } from "node:util";
import type { ReceivedWebhook } from "../harness/webhook-receiver.ts";
import type { ScenarioFile, WebhookOutageStep, WebhookStep } from "./schema.ts";
import { describeVersion, versionHolds, type SavedVersions } from "./versions.ts";

/** What a webhook step needs from the runner. */
export interface WebhookStepContext {
  /** The receiver's origin. */
  receiver: string;
  userId: string;
  flowId?: string;
  /** The started flow's expiresAt (ms). */
  expiresAt?: number;
  /** The imported token's refresh-token expiry (ms). */
  refreshTokenExpiresAt?: number;
  failures: Array<{ where: string; expected: unknown; actual: unknown }>;
  /** Reads the edge's stored token for the user (GET /v1/users/:userId/token). */
  storedToken: () => Promise<unknown>;
  /** Reads the stored token's version (`versionIsStored`). */
  storedVersion?: () => Promise<number | undefined>;
  /** Versions saved by earlier steps (`version: first`). */
  versions?: SavedVersions;
  /** The step's contract, when the file names contracts: token events are that contract's (a user has a token per contract). */
  contractId?: string;
}

/** The longest flow TTL the expiry scenarios wait for: 2 minutes (the runner's own stack uses 60 s). */
export const MAX_EXPIRY_WAIT_SECONDS = 120;

/** Events about the user's token, not a flow: matched by the scenario's user alone. */
export function isTokenEvent(type: string): boolean {
  return type.startsWith("token.");
}

/** Whether a scenario has webhook steps. */
export function usesWebhooks(scenario: ScenarioFile): boolean {
  return scenario.steps.some((s) => "webhook" in s || "webhookOutage" in s);
}

/**
 * Why a scenario with webhook steps cannot run against this target, if it
 * cannot: no receiver answers, or the target's flows live too long to wait
 * for an expiry. The flow TTL comes from `/healthz`'s configuration, which
 * the edge shows only to a caller with an API key (`apiKey`).
 */
export async function webhookSkipReason(scenario: ScenarioFile, receiver: string | undefined, target: string, apiKey?: string): Promise<string | undefined> {
  if (!usesWebhooks(scenario)) return undefined;
  if (!receiver) return "no webhook receiver (--webhooks URL)";
  try {
    await fetch(`${receiver}/__webhooks/received?userId=-`, { signal: AbortSignal.timeout(2000) });
  } catch {
    return `no webhook receiver answers at ${receiver}`;
  }
  const types = scenario.steps.flatMap((s) => ("webhook" in s ? [s.webhook] : []));
  const needsTtl = types.some((w) => w.afterExpiry && !isTokenEvent(w.type));
  const needsNotice = types.some((w) => w.type === "token.expiring" || w.type === "token.expired");
  if (!needsTtl && !needsNotice) return undefined;
  // /healthz shows its configuration only to a caller with the API key.
  const headers: Record<string, string> = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
  const health = (await (await fetch(`${target}/healthz`, { headers })).json().catch(() => ({}))) as { config?: { flowTtlSeconds?: number; tokenExpiringNoticeSeconds?: number } };
  if (needsTtl) {
    const ttl = health.config?.flowTtlSeconds;
    if (ttl === undefined) return `the target's flow TTL is unknown: /healthz shows its configuration only to a caller with a valid API key (--api-key)`;
    if (ttl > MAX_EXPIRY_WAIT_SECONDS) return `the target's flows live ${ttl} s; expiry scenarios need FLOW_TTL_SECONDS ≤ ${MAX_EXPIRY_WAIT_SECONDS} (npm run qa's own stack uses 60)`;
  }
  if (needsNotice) {
    const notice = health.config?.tokenExpiringNoticeSeconds;
    if (notice === undefined) return "the target does not announce expiring tokens (its /healthz has no tokenExpiringNoticeSeconds)";
    const lifetime = scenario.user.refreshTokenLifetime;
    if (lifetime === undefined) return "token.expiring / token.expired steps need user.refreshTokenLifetime (a token that expires during the run)";
    // token.expiring is due TOKEN_EXPIRING_NOTICE_SECONDS before the expiry: at once when the token lives no longer.
    if (types.some((w) => w.type === "token.expiring") && notice < lifetime) {
      return `the target sends token.expiring ${notice} s before a refresh token expires; this scenario's token lives ${lifetime} s (TOKEN_EXPIRING_NOTICE_SECONDS ≥ ${lifetime} needed; the default is 7 days)`;
    }
  }
  return undefined;
}

async function received(ctx: WebhookStepContext, type: string): Promise<ReceivedWebhook[]> {
  const query = new URLSearchParams({ userId: ctx.userId, type });
  const answer = (await (await fetch(`${ctx.receiver}/__webhooks/received?${query}`)).json()) as { received: ReceivedWebhook[] };
  // Flow events belong to this scenario's flow; token events (no flowId) to its user, which the query named.
  return answer.received.filter((e) => (isTokenEvent(type) ? ctx.contractId === undefined || e.event?.data.contractId === ctx.contractId : e.flowId === ctx.flowId));
}

function countHolds(expected: number | string, actual: number): boolean {
  if (typeof expected === "number") return actual === expected;
  const [, op, n] = /^(>=|<=|>|<)(\d+)$/.exec(expected)!;
  const limit = Number(n);
  return op === ">=" ? actual >= limit : op === "<=" ? actual <= limit : op === ">" ? actual > limit : actual < limit;
}

/** Runs a `webhook` step: waits for the event, then checks it. */
export async function runWebhookStep(ctx: WebhookStepContext, step: WebhookStep, at: (field: string) => string): Promise<{ label: string; summary: string }> {
  const { type, within, afterExpiry } = step.webhook;
  const label = `webhook ${type}`;
  const tokenEvent = isTokenEvent(type);
  if (!tokenEvent && !ctx.flowId) throw new Error(`${label}: no flow was started before`);
  // afterExpiry: the flow's expiry for flow events, the imported refresh token's for token events.
  const expiry = tokenEvent ? ctx.refreshTokenExpiresAt : ctx.expiresAt;
  if (afterExpiry && expiry === undefined) throw new Error(`${label}: afterExpiry needs ${tokenEvent ? "an imported token" : "a started flow"}`);
  const began = Date.now();
  const deadline = (afterExpiry ? expiry! : began) + within * 1000;
  let entries: ReceivedWebhook[];
  let accepted: ReceivedWebhook | undefined;
  for (;;) {
    entries = await received(ctx, type);
    accepted = entries.find((e) => e.answered >= 200 && e.answered < 300);
    if (accepted || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const waited = afterExpiry ? `${within} s after the ${tokenEvent ? "refresh token's" : "flow's"} expiry` : `${within} s`;
  if (!accepted) {
    ctx.failures.push({
      where: at(`webhook: a ${type} event accepted by the receiver within ${waited}`),
      expected: "one",
      actual: entries.length ? `${entries.length} attempt(s), answered ${entries.map((e) => e.answered).join(", ")}` : "none",
    });
    return { label, summary: "none arrived" };
  }
  const expect = step.expect;
  const deliveries = entries.filter((e) => e.webhookId === accepted.webhookId);
  if (expect.signatureValid !== undefined && accepted.verified !== expect.signatureValid) {
    ctx.failures.push({ where: at("webhook: signature valid (standardwebhooks)"), expected: expect.signatureValid, actual: accepted.verifyError ?? accepted.verified });
  }
  const data = accepted.event?.data ?? {};
  if (expect.token !== undefined) {
    const present = data.token !== undefined;
    if (present !== (expect.token === "present")) ctx.failures.push({ where: at("webhook: token"), expected: expect.token, actual: present ? "present" : "absent" });
  }
  if (expect.tokenIsStored) {
    const stored = await ctx.storedToken();
    if (JSON.stringify(stored) !== JSON.stringify(data.token)) ctx.failures.push({ where: at("webhook: token equals the edge's stored token"), expected: "equal", actual: "different" });
  }
  if (expect.errorCode !== undefined && (data.errorCode ?? null) !== expect.errorCode) {
    ctx.failures.push({ where: at("webhook: errorCode"), expected: expect.errorCode, actual: data.errorCode ?? null });
  }
  if (expect.deliveries !== undefined && !countHolds(expect.deliveries, deliveries.length)) {
    ctx.failures.push({ where: at(`webhook: deliveries of ${accepted.webhookId} (the same webhook-id each attempt)`), expected: expect.deliveries, actual: deliveries.length });
  }
  if (expect.events !== undefined) {
    const distinct = new Set(entries.map((e) => e.webhookId)).size;
    if (!countHolds(expect.events, distinct)) ctx.failures.push({ where: at(`webhook: distinct ${type} events (webhook-ids) so far`), expected: expect.events, actual: distinct });
  }
  if (expect.expiresAtIsStored !== undefined) {
    const stored = (await ctx.storedToken()) as { accessToken?: { expiry?: number }; refreshToken?: { expiry?: number } } | undefined;
    const iso = (seconds: number | undefined) => (seconds === undefined ? undefined : new Date(seconds * 1000).toISOString());
    const named = { refreshTokenExpiresAt: data.refreshTokenExpiresAt, ...(data.accessTokenExpiresAt !== undefined ? { accessTokenExpiresAt: data.accessTokenExpiresAt } : {}) };
    const storedView = { refreshTokenExpiresAt: iso(stored?.refreshToken?.expiry), ...(data.accessTokenExpiresAt !== undefined ? { accessTokenExpiresAt: iso(stored?.accessToken?.expiry) } : {}) };
    const same = JSON.stringify(named) === JSON.stringify(storedView);
    if (same !== expect.expiresAtIsStored) ctx.failures.push({ where: at("webhook: the event's expiries are the stored token's"), expected: expect.expiresAtIsStored ? storedView : "different", actual: named });
  }
  if (expect.version !== undefined) {
    const saved = ctx.versions ?? new Map<string, number>();
    if (!versionHolds(saved, expect.version, data.version)) ctx.failures.push({ where: at("webhook: version"), expected: describeVersion(saved, expect.version), actual: data.version ?? "(none)" });
  }
  if (expect.versionIsStored !== undefined) {
    const stored = await ctx.storedVersion?.();
    const same = typeof data.version === "number" && data.version === stored;
    if (same !== expect.versionIsStored) ctx.failures.push({ where: at("webhook: the event's version is the stored token's"), expected: expect.versionIsStored ? (stored ?? "(no stored version)") : "another", actual: data.version ?? "(none)" });
  }
  if (expect.session !== undefined) {
    const session = data.session as { key?: unknown; expiry?: unknown } | undefined;
    const present = typeof session?.key === "string" && session.key !== "";
    if (present !== (expect.session === "present")) ctx.failures.push({ where: at("webhook: session ({ key, expiry })"), expected: expect.session, actual: session === undefined ? "absent" : JSON.stringify(session) });
  }
  if (expect.identity !== undefined && data.identity !== expect.identity) ctx.failures.push({ where: at("webhook: identity"), expected: expect.identity, actual: data.identity ?? "(none)" });
  if (expect.contractId !== undefined && data.contractId !== expect.contractId) ctx.failures.push({ where: at("webhook: data.contractId"), expected: expect.contractId, actual: data.contractId ?? "(none)" });
  if (expect.reason !== undefined && data.reason !== expect.reason) ctx.failures.push({ where: at("webhook: reason"), expected: expect.reason, actual: data.reason ?? "(none)" });
  if (expect.next !== undefined) {
    const body = expect.next === "user_reauth" ? { userId: ctx.userId } : { userId: ctx.userId, allowFullAuthorization: true };
    const next = { method: "POST", path: "/v1/reauth/user", body };
    if (!isDeepStrictEqual(data.next, next)) ctx.failures.push({ where: at("webhook: next (the call that recovers)"), expected: next, actual: data.next ?? "(none)" });
  }
  const after = accepted.receivedAt - (afterExpiry ? expiry! : began);
  return { label, summary: `${accepted.verified ? "signature valid" : "signature INVALID"}, ${deliveries.length} deliver${deliveries.length === 1 ? "y" : "ies"}, ${Math.max(0, after)} ms ${afterExpiry ? "after the expiry" : "after the step began"}, ${accepted.latencyMs ?? "?"} ms from enqueue` };
}

/** Runs a `webhookOutage` step: the receiver refuses this user's next deliveries. */
export async function runWebhookOutageStep(ctx: Pick<WebhookStepContext, "receiver" | "userId">, step: WebhookOutageStep): Promise<{ label: string; summary: string }> {
  const response = await fetch(`${ctx.receiver}/__webhooks/outage`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ userId: ctx.userId, failures: step.webhookOutage.failures, status: step.webhookOutage.status }),
  });
  if (!response.ok) throw new Error(`the webhook receiver refused the outage: ${response.status}`);
  return { label: "webhook outage", summary: `the next ${step.webhookOutage.failures} deliveries answer ${step.webhookOutage.status}` };
}
