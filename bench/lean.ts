/**
 * The lean local runtime: a Worker bundle (`wrangler deploy --dry-run`) run by
 * Miniflare's API directly in workerd, without wrangler dev's proxy, watcher
 * and local KV simulator. The measured Worker is bench/lean-worker.ts: the
 * production Worker with an in-memory KV. Used by `npm run bench`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { DEV_CONTRACT } from "../mock-server/standalone.ts";
import { DEV_API_KEY, DEV_ENCRYPTION_KEY, DEV_RETURN_SIGNING_SECRET, ROOT, WRANGLER, type MockHandle } from "../scripts/stack.ts";
import { RETURN_TO } from "./lib.ts";

/** The production bundle, built as `wrangler deploy` would upload it. */
export interface Bundle {
  path: string;
  rawBytes: number;
  gzipBytes: number;
  dispose: () => void;
}

/** Bundles the Worker of `config` (default: the production wrangler.toml). */
export function buildBundle(config = join(ROOT, "wrangler.toml")): Bundle {
  const outdir = mkdtempSync(join(tmpdir(), "edge-bench-bundle-"));
  execFileSync(WRANGLER[0], [WRANGLER[1], "deploy", "--dry-run", "-c", config, "--outdir", outdir], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, stdio: "pipe" });
  // Named after the config's `main` (index.js for src/index.ts).
  const path = join(outdir, readdirSync(outdir).find((name) => name.endsWith(".js"))!);
  const text = readFileSync(path);
  return { path, rawBytes: text.length, gzipBytes: gzipSync(text).length, dispose: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** A running lean runtime. */
export interface LeanRuntime {
  url: string;
  /** workerd's process id (CPU accounting), when found. */
  pid?: number;
  close: () => Promise<void>;
}

export interface LeanOptions {
  /** The Worker's module; a bare Worker for the start-up baseline. */
  script: { path: string } | { source: string };
  port: number;
  mock: MockHandle;
  /** Opens workerd's inspector (CPU profiles) on this port. */
  inspectorPort?: number;
}

/** Boots workerd with the Worker; resolves once it accepts requests. */
export async function bootLean(options: LeanOptions): Promise<LeanRuntime> {
  const url = `http://127.0.0.1:${options.port}`;
  const before = workerdChildren();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: options.port,
      ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
      modules: true,
      // The source, not a path: workerd refuses module paths outside its working directory.
      script: "path" in options.script ? readFileSync(options.script.path, "utf8") : options.script.source,
      compatibilityDate: "2026-11-01",
      // For bench/lean-worker.ts's per-request upstream timing; the production bundle imports no node: module.
      compatibilityFlags: ["nodejs_als"],
      kvNamespaces: ["REAUTH_KV"],
      bindings: {
        DIGIME_APPLICATION_ID: DEV_CONTRACT.applicationId,
        DIGIME_CONTRACT_ID: DEV_CONTRACT.contractId,
        DIGIME_PRIVATE_KEY: readFileSync(DEV_CONTRACT.privateKeyPath, "utf8"),
        DIGIME_API_BASE_URL: options.mock.apiBaseUrl,
        DIGIME_ONBOARD_BASE_URL: options.mock.onboardBaseUrl,
        DIGIME_TIMEOUT_MS: "10000",
        API_KEYS: DEV_API_KEY,
        TOKEN_ENCRYPTION_KEYS: DEV_ENCRYPTION_KEY,
        PUBLIC_BASE_URL: url,
        ALLOWED_RETURN_ORIGINS: new URL(RETURN_TO).origin,
        LOG_LEVEL: "error",
        RETURN_SIGNING_SECRET: DEV_RETURN_SIGNING_SECRET,
        // Webhooks stay off here (no WEBHOOK_URL): the lean figures are the flows' own.
        // Accepts the development key, secrets and http:// URLs above, which production refuses.
        DEVELOPMENT_MODE: "true",
      },
    } as never),
  );
  await mf.ready;
  const pid = workerdChildren().find((p) => !before.includes(p));
  return { url, ...(pid ? { pid } : {}), close: () => mf.dispose() };
}

/** Process ids of workerd processes this process started. */
function workerdChildren(): number[] {
  try {
    return execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.includes("workerd"))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
  } catch {
    return [];
  }
}
