/**
 * Finds and parses scenario files. A bad file is an error naming the file
 * and the field, e.g. `qa/scenarios/x.yaml: steps.1.expect.outcome: ...`.
 * Relative paths resolve against a base folder (the CLI's: where the user ran
 * `npm run qa`), and files are named relative to it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { scenarioFileSchema, STEP_SCHEMAS, type ScenarioFile } from "./schema.ts";

/** A scenario file, parsed, with where it came from. */
export interface LoadedScenario {
  /** The file as shown: relative to the base folder it was loaded from. */
  file: string;
  /** The file's absolute path. */
  path: string;
  scenario: ScenarioFile;
}

/** Thrown for a file that is not a valid scenario; the message names file and field, one problem a line. */
export class ScenarioFileError extends Error {
  override name = "ScenarioFileError";
  /** Every problem found in the file (the message holds them all). */
  readonly problems: string[];
  /** The file (or folder) refused, as given or relative to the base folder. */
  readonly file: string | undefined;
  /** Its absolute path. */
  readonly path: string | undefined;
  constructor(message: string, problems: string[] = [message], file?: string, path?: string) {
    super(message);
    this.problems = problems;
    this.file = file;
    this.path = path;
  }
}

const EXTENSIONS = /\.(ya?ml|json)$/i;

/** Expands files and folders (recursively, relative ones against `base`) into absolute scenario file paths, sorted. */
export function findScenarioFiles(paths: string[], base = process.cwd()): string[] {
  const found: string[] = [];
  for (const given of paths) {
    const path = resolve(base, given);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      throw new ScenarioFileError(`${given}: no such file or folder`, ["no such file or folder"], given, path);
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        const child = join(path, entry);
        if (statSync(child).isDirectory() || EXTENSIONS.test(entry)) found.push(...findScenarioFiles([child], base));
      }
    } else {
      found.push(path);
    }
  }
  return found;
}

type Issue = z.core.$ZodIssue;

/**
 * The issues worth showing for one issue: a failed union (`browser: follow`
 * or `browser: { action }`) is replaced by the issues of the branch that got
 * furthest, so the message names the field and the allowed values instead of
 * "Invalid input".
 */
function flatten(issue: Issue): Issue[] {
  if (issue.code !== "invalid_union" || !issue.errors.length) return [issue];
  const depth = (branch: Issue[]) => Math.min(...branch.map((i) => i.path.length));
  const best = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
  return best.flatMap((inner) => flatten({ ...inner, path: [...issue.path, ...inner.path] } as Issue));
}

function describe(issues: readonly Issue[], prefix: PropertyKey[] = []): string[] {
  return issues.flatMap(flatten).map((issue) => {
    const path = [...prefix, ...issue.path];
    return `${path.length ? path.map(String).join(".") : "(top level)"}: ${issue.message}`;
  });
}

/** Checks each step against the schema of its kind, for messages that name the field. */
function stepProblems(raw: unknown): string[] {
  const steps = (raw as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return [];
  const problems: string[] = [];
  steps.forEach((step, index) => {
    const kind = Object.keys(step ?? {}).find((key): key is keyof typeof STEP_SCHEMAS => key in STEP_SCHEMAS);
    if (!kind) {
      problems.push(`steps.${index}: not a step (a step has one of ${Object.keys(STEP_SCHEMAS).join(", ")})`);
      return;
    }
    const result = STEP_SCHEMAS[kind].safeParse(step);
    if (!result.success) problems.push(...describe(result.error.issues, ["steps", index]));
  });
  return problems;
}

/** A few lines of `text` around 1-based `line`, numbered, with a caret under `column`. */
export function excerpt(text: string, line: number, column: number): string {
  const lines = text.split("\n");
  const first = Math.max(1, line - 2);
  const last = Math.min(lines.length, line + 1);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    out.push(`${n === line ? ">" : " "} ${String(n).padStart(width)} | ${lines[n - 1] ?? ""}`);
    if (n === line) out.push(`  ${" ".repeat(width)} | ${" ".repeat(Math.max(0, column - 1))}^`);
  }
  return out.join("\n");
}

function syntaxError(name: string, path: string, text: string, error: Error): ScenarioFileError {
  const reason = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
  const pos = (error as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
  const json = /position (\d+)/.exec(error.message);
  let where = pos;
  if (!where && json) {
    const before = text.slice(0, Number(json[1]));
    where = { line: before.split("\n").length, col: before.length - before.lastIndexOf("\n") };
  }
  const problem = where ? `line ${where.line}, column ${where.col}: ${reason}\n${excerpt(text, where.line, where.col)}` : reason;
  return new ScenarioFileError(`${name}: cannot be parsed: ${problem}`, [`cannot be parsed: ${problem}`], name, path);
}

/** Parses one scenario file (YAML or JSON; a relative path against `base`); a bad file throws with every problem found in it. */
export function loadScenario(file: string, base = process.cwd()): LoadedScenario {
  const path = resolve(base, file);
  const name = relative(base, path) || path;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ScenarioFileError(`${name}: cannot be read: ${(error as Error).message}`, [`cannot be read: ${(error as Error).message}`], name, path);
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw syntaxError(name, path, text, error as Error);
  }
  const steps = stepProblems(raw);
  const result = scenarioFileSchema.safeParse(raw);
  // Steps were checked one by one against the schema of their kind; the whole-file check adds everything else.
  const checkedSteps = Array.isArray((raw as { steps?: unknown } | null)?.steps);
  // Except what only the whole file can tell: a saved version used before the step that saves it.
  const wholeFileOnly = (issue: Issue) => issue.code === "custom" && (issue.params as { savedNames?: boolean } | undefined)?.savedNames === true;
  const rest = result.success ? [] : describe(result.error.issues.filter((issue) => wholeFileOnly(issue) || !(checkedSteps && issue.path[0] === "steps" && issue.path.length > 1)));
  const problems = [...rest, ...steps];
  if (problems.length || !result.success) {
    throw new ScenarioFileError(problems.map((p) => `${name}: ${p}`).join("\n"), problems, name, path);
  }
  return { file: name, path, scenario: result.data };
}

/** Loads every file (relative ones against `base`), collecting the bad ones instead of stopping at the first. */
export function loadScenarios(files: string[], base = process.cwd()): { loaded: LoadedScenario[]; errors: ScenarioFileError[] } {
  const loaded: LoadedScenario[] = [];
  const errors: ScenarioFileError[] = [];
  for (const file of files) {
    try {
      loaded.push(loadScenario(file, base));
    } catch (error) {
      if (!(error instanceof ScenarioFileError)) throw error;
      errors.push(error);
    }
  }
  return { loaded, errors };
}
