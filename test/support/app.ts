/**
 * Drives the Worker in tests: backend calls with the API key, and a browser
 * with a cookie jar that follows redirects between the edge (served by the
 * app in-process) and the mock digi.me (served by MSW), stopping at the
 * application's returnTo.
 */
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { scenarioSchema, type IssuedToken, type MockDigime, type MockUser, type ScenarioInput } from "../../mock-server/index.ts";
import { createApp } from "../../src/app.ts";
import type { Env } from "../../src/env.ts";

export const EDGE = "https://edge.test";
export const APP = "https://app.test";
export const API_KEY = "test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
export const SECOND_API_KEY = "test-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/** What a caller with the test API key sends: `/healthz` shows it the configuration, or the problems. */
export const WITH_API_KEY: RequestInit = { headers: { Authorization: `Bearer ${API_KEY}` } };

/** The test environment's bindings. */
export const testEnv = env as unknown as Env;

/** A request to the app under test (a path on the edge's origin). */
export type EdgeRequest = (path: string, init?: RequestInit) => Response | Promise<Response>;

/** Backend calls through `request`: the test API key (or `key`), JSON bodies, GET unless a body or method says otherwise. */
export function apiCaller(request: EdgeRequest) {
  return (path: string, init: { method?: string; body?: unknown; key?: string | null; headers?: Record<string, string> } = {}) =>
    request(path, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        ...(init.key === null ? {} : { Authorization: `Bearer ${init.key ?? API_KEY}` }),
        ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
    });
}

/** An app instance; each test file may pass its own clock. */
export function testApp(options: Parameters<typeof createApp>[0] = {}) {
  const app = createApp(options);
  const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  const request = (path: string, init: RequestInit = {}, bindings: Env = testEnv) => app.fetch(new Request(new URL(path, EDGE), init), bindings, ctx);
  return { app, request, api: apiCaller(request) };
}

/** A step the browser took. */
export interface Hop {
  url: string;
  status: number;
}

/** A browser with a cookie jar for the edge's origin. */
export class TestBrowser {
  readonly cookies = new Map<string, string>();
  readonly #request: ReturnType<typeof testApp>["request"];

  constructor(request: ReturnType<typeof testApp>["request"]) {
    this.#request = request;
  }

  /** One GET, with this browser's cookies when it goes to the edge. */
  async get(url: string): Promise<Response> {
    if (!url.startsWith(EDGE)) return fetch(url, { redirect: "manual" });
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await this.#request(url, { headers: cookie ? { Cookie: cookie } : {} });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((s) => s.trim());
      const [name = "", value = ""] = pair.split("=");
      if (attributes.some((a) => /^max-age=0$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /**
   * Follows redirects from `url` until an answer that is not a redirect, or
   * until the application's origin is reached (its URL is returned unfetched).
   */
  async navigate(url: string, maxHops = 10): Promise<{ final: URL; response?: Response; hops: Hop[] }> {
    const hops: Hop[] = [];
    let current = url;
    for (let i = 0; i < maxHops; i++) {
      if (!current.startsWith(EDGE) && new URL(current).origin !== new URL("https://api.digi.me").origin) {
        return { final: new URL(current), hops };
      }
      const response = await this.get(current);
      hops.push({ url: current, status: response.status });
      const location = response.headers.get("Location");
      if (response.status < 300 || response.status >= 400 || !location) return { final: new URL(current), response, hops };
      current = new URL(location, current).toString();
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

/** Launches a flow in `browser` and follows digi.me's consent up to (not into) the edge's callback; returns the callback URL. */
export async function upToCallback(browser: TestBrowser, launchUrl: string): Promise<string> {
  const launch = await browser.get(launchUrl);
  expect(launch.status).toBe(302);
  const consent = await browser.get(launch.headers.get("Location")!);
  expect(consent.status).toBe(302);
  return new URL(consent.headers.get("Location")!, launchUrl).toString();
}

/** The backend-API caller `testApp` returns. */
export type ApiCall = ReturnType<typeof testApp>["api"];

/** Creates a mock user (with a scenario, if given) and gives its token to the edge. */
export async function enrollUser(mock: MockDigime, api: ApiCall, options: { scenario?: ScenarioInput; accounts?: number } = {}): Promise<{ user: MockUser; token: IssuedToken }> {
  const { user, token } = mock.createUser({ accounts: options.accounts ?? 2 });
  if (options.scenario) mock.setUserScenario(user, scenarioSchema.parse(options.scenario));
  expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token })).status).toBe(204);
  return { user, token };
}
