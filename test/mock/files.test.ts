/**
 * The mock serves data the way digi.me does: each account's files encrypted to
 * the contract's registered key (RSA-OAEP SHA-1 data key, IV, AES-256-CBC),
 * compressed as `x-metadata` says, listed as the session's sync progresses,
 * and refused as digi.me refuses. Requests are signed here with jose and the
 * files decrypted with WebCrypto and the development contract's private key,
 * independently of the edge's own client.
 */
import { brotliDecompressSync } from "node:zlib";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { MockUser } from "../../mock-server/index.ts";
import { decodePem, pkcs1PrivateToPkcs8 } from "../../src/digime/pem.ts";
import { devPrivateKey, TEST_API_BASE, useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const ADMIN = "https://api.digi.me/__mock/";
const MiB = 1024 * 1024;
const AGENT = { sdk: { name: "nodejs", version: "16.1.5", meta: { node: "v20.11.1" } } };

const pkcs8 = pkcs1PrivateToPkcs8(decodePem(devPrivateKey).der);
const signingKey = crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSA-PSS", hash: "SHA-512" }, false, ["sign"]);
const decryptionKey = crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSA-OAEP", hash: "SHA-1" }, false, ["decrypt"]);

function nonce(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => alphabet[b % alphabet.length]).join("");
}

/** A request as the SDK's readFile / readFileList / readSession sends it: a fresh PS512 JWT with the access token. */
async function api(path: string, accessToken: string, init: { method?: string; accept?: string; body?: unknown } = {}): Promise<Response> {
  const jwt = await new SignJWT({ access_token: accessToken, client_id: "dev-app_dev-contract", nonce: nonce(), timestamp: Date.now() })
    .setProtectedHeader({ alg: "PS512", typ: "JWT" })
    .sign(await signingKey);
  return fetch(new URL(path, TEST_API_BASE), {
    method: init.method ?? "GET",
    headers: { Authorization: `Bearer ${jwt}`, accept: init.accept ?? "application/json", "Content-Type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

async function admin(path: string, body: unknown, method = "POST"): Promise<Response> {
  return fetch(ADMIN + path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

interface FileList {
  status: { state: string; details: Record<string, { state: string; error?: Record<string, unknown> }> };
  fileList: Array<{ name: string; updatedDate: number; objectCount?: number; objectType?: string; serviceName?: string }>;
}

async function listFiles(sessionKey: string, accessToken: string): Promise<FileList> {
  const response = await api(`permission-access/query/${sessionKey}`, accessToken);
  expect(response.status).toBe(200);
  return response.json();
}

function readFile(sessionKey: string, fileName: string, accessToken: string): Promise<Response> {
  return api(`permission-access/query/${sessionKey}/${fileName}`, accessToken, { accept: "application/octet-stream" });
}

async function trigger(accessToken: string): Promise<string> {
  const response = await api("permission-access/trigger", accessToken, { method: "POST", body: { agent: AGENT } });
  expect(response.status).toBe(202);
  return ((await response.json()) as { session: { key: string } }).session.key;
}

/** The `x-metadata` header, decoded as the SDK decodes it. */
function metadataOf(response: Response): { compression?: string; metadata: Record<string, unknown> } {
  const value = response.headers.get("x-metadata") ?? "";
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0))));
}

/** What the SDK's decryptData does: the data key from the first 256 bytes, the IV from the next 16, AES-256-CBC for the rest. */
async function decrypt(file: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  expect(file.length).toBeGreaterThanOrEqual(288);
  expect(file.length % 16).toBe(0);
  const dataKey = await crypto.subtle.decrypt({ name: "RSA-OAEP" }, await decryptionKey, file.subarray(0, 256));
  const aes = await crypto.subtle.importKey("raw", dataKey, "AES-CBC", false, ["decrypt"]);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv: file.subarray(256, 272) }, aes, file.subarray(272)));
}

async function decompress(data: Uint8Array<ArrayBuffer>, compression: string | undefined): Promise<Uint8Array<ArrayBuffer>> {
  if (compression === "gzip") return new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
  if (compression === "brotli") return new Uint8Array(brotliDecompressSync(data));
  return data;
}

/** Reads a file as the SDK's readFile does and answers its content and metadata. */
async function contentOf(response: Response): Promise<{ text: string; compression?: string; metadata: Record<string, unknown>; bytes: number }> {
  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toBe("application/octet-stream");
  const { compression, metadata } = metadataOf(response);
  const body = new Uint8Array(await response.arrayBuffer());
  const plain = await decompress(await decrypt(body), compression);
  return { text: new TextDecoder().decode(plain), compression, metadata, bytes: body.length };
}

function newUser(accounts = 2): { user: MockUser; accessToken: string } {
  const { user, token } = testMock.mock.createUser({ accounts });
  return { user, accessToken: token.accessToken.value };
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)), (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("files, as digi.me serves them", () => {
  it("lists each account's default files on the user's own session and serves each one decryptable with the contract key, uncompressed, gzip and brotli", async () => {
    const { user, accessToken } = newUser();
    const [first, second] = user.accounts;
    const list = await listFiles(user.sessionKey, accessToken);
    expect(list.status.state).toBe("completed");
    expect(list.fileList.map((f) => f.name)).toEqual([`18_${first!.id}_1.json`, `18_${first!.id}_2.json`, `18_${second!.id}_1.json`]);
    expect(list.fileList[0]).toMatchObject({ objectCount: 2, objectType: "post", serviceName: "facebook", updatedDate: expect.any(Number) });

    const compressions: Array<string | undefined> = [];
    for (const [index, item] of list.fileList.entries()) {
      const file = await contentOf(await readFile(user.sessionKey, item.name, accessToken));
      compressions.push(file.compression);
      const account = index < 2 ? first! : second!;
      const n = index === 1 ? 2 : 1;
      expect(JSON.parse(file.text)).toEqual([
        { id: `${account.id}-${n}-1`, text: expect.stringContaining("1 of file") },
        { id: `${account.id}-${n}-2`, text: expect.stringContaining("2 of file") },
      ]);
      expect(file.metadata).toMatchObject({ mimetype: "application/json", accounts: [{ accountid: account.id }], objecttypes: [{ name: expect.any(String) }] });
    }
    expect(compressions).toEqual(["none", "gzip", "brotli"]);
  });

  it("answers the same bytes on every read, with Content-Length and Last-Modified, and the metadata alone to a HEAD (readFileMetadata)", async () => {
    const { user, accessToken } = newUser();
    const name = user.files[0]!.name;
    const once = await readFile(user.sessionKey, name, accessToken);
    const bytes = new Uint8Array(await once.arrayBuffer());
    expect(once.headers.get("Content-Length")).toBe(String(bytes.length));
    expect(new Date(once.headers.get("Last-Modified")!).getTime()).toBe(Math.floor(user.files[0]!.updatedDate / 1000) * 1000);
    const again = new Uint8Array(await (await readFile(user.sessionKey, name, accessToken)).arrayBuffer());
    expect(again).toEqual(bytes);
    const head = await api(`permission-access/query/${user.sessionKey}/${name}`, accessToken, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(metadataOf(head)).toEqual(metadataOf(once));
  });

  it("serves a file put through the admin API, compressed as asked, and replaces one of the same name", async () => {
    const { user, accessToken } = newUser();
    const accountId = user.accounts[1]!.id;
    const put = await admin(`users/${user.id}/files`, { accountId, content: { hello: "world", n: [1, 2, 3] }, compression: "gzip" });
    expect(put.status).toBe(201);
    const { name } = (await put.json()) as { name: string };
    expect(name).toBe(`18_${accountId}_2.json`);
    expect((await listFiles(user.sessionKey, accessToken)).fileList.map((f) => f.name)).toContain(name);
    const served = await contentOf(await readFile(user.sessionKey, name, accessToken));
    expect(served.compression).toBe("gzip");
    expect(JSON.parse(served.text)).toEqual({ hello: "world", n: [1, 2, 3] });

    testMock.mock.putFile(user, { accountId, name, content: ["replaced"], compression: "brotli", mimetype: "application/x-ndjson" });
    const replaced = await contentOf(await readFile(user.sessionKey, name, accessToken));
    expect(JSON.parse(replaced.text)).toEqual(["replaced"]);
    expect(replaced.metadata.mimetype).toBe("application/x-ndjson");
    expect(user.files.filter((f) => f.name === name)).toHaveLength(1);
  });

  it("serves a file encrypted to another key, whose data key does not decrypt with the contract's", async () => {
    const { user, accessToken } = newUser();
    const put = await admin(`users/${user.id}/files/foreign`, { accountId: user.accounts[0]!.id });
    expect(put.status).toBe(201);
    const { name } = (await put.json()) as { name: string };
    const response = await readFile(user.sessionKey, name, accessToken);
    expect(response.status).toBe(200);
    const body = new Uint8Array(await response.arrayBuffer());
    expect(body.length % 16).toBe(0);
    await expect(decrypt(body)).rejects.toThrow();
  });

  it("streams a 20 MiB file whose plaintext has the SHA-256 the admin API named", async () => {
    const { user, accessToken } = newUser();
    const put = await admin(`users/${user.id}/files/large`, { accountId: user.accounts[0]!.id, sizeBytes: 20 * MiB });
    expect(put.status).toBe(201);
    const { name, sha256 } = (await put.json()) as { name: string; sha256: string };
    const item = (await listFiles(user.sessionKey, accessToken)).fileList.find((f) => f.name === name);
    expect(item?.objectCount).toBeGreaterThan(20_000);
    const response = await readFile(user.sessionKey, name, accessToken);
    expect(response.headers.get("Content-Length")).toBe(String(272 + 20 * MiB + 16));
    const plain = await decrypt(new Uint8Array(await response.arrayBuffer()));
    expect(plain.length).toBe(20 * MiB);
    expect(await sha256Hex(plain)).toBe(sha256);
  });

  it.each(["gzip", "brotli"] as const)("streams a large %s file that decompresses to the same deterministic JSON", async (compression) => {
    const { user, accessToken } = newUser();
    const sizeBytes = MiB + 12_345;
    const plainFile = await testMock.mock.putLargeFile(user, { accountId: user.accounts[0]!.id, sizeBytes, name: "large.json" });
    const compressed = await testMock.mock.putLargeFile(user, { accountId: user.accounts[1]!.id, sizeBytes, name: "large.json.z", compression });
    expect(compressed.sha256).not.toBe(plainFile.sha256); // another name, another seed
    const served = await contentOf(await readFile(user.sessionKey, "large.json.z", accessToken));
    expect(served.compression).toBe(compression);
    expect(served.bytes).toBeLessThan(sizeBytes); // compressed, but random text does not compress to nothing
    expect(served.bytes).toBeGreaterThan(sizeBytes / 2);
    expect(served.text).toHaveLength(sizeBytes);
    expect(await sha256Hex(new Uint8Array(new TextEncoder().encode(served.text)))).toBe(compressed.sha256);
    const records = JSON.parse(served.text) as Array<{ id: number; text: string }>;
    expect(records[0]).toEqual({ id: 1, text: expect.stringMatching(/^[A-Za-z0-9]{960}$/) });
    expect(records.at(-1)?.id).toBe(records.length);
  });
});

describe("the sync that lists them", () => {
  it("grows a triggered session's file list account by account over syncMs, then completes", async () => {
    const { user, accessToken } = newUser();
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), syncMs: 3000 });
    const [first, second] = user.accounts;
    const sessionKey = await trigger(accessToken);

    const start = await listFiles(sessionKey, accessToken);
    expect(start.status).toEqual({ state: "running", details: { [first!.id]: { state: "running" }, [second!.id]: { state: "running" } } });
    expect(start.fileList).toEqual([]);
    expect((await readFile(sessionKey, user.files[0]!.name, accessToken)).status).toBe(404);

    testMock.mock.advanceClock(1500);
    const half = await listFiles(sessionKey, accessToken);
    expect(half.status).toEqual({ state: "running", details: { [first!.id]: { state: "completed" }, [second!.id]: { state: "running" } } });
    expect(half.fileList.map((f) => f.name)).toEqual([`18_${first!.id}_1.json`, `18_${first!.id}_2.json`]);
    expect((await readFile(sessionKey, `18_${first!.id}_1.json`, accessToken)).status).toBe(200);
    expect((await readFile(sessionKey, `18_${second!.id}_1.json`, accessToken)).status).toBe(404);

    testMock.mock.advanceClock(1500);
    const done = await listFiles(sessionKey, accessToken);
    expect(done.status).toEqual({ state: "completed", details: { [first!.id]: { state: "completed" }, [second!.id]: { state: "completed" } } });
    expect(done.fileList).toHaveLength(3);
  });

  it.each([
    ["nested", { code: "ServiceAuthorizationError", statusCode: 511, error: { message: "Service authorization required", reauth: true } }],
    ["flat", { code: "ServiceAuthorizationError", statusCode: 511, message: "Service authorization required", reauth: true }],
  ] as const)("account-511 (%s): the flagged account ends partial with the 511 and lists no files; the session ends partial", async (shape, error) => {
    const { user, accessToken } = newUser();
    const [first, second] = user.accounts;
    testMock.mock.setUserScenario(user, { ...testMock.mock.scenarioFor(user), name: "account-511", shape, syncMs: 2000 });
    const sessionKey = await trigger(accessToken);

    testMock.mock.advanceClock(1000);
    const half = await listFiles(sessionKey, accessToken);
    expect(half.status).toEqual({ state: "running", details: { [first!.id]: { state: "partial", error }, [second!.id]: { state: "running" } } });
    expect(half.fileList).toEqual([]);

    testMock.mock.advanceClock(1000);
    const done = await listFiles(sessionKey, accessToken);
    expect(done.status).toEqual({ state: "partial", details: { [first!.id]: { state: "partial", error }, [second!.id]: { state: "completed" } } });
    expect(done.fileList.map((f) => f.name)).toEqual([`18_${second!.id}_1.json`]);
    expect((await readFile(sessionKey, `18_${first!.id}_1.json`, accessToken)).status).toBe(404);
    // The user's own session is done at once, with the same outcome.
    expect((await listFiles(user.sessionKey, accessToken)).fileList.map((f) => f.name)).toEqual([`18_${second!.id}_1.json`]);
  });
});

describe("digi.me's refusals of a file read", () => {
  it("refuses another user's session with 404 SessionNotFound", async () => {
    const { user, accessToken } = newUser();
    const other = newUser();
    const response = await readFile(other.user.sessionKey, user.files[0]!.name, accessToken);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "SessionNotFound" } });
  });

  it("refuses a file the session does not have with 404 FileNotFound", async () => {
    const { user, accessToken } = newUser();
    const other = newUser();
    for (const name of ["nope.json", other.user.files[0]!.name]) {
      const response = await readFile(user.sessionKey, name, accessToken);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: "FileNotFound", message: `The file (${name}) was not found` } });
    }
    expect(testMock.mock.journal.at(-1)).toMatchObject({ endpoint: "permission-access/query/file", status: 404, errorCode: "FileNotFound", userId: user.id });
  });

  it("refuses an expired access token with 401 InvalidToken", async () => {
    const { user } = newUser();
    const shortLived = testMock.mock.issueToken(user, { accessTokenMs: 1000 });
    testMock.mock.advanceClock(2000);
    const response = await readFile(user.sessionKey, user.files[0]!.name, shortLived.accessToken.value);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "InvalidToken", message: "The token (access_token) is expired" } });
  });

  it("applies faults scoped to permission-access/query/file to file reads only", async () => {
    const { user, accessToken } = newUser();
    testMock.mock.setUserScenario(user, {
      ...testMock.mock.scenarioFor(user),
      faults: [{ type: "http-error", status: 502, endpoints: ["permission-access/query/file"], times: 1 }],
    });
    expect((await listFiles(user.sessionKey, accessToken)).fileList).toHaveLength(3);
    const failed = await readFile(user.sessionKey, user.files[0]!.name, accessToken);
    expect(failed.status).toBe(502);
    expect((await readFile(user.sessionKey, user.files[0]!.name, accessToken)).status).toBe(200);
  });
});

describe("the admin API for files", () => {
  it("names the bad field: an account the user does not have, a size over 64 MiB, missing content", async () => {
    const { user } = newUser();
    const cases: Array<[string, unknown, RegExp]> = [
      [`users/${user.id}/files`, { accountId: "nope", content: [] }, /accountId/],
      [`users/${user.id}/files`, { accountId: user.accounts[0]!.id }, /content/],
      [`users/${user.id}/files/large`, { accountId: user.accounts[0]!.id, sizeBytes: 65 * MiB }, /sizeBytes/],
      [`users/${user.id}/files/foreign`, { accountId: user.accounts[0]!.id, compression: "zip" }, /compression/],
    ];
    for (const [path, body, field] of cases) {
      const response = await admin(path, body);
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(field);
    }
    expect((await admin("users/nobody/files", { accountId: "x", content: 1 })).status).toBe(404);
  });

  it("lists a user's files with their compression and content", async () => {
    const { user } = newUser();
    const response = await fetch(`${ADMIN}users/${user.id}/files`);
    const { files } = (await response.json()) as { files: Array<Record<string, unknown>> };
    expect(files.map((f) => [f.name, f.compression, f.encryptedTo])).toEqual(user.files.map((f) => [f.name, f.compression, "contract"]));
    expect(files[0]!.content).toEqual([expect.objectContaining({ id: `${user.accounts[0]!.id}-1-1` }), expect.anything()]);
  });

  it("drops an account's files with the account", async () => {
    const { user, accessToken } = newUser();
    testMock.mock.removeAccount(user, user.accounts[0]!.id);
    expect((await listFiles(user.sessionKey, accessToken)).fileList.map((f) => f.name)).toEqual([`18_${user.accounts[0]!.id}_1.json`]);
  });
});
