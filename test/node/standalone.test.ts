import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStandaloneMock, type StandaloneMock } from "../../mock-server/standalone.ts";
import { DigimeClient } from "../../src/digime/index.ts";
import { readFileSync } from "node:fs";
import { constants, createDecipheriv, createHash, createPrivateKey, privateDecrypt, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { SignJWT } from "jose";

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
  return (await response.json()) as { userId: string; sessionKey: string; accounts: Array<{ id: string }>; token: { accessToken: { value: string } } };
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

  it("streams a file over real HTTP that decrypts with the development contract's private key", async () => {
    const user = await createUser();
    const put = await fetch(`${running.origin}/__mock/users/${user.userId}/files/large`, {
      method: "POST",
      body: JSON.stringify({ accountId: user.accounts[0]!.id, sizeBytes: 3 * 1024 * 1024 + 5, compression: "gzip" }),
    });
    expect(put.status).toBe(201);
    const { name, sha256 } = (await put.json()) as { name: string; sha256: string };
    const privateKey = createPrivateKey(readFileSync(new URL("../../mock-server/keys/dev-contract.private.pem", import.meta.url), "utf8"));
    const jwt = await new SignJWT({ access_token: user.token.accessToken.value, client_id: "dev-app_dev-contract", nonce: randomBytes(16).toString("hex"), timestamp: Date.now() })
      .setProtectedHeader({ alg: "PS512", typ: "JWT" })
      .sign(privateKey);
    const response = await fetch(`${running.apiBaseUrl}permission-access/query/${user.sessionKey}/${name}`, {
      headers: { Authorization: `Bearer ${jwt}`, accept: "application/octet-stream" },
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(Buffer.from(response.headers.get("x-metadata")!, "base64url").toString())).toMatchObject({ compression: "gzip", metadata: { mimetype: "application/json" } });
    const file = Buffer.from(await response.arrayBuffer());
    const dataKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, file.subarray(0, 256));
    const decipher = createDecipheriv("aes-256-cbc", dataKey, file.subarray(256, 272));
    const content = gunzipSync(Buffer.concat([decipher.update(file.subarray(272)), decipher.final()]));
    expect(createHash("sha256").update(content).digest("hex")).toBe(sha256);
  });

  it("keeps a journal readable over HTTP", async () => {
    const user = await createUser();
    await client().readAccounts(user.token.accessToken.value);
    const journal = (await (await fetch(`${running.origin}/__mock/journal?userId=${user.userId}`)).json()) as { entries: unknown[] };
    expect(journal.entries).toEqual([expect.objectContaining({ endpoint: "permission-access/accounts", status: 202, signatureVerified: true })]);
  });
});
