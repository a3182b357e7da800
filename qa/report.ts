/**
 * Reporting: a progress line per step, a readable expected/actual diff per
 * failure, a summary table, and JUnit XML for CI.
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScenarioResult, StepResult } from "./runner.ts";

/** The repository's root: JUnit class names are paths from it (`qa.scenarios.user.success`). */
const REPOSITORY = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A file the runner refused (unreadable, unparsable, or not matching the schema; a missing path). */
export interface RefusedFile {
  /** As shown: relative to the folder the run was started from. */
  file?: string | undefined;
  /** Its absolute path. */
  path?: string | undefined;
  message: string;
  problems?: readonly string[];
}

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

/** The summary's first column: "result" (or "refused") and a gap before the scenario name. */
const RESULT_WIDTH = 9;

/** "1 step", "2 steps". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** The file a refused entry names (its message starts with it when nothing else does). */
function refusedName(bad: RefusedFile): string {
  return bad.file ?? bad.message.split(":")[0] ?? "scenario file";
}

/**
 * The summary table and the closing count line, `N passed, N failed[, N skipped]`.
 * Refused files (`refused`) are rows of their own and count as failed: a run
 * with a refused file never reads as all passed.
 */
export function summary(results: ScenarioResult[], wallMs: number, refused: readonly RefusedFile[] = []): string {
  const width = Math.min(60, Math.max(8, ...results.map((r) => r.name.length), ...refused.map((bad) => refusedName(bad).length)));
  const rows = results.map((r) => {
    const state = r.status === "passed" ? green("pass".padEnd(RESULT_WIDTH)) : r.status === "failed" ? red("FAIL".padEnd(RESULT_WIDTH)) : yellow("skip".padEnd(RESULT_WIDTH));
    const note = r.status === "failed" ? plural(r.failures.length, "failed expectation") : r.status === "skipped" ? (r.reason ?? "") : plural(r.steps.length, "step");
    return `  ${state}${r.name.padEnd(width).slice(0, width)}  ${String(Math.round(r.durationMs)).padStart(6)} ms  ${note}`;
  });
  for (const bad of refused) {
    const problems = bad.problems ?? [bad.message];
    const first = (problems[0] ?? "").split("\n")[0]!;
    rows.push(`  ${red("refused".padEnd(RESULT_WIDTH))}${refusedName(bad).padEnd(width).slice(0, width)}  ${"".padStart(9)}  ${plural(problems.length, "problem")}: ${first.length > 80 ? `${first.slice(0, 79)}…` : first}`);
  }
  const passed = results.filter((r) => r.status === "passed").length;
  const failed = results.filter((r) => r.status === "failed").length + refused.length;
  const skipped = results.filter((r) => r.status === "skipped").length;
  const refusedNote = refused.length ? `; ${plural(refused.length, "refused file")} ${refused.length === 1 ? "counts" : "count"} as failed` : "";
  return [
    `\n  ${"result".padEnd(RESULT_WIDTH)}${"scenario".padEnd(width)}  ${"time".padStart(9)}  notes`,
    ...rows,
    `\nfinished in ${(wallMs / 1000).toFixed(1)} s${refusedNote}`,
    // The count line stands alone, as CI systems read it.
    `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`,
  ].join("\n");
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** What JUnit reports beside the scenarios' results. */
export interface JunitExtras {
  /** Files the runner refused (unreadable, unparsable, or not matching the schema): one errored test case each. */
  refused?: readonly RefusedFile[];
  /** Why the run could not start (no target answering, no mock, a stack that failed): one errored test case. */
  problem?: string;
  /** The folder the run was started from: names the classes of files outside the repository (default the working folder). */
  base?: string;
}

/** `to` within `from` (not `from` itself), as a relative path; undefined when it is elsewhere. */
function within(from: string, to: string): string | undefined {
  const path = relative(from, to);
  return path && path !== ".." && !path.startsWith(`..${sep}`) && !isAbsolute(path) ? path : undefined;
}

/**
 * The JUnit classname of a file, the same from whatever folder the run was
 * started: its path from the repository's root (`qa/scenarios/user/success.yaml`
 * → `qa.scenarios.user.success`), else from `base`, else its absolute path,
 * with dots for separators, no extension, and `qa.` in front when it does not
 * start so.
 */
export function classname(file: string, base = process.cwd()): string {
  const path = resolve(base, file);
  const from = within(REPOSITORY, path) ?? within(base, path) ?? path;
  const name = from
    .replace(/\.(ya?ml|json)$/i, "")
    .split(/[\\/]+/)
    .map((segment) => segment.replace(/\.{2,}/g, ".").replace(/^\.|\.$/g, ""))
    .filter(Boolean)
    .join(".");
  return xml(name === "qa" || name.startsWith("qa.") ? name : `qa.${name}`);
}

/**
 * JUnit XML: one test case per scenario file. A refused file is a test case
 * with an `<error>` (so a CI that reads the report sees it, as the exit code 2
 * says), and so is a run that could not start.
 */
export function junit(results: ScenarioResult[], wallMs: number, extras: JunitExtras = {}): string {
  const failed = results.filter((r) => r.status === "failed").length;
  const skipped = results.filter((r) => r.status === "skipped").length;
  const cases = results.map((r) => {
    const open = `    <testcase classname="${classname(r.path ?? r.file, extras.base)}" name="${xml(r.name)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
    if (r.status === "skipped") return `${open}>\n      <skipped message="${xml(r.reason ?? "skipped")}"/>\n    </testcase>`;
    if (r.status === "passed") return `${open}/>`;
    const body = r.failures.map((f) => `${f.where}\n  expected: ${show(f.expected)}\n  actual:   ${show(f.actual)}`).join("\n");
    return `${open}>\n      <failure message="${xml(`${r.failures.length} expectation(s) failed: ${r.failures[0]?.where ?? ""}`)}">${xml(body)}</failure>\n    </testcase>`;
  });
  for (const bad of extras.refused ?? []) {
    const file = refusedName(bad);
    const first = bad.problems?.[0] ?? bad.message.split("\n")[0] ?? "";
    const count = bad.problems?.length ?? 1;
    cases.push(
      `    <testcase classname="${classname(bad.path ?? file, extras.base)}" name="${xml(file)}" time="0.000">\n      <error type="ScenarioFileError" message="${xml(`refused (${plural(count, "problem")}): ${first}`)}">${xml(bad.message)}</error>\n    </testcase>`,
    );
  }
  if (extras.problem) {
    cases.push(`    <testcase classname="qa.run" name="the QA run" time="0.000">\n      <error type="QaRunError" message="${xml(extras.problem)}">${xml(extras.problem)}</error>\n    </testcase>`);
  }
  const errors = (extras.refused?.length ?? 0) + (extras.problem ? 1 : 0);
  const counts = `tests="${results.length + errors}" failures="${failed}" errors="${errors}" skipped="${skipped}" time="${(wallMs / 1000).toFixed(3)}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="qa" ${counts}>
  <testsuite name="qa scenarios" ${counts}>
${cases.join("\n")}
  </testsuite>
</testsuites>
`;
}
