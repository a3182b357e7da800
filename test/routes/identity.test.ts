import { describe, expect, it } from "vitest";
import { APP, TestBrowser, enrollUser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

/**
 * Who the outcome belongs to (docs/design.md): a user flow's exchanged token must
 * carry the digi.me identity (`sub`) of the user's stored token; a token of
 * an identity the edge cannot match (none known, or a full authorization that
 * brought another) is kept, not stored, until the application confirms.
 */
const testMock = useTestMock();
const { api, request } = testApp();

async function flow(flowId: string) {
  return (await (await api(`/v1/flows/${flowId}`)).json()) as { status: string; errorCode?: string; identity?: string; digimeUserId?: string };
}

async function storedToken(userId: string) {
  const response = await api(`/v1/users/${userId}/token`);
  return (await response.json()) as { token: { accessToken: { value: string }; user: { id: string } } };
}

describe("user flows: the token must be the user's", () => {
  it("confirms the identity of a normal reauthorization and names it in the flow", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/back` } })).json()) as { flowId: string; launchUrl: string };
    const { final } = await new TestBrowser(request).navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    expect(await flow(started.flowId)).toMatchObject({ status: "succeeded", identity: "confirmed", digimeUserId: user.id });
  });

  it("stores nothing and fails USER_MISMATCH when the exchanged token belongs to another digi.me user", async () => {
    // mallory's stored token says who she is; the flow is started with someone else's access token.
    const { user: mallory, token: malloryToken } = await enrollUser(testMock.mock, api);
    const { token: victimToken } = testMock.mock.createUser();
    const response = await api("/v1/reauth/user", { body: { userId: mallory.id, returnTo: `${APP}/back`, userAccessToken: victimToken.accessToken.value } });
    expect(response.status).toBe(201);
    const started = (await response.json()) as { flowId: string; launchUrl: string };
    const { final } = await new TestBrowser(request).navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("failed");
    expect(final.searchParams.get("errorCode")).toBe("USER_MISMATCH");
    expect(testMock.mock.journal.filter((e) => e.endpoint === "oauth/token" && e.status >= 200 && e.status < 300)).toHaveLength(1); // digi.me did issue one
    const after = await flow(started.flowId);
    expect(after).toMatchObject({ status: "failed", errorCode: "USER_MISMATCH" });
    expect(after).not.toHaveProperty("identity");
    const stored = await storedToken(mallory.id);
    expect(stored.token.accessToken.value).toBe(malloryToken.accessToken.value);
    expect(stored.token.user.id).toBe(mallory.id);
  });

  it("fails USER_MISMATCH when the stored token names another identity than the one its access token reauthorizes", async () => {
    const { user, token } = testMock.mock.createUser();
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: { ...token, user: { id: "someone-else" } } })).status).toBe(204);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/back` } })).json()) as { flowId: string; launchUrl: string };
    const { final } = await new TestBrowser(request).navigate(started.launchUrl);
    expect(final.searchParams.get("errorCode")).toBe("USER_MISMATCH");
    expect((await storedToken(user.id)).token.accessToken.value).toBe(token.accessToken.value);
  });

  it("stores nothing when no identity was known (a passed access token, nothing stored) until the application confirms", async () => {
    const { user, token } = testMock.mock.createUser();
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/back`, userAccessToken: token.accessToken.value } })).json()) as {
      flowId: string;
      launchUrl: string;
    };
    const { final } = await new TestBrowser(request).navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("awaiting_confirmation");
    expect(final.searchParams.get("identity")).toBe("new");
    expect(await flow(started.flowId)).toMatchObject({ status: "awaiting_confirmation", identity: "new", digimeUserId: user.id });
    expect((await api(`/v1/users/${user.id}/token`)).status).toBe(404);
    expect(await (await api(`/v1/flows/${started.flowId}/confirm`, { method: "POST" })).json()).toMatchObject({ status: "succeeded", identity: "new" });
    expect((await storedToken(user.id)).token.user.id).toBe(user.id);
  });
});

describe("the mallory/victim repro (issue 11)", () => {
  it("keeps the other digi.me identity a forwarded full authorization brought off the user, and says so", async () => {
    // mallory's token is dead (invalid-token), so she gets a full-authorization flow.
    const { user: mallory } = await enrollUser(testMock.mock, api, { scenario: { name: "invalid-token" } });
    const response = await api("/v1/reauth/user", { body: { userId: mallory.id, returnTo: `${APP}/back`, allowFullAuthorization: true } });
    const started = (await response.json()) as { flowId: string; kind: string; launchUrl: string };
    expect(started.kind).toBe("authorize");
    // A second browser (the victim, or a link unfurler) opens the launch URL first and approves.
    const victim = new TestBrowser(request);
    const { final } = await victim.navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("awaiting_confirmation");
    expect(final.searchParams.get("identity")).toBe("replaced");
    // The backend is told, and nothing of the other person's is stored under mallory until it confirms.
    const outcome = await flow(started.flowId);
    expect(outcome).toMatchObject({ status: "awaiting_confirmation", identity: "replaced" });
    expect(outcome.digimeUserId).not.toBe(mallory.id);
    expect((await storedToken(mallory.id)).token.user.id).toBe(mallory.id);
    // mallory's own browser, too late, cannot take the flow over.
    expect((await new TestBrowser(request).get(started.launchUrl)).status).toBe(409);
  });
});
