/**
 * Reporting: a progress line per step, a readable expected/actual diff per
 * failure, a summary table, and JUnit XML for CI.
 */
import type { ScenarioResult, StepResult } from "./runner.ts";

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
const green = paint(32);
const red = paint(31);
const dim = paint(2);
const yellow = paint(33);

/** One progress line for a finished step. */
export function progressLine(scenario: string, step: StepResult): string {
  const mark = step.ok ? green("✓") : red("✗");
  return `${mark} ${scenario} ${dim("›")} ${step.label} ${dim("→")} ${step.summary} ${dim(`(${Math.round(step.durationMs)} ms)`)}`;
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

/** The failures of one scenario as an expected/actual diff. */
export function failureText(result: ScenarioResult): string {
  const lines = [`${red("✗")} ${result.name} ${dim(`(${result.file})`)}`];
  for (const failure of result.failures) {
    lines.push(`    ${failure.where}`);
    lines.push(`      ${green("- expected:")} ${show(failure.expected)}`);
    lines.push(`      ${red("+ actual:  ")} ${show(failure.actual)}`);
  }
  for (const step of result.steps) if (step.screenshot) lines.push(`    screenshot: ${step.screenshot}`);
  return lines.join("\n");
}

/** The summary's first column: "result" and a gap before the scenario name. */
const RESULT_WIDTH = 8;

/** "1 step", "2 steps". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** The summary table and the closing count line. */
export function summary(results: ScenarioResult[], wallMs: number): string {
  const width = Math.min(60, Math.max(8, ...results.map((r) => r.name.length)));
  const rows = results.map((r) => {
    const state = r.status === "passed" ? green("pass".padEnd(RESULT_WIDTH)) : r.status === "failed" ? red("FAIL".padEnd(RESULT_WIDTH)) : yellow("skip".padEnd(RESULT_WIDTH));
    const note = r.status === "failed" ? plural(r.failures.length, "failed expectation") : r.status === "skipped" ? (r.reason ?? "") : plural(r.steps.length, "step");
    return `  ${state}${r.name.padEnd(width).slice(0, width)}  ${String(Math.round(r.durationMs)).padStart(6)} ms  ${note}`;
  });
  const passed = results.filter((r) => r.status === "passed").length;
  const failed = results.filter((r) => r.status === "failed").length;
  const skipped = results.filter((r) => r.status === "skipped").length;
  return [
    `\n  ${"result".padEnd(RESULT_WIDTH)}${"scenario".padEnd(width)}  ${"time".padStart(9)}  notes`,
    ...rows,
    `\nfinished in ${(wallMs / 1000).toFixed(1)} s`,
    // The count line stands alone, as CI systems read it.
    `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`,
  ].join("\n");
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** JUnit XML: one test case per scenario file. */
export function junit(results: ScenarioResult[], wallMs: number): string {
  const failed = results.filter((r) => r.status === "failed").length;
  const skipped = results.filter((r) => r.status === "skipped").length;
  const cases = results.map((r) => {
    const open = `    <testcase classname="qa.${xml(r.file.replace(/\.(ya?ml|json)$/, "").replace(/[\\/]/g, "."))}" name="${xml(r.name)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
    if (r.status === "skipped") return `${open}>\n      <skipped message="${xml(r.reason ?? "skipped")}"/>\n    </testcase>`;
    if (r.status === "passed") return `${open}/>`;
    const body = r.failures.map((f) => `${f.where}\n  expected: ${show(f.expected)}\n  actual:   ${show(f.actual)}`).join("\n");
    return `${open}>\n      <failure message="${xml(`${r.failures.length} expectation(s) failed: ${r.failures[0]?.where ?? ""}`)}">${xml(body)}</failure>\n    </testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="qa" tests="${results.length}" failures="${failed}" skipped="${skipped}" time="${(wallMs / 1000).toFixed(3)}">
  <testsuite name="qa scenarios" tests="${results.length}" failures="${failed}" skipped="${skipped}" time="${(wallMs / 1000).toFixed(3)}">
${cases.join("\n")}
  </testsuite>
</testsuites>
`;
}
