import { describe, expect, it } from "vitest";
import { Sealer } from "../../src/storage/crypto.ts";
import { Kv } from "../../src/storage/kv.ts";
import { TokenStore } from "../../src/storage/tokens.ts";
import { APP, TestBrowser, enrollUser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { quietConsole } from "../support/quiet.ts";

/**
 * What is sealed at rest, and that each envelope is bound to the KV key it
 * lives under (AES-GCM additional data): moved elsewhere, it does not open.
 */
const testMock = useTestMock();
const { api, request } = testApp();
quietConsole();
const sealer = new Sealer([{ id: "t", raw: new Uint8Array(32).fill(3) }]);

describe("pending flows", () => {
  it("hold digi.me's session key and reference code only sealed, and launch still reaches digi.me", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    for (const kind of ["user", "account"] as const) {
      const body = kind === "user" ? { userId: user.id, returnTo: `${APP}/x` } : { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` };
      const started = (await (await api(`/v1/reauth/${kind}`, { body })).json()) as { flowId: string; launchUrl: string };
      const raw = (await testEnv.REAUTH_KV.get(`flow:v1:${started.flowId}`))!;
      const launch = await new TestBrowser(request).get(started.launchUrl);
      expect(launch.status).toBe(302);
      const referenceCode = new URL(launch.headers.get("Location")!).searchParams.get("code")!;
      expect(referenceCode).toMatch(/^ref_/);
      expect(raw, `${kind} flow holds the reference code`).not.toContain(referenceCode);
      expect(raw, `${kind} flow holds the session key`).not.toContain(user.sessionKey);
      expect(JSON.parse(raw)).toMatchObject({ upstreamUrl: { kid: "k2" }, session: { kid: "k2" } });
    }
  });

  it("keep a backend-passed access token for the account callback only sealed, and drop it on completion", async () => {
    const { user, token } = testMock.mock.createUser();
    const body = { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x`, userAccessToken: token.accessToken.value };
    const started = (await (await api("/v1/reauth/account", { body })).json()) as { flowId: string; launchUrl: string };
    const pending = (await testEnv.REAUTH_KV.get(`flow:v1:${started.flowId}`))!;
    expect(pending).not.toContain(token.accessToken.value);
    expect(JSON.parse(pending)).toHaveProperty("userAccessToken.ct");
    await new TestBrowser(request).navigate(started.launchUrl);
    const done = JSON.parse((await testEnv.REAUTH_KV.get(`flow:v1:${started.flowId}`))!) as Record<string, unknown>;
    expect(done).toMatchObject({ status: "succeeded" });
    for (const dropped of ["userAccessToken", "session", "upstreamUrl", "verifier"]) expect(done).not.toHaveProperty(dropped);
  });

  it("still launch a flow written before these fields were sealed", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).json()) as { flowId: string; launchUrl: string };
    const record = JSON.parse((await testEnv.REAUTH_KV.get(`flow:v1:${started.flowId}`))!) as Record<string, unknown>;
    const onboarding = "https://api.digi.me/apps/saas/user-reauth?code=ref_legacy";
    await testEnv.REAUTH_KV.put(`flow:v1:${started.flowId}`, JSON.stringify({ ...record, upstreamUrl: onboarding, session: { expiry: 1, key: "legacy-session" } }));
    const launch = await new TestBrowser(request).get(started.launchUrl);
    expect(launch.status).toBe(302);
    expect(launch.headers.get("Location")).toBe(onboarding);
    const rewritten = (await testEnv.REAUTH_KV.get(`flow:v1:${started.flowId}`))!; // the launch's binding write sealed them
    expect(rewritten).not.toContain("ref_legacy");
    expect(rewritten).not.toContain("legacy-session");
  });

  it("refuse a flow record copied under another flow's key, even with its id rewritten", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).json()) as { flowId: string };
    const raw = (await testEnv.REAUTH_KV.get(`flow:v1:${started.flowId}`))!;
    const other = "BBBBBBBBBBBBBBBBBBBBBB";
    await testEnv.REAUTH_KV.put(`flow:v1:${other}`, raw);
    expect((await api(`/v1/flows/${other}`)).status).toBe(500);
    await testEnv.REAUTH_KV.put(`flow:v1:${other}`, raw.replaceAll(started.flowId, other));
    const launch = await new TestBrowser(request).get(`https://edge.test/reauth/launch/${other}`);
    expect(launch.status).toBe(500);
    expect(await launch.text()).toContain("storage_corrupt");
  });
});

describe("AES-GCM envelopes", () => {
  it("open only for the context they were sealed for", async () => {
    const envelope = await sealer.seal("secret", "token:v1:alice");
    await expect(sealer.open(envelope, "token:v1:alice")).resolves.toBe("secret");
    await expect(sealer.open(envelope, "token:v1:bob")).rejects.toMatchObject({ code: "storage_corrupt" });
  });

  it("a user's sealed token copied under another user's key does not open", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    await testEnv.REAUTH_KV.put("token:v1:mallory-copy", (await testEnv.REAUTH_KV.get(`token:v1:${encodeURIComponent(user.id)}`))!);
    const response = await api("/v1/users/mallory-copy/token");
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: { code: "storage_corrupt" } });
  });
});

describe("recovery blobs", () => {
  const store = new TokenStore({ kv: new Kv({} as KVNamespace), sealer, now: Date.now });
  const token = { accessToken: { value: "at", expiry: 2_000_000_000 }, refreshToken: { value: "rt", expiry: 2_000_000_000 }, user: { id: "d" } };

  it("open only for the flow and user they were sealed for", async () => {
    const blob = await store.sealForRecovery("flowAAAAAAAAAAAAAAAAAA", "alice", token);
    await expect(store.openRecovery("flowAAAAAAAAAAAAAAAAAA", "alice", blob)).resolves.toEqual(token);
    await expect(store.openRecovery("flowBBBBBBBBBBBBBBBBBB", "alice", blob)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/does not belong/) });
    await expect(store.openRecovery("flowAAAAAAAAAAAAAAAAAA", "bob", blob)).rejects.toMatchObject({ status: 400 });
  });
});
