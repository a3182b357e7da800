/**
 * Several digi.me contracts behind one deployment (issue 26): each its own id
 * and key; a user has one token per contract; every route takes `contractId`
 * (the default contract without it); flows, events and the signed return
 * carry the contract; an API key may be limited to some contracts.
 */
import { describe, expect, it } from "vitest";
import { scenarioSchema } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import type { ConfigError } from "../../src/config/parse.ts";
import type { Env } from "../../src/env.ts";
import { getServices } from "../../src/services.ts";
import type { DeliverMessage } from "../../src/webhooks/messages.ts";
import { WebhookEventSchema, type WebhookEvent } from "../../src/webhooks/events.ts";
import { APP, apiCaller, TestBrowser, testEnv } from "../support/app.ts";
import { devPrivateKey, devPrivateKey2, TEST_API_BASE, TEST_CONTRACT_2_ID, TEST_CONTRACT_ID, useTestMock } from "../support/mock.ts";
import { DigimeClient } from "../../src/digime/index.ts";
import { objectServicesFrom, restoreObjectWiringAfterEach, wireObjects } from "../support/objects.ts";
import { quietConsole } from "../support/quiet.ts";
import { appWithWaitUntil, webhookEnv } from "../support/webhooks.ts";

const testMock = useTestMock();
quietConsole();
restoreObjectWiringAfterEach();
const A = TEST_CONTRACT_ID;
const B = TEST_CONTRACT_2_ID;
const KEY_ALL = "test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_A_ONLY = "test-key-cccccccccccccccccccccccccccccccc";

/** The test bindings with a second contract, and a key limited to the first. */
function twoContracts(overrides: Partial<Env> = {}): Partial<Env> {
  return {
    DIGIME_CONTRACTS: JSON.stringify({ [B]: "DIGIME_PRIVATE_KEY_B" }),
    DIGIME_PRIVATE_KEY_B: devPrivateKey2,
    API_KEYS: `${KEY_ALL},${KEY_A_ONLY}=${A}`,
    ...overrides,
  } as Partial<Env>;
}

function edge() {
  const { env, queue } = webhookEnv(twoContracts());
  wireObjects(objectServicesFrom(env));
  const { request, settled } = appWithWaitUntil();
  const call = (path: string, init?: RequestInit) => request(path, init, env);
  const services = getServices(parseConfig(env), env, { webhookQueue: env.WEBHOOK_QUEUE });
  const events = async (): Promise<WebhookEvent[]> => {
    await settled();
    const sent = queue.sent.filter((m) => m.body.kind === "deliver").map((m) => m.body as DeliverMessage);
    return Promise.all(sent.map(async (m) => WebhookEventSchema.parse(JSON.parse(await services.webhooks.openPayload(m)))));
  };
  return { env, call, api: apiCaller(call), browser: () => new TestBrowser(call), events };
}

type Token = { accessToken: { value: string }; refreshToken: { value: string } };

/** One of our users, with a digi.me token under each contract (a digi.me user per contract at the mock). */
async function userOnBoth(e: ReturnType<typeof edge>) {
  const userId = `both-${crypto.randomUUID()}`;
  const onA = testMock.mock.createUser({ accounts: 1, clientId: `dev-app_${A}` });
  const onB = testMock.mock.createUser({ accounts: 1, clientId: `dev-app_${B}` });
  expect((await e.api(`/v1/users/${userId}/token`, { method: "PUT", body: onA.token })).status).toBe(204);
  expect((await e.api(`/v1/users/${userId}/token?contractId=${B}`, { method: "PUT", body: onB.token })).status).toBe(204);
  return { userId, onA, onB };
}

const tokenOf = async (e: ReturnType<typeof edge>, userId: string, contract?: string) =>
  ((await (await e.api(`/v1/users/${userId}/token?minValidity=0${contract ? `&contractId=${contract}` : ""}`)).json()) as { token: Token }).token;

describe("two contracts, one user", () => {
  it("keeps a token per contract: a user reauthorization on contract B leaves contract A's token untouched, and each request to digi.me is signed for its own contract", async () => {
    const e = edge();
    const { userId, onA, onB } = await userOnBoth(e);
    const started = await e.api("/v1/reauth/user", { body: { userId, contractId: B, returnTo: `${APP}/back` } });
    expect(started.status).toBe(201);
    const { flowId, launchUrl, contractId } = (await started.json()) as { flowId: string; launchUrl: string; contractId: string };
    expect(contractId).toBe(B);
    const { final } = await e.browser().navigate(launchUrl);
    expect(Object.fromEntries(final.searchParams)).toMatchObject({ flowId, status: "succeeded", contractId: B });

    expect((await tokenOf(e, userId)).accessToken.value).toBe(onA.token.accessToken.value);
    const newB = await tokenOf(e, userId, B);
    expect(newB.accessToken.value).not.toBe(onB.token.accessToken.value);
    expect(testMock.mock.checkAccessToken(newB.accessToken.value, `dev-app_${B}`).ok).toBe(true);
    // digi.me saw only contract B's client for this flow: its reference and its exchange.
    const clients = testMock.mock.journal.filter((j) => j.endpoint === "oauth/token/reference" || j.endpoint === "oauth/token").map((j) => j.claims?.client_id);
    expect(clients).toEqual([`dev-app_${B}`, `dev-app_${B}`]);
    // The flow, read without naming a contract, is read in its own.
    expect(await (await e.api(`/v1/flows/${flowId}`)).json()).toMatchObject({ flowId, contractId: B, status: "succeeded" });
    const succeeded = (await e.events()).find((event) => event.type === "flow.succeeded");
    expect(succeeded?.data).toMatchObject({ flowId, contractId: B });
  });

  it("answers an account reauthorization's callback with contract B's key and object, never contract A's", async () => {
    const e = edge();
    const { userId, onA, onB } = await userOnBoth(e);
    const started = (await (await e.api("/v1/reauth/account", { body: { userId, contractId: B, accountId: onB.user.accounts[0]!.id, returnTo: `${APP}/back` } })).json()) as { launchUrl: string };
    const before = testMock.mock.journal.length;
    const { final } = await e.browser().navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
    const confirming = testMock.mock.journal.slice(before).filter((j) => j.endpoint === "permission-access/accounts");
    expect(confirming.map((j) => j.claims?.client_id)).toEqual([`dev-app_${B}`]);
    expect((await tokenOf(e, userId)).accessToken.value).toBe(onA.token.accessToken.value);
  });
});

describe("a refresh on contract B", () => {
  it("is signed for contract B and stored under B's token, A's untouched", async () => {
    const e = edge();
    const { userId, onA } = await userOnBoth(e);
    const before = testMock.mock.journal.length;
    // A token of contract B whose access token expires within the minValidity asked: the read refreshes it.
    const onB2 = testMock.mock.createUser({ accounts: 1, clientId: `dev-app_${B}` });
    const short = testMock.mock.issueToken(onB2.user, { accessTokenMs: 60_000 });
    const other = `short-${crypto.randomUUID()}`;
    await e.api(`/v1/users/${other}/token?contractId=${B}`, { method: "PUT", body: short });
    const refreshed = (await (await e.api(`/v1/users/${other}/token?contractId=${B}&minValidity=900`)).json()) as { refreshed: boolean; token: Token };
    expect(refreshed.refreshed).toBe(true);
    const refreshes = testMock.mock.journal.slice(before).filter((j) => j.endpoint === "oauth/token" && j.claims?.grant_type === "refresh_token");
    expect(refreshes.map((j) => [j.claims?.client_id, j.status])).toEqual([[`dev-app_${B}`, 201]]);
    expect((await tokenOf(e, userId)).accessToken.value).toBe(onA.token.accessToken.value);
  });
});

describe("reads and refusals on contract B", () => {
  it("names contract B in a 511 account's ready start, which then starts B's account reauthorization", async () => {
    const e = edge();
    const { userId, onB } = await userOnBoth(e);
    const account = onB.user.accounts[0]!.id;
    testMock.mock.setUserScenario(onB.user, scenarioSchema.parse({ name: "account-511", accounts: [account] }));
    const answer = await e.api(`/v1/users/${userId}/accounts?contractId=${B}&sessionKey=${onB.user.sessionKey}`);
    const { accounts } = (await answer.json()) as { accounts: Array<{ reauth: { start?: Record<string, string> } }> };
    expect(accounts[0]!.reauth.start).toEqual({ userId, accountId: account, contractId: B });
    const started = await e.api("/v1/reauth/account", { body: { ...accounts[0]!.reauth.start, returnTo: `${APP}/back` } });
    expect(started.status).toBe(201);
    expect(((await started.json()) as { contractId: string }).contractId).toBe(B);
  });

  it("names contract B in the refused read's and token.refresh_failed's next start, which then starts B's user reauthorization", async () => {
    const e = edge();
    const onB = testMock.mock.createUser({ accounts: 1, clientId: `dev-app_${B}` });
    const userId = `refused-${crypto.randomUUID()}`;
    await e.api(`/v1/users/${userId}/token?contractId=${B}`, { method: "PUT", body: testMock.mock.issueToken(onB.user, { accessTokenMs: 60_000 }) });
    testMock.mock.setUserScenario(onB.user, scenarioSchema.parse({ name: "refresh-expired" }));
    const read = await e.api(`/v1/users/${userId}/token?contractId=${B}&minValidity=900`);
    expect(read.status).toBe(409);
    // The 409 carries the same start.
    expect(((await read.json()) as { error: { next?: { body: unknown } } }).error.next?.body).toEqual({ userId, contractId: B });
    const refused = (await e.events()).find((event) => event.type === "token.refresh_failed");
    const next = (refused?.data as { next?: { body: Record<string, unknown> } } | undefined)?.next;
    expect(next?.body).toEqual({ userId, contractId: B });
    testMock.mock.setUserScenario(onB.user, scenarioSchema.parse({ name: "success" }));
    const started = await e.api("/v1/reauth/user", { body: { ...next!.body, returnTo: `${APP}/back` } });
    expect(started.status).toBe(201);
    expect(((await started.json()) as { contractId: string }).contractId).toBe(B);
  });
});

describe("the mock's two development contracts", () => {
  it("refuses a request signed with the other contract's key, as digi.me does", async () => {
    const { token } = testMock.mock.createUser({ accounts: 1, clientId: `dev-app_${B}` });
    const wrongKey = new DigimeClient({ applicationId: "dev-app", contractId: B, privateKey: devPrivateKey, apiBaseUrl: TEST_API_BASE });
    await expect(wrongKey.readAccounts(token.accessToken.value)).rejects.toMatchObject({ kind: "api", code: "ValidationErrors" });
    const rightKey = new DigimeClient({ applicationId: "dev-app", contractId: B, privateKey: devPrivateKey2, apiBaseUrl: TEST_API_BASE });
    expect(await rightKey.readAccounts(token.accessToken.value)).toHaveLength(1);
  });
});

describe("API keys and unknown contracts", () => {
  it("answers 403 contract_forbidden to a key limited to contract A on contract B, and lets it use A", async () => {
    const e = edge();
    const { userId } = await userOnBoth(e);
    const asA = (path: string, init: Parameters<typeof e.api>[1] = {}) => e.api(path, { ...init, key: KEY_A_ONLY });
    const refused = await asA(`/v1/users/${userId}/token?contractId=${B}`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("contract_forbidden");
    expect((await asA("/v1/reauth/user", { body: { userId, contractId: B, returnTo: `${APP}/x` } })).status).toBe(403);
    expect((await asA(`/v1/users/${userId}/token`)).status).toBe(200);
    // A flow of contract B, started with the other key, is not readable with the A-only key either.
    const { flowId } = (await (await e.api("/v1/reauth/user", { body: { userId, contractId: B, returnTo: `${APP}/x` } })).json()) as { flowId: string };
    expect((await asA(`/v1/flows/${flowId}`)).status).toBe(403);
    expect((await e.api(`/v1/flows/${flowId}`)).status).toBe(200);
  });

  it("answers 404 contract_not_found for a contract not configured, naming the ones that are", async () => {
    const e = edge();
    const answer = await e.api("/v1/users/u1/token?contractId=nope");
    expect(answer.status).toBe(404);
    expect(await answer.json()).toMatchObject({ error: { code: "contract_not_found", hint: expect.stringContaining(B) } });
  });
});

describe("the configuration of several contracts", () => {
  const problemsOf = (env: Partial<Env>): string[] => {
    try {
      parseConfig({ ...testEnv, ...env } as Env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it("accepts today's one-contract configuration, and two contracts with a default", () => {
    expect(problemsOf({})).toEqual([]);
    const config = parseConfig({ ...testEnv, ...twoContracts() } as Env);
    expect(config.contracts.map((c) => c.id)).toEqual([A, B]);
    expect(config.contractId).toBe(A);
    expect(config.apiKeyScopes).toEqual([{ key: KEY_ALL }, { key: KEY_A_ONLY, contracts: [A] }]);
  });

  it("refuses the same contract id twice, a missing key, an id with a colon and an unknown default, naming each contract", () => {
    const problems = problemsOf({
      DIGIME_CONTRACTS: JSON.stringify({ [A]: "DIGIME_PRIVATE_KEY_B", "a:b": "DIGIME_PRIVATE_KEY_B", missing: "DIGIME_PRIVATE_KEY_NOPE" }),
      DIGIME_PRIVATE_KEY_B: devPrivateKey2,
      DIGIME_DEFAULT_CONTRACT: "elsewhere",
    } as Partial<Env>);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`contract "${A}" is configured twice`)),
        expect.stringMatching(/contract id "a:b" may hold only/),
        expect.stringMatching(/contract "missing": its key DIGIME_PRIVATE_KEY_NOPE is missing/),
        expect.stringMatching(/DIGIME_DEFAULT_CONTRACT: no contract "elsewhere"/),
      ]),
    );
  });

  it("refuses the development key in production for one of two contracts, naming that contract", () => {
    const production = { DEVELOPMENT_MODE: undefined, PUBLIC_BASE_URL: "https://edge.example.com" };
    const problems = problemsOf({ ...twoContracts(), ...production, DIGIME_PRIVATE_KEY_B: devPrivateKey2 } as Partial<Env>);
    expect(problems).toEqual(expect.arrayContaining([`contract "${B}": its key DIGIME_PRIVATE_KEY_B is a committed development contract key`]));
  });

  it("refuses an API key limited to a contract not configured", () => {
    expect(problemsOf({ API_KEYS: `${KEY_ALL}=elsewhere` })).toEqual(expect.arrayContaining([expect.stringMatching(/API_KEYS: key 1 is limited to contract "elsewhere"/)]));
  });
});
