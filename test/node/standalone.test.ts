import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandaloneMock, type StandaloneMock } from "../../mock-server/standalone.ts";
import { DigimeClient } from "../../src/digime/index.ts";
import { readFileSync } from "node:fs";

let running: StandaloneMock;

beforeAll(async () => {
  running = await startStandaloneMock({ port: 0 });
});
afterAll(() => running.close());

function client(): DigimeClient {
  return new DigimeClient({
    applicationId: "dev-app",
    contractId: "dev-contract",
    privateKey: readFileSync(new URL("../../mock-server/keys/dev-contract.private.pem", import.meta.url), "utf8"),
    apiBaseUrl: running.apiBaseUrl,
    onboardBaseUrl: running.onboardBaseUrl,
    timeoutMs: 2000,
  });
}

async function createUser(body: unknown = {}) {
  const response = await fetch(`${running.origin}/__mock/users`, { method: "POST", body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  return (await response.json()) as { userId: string; token: { accessToken: { value: string } } };
}

describe("standalone mock server", () => {
  it("serves both flows over real HTTP with the development contract", async () => {
    const user = await createUser();
    const start = await client().getReauthorizeUrl({ userAccessToken: user.token.accessToken.value, callbackUrl: "http://127.0.0.1:1/cb", state: "s" });
    const page = await fetch(start.url, { redirect: "manual" });
    expect(page.status).toBe(302);
    const callback = new URL(page.headers.get("Location")!);
    expect(callback.searchParams.get("success")).toBe("true");
    const token = await client().exchangeCodeForToken({ code: callback.searchParams.get("code")!, codeVerifier: start.codeVerifier });
    expect(token.user.id).toBe(user.userId);
  });

  it("drops the connection for a network-error fault", async () => {
    const user = await createUser({ scenario: { faults: [{ type: "network-error", endpoints: ["permission-access/accounts"] }] } });
    await expect(client().readAccounts(user.token.accessToken.value)).rejects.toMatchObject({ kind: "network" });
  });

  it("answers a path it does not know with a loud 404 whatever Host was used", async () => {
    const response = await fetch(`http://localhost:${new URL(running.origin).port}/v1.7/unknown`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "MockRouteNotFound" } });
  });

  it("keeps a journal readable over HTTP", async () => {
    const user = await createUser();
    await client().readAccounts(user.token.accessToken.value);
    const journal = (await (await fetch(`${running.origin}/__mock/journal?userId=${user.userId}`)).json()) as { entries: unknown[] };
    expect(journal.entries).toEqual([expect.objectContaining({ endpoint: "permission-access/accounts", status: 202, signatureVerified: true })]);
  });
});
