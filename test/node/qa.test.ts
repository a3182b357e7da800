import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeChromium, hasChromium, NO_CHROMIUM } from "../../harness/chromium.ts";
import { findScenarioFiles, loadScenario, ScenarioFileError } from "../../qa/load.ts";
import { junit, summary } from "../../qa/report.ts";
import { runAll, runScenario, type RunnerOptions } from "../../qa/runner.ts";
import { STEP_SCHEMAS } from "../../qa/schema.ts";
import { runWebhookStep, type WebhookStepContext } from "../../qa/webhooks.ts";
import type { ReceivedWebhook } from "../../harness/webhook-receiver.ts";
import { DEV_RETURN_SIGNING_SECRET, ROOT, stackDir, startStack, type Stack } from "../../harness/stack.ts";

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

const suite = (folder: string) => findScenarioFiles([join(ROOT, "qa", "scenarios", folder)]).map((file) => loadScenario(file));

/** Every problem loading `file` names (none: it loads). */
function problemsOf(file: string): string[] {
  try {
    loadScenario(file);
    return [];
  } catch (error) {
    return (error as ScenarioFileError).problems;
  }
}

describe("the shipped QA suite", () => {
  it("has at least 20 scenario files covering both flows and a first connection", () => {
    const all = findScenarioFiles([join(ROOT, "qa", "scenarios")]).map((file) => loadScenario(file));
    expect(all.length).toBeGreaterThanOrEqual(20);
    const flows = new Set(all.flatMap((f) => f.scenario.steps.flatMap((s) => ("start" in s ? [s.start.flow] : []))));
    expect([...flows].sort()).toEqual(["account", "authorize", "user"]);
  });

  it("is counted right where the docs count it (docs/qa.md, qa/README.md)", () => {
    const count = findScenarioFiles([join(ROOT, "qa", "scenarios")]).length;
    for (const doc of ["docs/qa.md", "qa/README.md"]) {
      const text = readFileSync(join(ROOT, doc), "utf8");
      // Every "N files" said of the shipped suite: "(`qa/scenarios/`, N files" or "`qa/scenarios/` holds N files".
      const said = [...text.matchAll(/`qa\/scenarios\/`[^.;\n]{0,20}?(\d+) files/g)].map((m) => Number(m[1]));
      expect({ doc, said }).toEqual({ doc, said: said.map(() => count) });
    }
  });

  it("passes against the local stack (HTTP engine)", async () => {
    const files = [...suite("user"), ...suite("account"), ...suite("faults")];
    const results = await runAll(files, options, 4);
    const failed = results.filter((r) => r.status !== "passed");
    expect(failed.map((r) => ({ name: r.name, failures: r.failures }))).toEqual([]);
  }, 180_000);

  it("passes the webhook scenarios: success, failure, account, rotation, expiry, an endpoint down then up, token expiring and expired, awaiting confirmation", async () => {
    const results = await runAll(suite("webhooks"), options, 8);
    expect(results.map((r) => [r.name, r.status, r.failures])).toEqual(results.map((r) => [r.name, "passed", []]));
    expect(results.length).toBeGreaterThanOrEqual(9);
    // The token notices ran (not skipped), each with its own user's events.
    const files = results.map((r) => r.file.replace(/\\/g, "/"));
    expect(files).toEqual(expect.arrayContaining([expect.stringMatching(/webhooks\/token-expiring\.yaml$/), expect.stringMatching(/webhooks\/token-expired\.yaml$/)]));
  }, 180_000);

  it("passes the token scenarios: a read after the access token expired, a stale write-back refused, a refused refresh announced once", async () => {
    const results = await runAll(suite("token"), options, 4);
    expect(results.map((r) => [r.name, r.status, r.failures])).toEqual(results.map((r) => [r.name, "passed", []]));
    expect(results.map((r) => r.file.replace(/\\/g, "/").replace(/^.*\//, "")).sort()).toEqual(["read-after-expiry.yaml", "refresh-refused-once.yaml", "stale-write-back.yaml"]);
  }, 120_000);

  it("passes the read scenarios: a sync and every file, the seeds' 511 story, connecting a new user", async () => {
    const results = await runAll(suite("data"), options, 4);
    expect(results.map((r) => [r.name, r.status, r.failures])).toEqual(results.map((r) => [r.name, "passed", []]));
    expect(results.map((r) => r.file.replace(/\\/g, "/").replace(/^.*\//, "")).sort()).toEqual(["connect-new-user.yaml", "read-files.yaml", "seeds-511-story.yaml"]);
    // The story's steps ran in order: the 511 read, the start from its body, the completed read, each file.
    const story = results.find((r) => r.file.endsWith("seeds-511-story.yaml"))!;
    expect(story.steps.map((step) => step.label)).toEqual([
      "session start",
      "file list (wait=25)",
      "accounts read (session before)",
      "start account from reconnect",
      "browser follow",
      "flow check",
      "session start",
      "file list (wait=25)",
      "file read (all listed)",
      "accounts read (session after)",
    ]);
    expect(story.steps[1]!.summary).toMatch(/^200 partial: 2 files .* after \d+\.\d\d s$/);
  }, 120_000);

  it("passes the real-browser scenarios in Chromium (approve and deny, both flows)", async ({ skip }) => {
    skip(!hasChromium(), NO_CHROMIUM);
    const results = await runAll(suite("browser"), options, 2);
    expect(results.map((r) => [r.name, r.status, r.failures])).toEqual(results.map((r) => [r.name, "passed", []]));
    expect(results).toHaveLength(4);
  }, 180_000);
});

describe("the edge under wrangler dev", () => {
  it("keeps no local trace of request URLs, whose callbacks carry code and state", async () => {
    const marker = `TRACEMARKER${Date.now()}`;
    await (await fetch(`${stack.edgeUrl}/reauth/user/callback?flow=AAAAAAAAAAAAAAAAAAAAAA&success=true&code=${marker}&state=${marker}`)).text();
    await new Promise((resolve) => setTimeout(resolve, 1000)); // traces are written after the answer
    const state = join(stackDir(Number(new URL(stack.edgeUrl).port)), "state");
    expect(existsSync(join(state, "v3", "observability"))).toBe(false);
    const holding: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (readFileSync(path).includes(marker)) holding.push(path);
      }
    };
    walk(state);
    expect(holding).toEqual([]);
  });

  it("answers 413 to a 16 MiB chunked body instead of resetting the connection", async () => {
    const chunk = new Uint8Array(16 * 1024).fill(120);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 1024) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await fetch(`${stack.edgeUrl}/v1/reauth/user`, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  }, 60_000);
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

  it("reports every problem of a file at once, top level and steps together", () => {
    const bad = join(scratch, "many.yaml");
    writeFileSync(bad, "name: many\nuser: { accounts: 0, importToken: maybe }\nsteps:\n  - start: { flow: usr }\n  - flow: check\n    expect: { status: nope }\n  - click: approve\n");
    const problems = problemsOf(bad);
    expect(problems.map((p) => p.split(":")[0])).toEqual(["user.accounts", "user.importToken", "steps.0.start.flow", "steps.1.expect.status", "steps.2"]);
  });

  it.each([
    ["browser: { action: follw }", "steps.0.browser.action"],
    ["browser: follw", "steps.0.browser"],
  ])("lists the allowed browser actions for %s", (step, field) => {
    const bad = join(scratch, "follw.yaml");
    writeFileSync(bad, `name: typo\nsteps:\n  - ${step}\n`);
    expect(() => loadScenario(bad)).toThrow(`${field}: Invalid option: expected one of "follow"|"approve"|"deny"|"reload"`);
  });

  it("shows a YAML syntax error with the line and an excerpt pointing at it", () => {
    const bad = join(scratch, "syntax.yaml");
    writeFileSync(bad, "name: x\nsteps:\n  - start: { flow: user\n  - browser: follow\n");
    let message = "";
    try {
      loadScenario(bad);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/syntax\.yaml: cannot be parsed: line 4, column 3: /);
    expect(message).toContain("  3 |   - start: { flow: user\n> 4 |   - browser: follow\n    |   ^");
  });

  it("prints a summary whose header columns are apart and whose counts are singular or plural", () => {
    const text = summary(
      [
        { file: "a.yaml", name: "one", status: "passed", steps: [{ index: 0, label: "x", ok: true, summary: "", durationMs: 1 }], failures: [], durationMs: 1 },
        { file: "b.yaml", name: "two", status: "failed", steps: [], failures: [{ where: "w", expected: 1, actual: 2 }, { where: "v", expected: 1, actual: 2 }], durationMs: 1 },
      ],
      10,
    );
    expect(text).toMatch(/result\s+scenario/);
    expect(text).not.toContain("resultscenario");
    expect(text).toMatch(/one\s+1 ms {2}1 step$/m);
    expect(text).toMatch(/two\s+1 ms {2}2 failed expectations$/m);
  });

  it("counts refused files as failed in the summary's closing line, and lists them in its table", () => {
    const passed = { file: "a.yaml", name: "one", status: "passed" as const, steps: [], failures: [], durationMs: 1 };
    const refused = [
      { file: "bad.yaml", message: "bad.yaml: steps.0: not a step", problems: ["steps.0: not a step"] },
      { file: "worse.yaml", message: "worse.yaml: cannot be parsed", problems: ["cannot be parsed", "name: missing"] },
    ];
    const text = summary([passed, passed, passed, passed], 10, refused);
    expect(text.split("\n").at(-1)).toBe("4 passed, 2 failed");
    expect(text).toMatch(/^ {2}refused\s+bad\.yaml\s+1 problem: steps\.0: not a step$/m);
    expect(text).toMatch(/^ {2}refused\s+worse\.yaml\s+2 problems: cannot be parsed$/m);
    expect(text).toMatch(/2 refused files count as failed/);
    // Without refused files the line is as before; with skipped ones too, the skipped count follows.
    expect(summary([passed], 10).split("\n").at(-1)).toBe("1 passed, 0 failed");
    expect(summary([passed, { ...passed, status: "skipped", reason: "no Chromium" }], 10, refused.slice(0, 1)).split("\n").at(-1)).toBe("1 passed, 1 failed, 1 skipped");
  });

  it("names JUnit classes from the repository root whatever the folder the file was named from", () => {
    const result = { file: "../qa/scenarios/user/success.yaml", path: join(ROOT, "qa", "scenarios", "user", "success.yaml"), name: "s", status: "passed" as const, steps: [], failures: [], durationMs: 1 };
    const xml = junit([result], 1, { refused: [{ file: "../mine/bad.yaml", path: join(scratch, "mine", "bad.yaml"), message: "bad", problems: ["bad"] }], base: scratch });
    expect(xml).toContain('<testcase classname="qa.scenarios.user.success" name="s"');
    expect(xml).toContain('<testcase classname="qa.mine.bad" name="../mine/bad.yaml"');
  });

  it("resolves paths against the folder npm was run from (INIT_CWD): npm run qa from qa/", async () => {
    const qaDir = join(ROOT, "qa");
    const bad = join(scratch, "from-qa-bad.yaml");
    writeFileSync(bad, "name: from qa\nsteps:\n  - click: approve\n");
    const report = join(scratch, "from-qa", "junit.xml");
    // As `cd qa && npm run qa -- scenarios/user/…` runs it: cwd the package root, INIT_CWD the folder the user is in.
    const child = spawn(
      process.execPath,
      [join(ROOT, "qa", "cli.ts"), "scenarios/user/failure-user-cancel.yaml", relative(qaDir, bad), "--junit", relative(qaDir, report), "--target", stack.edgeUrl, "--mock", stack.mock.origin, "--return-to", RETURN_TO],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", INIT_CWD: qaDir } },
    );
    const run = { stdout: "", stderr: "" };
    child.stdout.on("data", (chunk: Buffer) => (run.stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (run.stderr += chunk.toString()));
    const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(run.stderr).toContain(`qa: ${relative(qaDir, bad)}: steps.0: not a step`);
    expect(run.stdout).toMatch(/pass\s+user reauthorization fails with USER_CANCEL/);
    expect(run.stdout).toMatch(/^1 passed, 1 failed$/m);
    expect(status).toBe(2);
    const xml = readFileSync(report, "utf8");
    expect(xml).toMatch(/<testcase classname="qa\.scenarios\.user\.failure-user-cancel" name="user reauthorization fails with USER_CANCEL"/);
    expect(xml).toMatch(/<testcase classname="qa\.[^"]*from-qa-bad" name="[^"]*from-qa-bad\.yaml"/);
    expect(xml).not.toMatch(/classname="[^"]*\.\./);
  }, 90_000);

  it("fails a journal count expectation that does not hold (the checks can fail)", async () => {
    const copy = join(scratch, "journal-count.yaml");
    writeFileSync(
      copy,
      readFileSync(join(ROOT, "qa", "scenarios", "user", "success.yaml"), "utf8").replace(
        "  journal:\n",
        '  journal:\n    - { endpoint: oauth/token, count: 2, says: "two exchanges" }\n    - { endpoint: reference, count: ">=1" }\n    - { endpoint: oauth/token/reference, where: { state: absent } }\n',
      ),
    );
    const result = await runScenario(loadScenario(copy), options);
    expect(result.failures.filter((f) => f.where.startsWith("journal"))).toEqual([
      { where: "journal[0] (two exchanges): oauth/token requests", expected: 2, actual: 1 },
      { where: "journal[1]: reference requests", expected: ">=1", actual: 0 },
      { where: "journal[2]: oauth/token/reference requests", expected: ">=1", actual: 0 },
    ]);
  }, 60_000);

  it("passes the contracts scenario: one user reauthorized on each contract, each token kept apart", async () => {
    const results = await runAll(suite("contracts"), options, 2);
    expect(results.map((r) => [r.name, r.status, r.failures])).toEqual(results.map((r) => [r.name, "passed", []]));
    const [file] = results;
    expect(file!.steps.filter((step) => step.label.startsWith("start")).map((step) => step.label)).toEqual(["start user (dev-contract-2)", "start user (dev-contract)"]);
  }, 60_000);

  it("runs a whole file under the contract it names: the mock user under that contract's client id, contractId on every call", async () => {
    const copy = join(scratch, "success-contract-2.yaml");
    writeFileSync(
      copy,
      readFileSync(join(ROOT, "qa", "scenarios", "user", "success.yaml"), "utf8")
        .replace("mock: { name: success }", "contract: dev-contract-2\nmock: { name: success }")
        .replace("expect: { outcome: succeeded, errorCode: null }", "expect: { outcome: succeeded, errorCode: null, signedReturn: true }")
        .replace("  journal:\n", "  journal:\n    - { endpoint: oauth/token, count: 1, claims: { client_id: dev-app_dev-contract-2 } }\n"),
    );
    const result = await runScenario(loadScenario(copy), options);
    expect(result.failures).toEqual([]);
    expect(result.steps[0]!.label).toBe("start user (dev-contract-2)");
  }, 60_000);

  it("fails contract expectations that do not hold: an event's contractId, a request's client id, a contract the mock does not have (the checks can fail)", async () => {
    const copy = join(scratch, "contracts-broken.yaml");
    const text = readFileSync(join(ROOT, "qa", "scenarios", "contracts", "same-user-both-contracts.yaml"), "utf8");
    writeFileSync(copy, text.replace("expect: { contractId: dev-contract-2 }", "expect: { contractId: dev-contract }").replace("claims: { client_id: dev-app_dev-contract-2 }", "claims: { client_id: dev-app_dev-contract }"));
    const result = await runScenario(loadScenario(copy), options);
    expect(result.failures).toEqual([
      { where: "steps[5] webhook: data.contractId", expected: "dev-contract", actual: "dev-contract-2" },
      { where: "journal[0] (dev-contract-2's start signed with its own client id): claim client_id", expected: "dev-app_dev-contract", actual: "dev-app_dev-contract-2" },
    ]);
    const unknown = join(scratch, "contract-unknown.yaml");
    writeFileSync(unknown, "name: unknown contract\ncontract: no-such-contract\nsteps:\n  - token: read\n");
    const refused = await runScenario(loadScenario(unknown), options);
    expect(refused.failures.map((f) => f.actual)).toEqual([expect.stringContaining('contract "no-such-contract": the mock has no such contract')]);
  }, 60_000);

  it("goes on past bad files in a multi-file run, reports each, and exits 2 at the end", async () => {
    const badA = join(scratch, "bad-a.yaml");
    const badB = join(scratch, "bad-b.yaml");
    writeFileSync(badA, "name: a\nsteps:\n  - browser: follw\n");
    writeFileSync(badB, "name: b\nsteps: [\n");
    const good = join(ROOT, "qa", "scenarios", "user", "failure-user-cancel.yaml");
    // Not spawnSync: the stack's mock runs in this process and must keep answering.
    const report = join(scratch, "multi", "junit.xml");
    const child = spawn(process.execPath, [join(ROOT, "qa", "cli.ts"), badA, good, badB, "--target", stack.edgeUrl, "--mock", stack.mock.origin, "--return-to", RETURN_TO, "--junit", report], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
    });
    const run = { stdout: "", stderr: "", status: null as number | null };
    child.stdout.on("data", (chunk: Buffer) => (run.stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (run.stderr += chunk.toString()));
    run.status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("bad-a.yaml: steps.0.browser: Invalid option");
    expect(run.stderr).toContain("bad-b.yaml: cannot be parsed");
    expect(run.stderr).toContain("2 scenario files were refused");
    expect(run.stdout).toMatch(/pass\s+user reauthorization fails with USER_CANCEL/);
    // The count line CI reads counts the refused files as failed ones, and the table lists them.
    expect(run.stdout).toMatch(/^1 passed, 2 failed$/m);
    expect(run.stdout).toMatch(/refused\s+\S*bad-a\.yaml/);
    // The JUnit report says what the exit code says: the refused files are errored test cases beside the passed one.
    const xml = readFileSync(report, "utf8");
    expect(xml).toContain('<testsuites name="qa" tests="3" failures="0" errors="2" skipped="0"');
    expect(xml).toMatch(/<testcase classname="qa\.[^"]*bad-a" name="[^"]*bad-a\.yaml" time="0\.000">\s*<error type="ScenarioFileError" message="refused \(1 problem\): steps\.0\.browser: Invalid option/);
    expect(xml).toMatch(/<testcase classname="qa\.[^"]*bad-b" name="[^"]*bad-b\.yaml" time="0\.000">\s*<error type="ScenarioFileError" message="refused \(1 problem\): cannot be parsed/);
    expect(xml).toMatch(/<testcase classname="[^"]*failure-user-cancel" name="user reauthorization fails with USER_CANCEL" time="[\d.]+"\/>/);
  }, 90_000);

  it("writes the JUnit report when every file is refused, a missing path among them, and exits 2", () => {
    const bad = join(scratch, "only-bad.yaml");
    writeFileSync(bad, "name: only bad\nsteps:\n  - click: approve\n");
    const report = join(scratch, "all-refused", "junit.xml");
    const run = spawnSync(process.execPath, [join(ROOT, "qa", "cli.ts"), bad, join(scratch, "missing.yaml"), "--junit", report], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("qa: no valid scenario file (2 refused)");
    const xml = readFileSync(report, "utf8");
    expect(xml).toContain('tests="2" failures="0" errors="2"');
    expect(xml).toContain('message="refused (1 problem): steps.0: not a step');
    expect(xml).toContain('message="refused (1 problem): no such file or folder"');
  });

  it.each([["--junti", "x.xml"], ["--junit"], ["--concurrency", "many"]])("answers the mistyped option %s with the usage and exit code 2, no stack trace", (...args) => {
    const run = spawnSync(process.execPath, [join(ROOT, "qa", "cli.ts"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^qa: /);
    expect(run.stderr).toContain("usage: npm run qa -- [files or folders]");
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).toBe("");
  });

  it("fails a background long poll on a flow that already ended, and a long poll that did not hold (the checks can fail)", async () => {
    const file = join(scratch, "long-poll-broken.yaml");
    writeFileSync(
      file,
      [
        "name: long polls on an ended flow",
        "mock: { name: success }",
        "steps:",
        "  - start: { flow: user }",
        "  - browser: follow",
        "    expect: { outcome: succeeded }",
        "  - flow: check",
        "    wait: 25",
        "    background: true",
        "    expect: { status: succeeded }",
        "  - reauthStatus: { sessionKey: false }",
        "    expect: { token: valid }",
        "  - flow: check",
        "    wait: 5",
        "    expect: { status: succeeded, heldAtLeast: 1 }",
        "",
      ].join("\n"),
    );
    const result = await runScenario(loadScenario(file), options);
    expect(result.failures).toEqual([
      { where: "steps[2] flow: the long poll was still waiting when the next step began", expected: "no answer within 250 ms", actual: expect.stringMatching(/^answered 200 succeeded after \d+ ms$/) },
      { where: "steps[4] flow: the long poll held at least 1 s", expected: ">= 1 s", actual: expect.stringMatching(/^0\.\d\d s$/) },
    ]);
    // The background poll is reported after the step it ran alongside, and listed in step order.
    expect(result.steps.map((step) => [step.index, step.ok])).toEqual([[0, true], [1, true], [2, false], [3, true], [4, false]]);
  }, 60_000);

  it("refuses a flow check (and a status read) without expect, saying what is missing", () => {
    const bad = join(scratch, "no-expect.yaml");
    writeFileSync(bad, "name: no expect\nsteps:\n  - start: { flow: user }\n  - flow: check\n  - reauthStatus: {}\n");
    const problems = problemsOf(bad);
    expect(problems).toEqual([
      'steps.1.expect: missing: a "flow: check" step needs expect, what the flow must show (status, errorCode, httpStatus; with wait also heldAtLeast, answeredWithin), e.g. expect: { status: succeeded }',
      'steps.2.expect: missing: a "reauthStatus" step needs expect, what the status must show (token, accounts, httpStatus), e.g. expect: { token: valid }',
    ]);
    // A wrong expect is still named as such.
    writeFileSync(bad, "name: wrong expect\nsteps:\n  - start: { flow: user }\n  - flow: check\n    expect: succeeded\n");
    expect(() => loadScenario(bad)).toThrow(/steps\.1\.expect: Invalid input: expected object, received string/);
  });

  it("refuses a long poll longer than the edge holds, and background without wait", () => {
    const bad = join(scratch, "wait.yaml");
    writeFileSync(bad, "name: wait\nsteps:\n  - start: { flow: user }\n  - flow: check\n    wait: 30\n    expect: {}\n  - flow: check\n    background: true\n    expect: {}\n");
    expect(() => loadScenario(bad)).toThrow(/steps\.1\.wait: Too big: expected number to be <=25/);
    expect(() => loadScenario(bad)).toThrow(/steps\.2\.background: background needs wait/);
  });

  it("skips token notices, saying why, when the file gives the user no token that expires during the run", async () => {
    const file = join(scratch, "token-no-lifetime.yaml");
    writeFileSync(file, "name: no lifetime\nsteps:\n  - webhook: { type: token.expiring }\n");
    const result = await runScenario(loadScenario(file), options);
    expect([result.status, result.reason]).toEqual(["skipped", "token.expiring / token.expired steps need user.refreshTokenLifetime (a token that expires during the run)"]);
  });

  it("gets from the mock a token whose refresh token expires when asked, the access token no later", async () => {
    const admin = (path: string, body?: unknown) =>
      fetch(`${stack.mock.origin}/__mock/${path}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });
    const userId = `qa-lifetime-${crypto.randomUUID().slice(0, 8)}`;
    expect((await admin("users", { userId })).status).toBe(201);
    const now = Math.floor(Date.now() / 1000);
    const { token } = (await (await admin(`users/${userId}/token`, { refreshTokenLifetimeMs: 60_000 })).json()) as { token: { accessToken: { value: string; expiry: number }; refreshToken: { expiry: number } } };
    expect(token.refreshToken.expiry - now).toBeGreaterThanOrEqual(59);
    expect(token.refreshToken.expiry - now).toBeLessThanOrEqual(61);
    expect(token.accessToken.expiry).toBeLessThanOrEqual(token.refreshToken.expiry);
    expect(((await (await admin("tokens/check", { accessToken: token.accessToken.value })).json()) as { valid: boolean }).valid).toBe(true);
    expect((await admin(`users/${userId}/token`, { refreshTokenLifetimeMs: 500 })).status).toBe(400);
  });

  it("refuses an unknown step with a message listing the step kinds", () => {
    const bad = join(scratch, "bad-step.yaml");
    writeFileSync(bad, "name: bad\nsteps:\n  - click: approve\n");
    expect(() => loadScenario(bad)).toThrow(/steps\.0: not a step \(a step has one of start, browser, flow, confirm, reauthStatus, setScenario, webhook, webhookOutage, token, pause, accounts, session, files, file, mockFile\)/);
  });

  it("fails token expectations that do not hold: a version, a current version, which pair a read answered (the checks can fail)", async () => {
    const copy = join(scratch, "stale-broken.yaml");
    const text = readFileSync(join(ROOT, "qa", "scenarios", "token", "stale-write-back.yaml"), "utf8");
    writeFileSync(
      copy,
      text
        .replace("expect: { status: 204, version: \">first\" }", "expect: { status: 204, version: first }")
        .replace("expect: { status: 412, error: token_changed, currentVersion: second }", "expect: { status: 412, error: token_changed, currentVersion: first }")
        .replace("expect: { refreshed: false, token: written, version: second, tokenWorks: true }", "expect: { refreshed: false, token: imported, version: \"<second\", tokenWorks: true }"),
    );
    const result = await runScenario(loadScenario(copy), options);
    expect(result.failures).toEqual([
      { where: "steps[1] token write: version (ETag)", expected: expect.stringMatching(/^first \(\d+\)$/), actual: expect.any(Number) },
      { where: "steps[2] token write: error.currentVersion", expected: expect.stringMatching(/^first \(\d+\)$/), actual: expect.any(Number) },
      { where: "steps[5] token read: version", expected: expect.stringMatching(/^<second \(\d+\)$/), actual: expect.any(Number) },
      { where: "steps[5] token read: which pair", expected: "imported", actual: "written" },
    ]);
  }, 60_000);

  it("refuses a saved version used before a step saves it, a token step of no kind, and both preconditions at once", () => {
    const bad = join(scratch, "versions.yaml");
    writeFileSync(
      bad,
      [
        "name: versions",
        "steps:",
        "  - token: write",
        "    ifMatch: first",
        "  - token: read",
        "    save: first",
        '    expect: { version: ">first" }',
        "  - webhook: { type: token.refresh_failed }",
        "    expect: { version: second, reason: expired, next: user_reauth }",
        "",
      ].join("\n"),
    );
    const problems = problemsOf(bad);
    expect(problems).toEqual([
      'steps.0.ifMatch: no earlier step saves a version as "first" (save: first)',
      'steps.1.expect.version: no earlier step saves a version as "first" (save: first)',
      'steps.2.expect.version: no earlier step saves a version as "second" (save: second)',
    ]);
    writeFileSync(bad, "name: kinds\nsteps:\n  - token: reed\n  - token: write\n    ifMatch: 3\n    ifNoneMatch: true\n  - pause: 0\n");
    const kinds = problemsOf(bad);
    expect(kinds.map((p) => p.split(":")[0])).toEqual(["steps.0.token", "steps.1.ifNoneMatch", "steps.2.pause"]);
  });

  it("fails read expectations that do not hold: a flagged account, its reason, the sync's state, a partial account, a file's content, hash and type (the checks can fail)", async () => {
    const copy = join(scratch, "reads-broken.yaml");
    writeFileSync(
      copy,
      [
        "name: reads broken",
        "user: { accounts: 2 }",
        "mock: { name: account-511, accounts: [1] }",
        "steps:",
        "  - mockFile: { account: 0, name: note.json, content: { a: 1 }, compression: gzip }",
        "  - session: start",
        "  - files: list",
        "    wait: 5",
        "    expect: { state: completed, partial: [], files: 4, names: [nope.json] }",
        "  - accounts: read",
        "    save: again",
        "    expect: { reauth: [0], reason: ServiceAuthorizationError, start: absent, accounts: 3 }",
        "  - file: read",
        "    name: note.json",
        '    expect: { contentType: text/plain, compression: brotli, json: { a: 2 }, sha256: "0000000000000000000000000000000000000000000000000000000000000000" }',
        "  - file: read",
        "    name: missing.json",
        "    expect: { status: 200 }",
        "  - file: all",
        "    expect: { files: 5, compressions: [brotli] }",
        "",
      ].join("\n"),
    );
    const result = await runScenario(loadScenario(copy), options);
    expect(result.failures).toEqual([
      { where: "steps[2] files: state", expected: "completed", actual: "partial" },
      { where: "steps[2] files: accounts partial", expected: [], actual: [expect.stringMatching(/^2_qa-reads-broken-/)] },
      { where: "steps[2] files: how many listed", expected: 4, actual: 3 },
      { where: "steps[2] files: nope.json listed", expected: "nope.json", actual: [expect.stringMatching(/_1\.json$/), expect.stringMatching(/_2\.json$/), "note.json"] },
      { where: "steps[3] accounts: how many", expected: 3, actual: 2 },
      { where: "steps[3] accounts: accounts needing reauthorization", expected: [expect.stringMatching(/^1_qa-reads-broken-/)], actual: [expect.stringMatching(/^2_qa-reads-broken-/)] },
      // Without a sessionKey the accounts read knows the 511 account only as digi.me lists it: authorized false.
      { where: expect.stringMatching(/^steps\[3\] accounts: reauth\.reason of 2_qa-reads-broken-/), expected: "ServiceAuthorizationError", actual: "unauthorized" },
      { where: expect.stringMatching(/^steps\[3\] accounts: reauth\.start of 2_qa-reads-broken-/), expected: "(none)", actual: { userId: expect.stringMatching(/^qa-reads-broken-/), accountId: expect.stringMatching(/^2_/) } },
      { where: "steps[4] file note.json: Content-Type", expected: "text/plain", actual: "application/json" },
      { where: "steps[4] file note.json: X-Digime-Compression", expected: "brotli", actual: "gzip" },
      { where: "steps[4] file note.json: SHA-256 of the content", expected: "0".repeat(64), actual: createHash("sha256").update('{"a":1}').digest("hex") },
      { where: "steps[4] file note.json: content (JSON)", expected: { a: 2 }, actual: { a: 1 } },
      { where: "steps[5] file missing.json: HTTP status", expected: 200, actual: 404 },
      { where: "steps[6] file all: how many read", expected: 5, actual: 3 },
      { where: "steps[6] file all: a brotli file among those read", expected: "brotli", actual: ["gzip", "none"] },
    ]);
  }, 60_000);

  it("refuses read steps that name a session, a start body or a file list no earlier step gives, and an authorize start with an account", () => {
    const bad = join(scratch, "reads-refused.yaml");
    writeFileSync(
      bad,
      [
        "name: reads refused",
        "steps:",
        "  - file: all",
        "  - start: { flow: account, from: later }",
        "  - accounts: read",
        "    session: sync",
        "    save: later",
        "  - session: start",
        "    save: sync",
        "  - file: read",
        "    name: 0",
        "",
      ].join("\n"),
    );
    expect(problemsOf(bad)).toEqual([
      "steps.0: no earlier step starts a session (session: start)",
      "steps.0.file: file: all needs an earlier files: list step (the files it lists)",
      'steps.1.start.from: no earlier step saves a start body as "later" (save: later on an accounts: read or files: list step)',
      'steps.2.session: no earlier step saves a session as "sync" (session: start with save: sync)',
      "steps.4.name: a file by position needs an earlier files: list step (the files it lists)",
    ]);
    writeFileSync(bad, "name: kinds\nsteps:\n  - start: { flow: authorize, account: 1 }\n  - start: { flow: account, account: 0, from: x }\n  - files: lst\n  - mockFile: { account: 0 }\n");
    expect(problemsOf(bad)).toEqual([
      "steps.0.start.flow: account and from are for account flows only",
      "steps.1.start.from: account and from exclude each other (from names the account already)",
      'steps.2.files: Invalid input: expected "list"',
      "steps.3.mockFile.content: missing: the file's content, any JSON (e.g. content: { note: hello })",
    ]);
  });

  it("removes its .wrangler/stack-<port> folder when a stack closes", async () => {
    const extra = await startStack({ returnOrigins: [new URL(RETURN_TO).origin], logLevel: "error" });
    const dir = stackDir(Number(new URL(extra.edgeUrl).port));
    expect(existsSync(dir)).toBe(true);
    await extra.close();
    expect(existsSync(dir)).toBe(false);
  }, 120_000);

  it("runs scenarios for different users side by side without interference", async () => {
    const files = [...suite("user").filter((f) => /failure|success/.test(f.file))];
    const results = await runAll(files, options, 8);
    expect(results.every((r) => r.status === "passed")).toBe(true);
  }, 120_000);
});

describe("the QA runner's webhook step", () => {
  /** Runs a webhook step against a receiver that reports `entry` as what arrived. */
  async function stepAgainst(entry: ReceivedWebhook, expectations: Record<string, unknown>): Promise<WebhookStepContext["failures"]> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ received: [entry] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const ctx: WebhookStepContext = { receiver: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, userId: "u1", flowId: "F1", failures: [], storedToken: async () => undefined };
      const step = STEP_SCHEMAS.webhook.parse({ webhook: { type: "flow.succeeded", within: 1 }, expect: expectations });
      await runWebhookStep(ctx, step, (field) => `steps[0] ${field}`);
      return ctx.failures;
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  // A receiver that answered 2xx to a delivery it could not verify (the stack's answers 401, so no scenario reaches this).
  const unverified: ReceivedWebhook = {
    seq: 1,
    receivedAt: Date.now(),
    webhookId: "msg_1",
    webhookTimestamp: "0",
    verified: false,
    verifyError: "No matching signature found",
    answered: 204,
    type: "flow.succeeded",
    flowId: "F1",
    userId: "u1",
    event: { type: "flow.succeeded", timestamp: new Date().toISOString(), data: { flowId: "F1", userId: "u1" } },
    rawBody: "{}",
    headers: {},
  };

  it("fails an accepted delivery whose signature did not verify, by default and when signatureValid: true", async () => {
    const failure = { where: "steps[0] webhook: signature valid (standardwebhooks)", expected: true, actual: "No matching signature found" };
    expect(await stepAgainst(unverified, {})).toEqual([failure]);
    expect(await stepAgainst(unverified, { signatureValid: true })).toEqual([failure]);
  });

  it("checks token.refresh_failed's reason, its next call and its version, and a flow.succeeded session", async () => {
    const refused: ReceivedWebhook = {
      ...unverified,
      verified: true,
      verifyError: undefined,
      event: {
        type: "flow.succeeded",
        timestamp: new Date().toISOString(),
        data: { flowId: "F1", userId: "u1", reason: "invalid", version: 3, next: { method: "POST", path: "/v1/reauth/user", body: { userId: "u1", allowFullAuthorization: true } } },
      },
    };
    expect(await stepAgainst(refused, { reason: "invalid", next: "full_authorization", version: 3, session: "absent" })).toEqual([]);
    expect(await stepAgainst(refused, { reason: "expired", next: "user_reauth", version: ">=4", session: "present" })).toEqual([
      { where: "steps[0] webhook: version", expected: ">=4", actual: 3 },
      { where: "steps[0] webhook: session ({ key, expiry })", expected: "present", actual: "absent" },
      { where: "steps[0] webhook: reason", expected: "expired", actual: "invalid" },
      { where: "steps[0] webhook: next (the call that recovers)", expected: { method: "POST", path: "/v1/reauth/user", body: { userId: "u1" } }, actual: { method: "POST", path: "/v1/reauth/user", body: { userId: "u1", allowFullAuthorization: true } } },
    ]);
  });

  it("checks a flow event's identity", async () => {
    const confirmed: ReceivedWebhook = { ...unverified, verified: true, verifyError: undefined, event: { type: "flow.succeeded", timestamp: new Date().toISOString(), data: { flowId: "F1", userId: "u1", identity: "new" } } };
    expect(await stepAgainst(confirmed, { identity: "new" })).toEqual([]);
    expect(await stepAgainst(confirmed, { identity: "replaced" })).toEqual([{ where: "steps[0] webhook: identity", expected: "replaced", actual: "new" }]);
  });

  it("passes a verified delivery, and an unverified one only when signatureValid: false", async () => {
    expect(await stepAgainst({ ...unverified, verified: true, verifyError: undefined }, {})).toEqual([]);
    expect(await stepAgainst(unverified, { signatureValid: false })).toEqual([]);
    expect(await stepAgainst({ ...unverified, verified: true, verifyError: undefined }, { signatureValid: false })).toEqual([
      { where: "steps[0] webhook: signature valid (standardwebhooks)", expected: false, actual: true },
    ]);
  });
});
