/**
 * Token versions in QA steps: a step saves the version it saw under a name
 * (`save: first`), and later expectations compare with it — a number, a saved
 * name, or either after a comparison (`">first"`, `"!=first"`, `">=2"`).
 */
import { VERSION_EXPECTATION, type VersionExpectation } from "./schema.ts";

/** The versions a scenario saved, by name. */
export type SavedVersions = ReadonlyMap<string, number>;

/** The comparison and the number a version expectation stands for; throws for a name nothing saved. */
export function resolveVersion(saved: SavedVersions, expectation: VersionExpectation): { op: string; value: number } {
  if (typeof expectation === "number") return { op: "=", value: expectation };
  const [, op = "=", operand = ""] = VERSION_EXPECTATION.exec(expectation) ?? [];
  if (/^[0-9]+$/.test(operand)) return { op, value: Number(operand) };
  const value = saved.get(operand);
  if (value === undefined) throw new Error(`no version was saved as "${operand}" (the step that saves it did not answer one)`);
  return { op, value };
}

/** Whether `actual` satisfies the expectation. */
export function versionHolds(saved: SavedVersions, expectation: VersionExpectation, actual: unknown): boolean {
  if (typeof actual !== "number") return false;
  const { op, value } = resolveVersion(saved, expectation);
  switch (op) {
    case ">":
      return actual > value;
    case ">=":
      return actual >= value;
    case "<":
      return actual < value;
    case "<=":
      return actual <= value;
    case "!=":
      return actual !== value;
    default:
      return actual === value;
  }
}

/** The expectation as a report shows it: `">first (3)"`, `"first (3)"`, `">=2"`, `4`. */
export function describeVersion(saved: SavedVersions, expectation: VersionExpectation): string | number {
  if (typeof expectation === "number") return expectation;
  const { value } = resolveVersion(saved, expectation);
  return /[A-Za-z_]/.test(expectation) ? `${expectation} (${value})` : expectation;
}
