/**
 * The user's Durable Object unreachable or overloaded (the platform throws at
 * the stub): every step answers the same retryable 503 as any storage
 * failure — JSON for the backend, a page for the browser — and nothing is
 * half-done.
 */
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.ts";
import { API_KEY, APP, TestBrowser, enrollUser, testApp, testEnv } from "../support/app.ts";
import { useTestMock } from "../support/mock.ts";
import { quietConsole } from "../support/quiet.ts";

const testMock = useTestMock();
quietConsole();
const { api, request } = testApp();

/** A USERS namespace whose objects throw as an overloaded one does. */
function overloaded(): DurableObjectNamespace {
  const error = Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), { overloaded: true, retryable: true });
  const stub = new Proxy({}, { get: () => () => Promise.reject(error) });
  const real = (testEnv as unknown as { USERS: DurableObjectNamespace }).USERS;
  return { idFromName: (name: string) => real.idFromName(name), get: () => stub } as unknown as DurableObjectNamespace;
}

describe("the user's object unavailable", () => {
  it("answers the API with 503 storage_unavailable, retryable", async () => {
    const env: Env = { ...testEnv, USERS: overloaded() };
    const call = (path: string, body?: unknown) =>
      request(path, { method: body ? "POST" : "GET", headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined }, env);
    for (const response of [await call("/v1/users/someone/token"), await call("/v1/reauth/user", { userId: "someone", returnTo: `${APP}/x` })]) {
      expect(response.status).toBe(503);
      expect(response.headers.get("Retry-After")).toBe("5");
      expect(await response.json()).toEqual({ error: { code: "storage_unavailable", message: expect.any(String), retryable: true } });
    }
  });

  it("gives the browser a retryable page at launch and leaves the flow to work once the object is back", async () => {
    const { user } = await enrollUser(testMock.mock, api);
    const started = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/x` } })).json()) as { launchUrl: string };
    const down = await new TestBrowser((path, init) => request(path, init, { ...testEnv, USERS: overloaded() })).get(started.launchUrl);
    expect(down.status).toBe(503);
    expect(down.headers.get("Content-Type")).toMatch(/text\/html/);
    expect(down.headers.get("Location")).toBeNull();
    const { final } = await new TestBrowser(request).navigate(started.launchUrl);
    expect(final.searchParams.get("status")).toBe("succeeded");
  });
});
