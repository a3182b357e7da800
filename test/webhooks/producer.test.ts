/**
 * The producer side: what the request path enqueues when a flow ends or a
 * refresh rotates a token (the user object's transitions hand their events
 * to the request that made them) — and that it only enqueues.
 */
import { describe, expect, it } from "vitest";
import { scenarioSchema, type ScenarioInput } from "../../mock-server/index.ts";
import type { UserAccessToken } from "../../src/digime/index.ts";
import { parseConfig } from "../../src/config.ts";
import { getServices } from "../../src/services.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import { WebhookEventSchema, type WebhookEvent } from "../../src/webhooks/events.ts";
import { APP, TestBrowser, testApp, testEnv, WITH_API_KEY, type ApiCall } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { quietConsole } from "../support/quiet.ts";
import { appWithWaitUntil, webhookEnv, type RecordingQueue } from "../support/webhooks.ts";
import type { Env } from "../../src/env.ts";

const testMock = useTestMock();
quietConsole();

/** An app bound to `env`: API calls and a browser that reach it. */
function appFor(env: Env) {
  const { request, settled } = appWithWaitUntil();
  const call = (path: string, init: RequestInit = {}) => request(path, init, env);
  const api: ApiCall = (path, init = {}) =>
    call(path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ...(init.body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  const browser = () => {
    const b = new TestBrowser(call);
    // The callback enqueues after its response (waitUntil): navigate, then wait for that.
    return {
      navigate: async (url: string) => {
        const result = await b.navigate(url);
        await settled();
        return result;
      },
    };
  };
  return { api, browser };
}

async function enroll(api: ApiCall, scenario?: ScenarioInput) {
  const { user, token } = testMock.mock.createUser({ accounts: 2 });
  if (scenario) testMock.mock.setUserScenario(user, scenarioSchema.parse(scenario));
  expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token })).status).toBe(204);
  return { user, token };
}

/** Opens a delivery message as the consumer would, and checks it against the event schema. */
async function open(env: Env, message: DeliverMessage): Promise<WebhookEvent> {
  const services = getServices(parseConfig(env), env, {});
  return WebhookEventSchema.parse(JSON.parse(await services.webhooks.openPayload(message)));
}

const deliveries = (queue: RecordingQueue) => queue.take().filter((m) => m.body.kind === "deliver").map((m) => m.body as DeliverMessage);

describe("webhook producer", () => {
  it("enqueues flow.succeeded with the new token when a user flow succeeds, sealed in the queue", async () => {
    const { env, queue } = webhookEnv();
    const { api, browser } = appFor(env);
    const { user, token } = await enroll(api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { flowId: string; launchUrl: string };
    expect(queue.take()).toEqual([]); // a start enqueues nothing: the user's object's alarm announces an expiry

    await browser().navigate(started.launchUrl);
    const [message, ...rest] = deliveries(queue);
    expect(rest).toEqual([]);
    expect(message).toMatchObject({ kind: "deliver", id: `msg_${started.flowId}_succeeded`, type: "flow.succeeded" });
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: UserAccessToken };
    expect(stored.token.accessToken.value).not.toBe(token.accessToken.value);
    // At rest in the queue, the token is sealed like in KV.
    expect(JSON.stringify(message)).not.toContain(stored.token.accessToken.value);
    expect(JSON.stringify(message)).not.toContain(stored.token.refreshToken.value);
    const event = await open(env, message!);
    expect(event).toMatchObject({ type: "flow.succeeded", data: { flowId: started.flowId, kind: "user", userId: user.id, status: "succeeded", token: stored.token, identity: "confirmed", digimeUserId: user.id } });
  });

  it("announces a full authorization that brought another digi.me identity as awaiting confirmation, without its token", async () => {
    const { env, queue } = webhookEnv();
    const { api, browser } = appFor(env);
    // The stored token is dead, so the flow is a full authorization; whoever opens it signs in as another digi.me user.
    const { user } = await enroll(api, { name: "invalid-token" });
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done`, allowFullAuthorization: true } })).json()) as {
      flowId: string;
      kind: string;
      launchUrl: string;
    };
    expect(started.kind).toBe("authorize");
    queue.take();
    await browser().navigate(started.launchUrl);
    const [message, ...rest] = deliveries(queue);
    expect(rest).toEqual([]);
    expect(message).toMatchObject({ id: `msg_${started.flowId}_awaiting_confirmation`, type: "flow.awaiting_confirmation" });
    const event = await open(env, message!);
    const flow = (await (await api(`/v1/flows/${started.flowId}`)).json()) as { identity: string; digimeUserId: string };
    expect(flow.identity).toBe("replaced");
    expect(event).toMatchObject({ type: "flow.awaiting_confirmation", data: { kind: "authorize", identity: "replaced", digimeUserId: flow.digimeUserId } });
    expect("token" in event.data).toBe(false);
    expect(flow.digimeUserId).not.toBe(user.id);
  });

  it("enqueues flow.failed with the errorCode and no token when a user flow fails", async () => {
    const { env, queue } = webhookEnv();
    const { api, browser } = appFor(env);
    const { user } = await enroll(api, { name: "failure", errorCode: "USER_CANCEL" });
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { flowId: string; launchUrl: string };
    await browser().navigate(started.launchUrl);
    const [message] = deliveries(queue);
    expect(message).toMatchObject({ id: `msg_${started.flowId}_failed`, type: "flow.failed" });
    const event = await open(env, message!);
    expect(event.data).toEqual({ contractId: "dev-contract", flowId: started.flowId, kind: "user", userId: user.id, status: "failed", errorCode: "USER_CANCEL", errorSource: "browser", completedAt: expect.any(String) });
  });

  it("enqueues flow.succeeded without a token for an account flow", async () => {
    const { env, queue } = webhookEnv();
    const { api, browser } = appFor(env);
    const { user } = await enroll(api);
    const accountId = user.accounts[0]!.id;
    const started = (await (await api("/v1/reauth/account", { body: { userId: user.id, accountId, returnTo: `${APP}/done` } })).json()) as { flowId: string; launchUrl: string };
    await browser().navigate(started.launchUrl);
    const event = await open(env, deliveries(queue)[0]!);
    expect(event).toMatchObject({ type: "flow.succeeded", data: { kind: "account", accountId, status: "succeeded" } });
    expect("token" in event.data).toBe(false);
  });

  it("enqueues token.rotated with the rotated token when account start refreshes it", async () => {
    const { env, queue } = webhookEnv();
    const { api } = appFor(env);
    const { user, token } = await enroll(api, { name: "invalid-token", recoverOnRefresh: true });
    expect((await api("/v1/reauth/account", { body: { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/done` } })).status).toBe(201);
    const rotated = deliveries(queue);
    expect(rotated).toHaveLength(1);
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: UserAccessToken };
    expect(stored.token.refreshToken.value).not.toBe(token.refreshToken.value);
    expect(await open(env, rotated[0]!)).toMatchObject({ type: "token.rotated", data: { userId: user.id, token: stored.token } });
  });

  it("enqueues token.rotated when reauth-status refreshes the token", async () => {
    const { env, queue } = webhookEnv();
    const { api } = appFor(env);
    const { user } = await enroll(api, { name: "invalid-token", recoverOnRefresh: true });
    expect((await api(`/v1/users/${user.id}/reauth-status`)).status).toBe(200);
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: UserAccessToken };
    expect(await open(env, deliveries(queue)[0]!)).toMatchObject({ type: "token.rotated", data: { token: stored.token } });
  });

  it("still completes the flow and redirects when the queue refuses the event", async () => {
    const { env, queue } = webhookEnv();
    const { api, browser } = appFor(env);
    const { user } = await enroll(api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { flowId: string; launchUrl: string };
    queue.failing = true;
    const { final } = await browser().navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    expect(await (await api(`/v1/flows/${started.flowId}`)).json()).toMatchObject({ status: "succeeded" });
  });

  it("enqueues nothing when WEBHOOK_URL is not set", async () => {
    const { env, queue } = webhookEnv({ WEBHOOK_URL: undefined, WEBHOOK_SECRET: undefined });
    const { api, browser } = appFor(env);
    const { user } = await enroll(api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } })).json()) as { launchUrl: string };
    await browser().navigate(started.launchUrl);
    expect(queue.sent).toEqual([]);
  });

  it("refuses a half configuration by name", async () => {
    const { env } = webhookEnv({ WEBHOOK_SECRET: undefined });
    const health = await testApp().request("/healthz", WITH_API_KEY, env);
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toContain("WEBHOOK_URL and WEBHOOK_SECRET must be set together");
    const weak = webhookEnv({ WEBHOOK_SECRET: "whsec_c2hvcnQ=" }).env;
    expect(JSON.stringify(await (await testApp().request("/healthz", WITH_API_KEY, weak)).json())).toContain("WEBHOOK_SECRET must be whsec_");
    const plain = webhookEnv({ WEBHOOK_URL: "http://backend.example.com/hook" }).env;
    expect(JSON.stringify(await (await testApp().request("/healthz", WITH_API_KEY, plain)).json())).toContain("WEBHOOK_URL must be an https URL");
    void testEnv;
  });
});
