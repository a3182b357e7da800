/**
 * The mock digi.me as a local HTTP server, serving the same MSW handlers the
 * tests use (through msw's `getResponse`). Used by `npm start`, QA and the
 * benchmarks.
 *
 *   npm run mock -- [--port 9090] [--host 127.0.0.1] [--public-url URL] [--no-dev-contract]
 *
 * Environment: MOCK_PORT, MOCK_HOST, MOCK_PUBLIC_URL. Development only: never deploy it.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { parseArgs } from "node:util";
import { getResponse } from "msw";
import { createMockDigime, type MockDigime } from "./index.ts";

/** The development contract that the standalone mock registers unless told not to. */
export const DEV_CONTRACT = {
  applicationId: "dev-app",
  contractId: "dev-contract",
  publicKeyPath: fileURLToPath(new URL("./keys/dev-contract.public.pem", import.meta.url)),
  privateKeyPath: fileURLToPath(new URL("./keys/dev-contract.private.pem", import.meta.url)),
} as const;

/** The second development contract (same application, a key pair of its own): a two-contract setup locally. */
export const DEV_CONTRACT_2 = {
  applicationId: "dev-app",
  contractId: "dev-contract-2",
  publicKeyPath: fileURLToPath(new URL("./keys/dev-contract-2.public.pem", import.meta.url)),
  privateKeyPath: fileURLToPath(new URL("./keys/dev-contract-2.private.pem", import.meta.url)),
} as const;

/** Options of `startStandaloneMock`. */
export interface StandaloneOptions {
  port?: number;
  host?: string;
  /** Register the development contract at start and after every reset (default true). */
  devContract?: boolean;
  /** Print one line per request (default false). */
  verbose?: boolean;
  /**
   * The origin clients reach the mock at, when not `http://host:port` (behind a
   * tunnel or proxy). Base URLs and the tokens' `jku` use it.
   */
  publicUrl?: string;
}

/** A running standalone mock. */
export interface StandaloneMock {
  /** Origin, e.g. `http://127.0.0.1:9090`. */
  origin: string;
  apiBaseUrl: string;
  onboardBaseUrl: string;
  mock: MockDigime;
  server: Server;
  close: () => Promise<void>;
}

async function toRequest(req: IncomingMessage, url: URL, signal: AbortSignal): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  let body: Buffer | undefined;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    body = Buffer.concat(chunks);
  }
  return new Request(url, { method: req.method, headers, body: body?.length ? new Uint8Array(body) : undefined, signal });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const setCookies = response.headers.getSetCookie?.() ?? [];
  if (setCookies.length) headers["set-cookie"] = setCookies;
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  // Streamed, so a large file passes through without being held whole.
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), res);
}

/** Starts the mock on `host:port` (port 0 picks a free one). */
export async function startStandaloneMock(options: StandaloneOptions = {}): Promise<StandaloneMock> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer();
  // Requests that arrive while the mock is still being created wait for it instead of hanging.
  let ready!: (value: Awaited<ReturnType<typeof createMockDigime>>) => void;
  const created = new Promise<Awaited<ReturnType<typeof createMockDigime>>>((resolve) => (ready = resolve));
  server.on("request", async (req, res) => {
    const { handlers } = await created;
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    // Route by path on the mock's own origin, whatever Host the client used (localhost, 127.0.0.1, ...).
    const url = new URL(req.url ?? "/", origin);
    try {
      const request = await toRequest(req, url, abort.signal);
      const response = await getResponse(handlers, request);
      if (options.verbose) console.log(`[mock digi.me] ${req.method} ${url.pathname} -> ${response?.type === "error" ? "network error" : (response?.status ?? "unhandled")}`);
      if (!response) {
        console.error(`[mock digi.me] UNHANDLED ${req.method} ${url.pathname}`);
        await send(res, Response.json({ error: { code: "MockRouteNotFound", message: `mock digi.me has no route ${req.method} ${url.pathname}` } }, { status: 404 }));
      } else if (response.type === "error") {
        res.destroy(); // what a network error looks like to the client: the connection drops
      } else if (!res.destroyed) {
        await send(res, response);
      }
    } catch (error) {
      console.error("[mock digi.me] failed to serve", req.method, url.pathname, error);
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { code: "MockServerError", message: "the mock failed; see its log" } }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 9090, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const origin = options.publicUrl ? new URL(options.publicUrl).origin : `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const { mock, handlers } = await createMockDigime({
    apiBaseUrl: `${origin}/v1.7/`,
    onboardBaseUrl: `${origin}/apps/saas/`,
    contracts:
      options.devContract === false
        ? []
        : [DEV_CONTRACT, DEV_CONTRACT_2].map((c) => ({ applicationId: c.applicationId, contractId: c.contractId, publicKey: readFileSync(c.publicKeyPath, "utf8") })),
  });
  ready({ mock, handlers });

  return {
    origin,
    apiBaseUrl: mock.apiBaseUrl.toString(),
    onboardBaseUrl: mock.onboardBaseUrl.toString(),
    mock,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: process.env.MOCK_PORT ?? "9090" },
      host: { type: "string", default: process.env.MOCK_HOST ?? "127.0.0.1" },
      "no-dev-contract": { type: "boolean", default: false },
      verbose: { type: "boolean", short: "v", default: false },
      "public-url": { type: "string", default: process.env.MOCK_PUBLIC_URL },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log("usage: npm run mock -- [--port 9090] [--host 127.0.0.1] [--public-url https://mock.example.com] [--no-dev-contract] [--verbose]");
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${values.port}"`);
  const running = await startStandaloneMock({
    port,
    host: values.host,
    devContract: !values["no-dev-contract"],
    verbose: values.verbose,
    ...(values["public-url"] ? { publicUrl: values["public-url"] } : {}),
  });
  console.log(`mock digi.me listening on ${running.origin}`);
  console.log(`  API base:        ${running.apiBaseUrl}`);
  console.log(`  onboarding base: ${running.onboardBaseUrl}`);
  console.log(`  admin API:       ${running.origin}/__mock/`);
  if (!values["no-dev-contract"]) console.log(`  dev contract:    ${DEV_CONTRACT.applicationId}_${DEV_CONTRACT.contractId} (keys in mock-server/keys/, development only)`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(`mock digi.me failed to start: ${(error as Error).message}`);
    process.exit(1);
  });
}
