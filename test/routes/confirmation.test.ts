/**
 * A forwarded launch link must not put someone else's digi.me account on the
 * user (issue 18): a token whose digi.me identity the edge cannot match to the
 * user (`new`, `replaced`) is neither stored under the user nor announced as
 * theirs until the application confirms the returning browser is its user;
 * unconfirmed, the flow expires and nothing is stored.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { UserObject } from "../../src/users/object.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import type { OutboundEvent } from "../../src/webhooks/outbox.ts";
import { parseConfig } from "../../src/config.ts";
import { getServices } from "../../src/services.ts";
import { WebhookEventSchema } from "../../src/webhooks/events.ts";
import { APP, API_KEY, TestBrowser, enrollUser, testApp, type ApiCall } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { userObject } from "../support/objects.ts";
import { appWithWaitUntil, webhookEnv } from "../support/webhooks.ts";

const testMock = useTestMock();

/** A full-authorization flow for a user whose token is dead, opened and approved by another person's browser. */
async function forwardedFullAuthorization(api: ApiCall, request: ReturnType<typeof testApp>["request"]) {
  const { user, token } = await enrollUser(testMock.mock, api, { scenario: { name: "invalid-token" } });
  const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/back`, allowFullAuthorization: true } })).json()) as { flowId: string; launchUrl: string };
  const { final } = await new TestBrowser(request).navigate(started.launchUrl);
  return { user, token, flowId: started.flowId, final };
}

describe("a token of an identity the edge cannot match to the user", () => {
  it("is neither stored nor announced until the application confirms, then both", async () => {
    const { env, queue } = webhookEnv();
    const { request, settled } = appWithWaitUntil();
    const api: ApiCall = (path, init = {}) =>
      request(path, { method: init.method ?? (init.body === undefined ? "GET" : "POST"), headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" }, body: init.body === undefined ? undefined : JSON.stringify(init.body) }, env);
    const { user, token, flowId, final } = await forwardedFullAuthorization(api, (path, init) => request(path, init, env));
    await settled();
    expect(Object.fromEntries(final.searchParams)).toMatchObject({ status: "awaiting_confirmation", kind: "authorize", identity: "replaced" });
    expect((await (await api(`/v1/users/${user.id}/token`)).json()) as unknown).toMatchObject({ token: { accessToken: { value: token.accessToken.value } } });
    const services = getServices(parseConfig(env), env);
    const open = async (m: { body: unknown }) => WebhookEventSchema.parse(JSON.parse(await services.webhooks.openPayload(m.body as DeliverMessage)));
    const before = await Promise.all(queue.take().map(open));
    expect(before.map((e) => e.type)).toEqual(["flow.awaiting_confirmation"]);
    expect(JSON.stringify(before)).not.toContain('"token"');

    const confirmed = await api(`/v1/flows/${flowId}/confirm`, { method: "POST" });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toMatchObject({ status: "succeeded", identity: "replaced" });
    const stored = ((await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { accessToken: { value: string }; user: { id: string } } }).token;
    expect(stored.user.id).not.toBe(user.id);
    expect(testMock.mock.checkAccessToken(stored.accessToken.value, "dev-app_dev-contract").ok).toBe(true);
    const after = await Promise.all(queue.take().map(open));
    expect(after).toEqual([expect.objectContaining({ type: "flow.succeeded", data: expect.objectContaining({ flowId, identity: "replaced", token: stored }) })]);

    // Confirming again answers the same and announces nothing more.
    expect(await (await api(`/v1/flows/${flowId}/confirm`, { method: "POST" })).json()).toMatchObject({ status: "succeeded" });
    expect(queue.take()).toEqual([]);
  });

  it("expires unconfirmed without storing anything", async () => {
    let clock = Date.now();
    const { api, request } = testApp({ now: () => clock });
    const { user, token, flowId } = await forwardedFullAuthorization(api, request);
    const events: OutboundEvent[] = [];
    await runInDurableObject(userObject(user.id), (instance: UserObject) => {
      instance.publishAlarmEvents = async (produced) => void events.push(...produced);
    });
    clock += 601 * 1000; // past the confirmation window (the flow TTL)
    expect(await (await api(`/v1/flows/${flowId}`)).json()).toMatchObject({ status: "expired" });
    const refused = await api(`/v1/flows/${flowId}/confirm`, { method: "POST" });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: "flow_not_awaiting_confirmation", status: "expired" } });
    expect((await (await api(`/v1/users/${user.id}/token`)).json()) as unknown).toMatchObject({ token: { accessToken: { value: token.accessToken.value } } });
    await runDurableObjectAlarm(userObject(user.id));
    expect(events.filter((e) => e.event.type === "flow.succeeded")).toEqual([]);
  });

  it("refuses to confirm a flow that is not awaiting confirmation", async () => {
    const { api, request } = testApp();
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/back` } })).json()) as { flowId: string; launchUrl: string };
    const pending = await api(`/v1/flows/${started.flowId}/confirm`, { method: "POST" });
    expect(pending.status).toBe(409);
    expect(await pending.json()).toMatchObject({ error: { code: "flow_not_awaiting_confirmation", status: "pending" } });
    await new TestBrowser(request).navigate(started.launchUrl);
    // A confirmed identity was stored at the callback: nothing to confirm.
    expect((await api(`/v1/flows/${started.flowId}/confirm`, { method: "POST" })).status).toBe(409);
    expect((await api("/v1/flows/AAAAAAAAAAAAAAAAAAAAAA/confirm", { method: "POST" })).status).toBe(404);
  });
});
