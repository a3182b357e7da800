/**
 * The signed return: the redirect to returnTo carries `ts` and `sig`, an
 * HMAC-SHA256 with RETURN_SIGNING_SECRET over flowId, status, errorCode and
 * its source, the flow's kind, the identity it brought, the flow's userId and
 * ts. Checked here with an independent HMAC, as an application would compute it.
 */
import { describe, expect, it } from "vitest";
import { scenarioSchema } from "../../mock-server/index.ts";
import { signedOutcomeUrl } from "../../src/flows/signed-return.ts";
import { APP, enrollUser, TestBrowser, testApp, testEnv, WITH_API_KEY } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const NOW = Math.floor(Date.now() / 1000) * 1000 - 7_000; // a fixed clock, a little behind the mock's
const { api, request } = testApp({ now: () => NOW });
const SECRET = testEnv.RETURN_SIGNING_SECRET!;

/** What an application computes: base64url(HMAC-SHA256(secret, "v3\nflowId\nstatus\nerrorCode\nerrorSource\nkind\nidentity\ncontractId\nuserId\nts")). */
async function expectedSig(fields: {
  flowId: string;
  status: string;
  errorCode?: string;
  errorSource?: string;
  kind?: string;
  identity?: string;
  contractId?: string;
  userId: string;
  ts: string;
}): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const { kind = "user", identity = kind === "user" && fields.status === "succeeded" ? "confirmed" : "", contractId = "dev-contract" } = fields;
  const text = ["v3", fields.flowId, fields.status, fields.errorCode ?? "", fields.errorSource ?? "", kind, identity, contractId, fields.userId, fields.ts].join("\n");
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...mac)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function runFlow(kind: "user" | "account", scenario?: Record<string, unknown>) {
  const { user } = await enrollUser(testMock.mock, api, scenario ? { scenario: scenarioSchema.parse(scenario) } : {});
  const body = kind === "user" ? { userId: user.id, returnTo: `${APP}/back?x=1&sig=forged&ts=1` } : { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/back` };
  const started = (await (await api(`/v1/reauth/${kind}`, { body })).json()) as { flowId: string; launchUrl: string };
  const { final } = await new TestBrowser(request).navigate(started.launchUrl);
  return { user, flowId: started.flowId, params: Object.fromEntries(final.searchParams) };
}

describe("the signed return to returnTo", () => {
  it("signs a user flow's success over flowId, status, kind, identity, userId and the time of the redirect", async () => {
    const { user, flowId, params } = await runFlow("user");
    expect(params).toEqual({ x: "1", flowId, status: "succeeded", kind: "user", contractId: "dev-contract", identity: "confirmed", ts: String(NOW / 1000), sig: expect.any(String) });
    expect(params.sig).toBe(await expectedSig({ flowId, status: "succeeded", userId: user.id, ts: params.ts! }));
  });

  it("signs a failure's errorCode and who reported it too", async () => {
    const { user, flowId, params } = await runFlow("user", { name: "failure", errorCode: "USER_CANCEL" });
    expect(params).toMatchObject({ status: "failed", errorCode: "USER_CANCEL", errorSource: "browser" });
    const failed = { flowId, status: "failed", errorCode: "USER_CANCEL", errorSource: "browser", userId: user.id, ts: params.ts! };
    expect(params.sig).toBe(await expectedSig(failed));
    expect(params.sig).not.toBe(await expectedSig({ ...failed, errorCode: undefined }));
    expect(params.sig).not.toBe(await expectedSig({ ...failed, errorSource: "edge" }));
  });

  it("signs an account flow's outcome", async () => {
    const { user, flowId, params } = await runFlow("account");
    expect(params.sig).toBe(await expectedSig({ flowId, status: "succeeded", kind: "account", userId: user.id, ts: params.ts! }));
    expect(params.sig).not.toBe(await expectedSig({ flowId, status: "succeeded", kind: "user", userId: user.id, ts: params.ts! }));
  });

  it("does not verify for another user, another status, another identity, another contract or another time", async () => {
    const { user, flowId, params } = await runFlow("user");
    const genuine = { flowId, status: "succeeded", userId: user.id, ts: params.ts! };
    expect(params.sig).not.toBe(await expectedSig({ ...genuine, userId: "someone-else" }));
    expect(params.sig).not.toBe(await expectedSig({ ...genuine, status: "failed" }));
    expect(params.sig).not.toBe(await expectedSig({ ...genuine, identity: "replaced" }));
    expect(params.sig).not.toBe(await expectedSig({ ...genuine, contractId: "another-contract" }));
    expect(params.sig).not.toBe(await expectedSig({ ...genuine, ts: String(Number(genuine.ts) + 1) }));
  });

  it("refuses to run without RETURN_SIGNING_SECRET, naming it", async () => {
    const health = await request("/healthz", WITH_API_KEY, { ...testEnv, RETURN_SIGNING_SECRET: undefined });
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toContain("RETURN_SIGNING_SECRET is missing");
    const short = await request("/healthz", WITH_API_KEY, { ...testEnv, RETURN_SIGNING_SECRET: "short" });
    expect(JSON.stringify(await short.json())).toContain("RETURN_SIGNING_SECRET must be at least 32 characters");
  });
});

describe("signedOutcomeUrl", () => {
  const flow = { returnTo: `${APP}/back?x=1&errorCode=USER_CANCEL&errorCode=FORGED&errorSource=edge&identity=confirmed`, id: "AAAAAAAAAAAAAAAAAAAAAA", userId: "u1", kind: "account", contractId: "dev-contract" };

  it("drops an errorCode (and errorSource, identity) that was already in returnTo from a successful return", async () => {
    const url = new URL(await signedOutcomeUrl(SECRET, flow, "succeeded", undefined, NOW));
    expect(url.searchParams.getAll("errorCode")).toEqual([]);
    expect(Object.fromEntries(url.searchParams)).toEqual({ x: "1", flowId: flow.id, status: "succeeded", kind: "account", contractId: "dev-contract", ts: String(NOW / 1000), sig: expect.any(String) });
    // The signature covers no errorCode, so an application reading one from the URL could not verify it either.
    expect(url.searchParams.get("sig")).toBe(await expectedSig({ flowId: flow.id, status: "succeeded", kind: "account", userId: "u1", ts: String(NOW / 1000) }));
  });

  it("replaces every errorCode already in returnTo with the failure's own", async () => {
    const url = new URL(await signedOutcomeUrl(SECRET, flow, "failed", "ONBOARD_ERROR", NOW));
    expect(url.searchParams.getAll("errorCode")).toEqual(["ONBOARD_ERROR"]);
  });
});
