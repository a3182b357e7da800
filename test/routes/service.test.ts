import { exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env.ts";
import { API_KEY, APP, TestBrowser, testApp, testEnv, WITH_API_KEY } from "../support/app.ts";
import { devPrivateKey, startMock, type TestMock } from "../support/mock.ts";

let testMock: TestMock;
beforeAll(async () => {
  testMock = await startMock();
});
afterAll(() => testMock.stop());

/** Runs `work` and returns it with the JSON lines it logged. */
async function logged<T>(work: () => T | Promise<T>): Promise<{ result: T; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const capture = (text: unknown) => void lines.push(JSON.parse(String(text)) as Record<string, unknown>);
  const spies = [vi.spyOn(console, "log").mockImplementation(capture), vi.spyOn(console, "warn").mockImplementation(capture), vi.spyOn(console, "error").mockImplementation(capture)];
  try {
    return { result: await work(), lines };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe("GET /healthz", () => {
  it("shows a caller without an API key the status only", async () => {
    const { request } = testApp();
    for (const init of [{}, { headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" } }, { headers: { Authorization: API_KEY } }]) {
      const response = await request("/healthz", init);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ok" });
    }
    const { result: broken } = await logged(() => request("/healthz", {}, { ...testEnv, PUBLIC_BASE_URL: undefined }));
    expect(broken.status).toBe(503);
    expect(await broken.json()).toEqual({ status: "misconfigured" });
  });

  it("reports ok with the configuration and no secret to a caller with an API key", async () => {
    const { request } = testApp();
    const response = await request("/healthz", WITH_API_KEY);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({
      status: "ok",
      config: { applicationId: "dev-app", contractId: "dev-contract", apiKeys: 2, encryptionKeyIds: ["k2", "k1"], flowTtlSeconds: 600 },
    });
    for (const secret of [...testEnv.API_KEYS!.split(","), "AgICAgIC", "AQEBAQEB", devPrivateKey.split("\n")[1]!]) expect(text).not.toContain(secret);
  });

  it("names every missing or malformed variable to a caller with an API key and in the log; the API answers a plain 503", async () => {
    const { request } = testApp();
    // A key of the operator's own beside the faulty one: it still reads the problems.
    const operatorKey = "qyijKoKO5wkEpZXhDUTwctdSsyEhhwTl";
    const broken: Env = {
      ...testEnv,
      DIGIME_PRIVATE_KEY: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
      API_KEYS: `short,${operatorKey}`,
      PUBLIC_BASE_URL: undefined,
      ALLOWED_RETURN_ORIGINS: "https://app.test/path",
      FLOW_TTL_SECONDS: "30",
      TOKEN_ENCRYPTION_KEYS: "k1:tooshort",
    };
    const health = await request("/healthz", { headers: { Authorization: `Bearer ${operatorKey}` } }, broken);
    expect(health.status).toBe(503);
    const { problems } = (await health.json()) as { problems: string[] };
    expect(problems.join("\n")).toMatch(/DIGIME_PRIVATE_KEY/);
    expect(problems.join("\n")).toMatch(/API_KEYS/);
    expect(problems.join("\n")).toMatch(/PUBLIC_BASE_URL is missing/);
    expect(problems.join("\n")).toMatch(/ALLOWED_RETURN_ORIGINS/);
    expect(problems.join("\n")).toMatch(/FLOW_TTL_SECONDS must be an integer from 60/);
    expect(problems.join("\n")).toMatch(/TOKEN_ENCRYPTION_KEYS/);
    for (const path of ["/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", "/reauth/launch/AAAAAAAAAAAAAAAAAAAAAA"]) {
      const { result: answer, lines } = await logged(() => request(path, { headers: { Authorization: `Bearer ${operatorKey}` } }, broken));
      expect(answer.status, path).toBe(503);
      const text = await answer.text();
      expect(text, path).toContain("configuration_error");
      for (const name of ["PUBLIC_BASE_URL", "API_KEYS", "DIGIME_PRIVATE_KEY", "FLOW_TTL_SECONDS"]) expect(text, path).not.toContain(name);
      const failed = lines.find((l) => l.event === "request_failed");
      expect(failed, path).toMatchObject({ status: 503, errorCode: "configuration_error" });
      expect((failed!.problems as string[]).join("\n"), path).toMatch(/PUBLIC_BASE_URL is missing/);
    }
    const api = (await (await request("/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", {}, broken)).json()) as { error: { message: string; hint: string } };
    expect(api.error).toMatchObject({ message: "the service is misconfigured", hint: expect.stringContaining("/healthz with an API key") });
  });

  it("reports a private key that does not import", async () => {
    const { request } = testApp();
    const health = await request("/healthz", WITH_API_KEY, { ...testEnv, DIGIME_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----" });
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toMatch(/DIGIME_PRIVATE_KEY/);
  });

  it("is served by the deployed entry point", async () => {
    const worker = (exports as unknown as { default: Fetcher }).default;
    const response = await worker.fetch("https://edge.test/healthz");
    expect(response.status).toBe(200);
  });
});

describe("GET /openapi.json", () => {
  it("documents every route from the schemas that validate them", async () => {
    const { request } = testApp();
    const doc = (await (await request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/healthz",
      "/reauth/account/callback",
      "/reauth/launch/{flowId}",
      "/reauth/recover",
      "/reauth/user/callback",
      "/v1/authorize",
      "/v1/flows/{flowId}",
      "/v1/flows/{flowId}/confirm",
      "/v1/reauth/account",
      "/v1/reauth/user",
      "/v1/users/{userId}",
      "/v1/users/{userId}/accounts",
      "/v1/users/{userId}/reauth-status",
      "/v1/users/{userId}/sessions",
      "/v1/users/{userId}/sessions/{sessionKey}/files",
      "/v1/users/{userId}/sessions/{sessionKey}/files/{fileName}",
      "/v1/users/{userId}/sessions/{sessionKey}/files/{fileName}/metadata",
      "/v1/users/{userId}/token",
    ]);
    // The token routes document their preconditions as headers.
    const put = doc.paths["/v1/users/{userId}/token"]!.put as { parameters: Array<{ name: string; in: string }> };
    expect(put.parameters.filter((p) => p.in === "header").map((p) => p.name)).toEqual(["If-Match", "If-None-Match"]);
    expect(Object.keys(doc.paths["/v1/users/{userId}/token"]!).sort()).toEqual(["delete", "get", "put"]);
    expect(doc.components.schemas.StartUserFlow!.required).toEqual(expect.arrayContaining(["userId", "returnTo"]));
    expect(Object.keys(doc.components.schemas.StartUserFlow!.properties!)).toContain("allowFullAuthorization");
  });
});

describe("logs", () => {
  it("never carry a token, code, state or verifier", async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    const spies = [vi.spyOn(console, "log").mockImplementation(capture), vi.spyOn(console, "warn").mockImplementation(capture), vi.spyOn(console, "error").mockImplementation(capture)];
    try {
      const { request } = testApp();
      const env: Env = { ...testEnv, LOG_LEVEL: "debug" };
      const { user, token } = testMock.mock.createUser();
      const call = (path: string, method: string, body?: unknown) =>
        request(path, { method, headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }, env);
      await call(`/v1/users/${user.id}/token`, "PUT", token);
      const started = (await (await call("/v1/reauth/user", "POST", { userId: user.id, returnTo: `${APP}/x` })).json()) as { launchUrl: string };
      const browser = new TestBrowser((path, init) => request(path, init, env));
      const { final } = await browser.navigate(started.launchUrl);
      expect(final.searchParams.get("status")).toBe("succeeded");
      await call("/v1/reauth/user", "POST", { userId: user.id, returnTo: "https://evil.test/" });
      const exchange = testMock.mock.journal.find((e) => e.endpoint === "oauth/token")!;
      const stored = (await (await call(`/v1/users/${user.id}/token`, "GET")).json()) as { token: { accessToken: { value: string } } };
      expect(lines.length).toBeGreaterThan(2);
      const all = lines.join("\n");
      for (const secret of [token.accessToken.value, token.refreshToken.value, stored.token.accessToken.value, exchange.claims!.code as string, exchange.claims!.code_verifier as string]) {
        expect(all).not.toContain(secret);
      }
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(lines.some((l) => JSON.parse(l).requestId)).toBe(true);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
