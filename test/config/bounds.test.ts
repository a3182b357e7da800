/**
 * parseConfig's bounds, each tried one past the limit (docs/mutation-sweep.md
 * found them unwatched): a misconfigured Worker refuses to start and names
 * the variable.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { testEnv } from "../support/app.ts";

function problemsOf(overrides: Partial<Env>): string[] {
  try {
    parseConfig({ ...testEnv, ...overrides });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

const KEY = (byte: number, length = 32) => btoa(String.fromCharCode(...new Array(length).fill(byte)));

describe("parseConfig bounds", () => {
  it("accepts 32-character API keys and refuses a 31-character one", () => {
    expect(problemsOf({ API_KEYS: "a".repeat(32) })).toEqual([]);
    expect(problemsOf({ API_KEYS: `${"a".repeat(32)},${"b".repeat(31)}` }).join("\n")).toMatch(/API_KEYS/);
  });

  it("accepts 32-byte encryption keys and refuses a 31- or 33-byte one", () => {
    expect(problemsOf({ TOKEN_ENCRYPTION_KEYS: `k1:${KEY(3)}` })).toEqual([]);
    expect(problemsOf({ TOKEN_ENCRYPTION_KEYS: `k1:${KEY(3, 31)}` }).join("\n")).toMatch(/TOKEN_ENCRYPTION_KEYS/);
    expect(problemsOf({ TOKEN_ENCRYPTION_KEYS: `k1:${KEY(3, 33)}` }).join("\n")).toMatch(/TOKEN_ENCRYPTION_KEYS/);
  });

  it("refuses two encryption keys with the same id", () => {
    expect(problemsOf({ TOKEN_ENCRYPTION_KEYS: `k1:${KEY(3)},k1:${KEY(4)}` }).join("\n")).toMatch(/appears twice/);
  });

  it("accepts FLOW_TTL_SECONDS up to 3600 and refuses 3601", () => {
    expect(problemsOf({ FLOW_TTL_SECONDS: "3600" })).toEqual([]);
    expect(problemsOf({ FLOW_TTL_SECONDS: "3601" }).join("\n")).toMatch(/FLOW_TTL_SECONDS/);
  });

  it("accepts DIGIME_TIMEOUT_MS up to 60000 and refuses 60001", () => {
    expect(problemsOf({ DIGIME_TIMEOUT_MS: "60000" })).toEqual([]);
    expect(problemsOf({ DIGIME_TIMEOUT_MS: "60001" }).join("\n")).toMatch(/DIGIME_TIMEOUT_MS/);
  });

  it("accepts a 32-character RETURN_SIGNING_SECRET and refuses a 31-character one", () => {
    expect(problemsOf({ RETURN_SIGNING_SECRET: "s".repeat(32) })).toEqual([]);
    expect(problemsOf({ RETURN_SIGNING_SECRET: "s".repeat(31) }).join("\n")).toMatch(/RETURN_SIGNING_SECRET/);
  });
});
