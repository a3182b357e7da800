/**
 * The backend API's and the callbacks' input bounds, each tried at the bound
 * and one past it (the hand-made mutation sweep, docs/mutation-sweep.md,
 * found them unwatched).
 */
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/app.ts";
import { APP, EDGE, TestBrowser, enrollUser, testApp } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const { api, request } = testApp();

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe("POST /v1/reauth/user bounds", () => {
  it("refuses a returnTo carrying only a password", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const response = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: "https://:secret@app.test/back" } });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("invalid_return_to");
  });

  it("accepts a returnTo of 2048 characters and refuses one of 2049", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const returnTo = (length: number) => `${APP}/${"p".repeat(length - APP.length - 1)}`;
    expect((await api("/v1/reauth/user", { body: { userId: user.id, returnTo: returnTo(2048) } })).status).toBe(201);
    const refused = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: returnTo(2049) } });
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("invalid_request");
  });

  it("accepts sessionOptions of 4096 bytes of JSON and refuses 4097", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    // {"pad":"…"} is 10 bytes around the padding.
    const options = (bytes: number) => ({ pad: "x".repeat(bytes - 10) });
    expect(JSON.stringify(options(4096)).length).toBe(4096);
    expect((await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x`, sessionOptions: options(4096) } })).status).toBe(201);
    const refused = await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x`, sessionOptions: options(4097) } });
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("invalid_request");
  });
});

describe("request body size", () => {
  it(`reads a body announcing exactly ${MAX_BODY_BYTES} bytes and answers 413 for one byte more`, async () => {
    const body = (bytes: number) => {
      const start = `{"userId":"u","returnTo":"${APP}/","pad":"`;
      return `${start}${"x".repeat(bytes - start.length - 2)}"}`;
    };
    expect(body(MAX_BODY_BYTES)).toHaveLength(MAX_BODY_BYTES);
    const send = (text: string) => api("/v1/reauth/user", { body: text, headers: { "Content-Length": String(text.length) } });
    const atLimit = await send(body(MAX_BODY_BYTES));
    expect(atLimit.status).toBe(400); // read and validated: "pad" is not a field
    const over = await send(body(MAX_BODY_BYTES + 1));
    expect(over.status).toBe(413);
  });
});

describe("PUT /v1/users/:userId/token bounds", () => {
  it("accepts a userId of 128 characters and refuses one of 129", async () => {
    const { token } = testMock.mock.createUser();
    expect((await api(`/v1/users/${"u".repeat(128)}/token`, { method: "PUT", body: token })).status).toBe(204);
    const refused = await api(`/v1/users/${"u".repeat(129)}/token`, { method: "PUT", body: token });
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("invalid_request");
  });

  it("refuses a token with a field it does not know, naming it", async () => {
    const { user, token } = testMock.mock.createUser();
    const response = await api(`/v1/users/${user.id}/token`, { method: "PUT", body: { ...token, idToken: "x" } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/idToken/);
    expect((await api(`/v1/users/${user.id}/token`)).status).toBe(404);
  });
});

describe("flow ids", () => {
  it("answers 400, not 404, for a flow id one character too long", async () => {
    const response = await api(`/v1/flows/${"A".repeat(23)}`);
    expect(response.status).toBe(400);
    expect((await api(`/v1/flows/${"A".repeat(22)}`)).status).toBe(404);
  });
});

describe("GET /reauth/user/callback bounds", () => {
  it("answers a state of 257 characters with a 400 page before looking at the flow", async () => {
    const response = await new TestBrowser(request).get(`${EDGE}/reauth/user/callback?flow=${"A".repeat(22)}&success=false&state=${"s".repeat(257)}`);
    expect(response.status).toBe(400);
    const atBound = await new TestBrowser(request).get(`${EDGE}/reauth/user/callback?flow=${"A".repeat(22)}&success=false&state=${"s".repeat(256)}`);
    expect(atBound.status).toBe(404);
  });
});
