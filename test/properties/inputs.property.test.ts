import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { APP, EDGE, TestBrowser, testApp, testEnv } from "../support/app.ts";
import { devPrivateKey, startMock, type TestMock } from "../support/mock.ts";

/**
 * Property-based tests over every route's inputs: random query strings,
 * bodies, headers, sizes up to and past the limits, odd encodings. Whatever
 * arrives: never a 5xx, never a stack trace or a secret in the answer, never a
 * redirect outside the allowlist, and the flows and token set up beforehand
 * are never consumed or changed. Seeded: FC_SEED=<seed> reproduces a run.
 */
const SEED = Number(testEnv.FC_SEED ?? 1);
const RUNS = { callbacks: 3000, launch: 1000, startUser: 2000, startAccount: 1500, putToken: 1000, auth: 1000, raw: 500 } as const;
const TOTAL = Object.values(RUNS).reduce((a, b) => a + b, 0);

let testMock: TestMock;
const { request } = testApp();
const KEY = "test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
let fixed: { userId: string; userFlow: string; accountFlow: string; accessToken: string; refreshToken: string };
let snapshot: Map<string, string | null>;
let generated = 0;

async function rawKv(): Promise<Map<string, string | null>> {
  const keys = [`flow:v1:${fixed.userFlow}`, `flow:v1:${fixed.accountFlow}`, `token:v1:${encodeURIComponent(fixed.userId)}`];
  return new Map(await Promise.all(keys.map(async (k) => [k, await testEnv.REAUTH_KV.get(k)] as [string, string | null])));
}

const SECRETS = () => [KEY, "test-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "AgICAgICAgIC", "AQEBAQEBAQEB", devPrivateKey.split("\n")[1]!, fixed.accessToken, fixed.refreshToken];
const ALLOWED_REDIRECTS = [`${APP}/`, "https://other-app.test/", "https://api.digi.me/apps/saas/"];

/** The invariants every answer must hold. */
async function holds(response: Response): Promise<void> {
  generated++;
  expect(response.status, "a 5xx").toBeLessThan(500);
  const text = await response.text();
  expect(text, "a stack trace").not.toMatch(/\bat \S+ \(?\S+:\d+:\d+\)?/);
  for (const secret of SECRETS()) expect(text.includes(secret), "a secret in the answer").toBe(false);
  const location = response.headers.get("Location");
  if (location) expect(ALLOWED_REDIRECTS.some((prefix) => location.startsWith(prefix)), `redirect to ${location}`).toBe(true);
}

async function unchanged(): Promise<void> {
  expect(await rawKv()).toEqual(snapshot);
}

beforeAll(async () => {
  console.log(`fast-check seed ${SEED} (${TOTAL} cases); reproduce with FC_SEED=${SEED} npm run test:unit -- test/properties`);
  vi.spyOn(console, "error").mockImplementation(() => undefined);
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
  testMock = await startMock();
  const { user, token } = testMock.mock.createUser();
  const api = (path: string, body?: unknown, method = "POST") =>
    request(path, { method, headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  await api(`/v1/users/${user.id}/token`, token, "PUT");
  const userFlow = (await (await api("/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x` })).json()) as { flowId: string; launchUrl: string };
  const accountFlow = (await (await api("/v1/reauth/account", { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` })).json()) as { flowId: string; launchUrl: string };
  // Launched, so they are bound to a browser the properties never are.
  await new TestBrowser(request).get(userFlow.launchUrl);
  await new TestBrowser(request).get(accountFlow.launchUrl);
  fixed = { userId: user.id, userFlow: userFlow.flowId, accountFlow: accountFlow.flowId, accessToken: token.accessToken.value, refreshToken: token.refreshToken.value };
  snapshot = await rawKv();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await testMock.stop();
});

const flowIdLike = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/);
const oddText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.stringMatching(/^(%[0-9A-Fa-f]{2}){1,12}$/), // percent-encoded bytes, often invalid UTF-8
  fc.constantFrom("", "%00", "%FF%FE", "\u0000", "../../", "<script>", "true", "false", "null", "NaN", "1e309", "%2e%2e%2f"),
  fc.string({ minLength: 4000, maxLength: 9000 }),
);
const flowRef = () => fc.oneof(fc.constant(fixed.userFlow), fc.constant(fixed.accountFlow), flowIdLike, oddText);
const queryString = (pairs: Array<[string, string]>) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${/%/.test(v) && !/%(?![0-9A-Fa-f]{2})/.test(v) ? v : encodeURIComponent(v)}`).join("&");
const cookieHeader = () =>
  fc.option(
    fc.oneof(
      fc.tuple(fc.constantFrom(fixed.userFlow, fixed.accountFlow), flowIdLike).map(([id, secret]) => `__Host-reauth-${id}=${secret}`),
      fc.string({ maxLength: 200 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
    ),
    { nil: undefined },
  );

async function get(path: string, cookie?: string): Promise<Response> {
  return request(path, { headers: cookie ? { Cookie: cookie } : {} });
}

describe(`random inputs on every route (${TOTAL} cases)`, () => {
  it(`callbacks (${RUNS.callbacks})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/reauth/user/callback", "/reauth/account/callback"),
        fc.record(
          { flow: flowRef(), success: fc.oneof(fc.constantFrom("true", "false"), oddText), state: oddText, code: oddText, errorCode: oddText },
          { requiredKeys: [] },
        ),
        fc.array(fc.tuple(oddText, oddText), { maxLength: 3 }),
        cookieHeader(),
        async (path, known, extra, cookie) => {
          const pairs = [...Object.entries(known), ...extra] as Array<[string, string]>;
          await holds(await get(`${path}?${queryString(pairs)}`, cookie));
        },
      ),
      { seed: SEED, numRuns: RUNS.callbacks },
    );
    await unchanged();
  }, 240_000);

  it(`launch (${RUNS.launch})`, async () => {
    await fc.assert(
      fc.asyncProperty(flowRef(), cookieHeader(), async (id, cookie) => {
        const response = await get(`/reauth/launch/${/%/.test(id) ? id : encodeURIComponent(id)}`, cookie);
        expect(response.headers.get("Location"), "a second browser must not be sent to digi.me").toBeNull();
        await holds(response);
      }),
      { seed: SEED, numRuns: RUNS.launch },
    );
    await unchanged();
  }, 240_000);

  const jsonish = fc.jsonValue({ maxDepth: 3 });
  const returnTo = fc.oneof(fc.constant(`${APP}/back`), fc.webUrl(), oddText, fc.constantFrom("javascript:alert(1)", "//evil.test", `${APP}@evil.test`, "https://app.test.evil.test/"));

  async function post(path: string, body: unknown, contentType: string | undefined, method = "POST"): Promise<Response> {
    return request(path, {
      method,
      headers: { Authorization: `Bearer ${KEY}`, ...(contentType ? { "Content-Type": contentType } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }
  const contentType = fc.option(fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "multipart/form-data"), { nil: undefined });

  it(`POST /v1/reauth/user (${RUNS.startUser})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record(
            { userId: fc.oneof(fc.constant(fixed.userId), oddText), returnTo, locale: oddText, triggerQuery: jsonish, sessionOptions: jsonish, userAccessToken: oddText, allowFullAuthorization: jsonish, extra: jsonish },
            { requiredKeys: [] },
          ),
          jsonish,
          oddText,
        ),
        contentType,
        async (body, type) => {
          const response = await post("/v1/reauth/user", body, type);
          if (response.status === 201) {
            const started = (await response.clone().json()) as { launchUrl: string };
            expect(started.launchUrl.startsWith(`${EDGE}/reauth/launch/`)).toBe(true);
          }
          await holds(response);
        },
      ),
      { seed: SEED, numRuns: RUNS.startUser },
    );
    await unchanged();
  }, 240_000);

  it(`POST /v1/reauth/account (${RUNS.startAccount})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ userId: fc.oneof(fc.constant(fixed.userId), oddText), accountId: oddText, returnTo, locale: oddText, userAccessToken: oddText, extra: jsonish }, { requiredKeys: [] }),
          jsonish,
        ),
        contentType,
        async (body, type) => holds(await post("/v1/reauth/account", body, type)),
      ),
      { seed: SEED, numRuns: RUNS.startAccount },
    );
    await unchanged();
  }, 240_000);

  it(`PUT /v1/users/:userId/token (${RUNS.putToken})`, async () => {
    const part = fc.record({ value: oddText, expiry: fc.oneof(fc.integer(), fc.double(), fc.string()) }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(
        oddText.filter((id) => id !== fixed.userId && id.length > 0),
        fc.oneof(fc.record({ accessToken: part, refreshToken: part, user: jsonish, consentid: jsonish, extra: jsonish }, { requiredKeys: [] }), jsonish),
        contentType,
        async (userId, body, type) => holds(await post(`/v1/users/${encodeURIComponent(userId)}/token`, body, type, "PUT")),
      ),
      { seed: SEED, numRuns: RUNS.putToken },
    );
    await unchanged();
  }, 240_000);

  it(`authentication on the backend API (${RUNS.auth})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 600 }),
          fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
          fc.integer({ min: 0, max: KEY.length - 1 }).chain((i) => fc.string({ minLength: 1, maxLength: 1 }).map((ch) => `Bearer ${KEY.slice(0, i)}${ch}${KEY.slice(i + 1)}`)),
          fc.constantFrom(`bearer ${KEY}`, `Bearer  ${KEY}`, `Basic ${btoa(KEY)}`, KEY, `Bearer ${KEY} x`),
        ).filter((h) => h !== `Bearer ${KEY}` && /^[\x20-\x7e]*$/.test(h)),
        fc.constantFrom(`/v1/flows/${"A".repeat(22)}`, "/v1/users/u1/reauth-status", "/v1/users/u1/token"),
        async (authorization, path) => {
          const response = await request(path, { headers: { Authorization: authorization } });
          expect(response.status).toBe(401);
          await holds(response);
        },
      ),
      { seed: SEED, numRuns: RUNS.auth },
    );
    await unchanged();
  }, 240_000);

  it(`any method, path and body (${RUNS.raw})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
        // Empty segments become "_": a path starting "//" would be a host, not a path.
        fc.array(oddText, { maxLength: 4 }).map((segments) => `/${segments.map((s) => encodeURIComponent(s.slice(0, 200)) || "_").join("/")}`),
        fc.constantFrom("", "/v1", "/reauth", "/v1/users", "/reauth/launch"),
        fc.option(oddText, { nil: undefined }),
        async (method, path, prefix, body) => {
          const response = await request(`${prefix}${path}`, {
            method,
            headers: { Authorization: `Bearer ${KEY}` },
            body: method === "GET" || method === "HEAD" ? undefined : body,
          });
          await holds(response);
        },
      ),
      { seed: SEED, numRuns: RUNS.raw },
    );
    await unchanged();
  }, 240_000);

  it("generated the promised number of cases", () => {
    expect(generated).toBeGreaterThanOrEqual(TOTAL);
    console.log(`fast-check: ${generated} cases checked (seed ${SEED})`);
  });
});
