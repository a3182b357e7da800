import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { USER_KEYS, type FlowState } from "../../src/storage/user-store.ts";
import { APP, enrollUser, TestBrowser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { userObject } from "../support/objects.ts";

const testMock = useTestMock();
const { api, request } = testApp();

describe("full authorization (the allowFullAuthorization fallback), as digi.me's SDK speaks it", () => {
  it("follows oauth/authorize's preauthorization_code to the authorize page and keeps the callback's accountReference on the flow", async () => {
    const { user } = await enrollUser(testMock.mock, api, { scenario: { name: "invalid-token" } });
    const started = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/done`, allowFullAuthorization: true } });
    const body = (await started.json()) as { flowId: string; launchUrl: string; kind: string };
    expect(body.kind).toBe("authorize");

    const { final, hops } = await new TestBrowser(request).navigate(body.launchUrl);
    const authorizePage = new URL(hops[1]!.url);
    expect(authorizePage.pathname).toBe("/apps/saas/authorize");
    expect([...authorizePage.searchParams.keys()]).toEqual(["code", "sourceType"]);
    expect(authorizePage.searchParams.get("sourceType")).toBe("pull");
    const callback = new URL(hops[2]!.url);
    expect([...callback.searchParams.keys()]).toEqual(["flow", "success", "state", "code", "accountReference"]);
    expect(final.searchParams.get("status")).toBe("awaiting_confirmation"); // another digi.me identity: the application confirms
    expect((await api(`/v1/flows/${body.flowId}/confirm`, { method: "POST" })).status).toBe(200);

    const stored = await runInDurableObject(userObject(user.id), (_instance, state) => state.storage.get<FlowState>(USER_KEYS.flowPrefix + body.flowId));
    expect(stored).toMatchObject({ kind: "authorize", status: "succeeded", accountReference: callback.searchParams.get("accountReference") });
    const authorize = testMock.mock.journal.find((e) => e.endpoint === "oauth/authorize");
    expect(authorize).toMatchObject({ status: 201, claims: { response_type: "code", response_mode: "query" } });
  });
});
