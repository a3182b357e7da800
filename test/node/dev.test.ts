import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpBrowser } from "../../harness/http-browser.ts";
import { parseStartOptions } from "../../scripts/dev.ts";
import { DEV_API_KEY, DEV_ENCRYPTION_KEY, DEV_RETURN_SIGNING_SECRET, DEV_WEBHOOK_SECRET, freePort, ROOT } from "../../harness/stack.ts";

const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "scripts", "dev.ts"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });

describe("npm start's options", () => {
  it.each(["--help", "-h"])("prints its usage for %s and exits 0 without starting anything", (flag) => {
    const answer = run(flag);
    expect(answer.status).toBe(0);
    expect(answer.stdout).toMatch(/^usage: npm start -- \[--port 8787\] \[--mock-port 9090\] \[--demo-port 8788\] \[--webhook-port 8789\] \[--no-demo\]/);
    expect(answer.stdout).toContain("[--webhook-url URL] [--return-origin ORIGIN]...");
    expect(answer.stdout).toContain("second one");
    expect(answer.stderr).toBe("");
  });

  it.each([
    [["--prot", "1"], "Unknown option '--prot'"],
    [["--port", "eighty"], '--port takes a port number (1-65535), not "eighty"'],
    [["--webhook-url", "not a url"], '--webhook-url takes an http(s) URL, not "not a url"'],
    [["--return-origin", "http://localhost:3000/back"], "--return-origin takes an origin (scheme, host and port, no path)"],
  ])("answers %j with the usage and exit code 2, no stack trace", (args, message) => {
    const answer = run(...args);
    expect(answer.status).toBe(2);
    expect(answer.stderr).toContain(`npm start: ${message}`);
    expect(answer.stderr).toContain("usage: npm start -- ");
    expect(answer.stderr).not.toMatch(/^\s+at /m);
  });

  it("takes --return-origin more than once, as origins", () => {
    const options = parseStartOptions(["--return-origin", "http://localhost:3000", "--return-origin", "https://app.example:8443/"]);
    expect(options.returnOrigins).toEqual(["http://localhost:3000", "https://app.example:8443"]);
    expect(parseStartOptions([]).returnOrigins).toEqual([]);
    expect(parseStartOptions(["--webhook-url", "http://127.0.0.1:4000/hooks"]).webhookUrl).toBe("http://127.0.0.1:4000/hooks");
  });
});

describe("docs/local-stack.md", () => {
  it("lists the development secrets as harness/stack.ts defines them", () => {
    const doc = readFileSync(join(ROOT, "docs", "local-stack.md"), "utf8");
    for (const [name, value] of [
      ["API key (`API_KEYS`)", DEV_API_KEY],
      ["`RETURN_SIGNING_SECRET`", DEV_RETURN_SIGNING_SECRET],
      ["`WEBHOOK_SECRET`", DEV_WEBHOOK_SECRET],
      ["`TOKEN_ENCRYPTION_KEYS`", DEV_ENCRYPTION_KEY],
    ]) {
      expect(doc).toContain(`| ${name} | \`${value}\` |`);
    }
    expect(doc).toContain(`const secret = "${DEV_WEBHOOK_SECRET}";`);
  });
});

/**
 * The real `npm start` (scripts/dev.ts) on free ports, without the demo, with
 * webhooks sent to a receiver of this test's own and an extra return origin.
 */
describe("npm start, run", () => {
  let child: ChildProcess;
  let output = "";
  let mine: Server;
  const deliveries: Array<{ body: string; headers: Record<string, string> }> = [];
  const ports = { edge: 0, mock: 0, demo: 0, webhook: 0 };
  const state = mkdtempSync(join(tmpdir(), "npm-start-state-"));
  const OWN_ORIGIN = "http://localhost:3999";

  beforeAll(async () => {
    mine = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        deliveries.push({ body: Buffer.concat(chunks).toString("utf8"), headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => mine.listen(0, "127.0.0.1", resolve));
    const hook = `http://127.0.0.1:${(mine.address() as AddressInfo).port}/my-hooks`;
    for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();
    child = spawn(
      process.execPath,
      [join(ROOT, "scripts", "dev.ts"), "--no-demo", "--port", String(ports.edge), "--mock-port", String(ports.mock), "--demo-port", String(ports.demo), "--webhook-port", String(ports.webhook), "--webhook-url", hook, "--return-origin", OWN_ORIGIN, "--state", state],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" } },
    );
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start was not ready within 120 s:\n${output}`)), 120_000);
      const check = setInterval(() => {
        if (output.includes("Ready (no demo app)")) {
          clearInterval(check);
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null) {
          clearInterval(check);
          clearTimeout(timer);
          reject(new Error(`npm start exited (${child.exitCode}):\n${output}`));
        }
      }, 200);
    });
  }, 150_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGINT");
      await exited;
    }
    await new Promise((resolve) => mine?.close(resolve));
    rmSync(state, { recursive: true, force: true });
  });

  it("prints the development secrets and the allowed return origins once ready", () => {
    expect(output).toMatch(new RegExp(`API key \\(Authorization: Bearer …\\)\\s+${DEV_API_KEY}`));
    expect(output).toMatch(new RegExp(`RETURN_SIGNING_SECRET\\s+${DEV_RETURN_SIGNING_SECRET}`));
    expect(output).toContain(`WEBHOOK_SECRET                     ${DEV_WEBHOOK_SECRET}`);
    expect(output).toContain(`returnTo       http://127.0.0.1:${ports.demo}, ${OWN_ORIGIN}  (the allowed origins`);
  });

  it("prints no stack trace and wrangler's bindings table once, on a machine without internet too", () => {
    expect(output.split("has access to the following bindings:").length - 1).toBe(1);
    expect(output).not.toContain("ENOTFOUND");
    expect(output).not.toContain("Unable to fetch the `Request.cf` object");
    expect(output).not.toMatch(/^(\[edge\])?\s+at .+:\d+:\d+\)?$/m);
  });

  it("allows returnTo on --return-origin and on the demo's origin, sends the webhooks to --webhook-url, signed with the printed WEBHOOK_SECRET", async () => {
    const edge = `http://127.0.0.1:${ports.edge}`;
    const mock = `http://127.0.0.1:${ports.mock}`;
    const api = (path: string, method: string, body: unknown) =>
      fetch(`${edge}${path}`, { method, headers: { Authorization: `Bearer ${DEV_API_KEY}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const userId = "npm-start-user";
    const created = (await (await fetch(`${mock}/__mock/users`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ userId }) })).json()) as { token: unknown };
    expect((await api(`/v1/users/${userId}/token`, "PUT", created.token)).status).toBe(204);

    expect((await api("/v1/reauth/user", "POST", { userId, returnTo: "https://elsewhere.example/back" })).status).toBe(400);
    expect((await api("/v1/reauth/user", "POST", { userId, returnTo: `http://127.0.0.1:${ports.demo}/back` })).status).toBe(201);
    const started = await api("/v1/reauth/user", "POST", { userId, returnTo: `${OWN_ORIGIN}/back` });
    expect(started.status).toBe(201);
    const { launchUrl, flowId } = (await started.json()) as { launchUrl: string; flowId: string };
    const nav = await new HttpBrowser(`${OWN_ORIGIN}/back`).navigate(launchUrl, "follow");
    expect(nav.landed).toBe(true);

    await expect.poll(() => deliveries.find((d) => d.body.includes(flowId) && d.body.includes("flow.succeeded")), { timeout: 15_000 }).toBeTruthy();
    const delivery = deliveries.find((d) => d.body.includes(flowId) && d.body.includes("flow.succeeded"))!;
    expect(new Webhook(DEV_WEBHOOK_SECRET).verify(delivery.body, delivery.headers)).toMatchObject({ type: "flow.succeeded", data: { flowId, userId } });
    // The recording receiver got none of them.
    const recorded = (await (await fetch(`http://127.0.0.1:${ports.webhook}/__webhooks/received`)).json()) as { received: unknown[] };
    expect(recorded.received).toEqual([]);
  }, 60_000);
});
