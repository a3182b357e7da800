/**
 * What a backend meets when it calls the API wrongly: each mistake is a 4xx
 * naming it, with what to do instead.
 */
import { describe, expect, it } from "vitest";
import { API_KEY, APP, EDGE, enrollUser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();
const { api, request } = testApp();

type ErrorBody = { error: { code: string; message: string; hint?: string; upstream?: { code?: string; reference?: string } } };

describe("mistakes digi.me reports", () => {
  it("answers 404 account_not_found with digi.me's code and reference for an accountId digi.me does not know", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const response = await api("/v1/reauth/account", { body: { userId: user.id, accountId: "9_nobody", returnTo: `${APP}/back` } });
    expect(response.status).toBe(404);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("account_not_found");
    expect(body.error.upstream?.code).toBe("ResourceNotFound");
    expect(body.error.upstream?.reference).toMatch(/^mock-/);
    const refused = testMock.mock.journal.find((e) => e.endpoint === "reference");
    expect(refused?.status).toBe(404);
  });

  it("answers 404 session_not_found with digi.me's code and reference for a stale sessionKey", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const response = await api(`/v1/users/${user.id}/reauth-status?sessionKey=stale-session-key`);
    expect(response.status).toBe(404);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("session_not_found");
    expect(body.error.hint).toMatch(/full authorization/);
    expect(body.error.upstream).toMatchObject({ code: "SessionNotFound", reference: expect.stringMatching(/^mock-/) });
  });

  it("still answers 200 with the user's own sessionKey", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    expect((await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`)).status).toBe(200);
  });
});

describe("request shape", () => {
  it("answers 415 saying to send application/json when a body has no Content-Type", async () => {
    const response = await request("/v1/reauth/user", { method: "POST", headers: { Authorization: `Bearer ${API_KEY}` }, body: JSON.stringify({ userId: "u", returnTo: `${APP}/x` }) });
    expect(response.status).toBe(415);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("unsupported_media_type");
    expect(body.error.hint).toContain("Content-Type: application/json");
  });

  it("answers 415 for a form body on a JSON route", async () => {
    const response = await api("/v1/users/u1/token", { method: "PUT", body: "a=b", headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    expect(response.status).toBe(415);
    expect(((await response.json()) as ErrorBody).error.message).toContain("application/x-www-form-urlencoded");
  });

  it("accepts application/json with a charset", async () => {
    const response = await api("/v1/reauth/user", { body: {}, headers: { "Content-Type": "application/json; charset=utf-8" } });
    expect(response.status).toBe(400);
  });

  it.each([
    ["GET", "/v1/reauth/user", "POST"],
    ["DELETE", "/v1/flows/AAAAAAAAAAAAAAAAAAAAAA", "GET, HEAD"],
    ["POST", "/v1/users/u1/token", "DELETE, GET, HEAD, PUT"],
    ["GET", "/reauth/recover", "POST"],
  ])("answers 405 with Allow for %s %s", async (method, path, allow) => {
    const response = await api(path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toBe(allow);
  });

  it("still answers 404 for a path no method has", async () => {
    const response = await api("/v1/nothing-here");
    expect(response.status).toBe(404);
    expect(response.headers.get("Allow")).toBeNull();
  });

  it("names the refused returnTo origin and points out the localhost versus 127.0.0.1 trap", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const loopback = await request("/v1/reauth/user", {
      method: "POST",
      headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ userId: user.id, returnTo: "http://localhost:8788/return" }),
    }, { ...testEnv, ALLOWED_RETURN_ORIGINS: "http://127.0.0.1:8788" });
    expect(loopback.status).toBe(400);
    const body = (await loopback.json()) as ErrorBody;
    expect(body.error.code).toBe("invalid_return_to");
    expect(body.error.message).toContain("http://localhost:8788");
    expect(body.error.hint).toContain("http://127.0.0.1:8788");
    const other = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: "https://evil.test/x" } })).json()) as ErrorBody;
    expect(other.error.message).toContain("https://evil.test");
    expect(other.error.hint).toContain(APP);
  });

  it("answers 413 for a chunked body over the limit (no Content-Length)", async () => {
    const chunk = new TextEncoder().encode("x".repeat(4096));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await request(`${EDGE}/v1/reauth/user`, {
      method: "POST",
      headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
      body,
      // @ts-expect-error -- a streaming request body needs duplex in the fetch spec
      duplex: "half",
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as ErrorBody).error.code).toBe("payload_too_large");
  });
});
