/**
 * Finds and parses scenario files. A bad file is an error naming the file
 * and the field, e.g. `qa/scenarios/x.yaml: steps.1.expect.outcome: ...`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { scenarioFileSchema, STEP_SCHEMAS, type ScenarioFile } from "./schema.ts";

/** A scenario file, parsed, with where it came from. */
export interface LoadedScenario {
  file: string;
  scenario: ScenarioFile;
}

/** Thrown for a file that is not a valid scenario; the message names file and field. */
export class ScenarioFileError extends Error {
  override name = "ScenarioFileError";
}

const EXTENSIONS = /\.(ya?ml|json)$/i;

/** Expands files and folders (recursively) into scenario file paths, sorted. */
export function findScenarioFiles(paths: string[]): string[] {
  const found: string[] = [];
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      throw new ScenarioFileError(`${path}: no such file or folder`);
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        const child = join(path, entry);
        if (statSync(child).isDirectory() || EXTENSIONS.test(entry)) found.push(...findScenarioFiles([child]));
      }
    } else {
      found.push(path);
    }
  }
  return found;
}

function describe(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): string[] {
  return issues.map((issue) => {
    const path = [...prefix, ...issue.path];
    return `${path.length ? path.join(".") : "(top level)"}: ${issue.message}`;
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

/** Parses one scenario file (YAML or JSON). */
export function loadScenario(file: string): LoadedScenario {
  const name = relative(process.cwd(), file) || file;
  let raw: unknown;
  try {
    const text = readFileSync(file, "utf8");
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ScenarioFileError(`${name}: cannot be parsed: ${(error as Error).message.split("\n")[0]}`);
  }
  const steps = stepProblems(raw);
  if (steps.length) throw new ScenarioFileError(`${name}: ${steps.slice(0, 5).join("; ")}`);
  const result = scenarioFileSchema.safeParse(raw);
  if (!result.success) throw new ScenarioFileError(`${name}: ${describe(result.error.issues).slice(0, 5).join("; ")}`);
  return { file: name, scenario: result.data };
}
