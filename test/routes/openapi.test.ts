import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/openapi-document.ts";
import { testApp } from "../support/app.ts";

describe("GET /openapi.json (generated at build time)", () => {
  it("serves exactly the document the route definitions build (run `npm run openapi` after changing a route or schema)", async () => {
    const { request } = testApp();
    const response = await request("/openapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(buildOpenApiDocument());
  });

  it("documents each route's parameters, body and error answers from its definition", async () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required: boolean }>; requestBody?: { content: Record<string, unknown> }; security?: unknown; responses: Record<string, unknown> }>>;
    };
    const status = doc.paths["/v1/users/{userId}/reauth-status"]!.get!;
    expect(status.parameters).toEqual([
      expect.objectContaining({ name: "userId", in: "path", required: true }),
      expect.objectContaining({ name: "contractId", in: "query", required: false }),
      expect.objectContaining({ name: "sessionKey", in: "query", required: false }),
    ]);
    expect(status.security).toEqual([{ ApiKey: [] }]);
    expect(Object.keys(doc.paths["/reauth/recover"]!.post!.requestBody!.content)).toEqual(["application/x-www-form-urlencoded"]);
    expect(doc.paths["/v1/reauth/user"]!.post!.requestBody!.content["application/json"]).toEqual({ schema: { $ref: "#/components/schemas/StartUserFlow" } });
    expect(Object.keys(doc.paths["/v1/reauth/account"]!.post!.responses)).toEqual(["201", "400", "401", "404", "409", "413", "415", "502", "503", "504"]);
  });
});

describe("invalid input", () => {
  it("answers 400 invalid_request naming each wrong field and what is wrong, without the values", async () => {
    const { api } = testApp();
    const response = await api("/v1/reauth/user", { body: { userId: "a b", returnTo: "", locale: 7, triggerQuery: "yes", secretish: "s3cr3t-value" } });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain("userId: letters, digits and . _ : @ - only");
    expect(error.message).toContain("returnTo: must be at least 1 characters");
    expect(error.message).toContain("locale: expected string");
    expect(error.message).toContain("triggerQuery: expected boolean");
    expect(error.message).toContain("body: unknown field secretish");
    expect(error.message).not.toContain("s3cr3t-value");
  });
});
