/**
 * `npm run qa -- [files or folders] [--target URL] [--mock URL] [--api-key KEY]
 *                [--return-to URL] [--webhooks URL] [--return-secret S] [--junit FILE] [--concurrency N]`
 *
 * Runs scenario files (default: qa/scenarios) against a target edge and a mock
 * digi.me. With the default target and nothing answering there, starts the
 * local stack itself (mock + wrangler dev) and stops it afterwards. Exit code
 * 1 when any scenario fails, 2 for a bad option or when any file was refused
 * (the valid files still run and every bad file is reported).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { DEV_API_KEY, DEV_RETURN_SIGNING_SECRET, ROOT, startStack, type Stack } from "../scripts/stack.ts";
import { closeChromium } from "./chromium.ts";
import { findScenarioFiles, loadScenarios, ScenarioFileError, type LoadedScenario } from "./load.ts";
import { failureText, junit, progressLine, summary } from "./report.ts";
import { runAll } from "./runner.ts";

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

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
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
  if (values.help) {
    console.log("usage: npm run qa -- [files or folders] [--target URL] [--mock URL] [--api-key KEY] [--return-to URL] [--webhooks URL] [--return-secret S] [--junit FILE] [--concurrency N]");
    return 0;
  }
  let files: LoadedScenario[];
  let badFiles: ScenarioFileError[];
  try {
    ({ loaded: files, errors: badFiles } = loadScenarios(findScenarioFiles(positionals.length ? positionals : [join(ROOT, "qa", "scenarios")])));
  } catch (error) {
    if (error instanceof ScenarioFileError) {
      console.error(`qa: ${error.message}`);
      return 2;
    }
    throw error;
  }
  // Every bad file is reported now; the good ones still run, and the exit code says 2 at the end.
  for (const bad of badFiles) console.error(`qa: ${bad.message.split("\n").join("\nqa: ")}\n`);
  if (files.length === 0) {
    console.error(badFiles.length ? `qa: no valid scenario file (${badFiles.length} refused)` : "qa: no scenario files found");
    return 2;
  }

  let stack: Stack | undefined;
  let target = values.target.replace(/\/+$/, "");
  let mock = values.mock.replace(/\/+$/, "");
  let webhooks = values.webhooks.replace(/\/+$/, "");
  if (!(await answers(`${target}/healthz`))) {
    if (values.target !== DEFAULT_TARGET) {
      console.error(`qa: nothing answers at ${target}/healthz`);
      return 2;
    }
    console.log("qa: nothing answers at the default target; starting the local stack (mock + wrangler dev)…");
    // The shortest flow TTL (60 s), so the expiry scenarios' webhooks arrive within a minute.
    stack = await startStack({ returnOrigins: [new URL(values["return-to"]).origin], timeoutMs: 2000, logLevel: "warn", flowTtlSeconds: 60 });
    target = stack.edgeUrl;
    mock = stack.mock.origin;
    webhooks = stack.webhooks.origin;
  } else if (!(await answers(`${mock}/__mock/`))) {
    console.error(`qa: the target answers, but no mock digi.me answers at ${mock}/__mock/ (use --mock)`);
    return 2;
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
      Math.max(1, Number(values.concurrency) || 4),
    );
  } finally {
    await closeChromium();
    await stack?.close();
  }
  const wall = performance.now() - began;
  const failed = results.filter((r) => r.status === "failed");
  if (failed.length) console.log(`\n${failed.map(failureText).join("\n\n")}`);
  console.log(summary(results, wall));
  if (values.junit) {
    mkdirSync(dirname(values.junit), { recursive: true });
    writeFileSync(values.junit, junit(results, wall));
    console.log(`JUnit report: ${values.junit}`);
  }
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
