/**
 * `npm start`: the whole stack on this machine, no digi.me account needed.
 *
 *   mock digi.me   http://127.0.0.1:9090   (npm run mock, in-process)
 *   the edge       http://127.0.0.1:8787   (wrangler dev, local KV in .wrangler/state)
 *   demo app       http://127.0.0.1:8788   (a stand-in application backend and page)
 *   webhooks       http://127.0.0.1:8789   (the recording receiver WEBHOOK_URL points to)
 *
 * Options: see USAGE (`npm start -- --help`). The development configuration is
 * written under .wrangler/ (git-ignored) and is for local use only; its secrets
 * are printed once the stack is ready and listed in docs/local-stack.md.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startDemoApp } from "./demo-app.ts";
import { DEV_API_KEY, DEV_RETURN_SIGNING_SECRET, DEV_WEBHOOK_SECRET, ROOT, startStack } from "../harness/stack.ts";

/** What `npm start -- --help` prints (and a mistyped option is answered with). */
export const USAGE = `usage: npm start -- [--port 8787] [--mock-port 9090] [--demo-port 8788] [--webhook-port 8789] [--no-demo]
                    [--webhook-url URL] [--return-origin ORIGIN]... [--state DIR]

Starts, on 127.0.0.1 only:
  the mock digi.me   --mock-port (default 9090), admin API and control panel at /__mock/
  the edge Worker    --port (default 8787), wrangler dev with local KV in .wrangler/state,
                     API reference at /docs
  a demo application --demo-port (default 8788), unless --no-demo
  a webhook receiver --webhook-port (default 8789), recording what WEBHOOK_URL receives;
                     its page at /__webhooks/ shows each delivery's headers and raw body

  --webhook-url URL       send the edge's webhooks to your own endpoint instead of the
                          recording receiver (verify them with the WEBHOOK_SECRET printed)
  --return-origin ORIGIN  also allow returnTo URLs on ORIGIN (e.g. http://localhost:3000);
                          repeat for more. The demo's origin (--demo-port) is always allowed,
                          with --no-demo too.
  --state DIR             keep the edge's local KV and Durable Objects in DIR
                          (default .wrangler/state; a new folder starts empty)

Once ready it prints the addresses and the development secrets (API key,
RETURN_SIGNING_SECRET, WEBHOOK_SECRET; local only, docs/local-stack.md).
It keeps this terminal until Ctrl-C: run npm test or npm run qa in a second one.`;

/** A bad command line: npm start prints it with the usage and exits 2. */
class UsageError extends Error {}

/** The options of `npm start`, checked. */
export function parseStartOptions(args: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        "mock-port": { type: "string", default: "9090" },
        port: { type: "string", default: "8787" },
        "demo-port": { type: "string", default: "8788" },
        "webhook-port": { type: "string", default: "8789" },
        "no-demo": { type: "boolean", default: false },
        "webhook-url": { type: "string" },
        "return-origin": { type: "string", multiple: true, default: [] },
        state: { type: "string", default: join(ROOT, ".wrangler", "state") },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify .*$/s, "."));
  }
  const port = (name: "mock-port" | "port" | "demo-port" | "webhook-port") => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw new UsageError(`--${name} takes a port number (1-65535), not ${JSON.stringify(values[name])}`);
    return value;
  };
  const url = (name: string, value: string) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new UsageError(`${name} takes an http(s) URL, not ${JSON.stringify(value)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError(`${name} takes an http(s) URL, not ${JSON.stringify(value)}`);
    return parsed;
  };
  const returnOrigins = values["return-origin"].map((value) => {
    const parsed = url("--return-origin", value);
    if (parsed.pathname !== "/" || parsed.search || parsed.hash) throw new UsageError(`--return-origin takes an origin (scheme, host and port, no path), not ${JSON.stringify(value)}`);
    return parsed.origin;
  });
  return {
    help: values.help,
    mockPort: port("mock-port"),
    edgePort: port("port"),
    demoPort: port("demo-port"),
    webhookPort: port("webhook-port"),
    demo: !values["no-demo"],
    webhookUrl: values["webhook-url"] === undefined ? undefined : url("--webhook-url", values["webhook-url"]).toString(),
    returnOrigins,
    state: resolve(values.state),
  };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseStartOptions>;
  try {
    options = parseStartOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`npm start: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const host = "127.0.0.1";
  const demoOrigin = `http://${host}:${options.demoPort}`;
  const returnOrigins = [...new Set([demoOrigin, ...options.returnOrigins])];
  const stack = await startStack({
    host,
    edgePort: options.edgePort,
    mockPort: options.mockPort,
    webhookPort: options.webhookPort,
    ...(options.webhookUrl ? { webhookUrl: options.webhookUrl } : {}),
    returnOrigins,
    docs: true,
    persistTo: options.state,
    onOutput: (line, stream) => (stream === "stderr" ? console.error : console.log)(`[edge] ${line}`),
  });
  console.log(`mock digi.me   ${stack.mock.origin}  (control panel and admin API: ${stack.mock.origin}/__mock/)`);
  console.log(`the edge       ${stack.edgeUrl}  (API reference: ${stack.edgeUrl}/docs)`);
  if (options.webhookUrl) console.log(`webhooks       ${options.webhookUrl}  (your endpoint; the recording receiver at ${stack.webhooks.origin}/__webhooks/ gets none)`);
  else console.log(`webhooks       ${stack.webhooks.url}  (each delivery, raw body and headers: ${stack.webhooks.origin}/__webhooks/)`);
  console.log(`returnTo       ${returnOrigins.join(", ")}  (the allowed origins; add one with --return-origin)`);
  console.log(`
Development secrets (local only; production refuses them; docs/local-stack.md):
  API key (Authorization: Bearer …)  ${DEV_API_KEY}
  RETURN_SIGNING_SECRET              ${DEV_RETURN_SIGNING_SECRET}
  WEBHOOK_SECRET                     ${DEV_WEBHOOK_SECRET}
`);

  let demo: Awaited<ReturnType<typeof startDemoApp>> | undefined;
  const stop = async (code = 0) => {
    await Promise.all([stack.close(), demo?.close()]);
    process.exit(code);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  stack.wrangler.on("exit", (code) => {
    console.error(`wrangler dev exited (${code}); stopping`);
    void stop(code ?? 1);
  });

  if (options.demo) {
    demo = await startDemoApp({
      port: options.demoPort,
      host,
      edgeUrl: stack.edgeUrl,
      mockUrl: stack.mock.origin,
      apiKey: DEV_API_KEY,
      returnSigningSecret: DEV_RETURN_SIGNING_SECRET,
      // With --webhook-url the recording receiver gets nothing: the demo says where they went instead of waiting for them.
      ...(options.webhookUrl ? { webhooksElsewhere: options.webhookUrl } : { webhooks: stack.webhooks }),
    });
    console.log(`demo app       ${demo.url}`);
    console.log(`\nOpen ${demo.url} to run both flows in a browser against the mock. Ctrl-C stops everything.`);
  } else {
    console.log("Ready (no demo app). Ctrl-C stops everything.");
  }
}

// Run only as a script (the tests import parseStartOptions and USAGE).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`npm start failed: ${(error as Error).message}`);
    console.error("npm start -- --help shows the options");
    process.exit(1);
  });
}
