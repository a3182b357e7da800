import { runInDurableObject } from "cloudflare:test";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env.ts";
import { flowKey } from "../../src/storage/keys.ts";
import { USER_KEYS } from "../../src/storage/user-store.ts";
import { APP, TestBrowser, testApp, testEnv } from "../support/app.ts";
import { startMock, type TestMock } from "../support/mock.ts";
import { objectServicesFrom, restoreObjectWiringAfterEach, userObject, wireObjects } from "../support/objects.ts";

let testMock: TestMock;

beforeAll(async () => {
  testMock = await startMock();
});
afterAll(() => testMock.stop());
afterEach(() => testMock.mock.reset());

/** A KV namespace that records every write's options and passes it on. */
function recordingKv(inner: KVNamespace) {
  const puts: Array<{ key: string; options: KVNamespacePutOptions | undefined }> = [];
  const kv = new Proxy(inner, {
    get(target, property) {
      if (property === "put") {
        return (key: string, value: string, options?: KVNamespacePutOptions) => {
          puts.push({ key, options });
          return target.put(key, value, options);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv, puts };
}

restoreObjectWiringAfterEach();

/** Everything a user's object keeps, as stored (JSON text per key). */
async function objectStorageRaw(userId: string): Promise<Map<string, string>> {
  return runInDurableObject(userObject(userId), async (_instance, state) => {
    const all = new Map<string, string>();
    for (const [key, value] of await state.storage.list()) all.set(key, JSON.stringify(value));
    return all;
  });
}

async function readAllRaw(kv: KVNamespace): Promise<Map<string, { value: string; expiration?: number }>> {
  const all = new Map<string, { value: string; expiration?: number }>();
  const listed = await kv.list();
  for (const key of listed.keys) all.set(key.name, { value: (await kv.get(key.name, "text")) ?? "", expiration: key.expiration });
  return all;
}

describe("storage at rest", () => {
  it("holds no token, code, state or verifier in clear, in KV or in the user's object, and every KV write has a TTL of at least 60 s", async () => {
    const { kv, puts } = recordingKv(testEnv.REAUTH_KV);
    const env: Env = { ...testEnv, REAUTH_KV: kv };
    const { request } = testApp();
    const req = (path: string, init?: RequestInit) => request(path, init, env);
    const apiWith = (path: string, method: string, body?: unknown) =>
      req(path, {
        method,
        headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    const { user, token } = testMock.mock.createUser();
    expect((await apiWith(`/v1/users/${user.id}/token`, "PUT", token)).status).toBe(204);
    const started = (await (await apiWith("/v1/reauth/user", "POST", { userId: user.id, returnTo: `${APP}/x` })).json()) as { launchUrl: string };
    const account = (await (await apiWith("/v1/reauth/account", "POST", { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` })).json()) as { launchUrl: string };
    const browser = new TestBrowser(req);
    const pendingAccount = await browser.get(account.launchUrl);
    expect(pendingAccount.status).toBe(302);

    // Snapshot while the account flow is pending, then finish the user flow.
    const { final } = await browser.navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    const stored = (await (await apiWith(`/v1/users/${user.id}/token`, "GET")).json()) as { token: { accessToken: { value: string }; refreshToken: { value: string } } };

    const exchange = testMock.mock.journal.find((e) => e.endpoint === "oauth/token")!;
    const reference = testMock.mock.journal.find((e) => e.endpoint === "oauth/token/reference" && e.claims?.state)!;
    const secrets = [
      token.accessToken.value,
      token.refreshToken.value,
      stored.token.accessToken.value,
      stored.token.refreshToken.value,
      exchange.claims!.code as string,
      exchange.claims!.code_verifier as string,
      reference.claims!.state as string,
      ...[...browser.cookies.values()],
    ];
    const raw = await readAllRaw(testEnv.REAUTH_KV);
    expect(raw.size).toBeGreaterThanOrEqual(2); // the user flow's and the account flow's start entries
    for (const [key, { value }] of raw) {
      for (const secret of secrets) expect(value, `${key} holds a secret in clear`).not.toContain(secret);
    }
    const inObject = await objectStorageRaw(user.id);
    expect([...inObject.keys()]).toEqual(expect.arrayContaining([USER_KEYS.token, USER_KEYS.meta]));
    for (const [key, value] of inObject) {
      for (const secret of secrets) expect(value, `the object's ${key} holds a secret in clear`).not.toContain(secret);
    }
    expect(puts.length).toBeGreaterThanOrEqual(2);
    for (const { key, options } of puts) {
      const ttl = options?.expirationTtl ?? (options?.expiration ? options.expiration - Date.now() / 1000 : 0);
      expect(ttl, `${key} written without a TTL of at least 60 s`).toBeGreaterThanOrEqual(60);
    }
  });

  it("writes a flow's start entry once, sealed; the outcome lives in the user's object, without verifier or onboarding URL", async () => {
    const { api, request } = testApp();
    const { user, token } = testMock.mock.createUser();
    await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token });
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).json()) as { flowId: string; launchUrl: string };
    const before = await testEnv.REAUTH_KV.get(flowKey(started.flowId));
    expect(JSON.parse(before!)).toHaveProperty("verifier.ct");
    expect(JSON.parse(before!)).toHaveProperty("upstreamUrl.ct");
    await new TestBrowser(request).navigate(started.launchUrl);
    expect(await testEnv.REAUTH_KV.get(flowKey(started.flowId))).toBe(before); // never rewritten
    const outcome = JSON.parse((await objectStorageRaw(user.id)).get(USER_KEYS.flowPrefix + started.flowId)!);
    expect(outcome).toMatchObject({ status: "succeeded", identity: "confirmed" });
    expect(outcome).not.toHaveProperty("verifier");
    expect(outcome).not.toHaveProperty("upstreamUrl");
  });
});

describe("token encryption keys", () => {
  const K1 = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
  const K2 = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
  const withKeys = (keys: string): Env => ({ ...testEnv, TOKEN_ENCRYPTION_KEYS: keys });
  const token = { accessToken: { value: "at-rotate", expiry: 2_000_000_000 }, refreshToken: { value: "rt-rotate", expiry: 2_000_000_000 } };

  async function call(env: Env, method: string, body?: unknown, headers: Record<string, string> = {}) {
    const { request } = testApp();
    wireObjects(objectServicesFrom(env)); // the user's object seals with these keys too
    return request("/v1/users/rotating/token", {
      method,
      headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, env);
  }

  it("opens a token sealed with an older key after rotation, and seals new writes with the new key", async () => {
    // The tests share the user: each starts from no token.
    await call(withKeys(K1), "DELETE");
    expect((await call(withKeys(K1), "PUT", token)).status).toBe(204);
    expect(JSON.parse((await objectStorageRaw("rotating")).get(USER_KEYS.token)!)).toMatchObject({ sealed: { kid: "k1" } });
    const rotated = withKeys(`${K2},${K1}`);
    const read = await call(rotated, "GET");
    expect(await read.json()).toMatchObject({ token: { accessToken: { value: "at-rotate" } } });
    expect((await call(rotated, "PUT", token, { "If-Match": read.headers.get("ETag")! })).status).toBe(204);
    expect(JSON.parse((await objectStorageRaw("rotating")).get(USER_KEYS.token)!)).toMatchObject({ sealed: { kid: "k2" } });
  });

  it("fails clearly, without leaking anything, when the sealing key is gone", async () => {
    await call(withKeys(K1), "DELETE");
    expect((await call(withKeys(K1), "PUT", token)).status).toBe(204);
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const response = await call(withKeys(K2), "GET");
    spy.mockRestore();
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(body).toContain("encryption_key_missing");
    expect(body).not.toContain("at-rotate");
  });
});
