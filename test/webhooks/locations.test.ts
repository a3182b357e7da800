/**
 * Across Cloudflare locations: the backend starts a flow at location A, the
 * user's browser launches and calls back at location B, and the backend
 * reads at A. KV's per-location caches are modelled by LocationKv; what
 * changes lives in the user's Durable Object, so the API at A and the webhook
 * agree at once. (The code before the objects answered `pending` and the
 * retired token at A for 60 s.)
 */
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { UserAccessToken } from "../../src/digime/index.ts";
import type { Env } from "../../src/env.ts";
import { WebhookEventSchema } from "../../src/webhooks/events.ts";
import { APP, API_KEY, TestBrowser } from "../support/app.ts";
import { LocationKv } from "../support/location-kv.ts";
import { useTestMock } from "../support/mock.ts";
import { appWithWaitUntil, consume, recordingReceiver, WEBHOOK_SECRET, webhookEnv } from "../support/webhooks.ts";

const testMock = useTestMock();

describe("a flow that crosses locations", () => {
  it("answers the outcome and the new token at the backend's location at once, the same the webhook carries", async () => {
    let clock = Date.now();
    const now = () => clock;
    const kv = new LocationKv(now);
    const { env: base, queue } = webhookEnv();
    const at = (location: string): Env => ({ ...base, REAUTH_KV: kv.at(location) });
    const [envA, envB] = [at("A"), at("B")];
    const { request, settled } = appWithWaitUntil({ now });
    const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
      request(
        path,
        {
          method: init.method ?? (init.body === undefined ? "GET" : "POST"),
          headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
        },
        envA,
      );

    // The backend, near location A: stores the user's token, starts a flow.
    const { user, token: oldToken } = testMock.mock.createUser({ accounts: 1 });
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: oldToken })).status).toBe(204);
    const started = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done` } });
    expect(started.status).toBe(201);
    const { flowId, launchUrl } = (await started.json()) as { flowId: string; launchUrl: string };
    expect(await (await api(`/v1/flows/${flowId}`)).json()).toMatchObject({ status: "pending" });
    queue.take(); // the delayed expiry check

    // The user's browser, near location B: launch and callback.
    clock += 5_000;
    const browser = new TestBrowser((path, init) => request(path, init, envB));
    const { final } = await browser.navigate(launchUrl);
    await settled(); // the callback's enqueue, after its response
    expect(final.searchParams.get("status")).toBe("succeeded");
    const newToken = ((await (await request(`/v1/users/${user.id}/token`, { headers: { Authorization: `Bearer ${API_KEY}` } }, envB)).json()) as { token: UserAccessToken }).token;
    expect(newToken.accessToken.value).not.toBe(oldToken.accessToken.value);

    // The backend reads at A right after: the outcome and the token that works.
    clock += 2_000;
    expect(await (await api(`/v1/flows/${flowId}`)).json()).toMatchObject({ status: "succeeded" });
    expect(((await (await api(`/v1/users/${user.id}/token`)).json()) as { token: UserAccessToken }).token).toEqual(newToken);
    expect(testMock.mock.checkAccessToken(oldToken.accessToken.value, "dev-app_dev-contract").ok).toBe(false); // digi.me retired the old one

    // The webhook, delivered by the consumer: the right outcome and the token that works.
    const receiver = recordingReceiver();
    const sent = queue.take();
    expect(sent).toHaveLength(1);
    expect((await consume(envA, sent.map((m) => ({ body: m.body })), { fetch: receiver.fetch, now })).explicitAcks).toHaveLength(1);
    const { headers, body } = receiver.received[0]!;
    const event = WebhookEventSchema.parse(new Webhook(WEBHOOK_SECRET).verify(body, headers));
    expect(event).toMatchObject({ type: "flow.succeeded", data: { flowId, userId: user.id, status: "succeeded", token: newToken } });
    expect(testMock.mock.checkAccessToken(newToken.accessToken.value, "dev-app_dev-contract").ok).toBe(true);

  });

  it("reads a token stored at B at once at A, even after A read \"not found\"", async () => {
    let clock = Date.now();
    const now = () => clock;
    const kv = new LocationKv(now);
    const { env: base } = webhookEnv();
    const { request } = appWithWaitUntil({ now });
    const at = (location: string, path: string, init: RequestInit = {}) =>
      request(path, { ...init, headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" } }, { ...base, REAUTH_KV: kv.at(location) });
    const { user, token } = testMock.mock.createUser({ accounts: 1 });
    expect((await at("A", `/v1/users/${user.id}/token`)).status).toBe(404);
    expect((await at("B", `/v1/users/${user.id}/token`, { method: "PUT", body: JSON.stringify(token) })).status).toBe(204);
    clock += 1_000; // well inside KV's 60 s cache of A's "not found"
    expect((await at("A", `/v1/users/${user.id}/token`)).status).toBe(200);
  });
});
