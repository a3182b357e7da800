import { describe, expect, it } from "vitest";
import { KNOWN_ERROR_CODES, type ScenarioInput } from "../../mock-server/index.ts";
import { APP, enrollUser, TestBrowser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const { api, request } = testApp();

/** A mock user whose token the edge holds. */
const enrolledUser = (scenario?: ScenarioInput) => enrollUser(testMock.mock, api, { scenario });

async function start(userId: string, extra: Record<string, unknown> = {}) {
  const response = await api("/v1/reauth/user", { body: { userId, returnTo: `${APP}/done?tab=digime`, ...extra } });
  return { response, body: (await response.json()) as { flowId: string; launchUrl: string; kind: string; expiresAt: string; error?: { code: string; message: string; hint?: string } } };
}

describe("user reauthorization, end to end", () => {
  it("exchanges the code, stores the new token and sends the browser back with status succeeded", async () => {
    const { user, token } = await enrolledUser();
    const { response, body } = await start(user.id, { locale: "en" });
    expect(response.status).toBe(201);
    expect(body.kind).toBe("user");
    expect(body.launchUrl).toBe(`https://edge.test/reauth/launch/${body.flowId}`);
    const browser = new TestBrowser(request);
    const { final, hops } = await browser.navigate(body.launchUrl);
    expect(hops.map((h) => h.status)).toEqual([302, 302, 303]);
    expect(final.origin + final.pathname).toBe(`${APP}/done`);
    expect(Object.fromEntries(final.searchParams)).toEqual({ tab: "digime", flowId: body.flowId, status: "succeeded", kind: "user", contractId: "dev-contract", identity: "confirmed", ts: expect.stringMatching(/^\d+$/), sig: expect.any(String) });

    const flow = await (await api(`/v1/flows/${body.flowId}`)).json();
    expect(flow).toMatchObject({ flowId: body.flowId, kind: "user", userId: user.id, status: "succeeded" });
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { accessToken: { value: string } } };
    expect(stored.token.accessToken.value).not.toBe(token.accessToken.value);
    expect(testMock.mock.checkAccessToken(stored.token.accessToken.value, "dev-app_dev-contract").ok).toBe(true);
    // The binding cookie stays (as long as the outcome) so a reload of the callback finds the outcome again.
    expect([...browser.cookies.keys()]).toEqual([`__Host-reauth-${body.flowId}`]);
  });

  it.each([...KNOWN_ERROR_CODES, "SOMETHING_NEW"])("records failure %s and sends it back as errorCode", async (errorCode) => {
    const { user, token } = await enrolledUser({ name: "failure", errorCode });
    const { body } = await start(user.id);
    const { final } = await new TestBrowser(request).navigate(body.launchUrl);
    expect(Object.fromEntries(final.searchParams)).toMatchObject({ flowId: body.flowId, status: "failed", errorCode });
    expect(await (await api(`/v1/flows/${body.flowId}`)).json()).toMatchObject({ status: "failed", errorCode });
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { accessToken: { value: string } } };
    expect(stored.token.accessToken.value).toBe(token.accessToken.value);
  });

  it("records a failure without errorCode as UNKNOWN, never as success", async () => {
    const { user } = await enrolledUser({ name: "failure", errorCode: null });
    const { body } = await start(user.id);
    const { final } = await new TestBrowser(request).navigate(body.launchUrl);
    expect(Object.fromEntries(final.searchParams)).toMatchObject({ status: "failed", errorCode: "UNKNOWN" });
  });

  it("answers 409 invalid_token with a hint when digi.me refuses the access token", async () => {
    const { user } = await enrolledUser({ name: "invalid-token" });
    const { response, body } = await start(user.id);
    expect(response.status).toBe(409);
    expect(body.error).toMatchObject({ code: "invalid_token" });
    expect(body.error?.hint).toMatch(/full authorization/);
  });

  it("starts a full-authorization flow instead when asked, and completes it once the application confirms it", async () => {
    const { user } = await enrolledUser({ name: "invalid-token" });
    const { response, body } = await start(user.id, { allowFullAuthorization: true });
    expect(response.status).toBe(201);
    expect(body.kind).toBe("authorize");
    const { final } = await new TestBrowser(request).navigate(body.launchUrl);
    expect(final.searchParams.get("status")).toBe("awaiting_confirmation");
    expect((await api(`/v1/flows/${body.flowId}/confirm`, { method: "POST" })).status).toBe(200);
    const stored = (await (await api(`/v1/users/${user.id}/token`)).json()) as { token: { accessToken: { value: string } } };
    expect(testMock.mock.checkAccessToken(stored.token.accessToken.value, "dev-app_dev-contract").ok).toBe(true);
  });

  it("recovers a user whose refresh token expired through user reauthorization", async () => {
    const { user } = await enrolledUser({ name: "refresh-expired" });
    const status = await (await api(`/v1/users/${user.id}/reauth-status`)).json();
    expect(status).toMatchObject({ token: { status: "needs_user_reauth" } });
    const { body } = await start(user.id);
    const { final } = await new TestBrowser(request).navigate(body.launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    expect(await (await api(`/v1/users/${user.id}/reauth-status`)).json()).toMatchObject({ token: { status: "valid" } });
  });
});
