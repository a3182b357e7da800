/**
 * `npm start`: the whole stack on this machine, no digi.me account needed.
 *
 *   mock digi.me   http://127.0.0.1:9090   (npm run mock, in-process)
 *   the edge       http://127.0.0.1:8787   (wrangler dev, local KV in .wrangler/state)
 *   demo app       http://127.0.0.1:8788   (a stand-in application backend and page)
 *
 * Flags: --mock-port, --port, --demo-port, --no-demo. The development
 * configuration below is written to .wrangler/dev.env (git-ignored) and is for
 * local use only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEV_CONTRACT, startStandaloneMock } from "../mock-server/standalone.ts";
import { startDemoApp } from "./demo-app.ts";

/** The development API key (local only; printed, documented in the README). */
export const DEV_API_KEY = "dev-api-key-0000000000000000000000000000";
/** The development token-encryption key (local only: 32 bytes of 0x07). */
const DEV_ENCRYPTION_KEY = `dev:${Buffer.alloc(32, 7).toString("base64")}`;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
      if (response.status === 503) throw new Error(`the edge is misconfigured: ${await response.text()}`);
    } catch (error) {
      if ((error as Error).message.startsWith("the edge is misconfigured")) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

function envFileLine(name: string, value: string): string {
  return `${name}="${value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "mock-port": { type: "string", default: "9090" },
      port: { type: "string", default: "8787" },
      "demo-port": { type: "string", default: "8788" },
      "no-demo": { type: "boolean", default: false },
    },
  });
  const host = "127.0.0.1";
  const edgeUrl = `http://${host}:${values.port}`;
  const demoOrigin = `http://${host}:${values["demo-port"]}`;

  const mock = await startStandaloneMock({ port: Number(values["mock-port"]), host });
  console.log(`mock digi.me   ${mock.origin}  (admin: ${mock.origin}/__mock/)`);

  const envFile = join(root, ".wrangler", "dev.env");
  mkdirSync(dirname(envFile), { recursive: true });
  const config: Record<string, string> = {
    DIGIME_APPLICATION_ID: DEV_CONTRACT.applicationId,
    DIGIME_CONTRACT_ID: DEV_CONTRACT.contractId,
    DIGIME_PRIVATE_KEY: readFileSync(DEV_CONTRACT.privateKeyPath, "utf8"),
    DIGIME_API_BASE_URL: mock.apiBaseUrl,
    DIGIME_ONBOARD_BASE_URL: mock.onboardBaseUrl,
    DIGIME_TIMEOUT_MS: "5000",
    API_KEYS: DEV_API_KEY,
    TOKEN_ENCRYPTION_KEYS: DEV_ENCRYPTION_KEY,
    PUBLIC_BASE_URL: edgeUrl,
    ALLOWED_RETURN_ORIGINS: demoOrigin,
    LOG_LEVEL: "info",
  };
  writeFileSync(envFile, Object.entries(config).map(([k, v]) => envFileLine(k, v)).join("\n") + "\n", { mode: 0o600 });

  const wrangler = spawn(
    join(root, "node_modules", ".bin", "wrangler"),
    ["dev", "--local", "--ip", host, "--port", String(values.port), "--env-file", envFile, "--persist-to", join(root, ".wrangler", "state"), "--show-interactive-dev-session=false"],
    { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const prefix = (chunk: Buffer) => chunk.toString().split("\n").filter(Boolean).map((line) => `[edge] ${line}`).join("\n");
  wrangler.stdout?.on("data", (chunk: Buffer) => console.log(prefix(chunk)));
  wrangler.stderr?.on("data", (chunk: Buffer) => console.error(prefix(chunk)));

  let demo: Awaited<ReturnType<typeof startDemoApp>> | undefined;
  const stop = async (code = 0) => {
    wrangler.kill("SIGTERM");
    await Promise.all([mock.close(), demo?.close()]);
    process.exit(code);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  wrangler.on("exit", (code) => {
    console.error(`wrangler dev exited (${code}); stopping`);
    void stop(code ?? 1);
  });

  await waitFor(`${edgeUrl}/healthz`, wrangler, 60_000);
  console.log(`the edge       ${edgeUrl}  (API key: ${DEV_API_KEY})`);
  if (!values["no-demo"]) {
    demo = await startDemoApp({ port: Number(values["demo-port"]), host, edgeUrl, mockUrl: mock.origin, apiKey: DEV_API_KEY });
    console.log(`demo app       ${demo.url}`);
    console.log(`\nOpen ${demo.url} to run both flows in a browser against the mock. Ctrl-C stops everything.`);
  }
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${(error as Error).message}`);
  process.exit(1);
});
