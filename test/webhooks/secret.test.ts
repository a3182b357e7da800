/**
 * WEBHOOK_SECRET is accepted exactly when the signer (`new Webhook(secret)`
 * of the standardwebhooks package) can use it, and /healthz is unhealthy when
 * the signer cannot produce a signature with the configured secret.
 */
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { webhookKey } from "../../src/webhooks/settings.ts";
import { testApp, testEnv, WITH_API_KEY } from "../support/app.ts";
import { quietConsole } from "../support/quiet.ts";
import { WEBHOOK_SECRET, webhookEnv } from "../support/webhooks.ts";

quietConsole();
afterEach(() => vi.restoreAllMocks());
const SEED = Number(testEnv.FC_SEED ?? 1);
const RANDOM_BASE64 = btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)));

async function health(env = webhookEnv().env): Promise<{ status: number; problems: string[] }> {
  const response = await testApp().request("/healthz", WITH_API_KEY, env);
  return { status: response.status, problems: ((await response.json()) as { problems?: string[] }).problems ?? [] };
}

describe("WEBHOOK_SECRET", () => {
  it.each([
    ["a space inside", `whsec_${RANDOM_BASE64.slice(0, 20)} ${RANDOM_BASE64.slice(20)}`],
    ["a line break inside", `whsec_${RANDOM_BASE64.slice(0, 20)}\n${RANDOM_BASE64.slice(20)}`],
    ["a tab inside", `whsec_${RANDOM_BASE64.slice(0, 20)}\t${RANDOM_BASE64.slice(20)}`],
    ["base64url letters", `whsec_${RANDOM_BASE64.slice(0, 40)}-_AA`],
    ["three padding characters", `whsec_${RANDOM_BASE64.replace(/=$/, "===")}`],
  ])("refuses a secret with %s, which the signer throws on", async (_what, secret) => {
    expect(() => new Webhook(secret).sign("msg_1", new Date(), "{}")).toThrow();
    const { status, problems } = await health(webhookEnv({ WEBHOOK_SECRET: secret }).env);
    expect(status).toBe(503);
    expect(problems.join("\n")).toMatch(/WEBHOOK_SECRET must be whsec_ followed by the base64 \(no spaces or line breaks\)/);
    expect(problems.join("\n")).not.toContain(RANDOM_BASE64.slice(0, 20));
  });

  it("accepts exactly what the signer accepts, and reads the same key from it", () => {
    const id = "msg_p";
    const at = new Date(1_700_000_000_000);
    const alphabet = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "=", " ", "\n", "-", "_", "."];
    const noisy = fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 48 }).map((chars) => chars.join(""));
    const encoding = (minLength: number) =>
      fc.uint8Array({ minLength, maxLength: 40 }).chain((bytes) => {
        const padded = btoa(String.fromCharCode(...bytes));
        return fc.constantFrom(padded, padded.replace(/=+$/, ""));
      });
    const encoded = encoding(1);
    fc.assert(
      fc.property(fc.oneof(noisy, encoded), (text) => {
        const secret = `whsec_${text}`;
        const key = webhookKey(secret);
        let signed: string | undefined;
        try {
          signed = new Webhook(secret).sign(id, at, "{}");
        } catch {
          signed = undefined;
        }
        if (key) {
          // Accepted here ⇒ the signer signs, with the very key checked for length and variety.
          expect(signed).toBe(new Webhook(key, { format: "raw" }).sign(id, at, "{}"));
        }
        return true;
      }),
      { seed: SEED, numRuns: 2000 },
    );
    // And every canonical encoding the signer reads (4 characters or more) is accepted, padded or not.
    fc.assert(
      fc.property(encoding(3), (text) => webhookKey(`whsec_${text}`) !== undefined),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("makes /healthz unhealthy when the signer cannot produce a test signature with the configured secret", async () => {
    expect(await health()).toEqual({ status: 200, problems: [] });
    // A signer that fails on a secret the configuration accepted (a library change, say).
    vi.spyOn(Webhook.prototype, "sign").mockImplementation(() => {
      throw new Error("Base64Coder: incorrect characters for decoding");
    });
    const { status, problems } = await health();
    expect(status).toBe(503);
    expect(problems).toEqual(["WEBHOOK_SECRET: the signer could not produce a test signature with it; every delivery would fail"]);
    expect(problems.join("\n")).not.toContain(WEBHOOK_SECRET.slice(6));
  });
});
