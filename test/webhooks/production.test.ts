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

/** What scripts/stack.ts sets. */
const STACK_RETURN_SECRET = "dev-return-signing-secret-00000000000000";
const STACK_WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`;
const OWN_WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)))}`;
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
    const problems = await problemsOf(production({ RETURN_SIGNING_SECRET: "k3Hq9vYb2LxWmT7pZc4NfR8sDj6GaE1u", WEBHOOK_SECRET: OWN_WEBHOOK_SECRET }));
    expect(problems.filter((p) => /RETURN_SIGNING_SECRET|WEBHOOK/.test(p))).toEqual([]);
  });

  it("accepts the development secrets in development mode", async () => {
    const health = await testApp().request("/healthz", {}, { ...webhookEnv().env, RETURN_SIGNING_SECRET: STACK_RETURN_SECRET, WEBHOOK_SECRET: STACK_WEBHOOK_SECRET });
    expect(await health.json()).toEqual({ status: "ok" });
    expect(health.status).toBe(200);
  });
});
