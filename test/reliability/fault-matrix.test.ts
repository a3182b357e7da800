import { describe, expect, it } from "vitest";
import type { Fault } from "../../mock-server/index.ts";
import type { Env } from "../../src/env.ts";
import { APP, TestBrowser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { objectServicesFrom, restoreObjectWiringAfterEach, wireObjects } from "../support/objects.ts";
import { quietConsole } from "../support/quiet.ts";

/**
 * Every mock fault × every step. Each answer must be a clear error with a
 * stable code within the deadline (or success where the step never meets the
 * fault), and the state afterwards must be right: no flow half-created, a
 * pending flow left retryable, no stored token changed.
 */
const DEADLINE_MS = 300;
const testMock = useTestMock();
quietConsole();
// Every case is a fresh isolate in a fresh location: no key set shared through the Cache API.
const { request } = testApp({ keySetCache: null });
restoreObjectWiringAfterEach();


type FaultName = "delay past the deadline" | "network error" | "HTTP 503" | "malformed JSON" | "empty body" | "foreign signature" | "unknown kid" | "key set down";

const FAULTS: Record<FaultName, { fault: Omit<Fault, "endpoints">; code: string; status: number; global?: boolean }> = {
  "delay past the deadline": { fault: { type: "delay", ms: DEADLINE_MS * 3 }, code: "upstream_timeout", status: 504 },
  "network error": { fault: { type: "network-error" }, code: "upstream_unavailable", status: 502 },
  "HTTP 503": { fault: { type: "http-error", status: 503 }, code: "upstream_error", status: 502 },
  "malformed JSON": { fault: { type: "malformed-json" }, code: "upstream_invalid_response", status: 502 },
  "empty body": { fault: { type: "empty-body" }, code: "upstream_invalid_response", status: 502 },
  "foreign signature": { fault: { type: "foreign-signature" }, code: "upstream_invalid_response", status: 502 },
  "unknown kid": { fault: { type: "unknown-kid" }, code: "upstream_invalid_response", status: 502 },
  "key set down": { fault: { type: "key-set-unavailable" }, code: "upstream_error", status: 502, global: true },
};

/** Whether a fault can touch a step, given the endpoints it calls and whether it verifies a token. */
function affects(name: FaultName, endpoints: string[], verifiesToken: boolean): boolean {
  if (endpoints.length === 0) return false;
  if (name === "foreign signature" || name === "unknown kid" || name === "key set down") return verifiesToken;
  return true;
}

/** A fresh isolate's caches (cold key set) with a short deadline. */
function freshEnv(): Env {
  return { ...testEnv, DIGIME_TIMEOUT_MS: String(DEADLINE_MS) };
}

function apiFor(env: Env) {
  return (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
    request(path, { method, headers: { Authorization: "Bearer test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }, env);
}

async function flowKeys(): Promise<number> {
  return (await testEnv.REAUTH_KV.list({ prefix: "flow:" })).keys.length;
}

interface StepSetup {
  endpoints: string[];
  verifiesToken: boolean;
  /** Runs the step with the fault in place; returns the answer. */
  run: (env: Env, applyFault: (endpoints: string[]) => void) => Promise<{ response: Response; check: () => Promise<void> }>;
  /** What the step answers when the fault does not touch it. */
  okStatus: number;
}

async function enrolled(env: Env) {
  const { user, token } = testMock.mock.createUser();
  await apiFor(env)(`/v1/users/${user.id}/token`, token, "PUT");
  return { user, token };
}

async function storedAccess(env: Env, userId: string): Promise<string> {
  return ((await (await apiFor(env)(`/v1/users/${userId}/token`)).json()) as { token: { accessToken: { value: string } } }).token.accessToken.value;
}

const STEPS: Record<string, StepSetup> = {
  "user start": {
    endpoints: ["oauth/token/reference"],
    verifiesToken: true,
    okStatus: 201,
    run: async (env, applyFault) => {
      const { user } = await enrolled(env);
      const before = await flowKeys();
      applyFault(["oauth/token/reference"]);
      const response = await apiFor(env)("/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x` });
      return {
        response,
        check: async () => {
          if (response.status !== 201) expect(await flowKeys()).toBe(before); // nothing half-created
        },
      };
    },
  },
  "account start": {
    endpoints: ["oauth/token/reference", "reference"],
    verifiesToken: true,
    okStatus: 201,
    run: async (env, applyFault) => {
      const { user } = await enrolled(env);
      const before = await flowKeys();
      applyFault(["oauth/token/reference", "reference"]);
      const response = await apiFor(env)("/v1/reauth/account", { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` });
      return {
        response,
        check: async () => {
          if (response.status !== 201) expect(await flowKeys()).toBe(before);
        },
      };
    },
  },
  launch: {
    endpoints: [],
    verifiesToken: false,
    okStatus: 302,
    run: async (env, applyFault) => {
      const { user } = await enrolled(env);
      const started = (await (await apiFor(env)("/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x` })).json()) as { launchUrl: string };
      applyFault(["onboarding"]);
      const response = await new TestBrowser((p, i) => request(p, i, env)).get(started.launchUrl);
      return { response, check: async () => expect(response.headers.get("Location")).toMatch(/^https:\/\/api\.digi\.me\/apps\/saas\/user-reauth\?code=/) };
    },
  },
  "user callback (exchange)": {
    endpoints: ["oauth/token"],
    verifiesToken: true,
    okStatus: 303,
    run: async (env, applyFault) => {
      const { user, token } = await enrolled(env);
      const started = (await (await apiFor(env)("/v1/reauth/user", { userId: user.id, returnTo: `${APP}/x` })).json()) as { flowId: string; launchUrl: string };
      const browser = new TestBrowser((p, i) => request(p, i, env));
      const launch = await browser.get(started.launchUrl);
      const callback = (await browser.get(launch.headers.get("Location")!)).headers.get("Location")!;
      applyFault(["oauth/token"]);
      // The callback lands on another isolate, whose key-set cache is cold.
      const elsewhere = freshEnv();
      wireObjects(objectServicesFrom(elsewhere, { keySetCache: null }));
      const sameBrowser = new TestBrowser((p, i) => request(p, i, elsewhere));
      for (const [name, value] of browser.cookies) sameBrowser.cookies.set(name, value);
      const response = await sameBrowser.get(callback);
      return {
        response,
        check: async () => {
          if (response.status === 303) return;
          expect(response.headers.get("Location")).toBeNull(); // never a redirect into a broken flow
          const flow = (await (await apiFor(env)(`/v1/flows/${started.flowId}`)).json()) as { status: string };
          expect(flow.status).toBe("pending"); // retryable: reloading the callback tries again
          expect(await storedAccess(env, user.id)).toBe(token.accessToken.value);
        },
      };
    },
  },
  refresh: {
    endpoints: ["oauth/token"],
    verifiesToken: true,
    okStatus: 201,
    run: async (env, applyFault) => {
      const { user, token } = await enrolled(env);
      testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "invalid-token", recoverOnRefresh: true });
      applyFault(["oauth/token"]);
      const response = await apiFor(env)("/v1/reauth/account", { userId: user.id, accountId: user.accounts[0]!.id, returnTo: `${APP}/x` });
      return {
        response,
        check: async () => {
          if (response.status === 201) return;
          // The edge never received a new token, so the stored one is untouched.
          expect(await storedAccess(env, user.id)).toBe(token.accessToken.value);
        },
      };
    },
  },
  "reauth-status": {
    endpoints: ["permission-access/accounts", "permission-access/query"],
    verifiesToken: false,
    okStatus: 200,
    run: async (env, applyFault) => {
      const { user, token } = await enrolled(env);
      applyFault(["permission-access/accounts", "permission-access/query"]);
      const response = await apiFor(env)(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`);
      return { response, check: async () => expect(await storedAccess(env, user.id)).toBe(token.accessToken.value) };
    },
  },
};

const cases = Object.keys(FAULTS).flatMap((fault) => Object.keys(STEPS).map((step) => [fault as FaultName, step] as const));

describe(`fault matrix (${Object.keys(FAULTS).length} faults × ${Object.keys(STEPS).length} steps = ${cases.length} cases)`, () => {
  it.each(cases)("%s at %s: a clear answer within the deadline, state intact", async (faultName, stepName) => {
    const spec = FAULTS[faultName];
    const step = STEPS[stepName]!;
    const env = freshEnv();
    // The user's object makes the upstream calls: the same short deadline and cold key set there.
    wireObjects(objectServicesFrom(env, { keySetCache: null }));
    const applyFault = (endpoints: string[]) => {
      const fault = { ...spec.fault, ...(spec.global ? {} : { endpoints }) } as Fault;
      if (spec.global) testMock.mock.setGlobalScenario({ ...testMock.mock.globalScenario, faults: [fault] });
      else for (const user of testMock.mock.users.values()) testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), faults: [fault as never] });
    };
    const began = performance.now();
    const { response, check } = await step.run(env, applyFault);
    const elapsed = performance.now() - began;
    if (affects(faultName, step.endpoints, step.verifiesToken)) {
      expect(response.status).toBe(spec.status);
      const text = await response.clone().text();
      expect(text).toContain(spec.code);
      expect(text).not.toMatch(/\bat \S+ \(|Error:/); // no stack trace
      expect(response.headers.get("Retry-After")).toBe("5");
    } else {
      expect(response.status).toBe(step.okStatus);
    }
    await check();
    // Setup plus one upstream deadline (retries of reads included), with room for a busy machine.
    expect(elapsed).toBeLessThan(DEADLINE_MS * 2 + 1500);
  });
});
