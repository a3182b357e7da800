/**
 * `npm run qa -- [files or folders] [--target URL] [--mock URL] [--api-key KEY]
 *                [--return-to URL] [--webhooks URL] [--return-secret S] [--junit FILE] [--concurrency N]`
 *
 * Runs scenario files (default: qa/scenarios) against a target edge and a mock
 * digi.me. With the default target and nothing answering there, starts the
 * local stack itself (mock + wrangler dev) and stops it afterwards. Exit code
 * 1 when any scenario fails, 2 for a bad option or when any file was refused
 * (the valid files still run, every bad file is reported, and the closing
 * count line counts it as failed). With --junit the report is written
 * whenever the options could be read: a refused file is an errored test case,
 * and so is a run that could not start. Relative paths (files, folders,
 * --junit) are the folder's the user ran `npm run qa` from (npm's INIT_CWD;
 * without it, the working folder).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEV_API_KEY, DEV_RETURN_SIGNING_SECRET, ROOT, startStack, type Stack } from "../harness/stack.ts";
import { closeChromium } from "../harness/chromium.ts";
import { findScenarioFiles, loadScenarios, ScenarioFileError } from "./load.ts";
import { failureText, junit, progressLine, summary } from "./report.ts";
import { runAll, type ScenarioResult } from "./runner.ts";

const DEFAULT_TARGET = "http://127.0.0.1:8787";
const DEFAULT_MOCK = "http://127.0.0.1:9090";
const DEFAULT_RETURN_TO = "http://127.0.0.1:8788/qa-return";
const DEFAULT_WEBHOOKS = "http://127.0.0.1:8789";

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.status < 500;
  } catch {
    return false;
  }
}

/** What `npm run qa -- --help` prints, and what a mistyped option is answered with. */
const USAGE = `usage: npm run qa -- [files or folders] [--target URL] [--mock URL] [--api-key KEY] [--return-to URL]
                     [--webhooks URL] [--return-secret S] [--junit FILE] [--concurrency N]

Runs scenario files (default: qa/scenarios) against the edge at --target (default ${DEFAULT_TARGET})
and the mock digi.me at --mock (default ${DEFAULT_MOCK}); with the default target and nothing
answering there, starts the local stack itself. Relative paths are from the folder you ran npm in.
--junit FILE writes a JUnit report (refused files are errored test cases). Exit code: 0 all passed,
1 a scenario failed, 2 a bad option, a refused file (counted as failed) or a run that could not start.`;

/** parseArgs' own errors: an unknown option, a missing value, a stray argument. */
function isUsageError(error: unknown): boolean {
  return String((error as { code?: unknown } | null)?.code ?? "").startsWith("ERR_PARSE_ARGS_");
}

function parseOptions() {
  return parseArgs({
    allowPositionals: true,
    options: {
      target: { type: "string", default: DEFAULT_TARGET },
      mock: { type: "string", default: DEFAULT_MOCK },
      "api-key": { type: "string", default: process.env.QA_API_KEY ?? DEV_API_KEY },
      "return-to": { type: "string", default: DEFAULT_RETURN_TO },
      junit: { type: "string" },
      webhooks: { type: "string", default: DEFAULT_WEBHOOKS },
      "return-secret": { type: "string", default: process.env.QA_RETURN_SECRET ?? DEV_RETURN_SIGNING_SECRET },
      concurrency: { type: "string", default: "4" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (error) {
    if (!isUsageError(error)) throw error;
    console.error(`qa: ${(error as Error).message.replace(/\. To specify .*$/s, ".")}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    console.error(`qa: --concurrency takes a whole number of at least 1, not ${JSON.stringify(values.concurrency)}\n\n${USAGE}`);
    return 2;
  }

  // Relative paths are the user's: `npm run` runs this in the package's folder and says in INIT_CWD where the user ran it.
  const base = process.env.INIT_CWD || process.cwd();
  // Every bad file (or path) is reported and recorded; the good ones still run, and the exit code says 2 at the end.
  const badFiles: ScenarioFileError[] = [];
  const paths: string[] = [];
  for (const path of positionals.length ? positionals : [join(ROOT, "qa", "scenarios")]) {
    try {
      paths.push(...findScenarioFiles([path], base));
    } catch (error) {
      if (!(error instanceof ScenarioFileError)) throw error;
      badFiles.push(error);
    }
  }
  const { loaded: files, errors } = loadScenarios(paths, base);
  badFiles.push(...errors);
  for (const bad of badFiles) console.error(`qa: ${bad.message.split("\n").join("\nqa: ")}\n`);

  /** The JUnit report, written whatever happens once the options are read (a run that could not start is an errored case). */
  const report = (results: ScenarioResult[], wallMs: number, problem?: string) => {
    if (!values.junit) return;
    const file = resolve(base, values.junit);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, junit(results, wallMs, { refused: badFiles, base, ...(problem ? { problem } : {}) }));
    console.log(`JUnit report: ${values.junit}`);
  };
  /** Ends a run that cannot go on: says why, records it, exit code 2. */
  const stop = (problem: string | undefined): number => {
    if (problem) console.error(`qa: ${problem}`);
    report([], 0, problem);
    return 2;
  };

  if (files.length === 0) {
    if (badFiles.length) console.log(summary([], 0, badFiles));
    console.error(badFiles.length ? `qa: no valid scenario file (${badFiles.length} refused)` : "qa: no scenario files found");
    return stop(badFiles.length ? undefined : "no scenario files found");
  }

  let stack: Stack | undefined;
  let target = values.target.replace(/\/+$/, "");
  let mock = values.mock.replace(/\/+$/, "");
  let webhooks = values.webhooks.replace(/\/+$/, "");
  if (!(await answers(`${target}/healthz`))) {
    if (values.target !== DEFAULT_TARGET) return stop(`nothing answers at ${target}/healthz`);
    console.log("qa: nothing answers at the default target; starting the local stack (mock + wrangler dev)…");
    try {
      // The shortest flow TTL (60 s), so the expiry scenarios' webhooks arrive within a minute.
      stack = await startStack({ returnOrigins: [new URL(values["return-to"]).origin], timeoutMs: 2000, logLevel: "warn", flowTtlSeconds: 60 });
    } catch (error) {
      return stop(`the local stack did not start: ${(error as Error).message}`);
    }
    target = stack.edgeUrl;
    mock = stack.mock.origin;
    webhooks = stack.webhooks.origin;
  } else if (!(await answers(`${mock}/__mock/`))) {
    return stop(`the target answers, but no mock digi.me answers at ${mock}/__mock/ (use --mock)`);
  }
  console.log(`qa: ${files.length} scenario file(s) against ${target} with the mock at ${mock}\n`);

  const began = performance.now();
  let results;
  try {
    results = await runAll(
      files,
      {
        target,
        mock,
        apiKey: values["api-key"],
        returnTo: values["return-to"],
        webhooks,
        returnSigningSecret: values["return-secret"],
        artifacts: join(ROOT, "qa-results", "screenshots"),
        onStep: (scenario, step) => console.log(progressLine(scenario, step)),
      },
      concurrency,
    );
  } finally {
    await closeChromium();
    await stack?.close();
  }
  const wall = performance.now() - began;
  const failed = results.filter((r) => r.status === "failed");
  if (failed.length) console.log(`\n${failed.map(failureText).join("\n\n")}`);
  console.log(summary(results, wall, badFiles));
  report(results, wall);
  if (badFiles.length) {
    console.error(`qa: ${badFiles.length} scenario file${badFiles.length === 1 ? " was" : "s were"} refused (see above)`);
    return 2;
  }
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`qa failed: ${(error as Error).stack ?? error}`);
    process.exit(2);
  },
);
