import { describe, expect, it, vi } from "vitest";
import { encodePem } from "../../src/digime/pem.ts";
import type { Env } from "../../src/env.ts";
import devPkcs8 from "../fixtures/dev-contract.pkcs8.pem?raw";
import { testApp, testEnv } from "../support/app.ts";
import { quietConsole } from "../support/quiet.ts";

/**
 * Production refuses the development defaults (issue 11, point 6): the Worker
 * answers 503 everywhere and /healthz names each problem to a caller with an
 * API key (the deployment's own: outside development mode not a published or
 * placeholder key), unless DEVELOPMENT_MODE="true" (set by the local stack and
 * by these tests' bindings).
 */
quietConsole();
const { request } = testApp();
const ZERO_KEY = `z:${btoa(String.fromCharCode(...new Uint8Array(32)))}`;
const DEV_KEY = `dev:${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`;
/** A deployment's own API key and return secret (random, unlike the tests' committed ones). */
const PROD_API_KEY = "qyijKoKO5wkEpZXhDUTwctdSsyEhhwTl";
const PROD_RETURN_SECRET = "Jr07iabVWpitfDkluT-1kH5sqsF-0kbF";
const PROD_KEY = "k9:ZcmU9X8VrfFxfJrMjHRfi1hUP+PmnplgkhYVljJ/x5M=";

/** The test bindings as a production deployment with its own key material would have them. */
function production(overrides: Partial<Env> = {}): Env {
  const env: Env = { ...testEnv, DIGIME_PRIVATE_KEY: "", TOKEN_ENCRYPTION_KEYS: PROD_KEY, API_KEYS: PROD_API_KEY, RETURN_SIGNING_SECRET: PROD_RETURN_SECRET, ...overrides };
  delete env.DEVELOPMENT_MODE;
  return env;
}

async function problemsOf(env: Env, key = PROD_API_KEY): Promise<{ status: number; problems: string[] }> {
  const response = await request("/healthz", { headers: { Authorization: `Bearer ${key}` } }, env);
  const body = (await response.json()) as { problems?: string[] };
  return { status: response.status, problems: body.problems ?? [] };
}

/** /healthz without credentials, and the problems it logged. */
async function loggedHealth(env: Env): Promise<{ status: number; body: unknown; logged: string[] }> {
  const logged: string[] = [];
  const spy = vi.spyOn(console, "error").mockImplementation((line: unknown) => void logged.push(String(line)));
  try {
    const response = await request("/healthz", {}, env);
    return { status: response.status, body: await response.json(), logged };
  } finally {
    spy.mockRestore();
  }
}

describe("production configuration", () => {
  it("names every development default and answers 503 on every route", async () => {
    const env = production({
      DIGIME_PRIVATE_KEY: testEnv.DIGIME_PRIVATE_KEY,
      API_KEYS: `dev-api-key-0000000000000000000000000000,${PROD_API_KEY}`,
      TOKEN_ENCRYPTION_KEYS: `${DEV_KEY},${ZERO_KEY}`,
      PUBLIC_BASE_URL: "http://edge.example",
      DIGIME_API_BASE_URL: "http://api.digi.me/v1.7/",
      DIGIME_ONBOARD_BASE_URL: "http://api.digi.me/apps/saas/",
      ALLOWED_RETURN_ORIGINS: "http://app.example,http://127.0.0.1:8788",
    });
    const { status, problems } = await problemsOf(env);
    expect(status).toBe(503);
    const text = problems.join("\n");
    expect(text).toMatch(/API_KEYS contains the published development key/);
    expect(text).toMatch(/key "dev" is the development key/);
    expect(text).toMatch(/key "z" is all zeros/);
    expect(text).toMatch(/DIGIME_PRIVATE_KEY is the committed development contract key/);
    expect(text).toMatch(/PUBLIC_BASE_URL must be https/);
    expect(text).toMatch(/DIGIME_API_BASE_URL must be https/);
    expect(text).toMatch(/DIGIME_ONBOARD_BASE_URL must be https/);
    expect(text).toMatch(/"http:\/\/app.example" must be https/);
    expect(text).not.toMatch(/127\.0\.0\.1/); // http:// on this machine is allowed for return origins
    for (const path of ["/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", "/reauth/launch/AAAAAAAAAAAAAAAAAAAAAA", "/reauth/user/callback?flow=AAAAAAAAAAAAAAAAAAAAAA&success=false"]) {
      const response = await request(path, { headers: { Authorization: "Bearer dev-api-key-0000000000000000000000000000" } }, env);
      expect(response.status, path).toBe(503);
    }
  });

  it("refuses an encryption key of one repeated byte, such as the test suite's committed keys", async () => {
    const { status, problems } = await problemsOf(production({ TOKEN_ENCRYPTION_KEYS: `${PROD_KEY},${testEnv.TOKEN_ENCRYPTION_KEYS}` }));
    expect(status).toBe(503);
    const text = problems.join("\n");
    expect(text).toMatch(/key "k2" is one repeated byte/);
    expect(text).toMatch(/key "k1" is one repeated byte/);
    expect(text).not.toMatch(/key "k9"/);
  });

  it("refuses the test suite's committed API keys and return secret, and any key with a long run of one character", async () => {
    const { status, problems } = await problemsOf(production({ API_KEYS: `${testEnv.API_KEYS},${PROD_API_KEY}`, RETURN_SIGNING_SECRET: testEnv.RETURN_SIGNING_SECRET }));
    expect(status).toBe(503);
    const text = problems.join("\n");
    expect(text).toMatch(/API_KEYS: a key repeats one character more than 7 times in a row/);
    expect(text).toMatch(/RETURN_SIGNING_SECRET repeats one character more than 7 times in a row/);
    expect(text).not.toContain("test-key-aaaa");
    const placeholder = await problemsOf(production({ API_KEYS: `${PROD_API_KEY},changeme-xxxxxxxxxxxxxxxxxxxxxxxxxxxx` }));
    expect(placeholder.problems.join("\n")).toMatch(/API_KEYS: a key repeats one character/);
  });

  it("recognises the development contract key in PKCS#8 too", async () => {
    const { problems } = await problemsOf(production({ DIGIME_PRIVATE_KEY: devPkcs8 }));
    expect(problems.join("\n")).toMatch(/committed development contract key/);
  });

  it("refuses API_KEYS that hold no key once trimmed, even in development mode, and logs it (no key can read /healthz's problems)", async () => {
    for (const env of [production({ DIGIME_PRIVATE_KEY: testEnv.DIGIME_PRIVATE_KEY, API_KEYS: " , ," }), { ...testEnv, API_KEYS: " , ," }]) {
      const { status, logged } = await loggedHealth(env);
      expect(status).toBe(503);
      expect(logged.join("\n")).toMatch(/API_KEYS holds no key/);
    }
  });

  it("starts with production key material and https URLs, development mode off", async () => {
    const pair = (await crypto.subtle.generateKey(
      { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
    const health = await request("/healthz", {}, production({ DIGIME_PRIVATE_KEY: encodePem("PRIVATE KEY", pkcs8) }));
    expect(await health.json()).toMatchObject({ status: "ok" });
    expect(health.status).toBe(200);
  });

  it("refuses DEVELOPMENT_MODE=true on a deployed Worker's PUBLIC_BASE_URL, so one stray variable cannot switch the refusals off", async () => {
    // edge.contest: a reserved name is matched as a whole label, not as the end of one.
    for (const url of ["https://digime-reauth-edge.acme.workers.dev", "https://reauth.example.com", "https://test.example.org", "https://edge.contest", "https://edge.latest"]) {
      const { status, problems } = await problemsOf({ ...testEnv, PUBLIC_BASE_URL: url, API_KEYS: `${testEnv.API_KEYS},${PROD_API_KEY}` });
      expect(status, url).toBe(503);
      expect(problems.join("\n"), url).toMatch(/DEVELOPMENT_MODE="true" is honoured only for a PUBLIC_BASE_URL on this machine/);
    }
    for (const url of ["https://edge.test", "http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787", "http://edge.localhost"]) {
      expect((await problemsOf({ ...testEnv, PUBLIC_BASE_URL: url })).status, url).toBe(200);
    }
  });

  it("refuses, in development mode, a request whose own host is not this machine or a reserved name, even with a local PUBLIC_BASE_URL", async () => {
    // The test bindings: DEVELOPMENT_MODE=true, PUBLIC_BASE_URL https://edge.test; a deployed copy is reached at its own host.
    const env = { ...testEnv, API_KEYS: `${testEnv.API_KEYS},${PROD_API_KEY}` };
    for (const origin of ["https://edge.example.com", "https://digime-reauth-edge.acme.workers.dev", "https://edge.contest"]) {
      const api = await request(`${origin}/v1/flows/AAAAAAAAAAAAAAAAAAAAAA`, { headers: { Authorization: `Bearer ${testEnv.API_KEYS!.split(",")[0]}` } }, env);
      expect(api.status, origin).toBe(503);
      expect(((await api.json()) as { error: { code: string } }).error.code).toBe("configuration_error");
      expect((await request(`${origin}/reauth/launch/AAAAAAAAAAAAAAAAAAAAAA`, {}, env)).status, origin).toBe(503);
      // The test keys are placeholders: not honoured here, they read nothing more than anyone.
      const health = await request(`${origin}/healthz`, { headers: { Authorization: `Bearer ${testEnv.API_KEYS!.split(",")[0]}` } }, env);
      expect(health.status, origin).toBe(503);
      expect(await health.json()).toEqual({ status: "misconfigured" });
      const operator = await request(`${origin}/healthz`, { headers: { Authorization: `Bearer ${PROD_API_KEY}` } }, env);
      expect(((await operator.json()) as { problems: string[] }).problems.join("\n")).toContain(`DEVELOPMENT_MODE="true" is honoured only for requests to this machine or a reserved test name (.test, .example, .localhost, .invalid), and this request came to ${new URL(origin).host}`);
    }
  });

  it("serves, in development mode, requests to a reserved name or to this machine", async () => {
    for (const origin of ["https://edge.test", "http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787", "http://edge.localhost"]) {
      const api = await request(`${origin}/v1/flows/AAAAAAAAAAAAAAAAAAAAAA`, { headers: { Authorization: `Bearer ${testEnv.API_KEYS!.split(",")[0]}` } });
      expect(api.status, origin).toBe(404); // served: the flow is unknown
      expect((await request(`${origin}/healthz`)).status, origin).toBe(200);
    }
  });

  it("accepts the development defaults only with DEVELOPMENT_MODE=true", async () => {
    const dev = { ...testEnv, API_KEYS: "dev-api-key-0000000000000000000000000000", TOKEN_ENCRYPTION_KEYS: DEV_KEY, PUBLIC_BASE_URL: "http://127.0.0.1:8787" };
    const health = await request("/healthz", { headers: { Authorization: "Bearer dev-api-key-0000000000000000000000000000" } }, dev);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", config: { developmentMode: true } });
    expect((await problemsOf({ ...dev, DEVELOPMENT_MODE: "yes" })).status).toBe(503);
  });

  it("shows /healthz's problems only to the deployment's own API key, not to the published development key or a placeholder", async () => {
    const env = production({ DIGIME_PRIVATE_KEY: testEnv.DIGIME_PRIVATE_KEY, API_KEYS: `dev-api-key-0000000000000000000000000000,${testEnv.API_KEYS},${PROD_API_KEY}` });
    for (const key of ["dev-api-key-0000000000000000000000000000", ...testEnv.API_KEYS!.split(","), "qyijKoKO5wkEpZXhDUTwctdSsyEhhwTm"]) {
      const response = await request("/healthz", { headers: { Authorization: `Bearer ${key}` } }, env);
      expect(response.status, key).toBe(503);
      expect(await response.json(), key).toEqual({ status: "misconfigured" });
    }
    expect((await problemsOf(env)).problems.join("\n")).toMatch(/DIGIME_PRIVATE_KEY is the committed development contract key/);
    const { body, logged } = await loggedHealth(env);
    expect(body).toEqual({ status: "misconfigured" });
    expect(logged.map((line) => JSON.parse(line) as { event: string; problems?: string[] }).find((l) => l.event === "configuration_problems")?.problems?.join("\n")).toMatch(/committed development contract key/);
  });

  it("refuses a placeholder run of exactly 8 identical characters and accepts 7", async () => {
    const eight = "qyijKoKO5wkEpZXhDUTwctdS00000000"; // 32 characters, a run of exactly 8
    const seven = "qyijKoKO5wkEpZXhDUTwctdSs0000000"; // the same length, a run of 7
    const refused = await problemsOf(production({ API_KEYS: `${PROD_API_KEY},${eight}`, RETURN_SIGNING_SECRET: `Jr07iabVWpitfDkluT-1kH5s${"x".repeat(8)}` }));
    expect(refused.problems.join("\n")).toMatch(/API_KEYS: a key repeats one character more than 7 times in a row/);
    expect(refused.problems.join("\n")).toMatch(/RETURN_SIGNING_SECRET repeats one character more than 7 times in a row/);
    const accepted = await problemsOf(production({ API_KEYS: `${PROD_API_KEY},${seven}`, RETURN_SIGNING_SECRET: `Jr07iabVWpitfDkluT-1kH5sq${"x".repeat(7)}` }));
    expect(accepted.problems.filter((p) => /API_KEYS|RETURN_SIGNING_SECRET/.test(p))).toEqual([]);
  });

  it.each([
    ["two alternating bytes", Array.from({ length: 32 }, (_, i) => (i % 2 ? 0xcd : 0xab)), "only 2 distinct byte values"],
    ["a few letters in no fixed pattern", [..."abacabadabacabaeabacabadabacabaf"].map((c) => c.charCodeAt(0)), "only 6 distinct byte values"],
    ["a pattern of 8 bytes repeated", Array.from({ length: 32 }, (_, i) => 0x10 + (i % 8)), "a pattern of 8 bytes repeated"],
  ])("refuses an encryption key of %s, naming the key but not its bytes", async (_what, bytes, reason) => {
    const weak = `w:${btoa(String.fromCharCode(...bytes))}`;
    const { status, problems } = await problemsOf(production({ TOKEN_ENCRYPTION_KEYS: `${PROD_KEY},${weak}` }));
    expect(status).toBe(503);
    expect(problems).toContain(`TOKEN_ENCRYPTION_KEYS: key "w" is not random (${reason})`);
    expect(problems.join("\n")).not.toContain(weak.slice(2, 12));
    expect(problems.join("\n")).not.toMatch(/key "k9"/);
  });

  it("refuses a RETURN_SIGNING_SECRET that is also one of the API_KEYS", async () => {
    const shared = "Vb3nXq8LrT2mWc6ZpK9sYd4FhJ7gNa1E";
    const { status, problems } = await problemsOf(production({ API_KEYS: `${PROD_API_KEY},${shared}`, RETURN_SIGNING_SECRET: shared }));
    expect(status).toBe(503);
    expect(problems).toContain("RETURN_SIGNING_SECRET is one of the API_KEYS; give the signed return a secret of its own");
    expect(problems.join("\n")).not.toContain(shared);
    const apart = await problemsOf(production({ API_KEYS: `${PROD_API_KEY},${shared}` }));
    expect(apart.problems.join("\n")).not.toMatch(/RETURN_SIGNING_SECRET/);
  });

  it("refuses a PUBLIC_BASE_URL with userinfo, a query or a fragment", async () => {
    for (const url of ["https://user:pw@reauth.example.com", "https://user@reauth.example.com", "https://reauth.example.com/?x=1", "https://reauth.example.com/edge?", "https://reauth.example.com/#top", "https://reauth.example.com#"]) {
      const { status, problems } = await problemsOf(production({ PUBLIC_BASE_URL: url }));
      expect(status, url).toBe(503);
      expect(problems, url).toContain("PUBLIC_BASE_URL must be an origin and path only: no userinfo, query (?) or fragment (#)");
    }
    const clean = await problemsOf(production({ PUBLIC_BASE_URL: "https://reauth.example.com/edge" }));
    expect(clean.problems.join("\n")).not.toMatch(/PUBLIC_BASE_URL/);
  });
});
