/**
 * The local stack: the standalone mock digi.me and the edge Worker under
 * `wrangler dev`, wired together with a development configuration. Used by
 * `npm start`, the QA runner and the benchmarks. Development only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { fileURLToPath } from "node:url";
import { DEV_CONTRACT, DEV_CONTRACT_2, startStandaloneMock } from "../mock-server/standalone.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.ts";

/** The development API key (local only; printed, documented in the README). */
export const DEV_API_KEY = "dev-api-key-0000000000000000000000000000";
/** The development token-encryption key (local only: 32 bytes of 0x07). */
export const DEV_ENCRYPTION_KEY = `dev:${Buffer.alloc(32, 7).toString("base64")}`;

/** The development key of the signed return (local only; the demo app and QA check with it). */
export const DEV_RETURN_SIGNING_SECRET = "dev-return-signing-secret-00000000000000";
/** The development Standard Webhooks secret (local only: 32 bytes of 0x09). */
export const DEV_WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Scalar's standalone script from the installed package: with `docs`, wrangler
 * serves it at /docs/scalar.js (src/dev-app.ts SCALAR_SCRIPT_PATH), so /docs
 * needs no CDN and works offline.
 */
export const SCALAR_SCRIPT = join(ROOT, "node_modules", "@scalar", "api-reference", "dist", "browser", "standalone.js");

/**
 * How to run wrangler: its JS entry on the Node running this script (Node 24
 * from node_modules under `npm run`), never whatever `node` is first on PATH.
 */
export const WRANGLER = [process.execPath, join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js")] as const;

/** Options of `startStack`. */
export interface StackOptions {
  host?: string;
  /** 0 picks a free port. */
  edgePort?: number;
  mockPort?: number;
  /** Origins `returnTo` may use (the demo app's, the QA runner's landing). */
  returnOrigins: string[];
  /** The edge's deadline per digi.me call. */
  timeoutMs?: number;
  logLevel?: string;
  /** Where wrangler persists local KV; a fresh temporary folder when absent. */
  persistTo?: string;
  /** Pipe wrangler's output through this (default: drop it). */
  onOutput?: (line: string, stream: "stdout" | "stderr") => void;
  /**
   * Run the mock in its own Node process instead of this one (the benchmark
   * does, so its load generator and the mock do not share an event loop).
   */
  separateMock?: boolean;
  /**
   * Serve the API reference at /docs (`npm start` does): wrangler dev runs
   * `src/dev-entry.ts` instead of the production entry `src/index.ts`, which
   * the benchmarks, QA and tests keep measuring (default false).
   */
  docs?: boolean;
  /** wrangler's own log level (its per-request lines cost time under load). */
  wranglerLogLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
  /** Port of the recording webhook receiver (WEBHOOK_URL); 0 or absent picks a free port. */
  webhookPort?: number;
  /**
   * Where the edge sends its webhooks instead of the recording receiver (`npm start --
   * --webhook-url`): your own endpoint, verifying with DEV_WEBHOOK_SECRET. The receiver
   * still runs (and receives nothing).
   */
  webhookUrl?: string;
  /**
   * Whether the edge sends webhooks to the receiver (default true). The soak turns
   * them off: see bench/soak.ts.
   */
  webhooks?: boolean;
  /** FLOW_TTL_SECONDS (QA uses the shortest, 60, so a flow's expiry webhook comes within a minute). */
  flowTtlSeconds?: number;
}

/** The mock as the stack exposes it, in this process or another. */
export interface MockHandle {
  origin: string;
  apiBaseUrl: string;
  onboardBaseUrl: string;
  close: () => Promise<void>;
}

/** A running stack. */
export interface Stack {
  edgeUrl: string;
  mock: MockHandle;
  apiKey: string;
  /** The recording webhook receiver the edge sends events to. */
  webhooks: WebhookReceiver;
  wrangler: ChildProcess;
  close: () => Promise<void>;
}

/**
 * A filter of wrangler's output lines that lets its bindings table through once.
 * wrangler dev prints the table again whenever its dev registry changes, and it
 * changes at the Worker's own registration (a Worker with queues watches the
 * registry for their consumers), so every start showed the table twice.
 */
export function bindingsTableOnce(): (line: string) => boolean {
  let seen = false;
  let dropping = false;
  return (line) => {
    const plain = stripVTControlCharacters(line).trim();
    if (plain.endsWith("has access to the following bindings:")) {
      dropping = seen;
      seen = true;
      return !dropping;
    }
    if (dropping && /^(Binding\s|env\.)/.test(plain)) return false;
    dropping = false;
    // The line announcing that registry change, which says nothing about this stack.
    return plain !== "⎔ Connection status updated";
  };
}

/** A free TCP port on `host`. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `url` until it answers 2xx. Fails fast when the process serving it
 * exits, and on a 503 (the edge's answer to a bad configuration). `headers`
 * go with each poll: the edge's /healthz names its problems only to a caller
 * with an API key.
 */
export async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url} is served by a process that exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
      if (response.status === 503) throw new Error(`the edge is misconfigured: ${await response.text()}`);
    } catch (error) {
      if ((error as Error).message.startsWith("the edge is misconfigured")) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

/** Runs `mock-server/standalone.ts` as a child process and waits until it answers. */
export async function startMockProcess(host: string, port: number): Promise<MockHandle> {
  const child = spawn(process.execPath, [join(ROOT, "mock-server", "standalone.ts"), "--host", host, "--port", String(port)], { stdio: ["ignore", "ignore", "inherit"] });
  const origin = `http://${host}:${port}`;
  const close = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  try {
    await waitForHealth(`${origin}/__mock/`, child, 30_000);
  } catch (error) {
    await close();
    throw error;
  }
  return { origin, apiBaseUrl: `${origin}/v1.7/`, onboardBaseUrl: `${origin}/apps/saas/`, close };
}

function envFileLine(name: string, value: string): string {
  // dotenv takes a single-quoted value literally (JSON's double quotes included); a PEM needs double quotes for \n.
  if (!value.includes("\n") && !value.includes("'")) return `${name}='${value}'`;
  return `${name}="${value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`;
}

/** The folder a stack on `edgePort` keeps its configuration (and, unless told otherwise, its KV) in; removed when the stack closes. */
export function stackDir(edgePort: number): string {
  return join(ROOT, ".wrangler", `stack-${edgePort}`);
}

/** Starts the mock and the edge; resolves once the edge's /healthz answers 200. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const host = options.host ?? "127.0.0.1";
  const mock = options.separateMock ? await startMockProcess(host, options.mockPort || (await freePort(host))) : await startStandaloneMock({ port: options.mockPort ?? 0, host });
  const webhooks = await startWebhookReceiver({ host, port: options.webhookPort ?? 0, secret: DEV_WEBHOOK_SECRET });
  const edgePort = options.edgePort || (await freePort(host));
  const edgeUrl = `http://${host}:${edgePort}`;
  const stateDir = stackDir(edgePort);
  mkdirSync(stateDir, { recursive: true });
  const envFile = join(stateDir, "dev.env");
  const config: Record<string, string> = {
    DIGIME_APPLICATION_ID: DEV_CONTRACT.applicationId,
    DIGIME_CONTRACT_ID: DEV_CONTRACT.contractId,
    DIGIME_PRIVATE_KEY: readFileSync(DEV_CONTRACT.privateKeyPath, "utf8"),
    // The second development contract: the local stack serves two, as a deployment may (docs/configuration.md).
    DIGIME_CONTRACTS: JSON.stringify({ [DEV_CONTRACT_2.contractId]: "DIGIME_PRIVATE_KEY_2" }),
    DIGIME_PRIVATE_KEY_2: readFileSync(DEV_CONTRACT_2.privateKeyPath, "utf8"),
    DIGIME_API_BASE_URL: mock.apiBaseUrl,
    DIGIME_ONBOARD_BASE_URL: mock.onboardBaseUrl,
    DIGIME_TIMEOUT_MS: String(options.timeoutMs ?? 5000),
    API_KEYS: DEV_API_KEY,
    TOKEN_ENCRYPTION_KEYS: DEV_ENCRYPTION_KEY,
    PUBLIC_BASE_URL: edgeUrl,
    ALLOWED_RETURN_ORIGINS: options.returnOrigins.join(","),
    LOG_LEVEL: options.logLevel ?? "info",
    RETURN_SIGNING_SECRET: DEV_RETURN_SIGNING_SECRET,
    // Webhooks to the recording receiver, through the local queue (wrangler.toml's queue sections).
    ...(options.webhooks === false ? {} : { WEBHOOK_URL: options.webhookUrl ?? webhooks.url, WEBHOOK_SECRET: DEV_WEBHOOK_SECRET }),
    ...(options.flowTtlSeconds ? { FLOW_TTL_SECONDS: String(options.flowTtlSeconds) } : {}),
    // Accepts the development defaults above (published API key, 0x07 key, dev contract, http://), which production refuses.
    DEVELOPMENT_MODE: "true",
  };
  writeFileSync(envFile, Object.entries(config).map(([k, v]) => envFileLine(k, v)).join("\n") + "\n", { mode: 0o600 });

  // /docs's script, as a static asset of its own folder (wrangler serves it before the Worker; nothing else is there).
  const assets = join(stateDir, "assets");
  if (options.docs) {
    mkdirSync(join(assets, "docs"), { recursive: true });
    copyFileSync(SCALAR_SCRIPT, join(assets, "docs", "scalar.js"));
  }
  const wrangler = spawn(
    WRANGLER[0],
    [WRANGLER[1], "dev", ...(options.docs ? [join("src", "dev-entry.ts"), "--assets", assets] : []), "--local", "--ip", host, "--port", String(edgePort), "--env-file", envFile, "--persist-to", options.persistTo ?? join(stateDir, "state"), "--show-interactive-dev-session=false", "--log-level", options.wranglerLogLevel ?? "log"],
    {
      cwd: ROOT,
      // X_LOCAL_OBSERVABILITY=false: wrangler dev otherwise keeps a local trace of every request
      // (URL included) under <persist-to>/v3/observability, wrangler.toml's [observability]
      // notwithstanding, and the callback URLs carry digi.me's code and state; `npm start`
      // persists to .wrangler/state, so they would outlive the run.
      //
      // Quiet and self-contained on a machine without internet (npm start printed two ENOTFOUND
      // stack traces and the bindings table twice): CLOUDFLARE_CF_FETCH_ENABLED=false keeps
      // Miniflare from fetching a real `request.cf` from workers.cloudflare.com (the edge reads
      // none of it; the placeholder is used); WRANGLER_SEND_METRICS / WRANGLER_SEND_ERROR_REPORTS
      // send nothing to Cloudflare; a dev registry of this stack's own (wrangler's is shared by
      // every `wrangler dev` on the machine, and each change to it reprints the bindings) lives
      // and goes with the stack's folder. Wrangler's update check has no switch: it fails quietly
      // offline.
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_SEND_ERROR_REPORTS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_REGISTRY_PATH: join(stateDir, "registry"),
        X_LOCAL_OBSERVABILITY: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const shown = bindingsTableOnce();
  for (const stream of ["stdout", "stderr"] as const) {
    wrangler[stream]?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim() && shown(line)) options.onOutput?.(line, stream);
    });
  }
  const close = async () => {
    if (wrangler.exitCode === null) {
      const exited = new Promise((resolve) => wrangler.once("exit", resolve));
      wrangler.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    await Promise.all([mock.close(), webhooks.close()]);
    // The development configuration (a private key among it) and the throwaway KV go with the stack.
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(`${edgeUrl}/healthz`, wrangler, 90_000, { Authorization: `Bearer ${DEV_API_KEY}` });
  } catch (error) {
    await close();
    throw error;
  }
  return { edgeUrl, mock, apiKey: DEV_API_KEY, webhooks, wrangler, close };
}
