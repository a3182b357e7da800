import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeChromium, hasChromium } from "../../qa/chromium.ts";
import { findScenarioFiles, loadScenario, ScenarioFileError } from "../../qa/load.ts";
import { junit } from "../../qa/report.ts";
import { runAll, runScenario, type RunnerOptions } from "../../qa/runner.ts";
import { DEV_RETURN_SIGNING_SECRET, ROOT, startStack, type Stack } from "../../scripts/stack.ts";

const RETURN_TO = "http://127.0.0.1:8788/qa-return";
let stack: Stack;
let options: RunnerOptions;
const scratch = mkdtempSync(join(tmpdir(), "qa-test-"));

beforeAll(async () => {
  stack = await startStack({ returnOrigins: [new URL(RETURN_TO).origin], timeoutMs: 2000, logLevel: "error", flowTtlSeconds: 60 });
  options = {
    target: stack.edgeUrl,
    mock: stack.mock.origin,
    apiKey: stack.apiKey,
    returnTo: RETURN_TO,
    artifacts: join(scratch, "screenshots"),
    webhooks: stack.webhooks.origin,
    returnSigningSecret: DEV_RETURN_SIGNING_SECRET,
  };
}, 120_000);
afterAll(async () => {
  await closeChromium();
  await stack?.close();
});

const suite = (folder: string) => findScenarioFiles([join(ROOT, "qa", "scenarios", folder)]).map(loadScenario);

describe("the shipped QA suite", () => {
  it("has at least 20 scenario files covering both flows", () => {
    const all = findScenarioFiles([join(ROOT, "qa", "scenarios")]).map(loadScenario);
    expect(all.length).toBeGreaterThanOrEqual(20);
    const flows = new Set(all.flatMap((f) => f.scenario.steps.flatMap((s) => ("start" in s ? [s.start.flow] : []))));
    expect([...flows].sort()).toEqual(["account", "user"]);
  });

  it("passes against the local stack (HTTP engine)", async () => {
    const files = [...suite("user"), ...suite("account"), ...suite("faults")];
    const results = await runAll(files, options, 4);
    const failed = results.filter((r) => r.status !== "passed");
    expect(failed.map((r) => ({ name: r.name, failures: r.failures }))).toEqual([]);
  }, 180_000);

  it("passes the webhook scenarios: success, failure, account, rotation, expiry, an endpoint down then up", async () => {
    const results = await runAll(suite("webhooks"), options, 6);
    expect(results.map((r) => [r.name, r.status, r.failures])).toEqual(results.map((r) => [r.name, "passed", []]));
    expect(results.length).toBeGreaterThanOrEqual(4);
  }, 180_000);

  it.skipIf(!hasChromium())("passes the real-browser scenarios in Chromium (approve and deny, both flows)", async () => {
    const results = await runAll(suite("browser"), options, 2);
    expect(results.map((r) => [r.name, r.status, r.failures])).toEqual(results.map((r) => [r.name, "passed", []]));
    expect(results).toHaveLength(4);
  }, 180_000);

  if (!hasChromium()) {
    it("says that the Chromium scenarios were skipped", () => {
      console.warn("qa: Chromium is not installed (/usr/bin/chromium): the 4 real-browser scenarios were skipped; .ci/run installs it");
    });
  }
});

describe("the QA runner", () => {
  it("fails a webhook expectation that does not hold, naming what arrived", async () => {
    const copy = join(scratch, "webhook-broken.yaml");
    cpSync(join(ROOT, "qa", "scenarios", "webhooks", "user-failure.yaml"), copy);
    writeFileSync(copy, readFileSync(copy, "utf8").replace("type: flow.failed, within: 5", "type: flow.succeeded, within: 3"));
    const result = await runScenario(loadScenario(copy), options);
    expect(result.failures).toEqual([{ where: "steps[2] webhook: a flow.succeeded event accepted by the receiver within 3 s", expected: "one", actual: "none" }]);
  }, 60_000);

  it("fails a signed return checked against another user", async () => {
    const copy = join(scratch, "signed-broken.yaml");
    cpSync(join(ROOT, "qa", "scenarios", "webhooks", "user-success.yaml"), copy);
    const result = await runScenario(loadScenario(copy), { ...options, returnSigningSecret: "another-secret-that-is-long-enough-000" });
    expect(result.failures).toContainEqual({ where: "steps[1] browser: signed return verifies for this flow and user", expected: true, actual: "bad_signature" });
  }, 60_000);

  it("turns a broken expectation into a readable expected/actual failure and a JUnit failure", async () => {
    const copy = join(scratch, "broken.yaml");
    cpSync(join(ROOT, "qa", "scenarios", "user", "failure-user-cancel.yaml"), copy);
    writeFileSync(copy, readFileSync(copy, "utf8").replace("expect: { outcome: failed, errorCode: USER_CANCEL }", "expect: { outcome: succeeded }"));
    const result = await runScenario(loadScenario(copy), options);
    expect(result.status).toBe("failed");
    expect(result.failures).toEqual([{ where: "steps[1] browser: status in returnTo", expected: "succeeded", actual: "failed" }]);
    const xml = junit([result], result.durationMs);
    expect(xml).toContain('<testsuites name="qa" tests="1" failures="1"');
    expect(xml).toContain("expected: &quot;succeeded&quot;");
  }, 60_000);

  it("names the file and the field of an invalid scenario file", () => {
    const bad = join(scratch, "bad.yaml");
    writeFileSync(bad, "name: bad\nsteps:\n  - start: { flow: user }\n    expect: { status: nope }\n");
    expect(() => loadScenario(bad)).toThrow(ScenarioFileError);
    expect(() => loadScenario(bad)).toThrow(/bad\.yaml: steps\.0\.expect\.status: /);
  });

  it("refuses an unknown step with a message listing the step kinds", () => {
    const bad = join(scratch, "bad-step.yaml");
    writeFileSync(bad, "name: bad\nsteps:\n  - click: approve\n");
    expect(() => loadScenario(bad)).toThrow(/steps\.0: not a step \(a step has one of start, browser, flow, reauthStatus, setScenario, webhook, webhookOutage\)/);
  });

  it("runs scenarios for different users side by side without interference", async () => {
    const files = [...suite("user").filter((f) => /failure|success/.test(f.file))];
    const results = await runAll(files, options, 8);
    expect(results.every((r) => r.status === "passed")).toBe(true);
  }, 120_000);
});
