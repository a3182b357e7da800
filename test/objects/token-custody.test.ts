/**
 * Custody to the backend's door (issue 23): a token read is always fresh, the
 * token is versioned and every write of it is conditional (the edge's own
 * refreshes included), a refused refresh is announced once, and the session
 * a flow opened reaches the backend. The backend is modelled as digi.me's
 * official SDK makes one (test/support/backend.ts): it refreshes on its own
 * whenever a read says "expired".
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { scenarioSchema, type MockDigime, type MockUser, type ScenarioInput } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import type { UserAccessToken } from "../../src/digime/index.ts";
import type { Env } from "../../src/env.ts";
import { getServices } from "../../src/services.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import { WebhookEventSchema, type WebhookEvent } from "../../src/webhooks/events.ts";
import { APP, apiCaller, TestBrowser } from "../support/app.ts";
import { SdkBackend } from "../support/backend.ts";
import { useTestMock } from "../support/mock.ts";
import { objectServicesFrom, restoreObjectWiringAfterEach, userObject, wireObjects } from "../support/objects.ts";
import { quietConsole } from "../support/quiet.ts";
import { appWithWaitUntil, webhookEnv } from "../support/webhooks.ts";

const testMock = useTestMock();
quietConsole();
restoreObjectWiringAfterEach();

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The refreshes digi.me received. */
function refreshes(mock: MockDigime) {
  return mock.journal.filter((e) => e.endpoint === "oauth/token" && e.claims?.grant_type === "refresh_token");
}

/**
 * The edge, its user objects, the backend and the mock on one clock that a
 * test moves forward; webhooks on, into a recording queue.
 */
function world(overrides: Partial<Env> = {}) {
  let offset = 0;
  const now = () => Date.now() + offset;
  const { env, queue } = webhookEnv(overrides);
  wireObjects(objectServicesFrom(env, { now }));
  const { request, settled } = appWithWaitUntil({ now });
  const api = apiCaller((path, init) => request(path, init, env));
  const services = getServices(parseConfig(env), env, { now });
  const backend = new SdkBackend(services.digime, api);
  /** The events enqueued so far (after the answers' waitUntil work). */
  const events = async (): Promise<WebhookEvent[]> => {
    await settled();
    const sent = queue.sent.filter((m) => m.body.kind === "deliver").map((m) => m.body as DeliverMessage);
    return Promise.all(sent.map(async (m) => WebhookEventSchema.parse(JSON.parse(await services.webhooks.openPayload(m)))));
  };
  return {
    env: env as Env,
    api,
    request: (path: string, init?: RequestInit) => request(path, init, env),
    backend,
    digime: services.digime,
    events,
    advance: (ms: number) => {
      offset += ms;
      testMock.mock.advanceClock(ms);
    },
    /** Moves only the edge's clock (the mock's stays): what the edge writes now is dated `ms` later. */
    shiftEdge: (ms: number) => void (offset += ms),
  };
}

type World = ReturnType<typeof world>;

/** A mock user whose token (access token living `accessMs`) the edge keeps; answers it and its version. */
async function enroll(w: World, options: { accessMs?: number; refreshMs?: number; scenario?: ScenarioInput } = {}) {
  const { user } = testMock.mock.createUser({ accounts: 2 });
  const token = testMock.mock.issueToken(user, { accessTokenMs: options.accessMs, refreshTokenMs: options.refreshMs });
  const put = await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
  expect(put.status).toBe(204);
  // After the token: a scenario such as refresh-expired applies to tokens issued before it (whatever the milliseconds).
  if (options.scenario) testMock.mock.setUserScenario(user, scenarioSchema.parse(options.scenario));
  return { user, token, etag: put.headers.get("ETag")! };
}

type TokenAnswer = { token: UserAccessToken; version: number; accessTokenExpiresIn: number; refreshed: boolean };

async function readToken(w: World, userId: string, query = ""): Promise<{ status: number; etag: string | null; body: TokenAnswer & { error?: { code: string; hint?: string } } }> {
  const answer = await w.api(`/v1/users/${userId}/token${query}`);
  return { status: answer.status, etag: answer.headers.get("ETag"), body: (await answer.json()) as TokenAnswer & { error?: { code: string } } };
}

const rotations = (events: WebhookEvent[]) => events.filter((e) => e.type === "token.rotated");

describe("a token read is always fresh", () => {
  it("a backend that takes every token from the edge never refreshes itself over three access-token lifetimes, and each refresh reaches digi.me once, from the edge", async () => {
    const w = world();
    const { user } = await enroll(w);
    const versions = new Set<number>();
    for (let elapsed = 0; elapsed <= 3 * HOUR + 15 * MINUTE; elapsed += 15 * MINUTE) {
      const read = await w.backend.viaEdge(user.id);
      expect(read).toMatchObject({ ok: true, refreshedItself: false });
      if (read.ok) versions.add(read.version);
      expect((await readToken(w, user.id)).body.accessTokenExpiresIn).toBeGreaterThan(300);
      w.advance(15 * MINUTE);
    }
    expect(w.backend.refreshes).toEqual([]);
    const seen = refreshes(testMock.mock);
    // One refresh per access-token lifetime (1 hour at the mock), each spending another refresh token, none refused.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((e) => e.status === 201)).toBe(true);
    expect(new Set(seen.map((e) => e.claims?.refresh_token)).size).toBe(seen.length);
    // Each refresh the edge made stored a new version, and was announced once.
    expect(versions.size).toBe(seen.length + 1);
    expect(rotations(await w.events())).toHaveLength(seen.length);
  });

  it("answers the stored token with its version, ETag and seconds left, and asks digi.me nothing while it is fresh enough", async () => {
    const w = world();
    const { user, token, etag } = await enroll(w);
    const answer = await readToken(w, user.id);
    expect(answer.status).toBe(200);
    expect(answer.etag).toBe(etag);
    expect(answer.body).toMatchObject({ token, version: Number(JSON.parse(etag)), refreshed: false });
    expect(answer.body.accessTokenExpiresIn).toBeGreaterThan(HOUR / 1000 - 60);
    expect(refreshes(testMock.mock)).toHaveLength(0);
  });

  it("refreshes first when the access token expires within minValidity, and only then", async () => {
    const w = world();
    const { user, token } = await enroll(w, { accessMs: 10 * MINUTE });
    expect((await readToken(w, user.id, "?minValidity=0")).body.refreshed).toBe(false);
    expect((await readToken(w, user.id)).body.refreshed).toBe(false);
    expect(refreshes(testMock.mock)).toHaveLength(0);
    const longer = await readToken(w, user.id, "?minValidity=900");
    expect(longer.body.refreshed).toBe(true);
    expect(longer.body.token.refreshToken.value).not.toBe(token.refreshToken.value);
    expect(longer.body.version).toBeGreaterThan(1);
    expect(longer.body.accessTokenExpiresIn).toBeGreaterThan(900);
    expect(refreshes(testMock.mock)).toHaveLength(1);
    const [rotated] = rotations(await w.events());
    expect(rotated?.data).toMatchObject({ userId: user.id, version: longer.body.version, token: longer.body.token });
  });

  it("refuses a minValidity that is not a whole number of seconds from 0 to 1800", async () => {
    const w = world();
    const { user } = await enroll(w);
    for (const bad of ["1801", "-1", "1.5", "soon", ""]) {
      const answer = await w.api(`/v1/users/${user.id}/token?minValidity=${bad}`);
      expect(answer.status, bad).toBe(400);
      expect(((await answer.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("minValidity") });
    }
    expect((await w.api(`/v1/users/${user.id}/token?minValidity=1800`)).status).toBe(200);
  });

  it("a backend read and the edge's reauth-status at the same moment with an expired access token: nobody is told to reauthorize (10 tries)", async () => {
    const w = world();
    for (let i = 0; i < 10; i++) {
      const { user } = await enroll(w, { accessMs: MINUTE });
      w.advance(MINUTE + 1000);
      const [read, status] = await Promise.all([w.backend.viaEdge(user.id), w.api(`/v1/users/${user.id}/reauth-status`)]);
      expect(read, `try ${i}`).toMatchObject({ ok: true, refreshedItself: false });
      expect(status.status).toBe(200);
      expect(((await status.json()) as { token: { status: string } }).token.status, `try ${i}`).toMatch(/^(valid|refreshed)$/);
    }
    expect(w.backend.refreshes).toEqual([]);
    expect(refreshes(testMock.mock).every((e) => e.status === 201)).toBe(true);
  });
});

describe("versioned, conditional writes", () => {
  it("refuses a write-back with a stale If-Match (412 token_changed, the current version named) and keeps the newer pair", async () => {
    const w = world();
    const { user, etag } = await enroll(w);
    const older = (await readToken(w, user.id)).body;
    // A reauthorization (here: another import) stores a newer pair.
    const newer = testMock.mock.issueToken(testMock.mock.users.get(user.id)!);
    const put = await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: newer, headers: { "If-Match": etag } });
    expect(put.status).toBe(204);
    const newerTag = put.headers.get("ETag")!;
    expect(Number(JSON.parse(newerTag))).toBeGreaterThan(older.version);

    // The backend writes back what its SDK refreshed from the older token.
    const stale = await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: older.token, headers: { "If-Match": etag } });
    expect(stale.status).toBe(412);
    expect(await stale.json()).toMatchObject({ error: { code: "token_changed", currentVersion: Number(JSON.parse(newerTag)) } });
    const kept = await readToken(w, user.id);
    expect(kept.body.token).toEqual(newer);
    expect(kept.etag).toBe(newerTag);
  });

  it("answers 428 to a PUT with neither If-Match nor If-None-Match over a stored token, naming both; If-None-Match: * stores only when none is", async () => {
    const w = world();
    const { user, token } = await enroll(w);
    const other = testMock.mock.issueToken(testMock.mock.users.get(user.id)!);
    const bare = await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: other });
    expect(bare.status).toBe(428);
    const body = (await bare.json()) as { error: { code: string; hint: string } };
    expect(body.error.code).toBe("precondition_required");
    expect(body.error.hint).toMatch(/If-Match/);
    expect(body.error.hint).toMatch(/If-None-Match/);
    expect((await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: other, headers: { "If-None-Match": "*" } })).status).toBe(412);
    expect((await readToken(w, user.id)).body.token).toEqual(token);

    const fresh = `fresh-${crypto.randomUUID()}`;
    expect((await w.api(`/v1/users/${fresh}/token`, { method: "PUT", body: other, headers: { "If-None-Match": "*" } })).status).toBe(204);
    expect((await w.api(`/v1/users/${crypto.randomUUID()}/token`, { method: "PUT", body: other, headers: { "If-Match": '"1"' } })).status).toBe(412);
  });

  it("refuses a malformed or doubled precondition with 400", async () => {
    const w = world();
    const { user, token, etag } = await enroll(w);
    const cases: Record<string, string>[] = [{ "If-Match": "7" }, { "If-Match": 'W/"1"' }, { "If-None-Match": '"1"' }, { "If-Match": etag, "If-None-Match": "*" }];
    for (const headers of cases) {
      const answer = await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token, headers });
      expect(answer.status, JSON.stringify(headers)).toBe(400);
    }
  });

  it("moves the version up on every write and never back down, across a delete", async () => {
    const w = world();
    const { user, token, etag } = await enroll(w);
    const first = Number(JSON.parse(etag));
    expect((await w.api(`/v1/users/${user.id}/token`, { method: "DELETE", headers: { "If-Match": '"999"' } })).status).toBe(412);
    expect((await w.api(`/v1/users/${user.id}/token`, { method: "DELETE", headers: { "If-Match": etag } })).status).toBe(204);
    const again = await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
    expect(Number(JSON.parse(again.headers.get("ETag")!))).toBe(first + 1);
  });

  it("a DELETE that lands while a refresh is out at digi.me stays in force, and no token.rotated carries the dropped lineage", async () => {
    const w = world();
    const { user } = await enroll(w, { accessMs: MINUTE, scenario: { faults: [{ type: "delay", ms: 600, endpoints: ["oauth/token"], times: 1 }] } });
    const reading = readToken(w, user.id);
    await refreshHeld(user);
    expect((await w.api(`/v1/users/${user.id}/token`, { method: "DELETE" })).status).toBe(204);
    const read = await reading;
    expect(read.status).toBe(404);
    expect(read.body.error?.code).toBe("token_not_found");
    expect((await readToken(w, user.id)).status).toBe(404);
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([201]);
    expect(rotations(await w.events())).toEqual([]);
  });

  it("a PUT that lands while a refresh is out at digi.me stays in force: the read answers the PUT's token, and no token.rotated carries the dropped lineage", async () => {
    const w = world();
    const { user, etag } = await enroll(w, { accessMs: MINUTE, scenario: { faults: [{ type: "delay", ms: 600, endpoints: ["oauth/token"], times: 1 }] } });
    const reading = readToken(w, user.id);
    await refreshHeld(user);
    const replacement = testMock.mock.issueToken(testMock.mock.users.get(user.id)!);
    const put = await w.api(`/v1/users/${user.id}/token`, { method: "PUT", body: replacement, headers: { "If-Match": etag } });
    expect(put.status).toBe(204);
    const read = await reading;
    expect(read.status).toBe(200);
    expect(read.body.token).toEqual(replacement);
    expect(read.etag).toBe(put.headers.get("ETag"));
    expect((await readToken(w, user.id)).body.token).toEqual(replacement);
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([201]);
    expect(rotations(await w.events())).toEqual([]);
  });
});

describe("a refused refresh", () => {
  it("is announced once (token.refresh_failed, with the start to send next), however often it is met, and the read answers 409 with the hint, the reason and the start", async () => {
    const w = world();
    const { user, etag } = await enroll(w, { accessMs: MINUTE, scenario: { name: "refresh-expired" } });
    // The second read meets the refusal remembered, without asking digi.me: the same reason and start.
    for (let i = 0; i < 2; i++) {
      const read = await w.api(`/v1/users/${user.id}/token`);
      expect(read.status).toBe(409);
      expect(await read.json()).toMatchObject({
        error: { code: "refresh_token_expired", hint: expect.stringContaining("/v1/reauth/user"), reason: "expired", next: { method: "POST", path: "/v1/reauth/user", body: { userId: user.id } } },
      });
    }
    expect((await w.api(`/v1/users/${user.id}/reauth-status`)).status).toBe(200);
    expect(refreshes(testMock.mock)).toHaveLength(1);
    const failed = (await w.events()).filter((e) => e.type === "token.refresh_failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data).toMatchObject({
      userId: user.id,
      reason: "expired",
      version: Number(JSON.parse(etag)),
      next: { method: "POST", path: "/v1/reauth/user", body: { userId: user.id } },
    });
  });

  it("names reason invalid, and a start that may fall back to full authorization, for a refresh token spent elsewhere", async () => {
    const w = world();
    const { user, token } = await enroll(w, { accessMs: MINUTE });
    // The backend's SDK spends the refresh token behind the edge's back and keeps the pair to itself.
    await w.digime.refreshToken(token);
    for (let i = 0; i < 2; i++) {
      const read = await w.api(`/v1/users/${user.id}/token`);
      expect(read.status).toBe(409);
      const { error } = (await read.json()) as { error: Record<string, unknown> };
      expect(error).toMatchObject({ reason: "invalid", next: { body: { userId: user.id, allowFullAuthorization: true } } });
    }
    const [failed] = (await w.events()).filter((e) => e.type === "token.refresh_failed");
    expect(failed?.data).toMatchObject({ reason: "invalid", next: { body: { userId: user.id, allowFullAuthorization: true } } });
  });
});

describe("the keep-alive (TOKEN_KEEPALIVE_SECONDS)", () => {
  const DAY = 24 * HOUR;
  const keepAlive = { TOKEN_KEEPALIVE_SECONDS: String(3 * 24 * 60 * 60) };
  const alarmAt = (userId: string) => runInDurableObject(userObject(userId), (_instance, state) => state.storage.getAlarm());

  it("refreshes a token whose refresh token expires within it, once, and announces the rotation", async () => {
    const w = world(keepAlive);
    // Written two hours ago (by the edge's clock): the keep-alive's hour since the last write has passed.
    w.shiftEdge(-2 * HOUR);
    const { user, token } = await enroll(w, { refreshMs: 2 * DAY });
    w.shiftEdge(2 * HOUR);
    await runDurableObjectAlarm(userObject(user.id));
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([201]);
    const kept = await readToken(w, user.id);
    expect(kept.body.token.refreshToken.value).not.toBe(token.refreshToken.value);
    // The mock's rotation gives the new refresh token a whole lifetime (30 days).
    expect(kept.body.token.refreshToken.expiry * 1000).toBeGreaterThan(Date.now() + 29 * DAY);
    expect(rotations(await w.events()).map((e) => e.data)).toEqual([expect.objectContaining({ userId: user.id, version: kept.body.version })]);
    // Nothing more to keep alive for weeks.
    expect((await alarmAt(user.id))!).toBeGreaterThan(Date.now() + 20 * DAY);
  });

  it("waits an hour after a write before it refreshes, so a refresh token shorter-lived than the keep-alive cannot make it spin", async () => {
    // The token.expiring notice (7 days before, by default) would come first.
    const w = world({ ...keepAlive, TOKEN_EXPIRING_NOTICE_SECONDS: "3600" });
    const { user } = await enroll(w, { refreshMs: 2 * DAY });
    const at = (await alarmAt(user.id))!;
    expect(at).toBeGreaterThan(Date.now() + 59 * MINUTE);
    expect(at).toBeLessThan(Date.now() + 61 * MINUTE);
  });

  it("stops for a refresh token digi.me refused, announces it once, and does not run again at once", async () => {
    const w = world(keepAlive);
    w.shiftEdge(-2 * HOUR);
    const { user } = await enroll(w, { refreshMs: 2 * DAY, scenario: { name: "refresh-expired" } });
    w.shiftEdge(2 * HOUR);
    await runDurableObjectAlarm(userObject(user.id));
    await runDurableObjectAlarm(userObject(user.id));
    expect(refreshes(testMock.mock)).toHaveLength(1);
    expect((await w.events()).filter((e) => e.type === "token.refresh_failed")).toHaveLength(1);
    expect((await alarmAt(user.id))!).toBeGreaterThan(Date.now() + DAY);
  });

  it("tries again in 15 minutes when digi.me does not answer, not at once", async () => {
    const w = world(keepAlive);
    w.shiftEdge(-2 * HOUR);
    const { user, token } = await enroll(w, { refreshMs: 2 * DAY, scenario: { faults: [{ type: "http-error", status: 503, endpoints: ["oauth/token"] }] } });
    w.shiftEdge(2 * HOUR);
    await runDurableObjectAlarm(userObject(user.id));
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([503]);
    expect((await readToken(w, user.id, "?minValidity=0")).body.token).toEqual(token);
    const at = (await alarmAt(user.id))!;
    expect(at).toBeGreaterThan(Date.now() + 14 * MINUTE);
    expect(at).toBeLessThan(Date.now() + 16 * MINUTE);
  });

  it("is off by default: no refresh, however close the refresh token's expiry", async () => {
    const w = world();
    w.shiftEdge(-2 * HOUR);
    const { user } = await enroll(w, { refreshMs: 2 * DAY });
    w.shiftEdge(2 * HOUR);
    await runDurableObjectAlarm(userObject(user.id));
    expect(refreshes(testMock.mock)).toHaveLength(0);
  });
});

describe("the session a flow opened", () => {
  it("reaches the flow read and flow.succeeded with the token's version, and reads the file list at digi.me", async () => {
    const w = world();
    const { user } = await enroll(w);
    const start = await w.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done`, triggerQuery: true } });
    expect(start.status).toBe(201);
    const { flowId, launchUrl } = (await start.json()) as { flowId: string; launchUrl: string };
    const { final } = await new TestBrowser(w.request).navigate(launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");

    const flow = (await (await w.api(`/v1/flows/${flowId}`)).json()) as { status: string; session?: { key: string; expiry: number }; tokenVersion?: number };
    expect(flow.session).toEqual({ key: expect.any(String), expiry: expect.any(Number) });
    const stored = await readToken(w, user.id);
    expect(flow.tokenVersion).toBe(stored.body.version);
    const [succeeded] = (await w.events()).filter((e) => e.type === "flow.succeeded");
    expect(succeeded?.data).toMatchObject({ flowId, session: flow.session, version: stored.body.version, token: stored.body.token });

    const files = await w.digime.readFileList({ sessionKey: flow.session!.key, userAccessToken: stored.body.token.accessToken.value });
    expect(files.status.state).toEqual(expect.any(String));
  });
});

describe("the session of a flow awaiting confirmation", () => {
  it("is not answered while the token is not the user's yet, and is once the application confirms", async () => {
    const w = world();
    // No token stored: the backend passes its own, so the identity digi.me brings back is `new`.
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    const start = await w.api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done`, userAccessToken: token.accessToken.value } });
    const { flowId, launchUrl } = (await start.json()) as { flowId: string; launchUrl: string };
    const { final } = await new TestBrowser(w.request).navigate(launchUrl);
    expect(final.searchParams.get("status")).toBe("awaiting_confirmation");
    const waiting = (await (await w.api(`/v1/flows/${flowId}`)).json()) as Record<string, unknown>;
    expect(waiting).not.toHaveProperty("session");
    expect(waiting).not.toHaveProperty("tokenVersion");

    const confirmed = (await (await w.api(`/v1/flows/${flowId}/confirm`, { method: "POST" })).json()) as { session?: { key: string }; tokenVersion?: number };
    expect(confirmed.session).toEqual({ key: expect.any(String), expiry: expect.any(Number) });
    expect(confirmed.tokenVersion).toBe((await readToken(w, user.id)).body.version);
    const [succeeded] = (await w.events()).filter((e) => e.type === "flow.succeeded");
    expect(succeeded?.data).toMatchObject({ session: confirmed.session, version: confirmed.tokenVersion });
  });
});

/** Waits until the mock holds `user`'s refresh: its one delay fault is taken (it is spent when the request arrives, before the refresh). */
async function refreshHeld(user: MockUser): Promise<void> {
  const held = () => testMock.mock.faultsFor(user).some((f) => f.type === "delay" && f.remaining === 0);
  for (let i = 0; i < 300 && !held(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(held()).toBe(true);
}
