/**
 * For test files that provoke failures on purpose: the service logs them as
 * errors and warnings, which would bury the test output.
 */
import { afterAll, beforeAll, vi } from "vitest";

/** Silences console.error and console.warn for the current test file. */
export function quietConsole(): void {
  beforeAll(() => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
  });
  afterAll(() => vi.restoreAllMocks());
}
