/**
 * `npm start`: the whole stack on this machine, no digi.me account needed.
 *
 *   mock digi.me   http://127.0.0.1:9090   (npm run mock, in-process)
 *   the edge       http://127.0.0.1:8787   (wrangler dev, local KV in .wrangler/state)
 *   demo app       http://127.0.0.1:8788   (a stand-in application backend and page)
 *   webhooks       http://127.0.0.1:8789   (the recording receiver WEBHOOK_URL points to)
 *
 * Flags: --mock-port, --port, --demo-port, --webhook-port, --no-demo. The development
 * configuration is written under .wrangler/ (git-ignored) and is for local use only.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startDemoApp } from "./demo-app.ts";
import { DEV_API_KEY, DEV_RETURN_SIGNING_SECRET, ROOT, startStack } from "./stack.ts";

/** What `npm start -- --help` prints. */
const USAGE = `usage: npm start -- [--port 8787] [--mock-port 9090] [--demo-port 8788] [--webhook-port 8789] [--no-demo]

Starts, on 127.0.0.1 only:
  the mock digi.me   --mock-port (default 9090), admin API and control panel at /__mock/
  the edge Worker    --port (default 8787), wrangler dev with local KV in .wrangler/state,
                     API reference at /docs
  a demo application --demo-port (default 8788), unless --no-demo
  a webhook receiver --webhook-port (default 8789), WEBHOOK_URL's recording endpoint

It keeps this terminal until Ctrl-C: run npm test or npm run qa in a second one.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "mock-port": { type: "string", default: "9090" },
      port: { type: "string", default: "8787" },
      "demo-port": { type: "string", default: "8788" },
      "webhook-port": { type: "string", default: "8789" },
      "no-demo": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const host = "127.0.0.1";
  const demoOrigin = `http://${host}:${values["demo-port"]}`;
  const stack = await startStack({
    host,
    edgePort: Number(values.port),
    mockPort: Number(values["mock-port"]),
    webhookPort: Number(values["webhook-port"]),
    returnOrigins: [demoOrigin],
    docs: true,
    persistTo: join(ROOT, ".wrangler", "state"),
    onOutput: (line, stream) => (stream === "stderr" ? console.error : console.log)(`[edge] ${line}`),
  });
  console.log(`mock digi.me   ${stack.mock.origin}  (control panel and admin API: ${stack.mock.origin}/__mock/)`);
  console.log(`the edge       ${stack.edgeUrl}  (API key: ${DEV_API_KEY}; API reference: ${stack.edgeUrl}/docs)`);
  console.log(`webhooks       ${stack.webhooks.url}  (received: ${stack.webhooks.origin}/__webhooks/received)`);

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

  if (!values["no-demo"]) {
    demo = await startDemoApp({
      port: Number(values["demo-port"]),
      host,
      edgeUrl: stack.edgeUrl,
      mockUrl: stack.mock.origin,
      apiKey: DEV_API_KEY,
      returnSigningSecret: DEV_RETURN_SIGNING_SECRET,
      webhooks: stack.webhooks,
    });
    console.log(`demo app       ${demo.url}`);
    console.log(`\nOpen ${demo.url} to run both flows in a browser against the mock. Ctrl-C stops everything.`);
  }
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${(error as Error).message}`);
  console.error("npm start -- --help shows the options");
  process.exit(1);
});
