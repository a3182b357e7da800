/**
 * Production refuses the local stack's secrets for the signed return and the
 * webhooks, as it refuses the other development defaults (issue 11, point 6).
 */
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.ts";
import { testApp } from "../support/app.ts";
import { quietConsole } from "../support/quiet.ts";
import { webhookEnv } from "../support/webhooks.ts";

quietConsole();

/** What harness/stack.ts sets. */
const STACK_RETURN_SECRET = "dev-return-signing-secret-00000000000000";
const STACK_WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`;
const OWN_WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)))}`;
/** A receiver a deployment sends to (not a reserved test name). */
const DEPLOYED_RECEIVER = "https://backend.example.com/digime/webhooks";
/** The deployment's own API key: outside development mode only such a key reads /healthz's problems. */
const OPERATOR_KEY = "qyijKoKO5wkEpZXhDUTwctdSsyEhhwTl";

function production(overrides: Partial<Env>): Env {
  const env: Env = { ...webhookEnv().env, API_KEYS: `${webhookEnv().env.API_KEYS},${OPERATOR_KEY}`, ...overrides };
  delete env.DEVELOPMENT_MODE;
  return env;
}

async function problemsOf(env: Env): Promise<string[]> {
  const body = (await (await testApp().request("/healthz", { headers: { Authorization: `Bearer ${OPERATOR_KEY}` } }, env)).json()) as { problems?: string[] };
  return body.problems ?? [];
}

describe("production configuration: signed return and webhooks", () => {
  it("refuses the local stack's RETURN_SIGNING_SECRET and WEBHOOK_SECRET by name", async () => {
    const problems = await problemsOf(production({ RETURN_SIGNING_SECRET: STACK_RETURN_SECRET, WEBHOOK_SECRET: STACK_WEBHOOK_SECRET }));
    expect(problems).toContain("RETURN_SIGNING_SECRET is the development secret");
    expect(problems).toContain("WEBHOOK_SECRET is a development secret (one repeated byte)");
    expect(problems.join("\n")).not.toContain(STACK_RETURN_SECRET);
  });

  it("accepts secrets of the deployment's own", async () => {
    const problems = await problemsOf(production({ RETURN_SIGNING_SECRET: "k3Hq9vYb2LxWmT7pZc4NfR8sDj6GaE1u", WEBHOOK_SECRET: OWN_WEBHOOK_SECRET, WEBHOOK_URL: DEPLOYED_RECEIVER }));
    expect(problems.filter((p) => /RETURN_SIGNING_SECRET|WEBHOOK/.test(p))).toEqual([]);
  });

  it("accepts the development secrets in development mode", async () => {
    const health = await testApp().request("/healthz", {}, { ...webhookEnv().env, RETURN_SIGNING_SECRET: STACK_RETURN_SECRET, WEBHOOK_SECRET: STACK_WEBHOOK_SECRET });
    expect(await health.json()).toEqual({ status: "ok" });
    expect(health.status).toBe(200);
  });

  it.each([
    ["00", 0x00],
    ["41", 0x41],
    ["ff", 0xff],
  ])("refuses a WEBHOOK_SECRET of one repeated byte whatever the byte (0x%s), not only the local stack's 0x09", async (_hex, byte) => {
    const secret = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).fill(byte)))}`;
    expect(await problemsOf(production({ WEBHOOK_SECRET: secret, WEBHOOK_URL: DEPLOYED_RECEIVER }))).toContain("WEBHOOK_SECRET is a development secret (one repeated byte)");
  });

  it.each([
    ["two alternating bytes", Array.from({ length: 32 }, (_, i) => (i % 2 ? 0x00 : 0x01)), "only 2 distinct byte values"],
    ["a near-zero key", Array.from({ length: 32 }, (_, i) => (i === 31 ? 1 : 0)), "only 2 distinct byte values"],
    ["a pattern of 12 bytes repeated", Array.from({ length: 24 }, (_, i) => (i % 12) * 17), "a pattern of 12 bytes repeated"],
  ])("refuses a WEBHOOK_SECRET that is not random: %s", async (_what, bytes, reason) => {
    const secret = `whsec_${btoa(String.fromCharCode(...bytes))}`;
    const problems = await problemsOf(production({ WEBHOOK_SECRET: secret, WEBHOOK_URL: DEPLOYED_RECEIVER }));
    expect(problems).toContain(`WEBHOOK_SECRET is not random (${reason})`);
    expect(problems.join("\n")).not.toContain(secret.slice(6, 16));
  });

  it("refuses a WEBHOOK_SECRET of fewer than 24 bytes", async () => {
    const short = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 23 }, (_, i) => (i * 37 + 11) % 256)))}`;
    expect((await problemsOf(production({ WEBHOOK_SECRET: short, WEBHOOK_URL: DEPLOYED_RECEIVER }))).join("\n")).toMatch(/WEBHOOK_SECRET must be whsec_ followed by the base64 .* of at least 24 random bytes/);
  });

  it("refuses a WEBHOOK_URL on this machine or under a reserved test name outside development mode", async () => {
    for (const url of ["http://127.0.0.1:8789/webhooks", "https://localhost/hooks", "http://[::1]:9000/hooks", "https://backend.test/webhooks", "https://hooks.example/in", "https://x.invalid/"]) {
      expect(await problemsOf(production({ WEBHOOK_SECRET: OWN_WEBHOOK_SECRET, WEBHOOK_URL: url })), url).toContain(
        "WEBHOOK_URL points at this machine or a reserved test name (.test, .example, .localhost, .invalid) outside development mode",
      );
    }
    expect((await problemsOf(production({ WEBHOOK_SECRET: OWN_WEBHOOK_SECRET, WEBHOOK_URL: DEPLOYED_RECEIVER }))).join("\n")).not.toMatch(/WEBHOOK_URL/);
  });
});
