/**
 * /docs, the interactive API reference: served by the development entry only.
 */
import { describe, expect, it } from "vitest";
import { createDevApp, SCALAR_SCRIPT_PATH } from "../../src/dev-app.ts";
import { testApp, testEnv } from "../support/app.ts";

const ctx = { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;

describe("GET /docs", () => {
  it("serves Scalar's API reference for the app's own /openapi.json in the development app", async () => {
    const response = await createDevApp().fetch(new Request("https://edge.test/docs"), testEnv, ctx);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain("digi.me reauthorization edge · API reference");
    expect(html).toContain("/openapi.json");
    const nonce = /<meta property="csp-nonce" content="([^"]+)"/.exec(html)?.[1];
    expect(nonce).toBeTruthy();
    const csp = response.headers.get("Content-Security-Policy")!;
    expect(csp).toContain(`script-src 'nonce-${nonce}';`);
    expect(csp).toContain("connect-src 'self'");
  });

  it("loads Scalar's script from its own origin, with no CDN and no web fonts, so it works offline", async () => {
    const response = await createDevApp().fetch(new Request("https://edge.test/docs"), testEnv, ctx);
    const html = await response.text();
    const nonce = /<meta property="csp-nonce" content="([^"]+)"/.exec(html)![1]!;
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts.map((attributes) => /src="([^"]*)"/.exec(attributes)?.[1]).filter(Boolean)).toEqual([SCALAR_SCRIPT_PATH]);
    expect(SCALAR_SCRIPT_PATH).toMatch(/^\/[^/]/); // a path on this origin
    for (const attributes of scripts) expect(attributes).toContain(`nonce="${nonce}"`);
    expect(html).toContain('"withDefaultFonts": false');
    // Nothing on the page, and nothing the policy allows, is on another origin.
    expect(html).not.toMatch(/https?:\/\/(?!edge\.test)/);
    expect(response.headers.get("Content-Security-Policy")).not.toMatch(/https?:|\*/);
  });

  it("is not a route of the production app", async () => {
    const { request } = testApp();
    const response = await request("/docs");
    expect(response.status).toBe(404);
  });

  it("leaves the rest of the development app as in production", async () => {
    const response = await createDevApp().fetch(new Request("https://edge.test/openapi.json"), testEnv, ctx);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { openapi: string }).openapi).toBe("3.1.0");
  });
});
