/**
 * Guards of the reads through the edge (issue 24) that a review broke by hand
 * without any test noticing: each is held here by a behaviour a backend would
 * notice. Where the mock digi.me never answers what a guard is for (a file
 * without `x-metadata`, a sync still `pending`, an access token refused even
 * after a refresh), its answer is rewritten on its way back to the edge.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { scenarioSchema, type MockDigime, type MockUser } from "../../mock-server/index.ts";
import { parseConfig } from "../../src/config.ts";
import { DigimeError } from "../../src/digime/index.ts";
import { getServices } from "../../src/services.ts";
import { enrollUser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
afterEach(() => vi.restoreAllMocks());

type ErrorAnswer = { error: { code: string; message: string } };
type Reauth = { needed: boolean; reason?: string; message?: string; start?: { userId: string; accountId: string } };
type FileListAnswer = { state: string; accounts: Array<{ accountId: string; state: string; reauth: Reauth; error?: Record<string, unknown> }>; fileList: Array<Record<string, unknown>> };
type AccountsAnswer = { accounts: Array<{ id: string; reauth: Reauth }> };

function refreshes(mock: MockDigime) {
  return mock.journal.filter((e) => e.endpoint === "oauth/token" && e.claims?.grant_type === "refresh_token");
}

function base64UrlJson(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Rewrites digi.me's answers to the edge whose path (after the API base's
 * `/v1.7/`) matches `path`; the mock still answers (and journals) each call.
 * Answers how many calls matched.
 */
function rewriteDigime(path: RegExp, change: (answer: Response, call: number) => Response | Promise<Response>): { calls: () => number } {
  const original = globalThis.fetch;
  let calls = 0;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const answer = await original(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!path.test(url.pathname.replace(/^\/v1\.7\//, ""))) return answer;
    return change(answer, ++calls);
  });
  return { calls: () => calls };
}

/** digi.me's file answer with its `x-metadata` replaced (or removed, with `null`). */
function withMetadataHeader(value: string | null): (answer: Response) => Response {
  return (answer) => {
    const headers = new Headers(answer.headers);
    if (value === null) headers.delete("x-metadata");
    else headers.set("x-metadata", value);
    return new Response(answer.body, { status: answer.status, headers });
  };
}

/** digi.me's JSON answer with its body changed. */
function withJson(change: (body: unknown) => unknown): (answer: Response) => Promise<Response> {
  return async (answer) => {
    const headers = new Headers(answer.headers);
    headers.delete("Content-Length");
    return new Response(JSON.stringify(change(await answer.json())), { status: answer.status, headers });
  };
}

const fileOf = (user: MockUser, compression: "none" | "gzip" | "brotli" = "none") => user.files.find((f) => f.compression === compression)!;

describe("the token a read uses", () => {
  it("refreshes a token that expires within the default 5 minutes before reading, when the read does not say minValidity", async () => {
    const { api } = testApp();
    const { user } = testMock.mock.createUser({ accounts: 1 });
    await api(`/v1/users/${user.id}/token`, { method: "PUT", body: testMock.mock.issueToken(user, { accessTokenMs: 120_000 }) });
    expect((await api(`/v1/users/${user.id}/accounts`)).status).toBe(200);
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([201]);
    // Refreshed first: digi.me never saw the old token refused.
    expect(testMock.mock.journal.filter((e) => e.endpoint === "permission-access/accounts").map((e) => e.status)).toEqual([202]);
  });

  it("spends no refresh on a read digi.me refuses for another reason than the token (unknown session, unknown file)", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    expect((await api(`/v1/users/${user.id}/sessions/not-a-session/files`)).status).toBe(404);
    expect((await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/missing.json`)).status).toBe(404);
    expect((await api(`/v1/users/${user.id}/accounts?sessionKey=not-a-session`)).status).toBe(404);
    expect(refreshes(testMock.mock)).toEqual([]);
  });

  it("refreshes once and retries once when digi.me refuses the access token even after the refresh, then answers 409", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const refused = rewriteDigime(/^permission-access\/accounts$/, () =>
      Response.json({ error: { code: "InvalidToken", message: "The token (access_token) is invalid" } }, { status: 401 }),
    );
    const answer = await api(`/v1/users/${user.id}/accounts`);
    expect(answer.status).toBe(409);
    expect(refused.calls()).toBe(2);
    expect(refreshes(testMock.mock).map((e) => e.status)).toEqual([201]);
  });
});

describe("the query and path of a read", () => {
  it.each(["1801", "99999", "-1", "1.5", "abc"])("answers 400 for minValidity=%s on every read, calling digi.me for nothing", async (minValidity) => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const before = testMock.mock.journal.length;
    const file = `/v1/users/${user.id}/sessions/${user.sessionKey}/files/${fileOf(user).name}`;
    const reads: Array<[path: string, body?: object]> = [
      [`/v1/users/${user.id}/accounts?minValidity=${minValidity}`],
      [`/v1/users/${user.id}/sessions?minValidity=${minValidity}`, {}],
      [`/v1/users/${user.id}/sessions/${user.sessionKey}/files?minValidity=${minValidity}`],
      [`${file}?minValidity=${minValidity}`],
      [`${file}/metadata?minValidity=${minValidity}`],
    ];
    for (const [path, body] of reads) {
      const answer = await api(path, body ? { body } : {});
      expect(answer.status, path).toBe(400);
      expect(((await answer.json()) as ErrorAnswer).error.code, path).toBe("invalid_request");
    }
    expect(testMock.mock.journal.length).toBe(before);
  });

  it.each([
    ["a file name with a quote", (s: string) => s, 'a"b.json'],
    ["a file name with a space", (s: string) => s, "a b.json"],
    ["a file name of 257 characters", (s: string) => s, "f".repeat(257)],
    ["a session key with a quote", () => 'se"ssion', "x.json"],
    ["a session key of 257 characters", () => "s".repeat(257), "x.json"],
  ])("answers 400 for %s, calling digi.me for nothing", async (_, session, fileName) => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const before = testMock.mock.journal.length;
    const sessionKey = encodeURIComponent(session(user.sessionKey));
    for (const path of [
      `/v1/users/${user.id}/sessions/${sessionKey}/files/${encodeURIComponent(fileName)}`,
      `/v1/users/${user.id}/sessions/${sessionKey}/files/${encodeURIComponent(fileName)}/metadata`,
    ]) {
      expect((await api(path)).status, path).toBe(400);
    }
    if (sessionKey !== user.sessionKey) {
      expect((await api(`/v1/users/${user.id}/sessions/${sessionKey}/files`)).status).toBe(400);
      expect((await api(`/v1/users/${user.id}/accounts?sessionKey=${sessionKey}`)).status).toBe(400);
    }
    expect(testMock.mock.journal.length).toBe(before);
  });

  it("answers 400 for a session body with a field it does not know, or sessionOptions over 4096 bytes, and starts no sync", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    expect((await api(`/v1/users/${user.id}/sessions`, { body: { scope: {}, sessoinOptions: {} } })).status).toBe(400);
    expect((await api(`/v1/users/${user.id}/sessions`, { body: { sessionOptions: { note: "x".repeat(5000) } } })).status).toBe(400);
    expect(testMock.mock.journal.some((e) => e.endpoint === "permission-access/trigger")).toBe(false);
  });

  it("passes scope on to digi.me's trigger beside sessionOptions", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const scope = { timeRanges: [{ last: "7d" }], serviceGroups: [{ id: 1 }] };
    expect((await api(`/v1/users/${user.id}/sessions`, { body: { scope, sessionOptions: { limits: { duration: { sourceFetch: 30 } } } } })).status).toBe(201);
    const trigger = testMock.mock.journal.find((e) => e.endpoint === "permission-access/trigger");
    expect(trigger?.body).toMatchObject({ scope, limits: { duration: { sourceFetch: 30 } } });
  });
});

describe("a session key of . or ..", () => {
  it.each([".", ".."])("answers 400 for sessionKey=%s on the accounts and reauth-status reads, and calls digi.me for nothing (the signed request would resolve to another path)", async (sessionKey) => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const before = testMock.mock.journal.length;
    for (const path of [`/v1/users/${user.id}/accounts?sessionKey=${sessionKey}`, `/v1/users/${user.id}/reauth-status?sessionKey=${sessionKey}`]) {
      const answer = await api(path);
      expect(answer.status, path).toBe(400);
      expect(((await answer.json()) as ErrorAnswer).error.message, path).toContain("not . or ..");
    }
    expect(testMock.mock.journal.length).toBe(before);
  });

  it.each([".", ".."])("is refused by the digi.me client itself before anything is sent (%s)", async (dots) => {
    const services = getServices(parseConfig(testEnv), testEnv);
    const sent = vi.spyOn(globalThis, "fetch");
    await expect(services.digime.readFileList({ sessionKey: dots, userAccessToken: "t" })).rejects.toThrow("is not a path segment");
    await expect(services.digime.readFile({ sessionKey: "s", fileName: dots, userAccessToken: "t" })).rejects.toThrow("is not a path segment");
    expect(sent).not.toHaveBeenCalled();
  });
});

describe("the long poll of a file list", () => {
  it("answers within the wait, having asked digi.me about once a second, while the sync keeps running", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1, scenario: { syncMs: 60_000 } });
    const session = (await (await api(`/v1/users/${user.id}/sessions`, { body: {} })).json()) as { sessionKey: string };
    const before = testMock.mock.journal.length;
    const began = Date.now();
    const answer = (await (await api(`/v1/users/${user.id}/sessions/${session.sessionKey}/files?wait=2`)).json()) as FileListAnswer;
    const took = Date.now() - began;
    expect(answer.state).toBe("running");
    expect(took).toBeLessThan(2_000);
    const asked = testMock.mock.journal.slice(before).filter((e) => e.endpoint === "permission-access/query").length;
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(asked).toBeLessThanOrEqual(3);
  });

  it("keeps waiting while the sync is pending, not only while it runs", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const list = rewriteDigime(/^permission-access\/query\/[^/]+$/, (answer, call) =>
      call === 1 ? withJson((body) => ({ ...(body as Record<string, unknown>), status: { state: "pending" }, fileList: [] }))(answer) : answer,
    );
    const answer = (await (await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files?wait=3`)).json()) as FileListAnswer;
    expect(answer.state).toBe("completed");
    expect(list.calls()).toBe(2);
  });

  it("lists only the files digi.me names, with only the fields it types as documented", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    rewriteDigime(
      /^permission-access\/query\/[^/]+$/,
      withJson((body) => ({ ...(body as Record<string, unknown>), fileList: ["junk", null, { updatedDate: 1 }, { name: "a.json", updatedDate: "yesterday", objectType: 7, serviceName: "x" }] })),
    );
    const answer = (await (await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files`)).json()) as FileListAnswer;
    expect(answer.fileList).toEqual([{ name: "a.json", serviceName: "x" }]);
  });
});

describe("accounts needing reauthorization", () => {
  it("passes digi.me's 511 message and error on, in the accounts read and in the file list", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 2 });
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "account-511", accounts: [user.accounts[1]!.id] }));
    const accounts = (await (await api(`/v1/users/${user.id}/accounts?sessionKey=${user.sessionKey}`)).json()) as AccountsAnswer;
    expect(accounts.accounts[1]!.reauth).toMatchObject({ needed: true, message: "Service authorization required" });
    const list = (await (await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files`)).json()) as FileListAnswer;
    expect(list.accounts.find((a) => a.accountId === user.accounts[1]!.id)).toMatchObject({
      reauth: { needed: true, message: "Service authorization required" },
      error: { code: "ServiceAuthorizationError", statusCode: 511 },
    });
  });

  it.each([
    ["an account's sync that is not partial", { state: "completed" }],
    ["an error that is not ServiceAuthorizationError", { error: { code: "SourceError" } }],
    ["a status code other than 511", { error: { statusCode: 500 } }],
    ["an error that does not ask for reauthorization", { error: { error: { message: "Service authorization required", reauth: false } } }],
  ])("does not ask to reauthorize an account for %s", async (_, change) => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const accountId = user.accounts[0]!.id;
    testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "account-511", accounts: [accountId] }));
    rewriteDigime(
      /^permission-access\/query\/[^/]+$/,
      withJson((body) => {
        const list = body as { status: { details: Record<string, { state: string; error: Record<string, unknown> }> } };
        const entry = list.status.details[accountId]!;
        list.status.details[accountId] = { ...entry, ...("state" in change ? { state: change.state } : {}), error: { ...entry.error, ...("error" in change ? change.error : {}) } };
        return list;
      }),
    );
    const list = (await (await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files`)).json()) as FileListAnswer;
    expect(list.accounts.find((a) => a.accountId === accountId)!.reauth).toEqual({ needed: false });
    // (The mock's scenario also lists the account unauthorized: that reason stands, the sync's does not.)
    const accounts = (await (await api(`/v1/users/${user.id}/accounts?sessionKey=${user.sessionKey}`)).json()) as AccountsAnswer;
    expect(accounts.accounts[0]!.reauth.reason).not.toBe("ServiceAuthorizationError");
  });

  it("does not ask to reauthorize an account digi.me lists without saying whether it is authorized", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    rewriteDigime(/^permission-access\/accounts$/, withJson((body) => (body as Array<Record<string, unknown>>).map(({ accessTokenStatus: _, ...account }) => account)));
    const accounts = (await (await api(`/v1/users/${user.id}/accounts`)).json()) as AccountsAnswer;
    expect(accounts.accounts[0]!.reauth).toEqual({ needed: false });
  });
});

describe("digi.me answers the edge cannot trust", () => {
  it.each([
    ["accounts that are not a list", /^permission-access\/accounts$/, (u: MockUser) => `/v1/users/${u.id}/accounts`, {}],
    ["a file list without a status", /^permission-access\/query\/[^/]+$/, (u: MockUser) => `/v1/users/${u.id}/sessions/${u.sessionKey}/files`, { fileList: [] }],
    ["a session start without a session", /^permission-access\/trigger$/, (u: MockUser) => `/v1/users/${u.id}/sessions`, { ok: true }],
  ])("answers 502 upstream_invalid_response for %s", async (_, path, route, body) => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    rewriteDigime(path, withJson(() => body));
    const target = route(user);
    const answer = await api(target, target.endsWith("/sessions") ? { body: {} } : {});
    expect(answer.status).toBe(502);
    expect(((await answer.json()) as ErrorAnswer).error.code).toBe("upstream_invalid_response");
  });

  it.each([
    ["without x-metadata", null],
    ["with x-metadata that is not base64url JSON", "%%%not base64%%%"],
    ["with x-metadata that is not an object", base64UrlJson("none")],
    ["with metadata that is not an object", base64UrlJson({ compression: "none", metadata: ["application/json"] })],
    ["with a compression the edge does not know", base64UrlJson({ compression: "zstd", metadata: { mimetype: "application/json" } })],
  ])("answers 502 upstream_invalid_response, and no content, for a file %s", async (_, header) => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    rewriteDigime(/^permission-access\/query\/[^/]+\/[^/]+$/, withMetadataHeader(header));
    const file = `/v1/users/${user.id}/sessions/${user.sessionKey}/files/${fileOf(user).name}`;
    for (const path of [file, `${file}/metadata`]) {
      const answer = await api(path);
      expect(answer.status, path).toBe(502);
      expect(((await answer.json()) as ErrorAnswer).error.code, path).toBe("upstream_invalid_response");
    }
  });

  it("errors the file's stream, never ending it short, when the last block's padding is wrong", async () => {
    const { user } = testMock.mock.createUser({ accounts: 1 });
    const services = getServices(parseConfig(testEnv), testEnv);
    const { body } = await testMock.mock.fileBody(user, fileOf(user));
    const bytes = body instanceof Uint8Array ? body.slice() : new Uint8Array(await new Response(body).arrayBuffer());
    // The last byte of the block before the last is XORed into the padding length: 0x80 makes it impossible.
    bytes[bytes.length - 17] = bytes[bytes.length - 17]! ^ 0x80;
    const opened = await services.digime.openFile({ header: { compression: "none", metadata: {} }, body: new Blob([bytes]).stream() });
    await expect(new Response(opened).arrayBuffer()).rejects.toSatisfy(
      (error: unknown) => error instanceof DigimeError && error.kind === "undecryptable" && /bad padding/.test(error.message),
    );
  });

  it("errors a file's stream as undecryptable when its content is not the brotli its header says", async () => {
    const { user } = testMock.mock.createUser({ accounts: 1 });
    const services = getServices(parseConfig(testEnv), testEnv);
    const { body } = await testMock.mock.fileBody(user, fileOf(user, "none"));
    const stream = body instanceof Uint8Array ? new Blob([body]).stream() : body;
    const opened = await services.digime.openFile({ header: { compression: "brotli", metadata: {} }, body: stream });
    await expect(new Response(opened).arrayBuffer()).rejects.toSatisfy((error: unknown) => error instanceof DigimeError && error.kind === "undecryptable");
  });
});

describe("a file's answer", () => {
  it.each([
    ["no MIME type", {}],
    ["an empty MIME type", { mimetype: "" }],
    ["a MIME type that is not a string", { mimetype: 42 }],
    ["a MIME type with a line break", { mimetype: "text/html\r\nX-Evil: 1" }],
    ["a MIME type with a NUL", { mimetype: "text/plain\u0000" }],
    ["something that is not a MIME type", { mimetype: "json" }],
  ])("is application/octet-stream when digi.me's metadata names %s", async (_, metadata) => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    rewriteDigime(/^permission-access\/query\/[^/]+\/[^/]+$/, withMetadataHeader(base64UrlJson({ compression: "none", metadata })));
    const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${fileOf(user).name}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("Content-Type")).toBe("application/octet-stream");
    await answer.arrayBuffer();
  });

  it("is sandboxed and an attachment whatever its MIME type, an HTML file included", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const { name } = testMock.mock.putFile(user, { accountId: user.accounts[0]!.id, content: "<script>alert(1)</script>", mimetype: "text/html" });
    for (const fileName of [name, fileOf(user).name]) {
      const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${fileName}`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get("Content-Security-Policy")).toBe("default-src 'none'; sandbox");
      expect(answer.headers.get("Content-Disposition")).toBe(`attachment; filename="${fileName}"`);
      expect(answer.headers.get("X-Content-Type-Options")).toBe("nosniff");
      await answer.arrayBuffer();
    }
  });

  it("carries digi.me's metadata as unpadded base64url, whatever bytes its JSON encodes to", async () => {
    const { api } = testApp();
    const { user } = await enrollUser(testMock.mock, api, { accounts: 1 });
    // "?>" and "~" encode to "/" and "+" in standard base64; a length not a multiple of 3 pads.
    const metadata = { mimetype: "application/json", note: "?>?>~~~ é", n: 12 };
    rewriteDigime(/^permission-access\/query\/[^/]+\/[^/]+$/, withMetadataHeader(base64UrlJson({ compression: "none", metadata })));
    const answer = await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${fileOf(user).name}`);
    const header = answer.headers.get("X-Digime-Metadata")!;
    expect(header).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(header).toBe(base64UrlJson(metadata));
    await answer.arrayBuffer();
  });
});
