/**
 * The lean local runtime: a Worker bundle (`wrangler deploy --dry-run`) run by
 * Miniflare's API directly in workerd, without wrangler dev's proxy, watcher
 * and local KV simulator. The measured Worker is bench/lean-worker.ts: the
 * production Worker with an in-memory KV and its user Durable Object
 * (`UserObject`, binding USERS, SQLite storage, in the Worker's own script
 * and, in workerd, its isolate). Used by `npm run bench`.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { DEV_CONTRACT } from "../mock-server/standalone.ts";
import { DEV_API_KEY, DEV_ENCRYPTION_KEY, DEV_RETURN_SIGNING_SECRET, ROOT, type MockHandle } from "../harness/stack.ts";
import { RETURN_TO } from "./lib.ts";

/** The production bundle, built as `wrangler deploy` would upload it. */
export interface Bundle {
  path: string;
  rawBytes: number;
  gzipBytes: number;
  /** Whether the config binds the user Durable Object (USERS → UserObject, exported by the bundle). */
  userObjects: boolean;
  dispose: () => void;
}

/** A config's user-object binding: `[[durable_objects.bindings]]` with class UserObject. */
function bindsUserObjects(config: string): boolean {
  return /\[\[durable_objects\.bindings\]\][^[]*class_name\s*=\s*"UserObject"/.test(readFileSync(config, "utf8"));
}

/**
 * Bundles the Worker of `config` (default: the production wrangler.toml).
 * `root`: the tree whose wrangler builds it (another worktree for `--baseline`).
 */
export function buildBundle(config = join(ROOT, "wrangler.toml"), root = ROOT): Bundle {
  const outdir = mkdtempSync(join(tmpdir(), "edge-bench-bundle-"));
  execFileSync(process.execPath, [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "-c", config, "--outdir", outdir], { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, stdio: "pipe" });
  // Named after the config's `main` (index.js for src/index.ts).
  const path = join(outdir, readdirSync(outdir).find((name) => name.endsWith(".js"))!);
  const text = readFileSync(path);
  return { path, rawBytes: text.length, gzipBytes: gzipSync(text).length, userObjects: bindsUserObjects(config), dispose: () => rmSync(outdir, { recursive: true, force: true }) };
}

/**
 * Durable Object storage carried from one runtime to the next (the objects'
 * SQLite files), as the in-memory KV is carried by seeding: a fresh isolate's
 * first request then meets the objects' stored tokens and flows.
 */
export interface ObjectState {
  /** A persistence directory for a runtime (empty, or with a copy of the snapshot). */
  fresh: () => string;
  /** Takes the objects' storage of a closed runtime's directory as the snapshot. */
  snapshot: (dir: string) => void;
  dispose: () => void;
}

/** `base`: where the directories live (default: the OS's temporary directory, on disk here). */
export function objectState(base = tmpdir()): ObjectState {
  const root = mkdtempSync(join(base, "edge-bench-objects-"));
  const saved = join(root, "snapshot");
  let next = 0;
  return {
    fresh: () => {
      const dir = join(root, `runtime-${next++}`);
      if (existsSync(join(saved, "do"))) cpSync(join(saved, "do"), join(dir, "do"), { recursive: true });
      return dir;
    },
    snapshot: (dir) => {
      rmSync(saved, { recursive: true, force: true });
      if (existsSync(join(dir, "do"))) cpSync(join(dir, "do"), join(saved, "do"), { recursive: true });
    },
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
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
  /** Binds USERS to the script's UserObject class (SQLite storage); the script must export it. */
  userObjects?: boolean;
  /**
   * Where workerd keeps the runtime's storage (the objects' SQLite files; the Cache API's
   * entries too, so a directory per boot keeps each boot's Cache API empty). Default: a
   * temporary directory of Miniflare's.
   */
  persistDir?: string;
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
      ...(options.persistDir ? { resourcePersistencePath: options.persistDir } : {}),
      modules: true,
      // The source, not a path: workerd refuses module paths outside its working directory.
      script: "path" in options.script ? readFileSync(options.script.path, "utf8") : options.script.source,
      compatibilityDate: "2026-11-01",
      // For bench/lean-worker.ts's per-request upstream timing; the production bundle imports no node: module.
      compatibilityFlags: ["nodejs_als"],
      kvNamespaces: ["REAUTH_KV"],
      // The user objects: a class of the same script (no scriptName), SQLite storage as wrangler.toml's migration declares.
      ...(options.userObjects ? { durableObjects: { USERS: { className: "UserObject", useSQLite: true } } } : {}),
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
