/**
 * Files through the edge (issue 24): decrypted with the contract key as
 * digi.me's SDK does (RSA-OAEP SHA-1 data key, IV, AES-256-CBC), decompressed
 * (gzip, brotli), streamed through a bounded buffer; a file encrypted to
 * another key is a 502 naming the file. And the story of the seeds: a read
 * reports an account's 511, its reauthorization starts from the ready body,
 * and the same read then completes.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { scenarioSchema, type MockDigime } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import { DigimeError, FILE_CHUNK_BYTES, type DecryptStats } from "../../src/digime/index.ts";
import { readFile } from "../../src/reads/data.ts";
import { getServices } from "../../src/services.ts";
import { APP, enrollUser, testApp, testEnv, TestBrowser } from "../support/app.ts";
import { TEST_CONTRACT_ID, useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
afterEach(() => vi.restoreAllMocks());
const MiB = 1024 * 1024;

type FileList = { state: string; accounts: Array<{ accountId: string; state: string; reauth: { needed: boolean; start?: { userId: string; accountId: string } } }>; fileList: Array<{ name: string }> };

async function sha256Hex(stream: ReadableStream<Uint8Array> | ArrayBuffer): Promise<string> {
  const bytes = stream instanceof ArrayBuffer ? stream : await new Response(stream).arrayBuffer();
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function base64UrlJson(value: string): unknown {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) => c.charCodeAt(0))));
}

function refreshes(mock: MockDigime) {
  return mock.journal.filter((e) => e.endpoint === "oauth/token" && e.claims?.grant_type === "refresh_token");
}

describe("GET …/sessions/{sessionKey}/files/{fileName}", () => {
  it("answers each of digi.me's files decrypted and decompressed (none, gzip, brotli), with its MIME type and metadata", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 2 });
    const list = (await (await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files`)).json()) as FileList;
    const byName = new Map(user.files.map((f) => [f.name, f]));
    expect(new Set(list.fileList.map((f) => byName.get(f.name)?.compression))).toEqual(new Set(["none", "gzip", "brotli"]));
    for (const { name } of list.fileList) {
      const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${name}`);
      expect(answer.status, name).toBe(200);
      expect(answer.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(answer.headers.get("Content-Disposition")).toBe(`attachment; filename="${name}"`);
      expect(answer.headers.get("X-Digime-Compression")).toBe(byName.get(name)!.compression);
      expect(base64UrlJson(answer.headers.get("X-Digime-Metadata")!)).toMatchObject({ mimetype: "application/json" });
      expect({ kind: "json", value: await answer.json() }).toEqual(byName.get(name)!.content);
    }
  });

  it("round-trips a file put on an account, of any length around the 16-byte blocks and the 64 KiB chunks", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    for (const length of [0, 1, 15, 16, 17, FILE_CHUNK_BYTES - 40, FILE_CHUNK_BYTES, FILE_CHUNK_BYTES + 1, 3 * FILE_CHUNK_BYTES + 7]) {
      for (const compression of ["none", "gzip", "brotli"] as const) {
        const content = "x".repeat(length);
        const { name } = testMock.mock.putFile(user, { accountId: user.accounts[0]!.id, content, compression });
        const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${name}`);
        expect(answer.status, `${length} ${compression}`).toBe(200);
        expect(await answer.json(), `${length} ${compression}`).toBe(content);
      }
    }
  });

  it("decrypts a body read as a fetched body is (a byte stream, its one read buffer reused), of any length around the chunks", async () => {
    const { api } = testApp();
    const { user, token } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const services = getServices(parseConfig(testEnv), testEnv);
    const accessToken = token.accessToken.value;
    for (const length of [FILE_CHUNK_BYTES - 300, FILE_CHUNK_BYTES, 2 * FILE_CHUNK_BYTES + 17, 5 * FILE_CHUNK_BYTES + 1000]) {
      const content = Array.from({ length }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join("");
      const { name } = testMock.mock.putFile(user, { accountId: user.accounts[0]!.id, content, compression: "none" });
      const file = await services.digime.readFile({ sessionKey: user.sessionKey, fileName: name, userAccessToken: accessToken });
      // The mock's body is a JavaScript stream; a fetched body in workerd is a byte stream, read with BYOB.
      const body = new Response(await new Response(file.body).arrayBuffer()).body!;
      const plain = await new Response(await services.digime.openFile({ ...file, body })).text();
      expect(plain.length, String(length)).toBe(JSON.stringify(content).length);
      expect(JSON.parse(plain), String(length)).toBe(content);
    }
  });

  it("answers 502 file_undecryptable, naming the file, for a file encrypted to another key", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const { name } = testMock.mock.putForeignFile(user, { accountId: user.accounts[0]!.id });
    const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${name}`);
    expect(answer.status).toBe(502);
    const body = (await answer.json()) as { error: { code: string; message: string; fileName: string; hint: string } };
    expect(body.error).toMatchObject({ code: "file_undecryptable", fileName: name });
    expect(body.error.message).toContain(name);
    // The hint names the contract and the secret that should hold its key.
    expect(body.error.hint).toContain(`DIGIME_PRIVATE_KEY holds the private key of contract ${TEST_CONTRACT_ID}`);
    // Its metadata reads all the same: the content is not decrypted for it.
    const metadata = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${name}/metadata`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ fileName: name });
  });

  it("streams a 20 MiB file through a bounded buffer, byte for byte", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const { name, sha256 } = await testMock.mock.putLargeFile(user, { accountId: user.accounts[0]!.id, sizeBytes: 20 * MiB, compression: "gzip" });
    // Through the read itself, to see what it buffered.
    const services = getServices(parseConfig(testEnv), testEnv);
    const stats: DecryptStats = { maxBufferedBytes: 0 };
    const deps = { user: services.users.of(user.id), digime: services.digime, minValiditySeconds: 0, now: Date.now, sleep: async () => undefined };
    const opened = await readFile(deps, user.sessionKey, name, stats);
    expect(await sha256Hex(opened.content)).toBe(sha256);
    // The ciphertext waiting to be decrypted never exceeds a chunk and what one read of the body brought.
    expect(stats.maxBufferedBytes).toBeGreaterThan(0);
    expect(stats.maxBufferedBytes).toBeLessThanOrEqual(FILE_CHUNK_BYTES + 128 * 1024);
    // And through the route.
    const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${name}`);
    expect(await sha256Hex(await answer.arrayBuffer())).toBe(sha256);
  });

  it("errors the stream, never answering content that is not whole, when the file is cut short", async () => {
    const { user } = testMock.mock.createUser({ accounts: 1 });
    const services = getServices(parseConfig(testEnv), testEnv);
    const file = user.files[0]!;
    const { body } = await testMock.mock.fileBody(user, file);
    const bytes = body instanceof Uint8Array ? body : new Uint8Array(await new Response(body).arrayBuffer());
    const header = { compression: "none" as const, metadata: {} };
    const cut = (length: number) => ({ header, body: new Blob([bytes.slice(0, length)]).stream() });
    // Not a whole number of blocks: the stream errors at its end.
    const ragged = await services.digime.openFile(cut(bytes.length - 8));
    await expect(new Response(ragged).arrayBuffer()).rejects.toSatisfy(
      (error: unknown) => error instanceof DigimeError && error.kind === "undecryptable" && /whole number of 16-byte blocks/.test(error.message),
    );
    // Shorter than a key, an IV and one block: refused before any content.
    await expect(services.digime.openFile(cut(200))).rejects.toMatchObject({ kind: "undecryptable", message: expect.stringContaining("at least 288 bytes") });
  });

  it("answers 404 file_not_found for a file the session does not list, and session_not_found for another user's session", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const { user: other } = testMock.mock.createUser({ accounts: 1 });
    const missing = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/nothing.json`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("file_not_found");
    const foreign = await api(`/v1/users/${user.id}/sessions/${other.sessionKey}/files/${other.files[0]!.name}`);
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe("session_not_found");
  });

  it("answers a file's metadata alone", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const file = user.files.find((f) => f.compression === "gzip")!;
    const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${file.name}/metadata`);
    expect(await answer.json()).toMatchObject({ sessionKey: user.sessionKey, fileName: file.name, compression: "gzip", mimeType: "application/json", metadata: { mimetype: "application/json" } });
  });
});

describe("reads through the edge, end to end", () => {
  it("refreshes an access token digi.me says expired during a file-list read once, and answers the read", async () => {
    const { api } = testApp();
    const { user } = testMock.mock.createUser({ accounts: 1 });
    expect((await api(`/v1/users/${user.id}/token`, { method: "PUT", body: testMock.mock.issueToken(user, { accessTokenMs: 60_000 }) })).status).toBe(204);
    testMock.mock.advanceClock(61_000);
    const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files?minValidity=0`);
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as FileList).state).toBe("completed");
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([201]);
  });

  it("the seeds' story: a read reports an account's 511, its reauthorization starts from the ready body and is approved, and the same read then completes", async () => {
    const { api, request } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 2 });
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "account-511", accounts: [user.accounts[1]!.id] }));
    const session = (await (await api(`/v1/users/${user.id}/sessions`, { body: {} })).json()) as { sessionKey: string };
    const before = (await (await api(`/v1/users/${user.id}/sessions/${session.sessionKey}/files?wait=5`)).json()) as FileList;
    expect(before.state).toBe("partial");
    const lost = before.accounts.find((a) => a.reauth.needed)!;
    expect(lost).toMatchObject({ accountId: user.accounts[1]!.id, state: "partial", reauth: { reason: "ServiceAuthorizationError" } });

    const started = await api("/v1/reauth/account", { body: { ...lost.reauth.start, returnTo: `${APP}/back` } });
    expect(started.status).toBe(201);
    const { final } = await new TestBrowser(request).navigate(((await started.json()) as { launchUrl: string }).launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");

    const again = (await (await api(`/v1/users/${user.id}/sessions`, { body: {} })).json()) as { sessionKey: string };
    const after = (await (await api(`/v1/users/${user.id}/sessions/${again.sessionKey}/files?wait=5`)).json()) as FileList;
    expect(after.state).toBe("completed");
    expect(after.accounts.every((a) => a.state === "completed" && !a.reauth.needed)).toBe(true);
    expect(after.fileList.length).toBeGreaterThan(before.fileList.length);
  });

  it("never puts the access or refresh token in an answer or a log line", async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    for (const level of ["log", "warn", "error", "info", "debug"] as const) vi.spyOn(console, level).mockImplementation(capture);
    const { api } = testApp();
    const { user } = testMock.mock.createUser({ accounts: 2 });
    // A token that needs a refresh on the first read: both lineages are secrets to look for.
    const first = testMock.mock.issueToken(user, { accessTokenMs: 60_000 });
    await api(`/v1/users/${user.id}/token`, { method: "PUT", body: first });
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "account-511", accounts: [user.accounts[0]!.id] }));
    const bodies: string[] = [];
    const read = async (path: string, init?: Parameters<typeof api>[1]) => {
      const answer = await api(path, init);
      bodies.push(`${[...answer.headers].join(";")} ${await answer.text()}`);
      return answer;
    };
    await read(`/v1/users/${user.id}/accounts?sessionKey=${user.sessionKey}&minValidity=900`);
    await read(`/v1/users/${user.id}/sessions`, { body: {} });
    await read(`/v1/users/${user.id}/sessions/${user.sessionKey}/files?wait=1`);
    await read(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${user.files.at(-1)!.name}`);
    await read(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${user.files.at(-1)!.name}/metadata`);
    await read(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/missing.json`);
    await read(`/v1/users/${user.id}/sessions/not-a-session/files`);
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ faults: [{ type: "http-error", status: 500, endpoints: ["permission-access/accounts"] }] }));
    await read(`/v1/users/${user.id}/accounts`);
    const current = ((await (await api(`/v1/users/${user.id}/token?minValidity=0`)).json()) as { token: typeof first }).token;
    const secrets = [first.accessToken.value, first.refreshToken.value, current.accessToken.value, current.refreshToken.value];
    expect(current.refreshToken.value).not.toBe(first.refreshToken.value);
    for (const secret of secrets) {
      for (const body of bodies) expect(body).not.toContain(secret);
      for (const line of lines) expect(line).not.toContain(secret);
    }
    expect(bodies.length).toBe(8);
  });
});
