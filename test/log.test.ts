/**
 * The logger's own guards (docs/mutation-sweep.md found them unwatched): a
 * caller's secret-named field never reaches the line, and LOG_LEVEL is the
 * lowest level written.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { log } from "../src/log.ts";

function capture(): string[] {
  const lines: string[] = [];
  for (const level of ["log", "warn", "error"] as const) vi.spyOn(console, level).mockImplementation((text: unknown) => void lines.push(String(text)));
  return lines;
}
const at = (logLevel: string) => ({ logLevel });

afterEach(() => vi.restoreAllMocks());

describe("log", () => {
  it("drops fields named like a token, code, verifier, state, secret or cookie, whatever a caller passes", () => {
    const lines = capture();
    log(at("info"), "info", "oops", { accessToken: "A1", code: "C1", codeVerifier: "V1", state: "S1", webhookSecret: "W1", cookie: "K1", flowId: "kept" });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"flowId":"kept"');
    for (const secret of ["A1", "C1", "V1", "S1", "W1", "K1"]) expect(lines[0]).not.toContain(secret);
  });

  it("writes the configured level and above, and nothing below", () => {
    const lines = capture();
    log(at("warn"), "info", "quiet");
    log(at("warn"), "warn", "heard");
    log(at("warn"), "error", "loud");
    expect(lines.map((l) => (JSON.parse(l) as { event: string }).event)).toEqual(["heard", "loud"]);
  });
});
