import { describe, expect, it } from "vitest";
import { Sealer } from "../../src/storage/crypto.ts";
import { runInDurableObject } from "cloudflare:test";
import { flowKey } from "../../src/storage/keys.ts";
import { openRecovery, sealForRecovery } from "../../src/flows/recovery.ts";
import { USER_KEYS } from "../../src/storage/user-store.ts";
import { APP, TestBrowser, enrollUser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { userObject } from "../support/objects.ts";
import { quietConsole } from "../support/quiet.ts";

/**
 * What is sealed at rest, and that each envelope is bound to the key it lives
 * under (AES-GCM additional data): moved elsewhere, it does not open.
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
      const raw = (await testEnv.REAUTH_KV.get(flowKey(started.flowId)))!;
      const launch = await new TestBrowser(request).get(started.launchUrl);
      expect(launch.status).toBe(302);
      const referenceCode = new URL(launch.headers.get("Location")!).searchParams.get("code")!;
      expect(referenceCode).toMatch(/^ref_/);
      expect(raw, `${kind} flow holds the reference code`).not.toContain(referenceCode);
      expect(raw, `${kind} flow holds the session key`).not.toContain(user.sessionKey);
      expect(JSON.parse(raw)).toMatchObject({ upstreamUrl: { kid: "k2" }, session: { kid: "k2" } });
    }
  });

  it("keep a backend-passed access token for the account callback only sealed, and never in the outcome", async () => {
    const { user, token } = testMock.mock.createUser();
    const body = { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x`, userAccessToken: token.accessToken.value };
    const started = (await (await api("/v1/reauth/account", { body })).json()) as { flowId: string; launchUrl: string };
    const pending = (await testEnv.REAUTH_KV.get(flowKey(started.flowId)))!;
    expect(pending).not.toContain(token.accessToken.value);
    expect(JSON.parse(pending)).toHaveProperty("userAccessToken.ct");
    await new TestBrowser(request).navigate(started.launchUrl);
    const done = await runInDurableObject(userObject(user.id), (_o, state) => state.storage.get<Record<string, unknown>>(USER_KEYS.flowPrefix + started.flowId));
    expect(done).toMatchObject({ status: "succeeded" });
    for (const dropped of ["userAccessToken", "session", "upstreamUrl", "verifier"]) expect(done).not.toHaveProperty(dropped);
  });

  it("refuse a flow record copied under another flow's key, even with its id rewritten", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).json()) as { flowId: string };
    const raw = (await testEnv.REAUTH_KV.get(flowKey(started.flowId)))!;
    const other = "BBBBBBBBBBBBBBBBBBBBBB";
    await testEnv.REAUTH_KV.put(flowKey(other), raw);
    expect((await api(`/v1/flows/${other}`)).status).toBe(500);
    await testEnv.REAUTH_KV.put(flowKey(other), raw.replaceAll(started.flowId, other));
    const launch = await new TestBrowser(request).get(`https://edge.test/reauth/launch/${other}`);
    expect(launch.status).toBe(500);
    expect(await launch.text()).toContain("storage_corrupt");
  });
});

describe("AES-GCM envelopes", () => {
  it("open only for the context they were sealed for", async () => {
    const envelope = await sealer.seal("secret", "token:v1:alice");
    await expect(sealer.open(envelope, "token:v1:alice")).resolves.toBe("secret");
    // A StorageError (corrupt): src/errors.ts answers it 500 storage_corrupt (checked on the wire above and below).
    await expect(sealer.open(envelope, "token:v1:bob")).rejects.toMatchObject({ name: "StorageError", kind: "corrupt" });
  });

  it("a user's sealed token copied into another user's object does not open", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const record = await runInDurableObject(userObject(user.id), (_o, state) => state.storage.get(USER_KEYS.token));
    expect((await api("/v1/users/mallory-copy/token")).status).toBe(404);
    await runInDurableObject(userObject("mallory-copy"), (_o, state) => state.storage.put(USER_KEYS.token, record));
    const response = await api("/v1/users/mallory-copy/token");
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: { code: "storage_corrupt" } });
  });
});

describe("recovery blobs", () => {
  const token = { accessToken: { value: "at", expiry: 2_000_000_000 }, refreshToken: { value: "rt", expiry: 2_000_000_000 }, user: { id: "d" } };

  it("open only for the flow and user they were sealed for", async () => {
    const blob = await sealForRecovery(sealer, "flowAAAAAAAAAAAAAAAAAA", "alice", token);
    await expect(openRecovery(sealer, "flowAAAAAAAAAAAAAAAAAA", "alice", blob)).resolves.toEqual(token);
    await expect(openRecovery(sealer, "flowBBBBBBBBBBBBBBBBBB", "alice", blob)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/does not belong/) });
    await expect(openRecovery(sealer, "flowAAAAAAAAAAAAAAAAAA", "bob", blob)).rejects.toMatchObject({ status: 400 });
  });
});
