import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack.ts";

describe("npm start", () => {
  it.each(["--help", "-h"])("prints its usage for %s and exits 0 without starting anything", (flag) => {
    const run = spawnSync(process.execPath, [join(ROOT, "scripts", "dev.ts"), flag], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm start -- \[--port 8787\] \[--mock-port 9090\] \[--demo-port 8788\] \[--webhook-port 8789\] \[--no-demo\]/);
    expect(run.stdout).toContain("second one");
    expect(run.stderr).toBe("");
  });

  it("names --help when an option is wrong", () => {
    const run = spawnSync(process.execPath, [join(ROOT, "scripts", "dev.ts"), "--prot", "1"], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("npm start -- --help");
  });
});
