/**
 * The mock digi.me's admin API under `/__mock/` (mock-server/admin.ts; shapes in
 * mock-server/README.md): users, tokens, scenarios, the clock, the journal and
 * reset. One client for the QA runner, the benchmarks, the soak, the demo
 * application and the scripts. Every call answers the raw Response, so a caller
 * can read a status (a 409 for a user that exists) as well as the body.
 */

/** Options of the client. */
export interface MockAdminOptions {
  /** Throw on an answer of 400 or more, naming the call (the QA runner's setup). */
  throwOnError?: boolean;
}

/** Query of the journal. */
export interface JournalQuery {
  userId?: string;
  since?: number;
  limit?: number;
}

export interface MockAdmin {
  /** The mock's origin. */
  readonly origin: string;
  /** Any admin call: `path` under /__mock/; POST with a body, GET without, unless `method` says. */
  call(path: string, body?: unknown, method?: string): Promise<Response>;
  /** POST /__mock/users: a user, its accounts and a token (the answer's `token`). */
  createUser(input: { userId: string } & Record<string, unknown>): Promise<Response>;
  /** GET /__mock/users/:userId: the user, its accounts and session key. */
  user(userId: string): Promise<Response>;
  /** POST /__mock/tokens/check: whether the mock would accept an access token, and whose it is. */
  checkToken(accessToken: string): Promise<Response>;
  /** POST /__mock/users/:userId/token: a new token for a user (lifetimes optional). */
  newToken(userId: string, input?: Record<string, unknown>): Promise<Response>;
  /** PUT /__mock/scenario, or /__mock/users/:userId/scenario with a user. */
  setScenario(scenario: unknown, userId?: string): Promise<Response>;
  /** DELETE the global scenario, or a user's. */
  clearScenario(userId?: string): Promise<Response>;
  /** POST /__mock/clock: moves the mock's clock forward. */
  advanceClock(ms: number): Promise<Response>;
  /** GET /__mock/journal. */
  journal(query?: JournalQuery): Promise<Response>;
  /** POST /__mock/reset. */
  reset(): Promise<Response>;
}

/** A client of the admin API of the mock at `origin` (e.g. `http://127.0.0.1:9090`). */
export function mockAdmin(origin: string, options: MockAdminOptions = {}): MockAdmin {
  const base = `${origin.replace(/\/+$/, "")}/__mock/`;
  const call = async (path: string, body?: unknown, method = body === undefined ? "GET" : "POST"): Promise<Response> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (options.throwOnError && response.status >= 400) throw new Error(`mock admin ${method} ${path} answered ${response.status}: ${await response.text()}`);
    return response;
  };
  const scenarioPath = (userId?: string) => (userId === undefined ? "scenario" : `users/${encodeURIComponent(userId)}/scenario`);
  return {
    origin,
    call,
    createUser: (input) => call("users", input, "POST"),
    user: (userId) => call(`users/${encodeURIComponent(userId)}`, undefined, "GET"),
    checkToken: (accessToken) => call("tokens/check", { accessToken }, "POST"),
    newToken: (userId, input = {}) => call(`users/${encodeURIComponent(userId)}/token`, input, "POST"),
    setScenario: (scenario, userId) => call(scenarioPath(userId), scenario, "PUT"),
    clearScenario: (userId) => call(scenarioPath(userId), undefined, "DELETE"),
    advanceClock: (ms) => call("clock", { advanceMs: ms }, "POST"),
    journal: (query = {}) => {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
      const search = params.toString();
      return call(search ? `journal?${search}` : "journal", undefined, "GET");
    },
    reset: () => call("reset", undefined, "POST"),
  };
}
