import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/openapi-document.ts";
import { APP, enrollUser, testApp } from "../support/app.ts";
import { scenarioSchema } from "../../mock-server/index.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();

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
    expect(Object.keys(doc.paths["/v1/reauth/account"]!.post!.responses)).toEqual(["201", "400", "401", "403", "404", "409", "413", "415", "502", "503", "504"]);
  });

  it("documents contract_forbidden and contract_not_found on every backend route that takes contractId, and none on the browser's", () => {
    type Operation = { parameters?: Array<{ name: string }>; requestBody?: unknown; security?: unknown; responses: Record<string, { description: string }> };
    const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    const bodyNamesContract = (operation: Operation) => {
      const ref = JSON.stringify(operation.requestBody ?? "").match(/#\/components\/schemas\/(\w+)/)?.[1];
      return ref !== undefined && "contractId" in (doc.components.schemas[ref]?.properties ?? {});
    };
    const checked: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!operation.security || !(operation.parameters?.some((p) => p.name === "contractId") || bodyNamesContract(operation))) continue;
        checked.push(`${method} ${path}`);
        expect(operation.responses["403"]?.description, `${method} ${path}`).toContain("contract_forbidden");
        expect(operation.responses["404"]?.description, `${method} ${path}`).toContain("contract_not_found");
      }
    }
    expect(checked).toEqual(expect.arrayContaining(["post /v1/reauth/user", "post /v1/authorize", "get /v1/users/{userId}/accounts", "get /v1/users/{userId}/sessions/{sessionKey}/files/{fileName}"]));
    expect(doc.paths["/reauth/user/callback"]!.get!.responses["403"]?.description ?? "").not.toContain("contract_forbidden");
  });

  it("documents a file read's content, its headers, and Retry-After on the reads' upstream failures", () => {
    type Response = { headers?: Record<string, unknown>; content?: Record<string, unknown> };
    const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, Response> }>> };
    const read = doc.paths["/v1/users/{userId}/sessions/{sessionKey}/files/{fileName}"]!.get!.responses;
    expect(Object.keys(read["200"]!.headers ?? {})).toEqual(["X-Digime-Metadata", "X-Digime-Compression", "Content-Disposition"]);
    expect(Object.keys(read["200"]!.content ?? {})).toEqual(["application/octet-stream"]);
    for (const status of ["502", "503", "504"]) expect(Object.keys(read[status]!.headers ?? {}), status).toEqual(["Retry-After"]);
  });
});

/** A token read whose refresh digi.me refuses: 409 refresh_token_expired. */
async function refusedRefresh(api: ReturnType<typeof testApp>["api"]): Promise<Response> {
  const { user } = testMock.mock.createUser({ accounts: 1 });
  await api(`/v1/users/${user.id}/token`, { method: "PUT", body: testMock.mock.issueToken(user, { accessTokenMs: 60_000 }) });
  testMock.mock.setUserScenario(user, scenarioSchema.parse({ name: "refresh-expired" }));
  return api(`/v1/users/${user.id}/token?minValidity=900`);
}

describe("the Error schema", () => {
  it("declares every field an error answer carries: digi.me's upstream, fileName, currentVersion, status, a refused refresh's reason and next", async () => {
    const doc = buildOpenApiDocument() as { components: { schemas: { Error: { properties: { error: { properties: Record<string, unknown>; additionalProperties?: boolean } } } } } };
    const declared = doc.components.schemas.Error.properties.error;
    const { api } = testApp();
    const { user, token } = await enrollUser(testMock.mock, api, { accounts: 1 });
    const { name } = testMock.mock.putForeignFile(user, { accountId: user.accounts[0]!.id });
    const { flowId } = (await (await api("/v1/reauth/user", { body: { userId: user.id, returnTo: `${APP}/back` } })).json()) as { flowId: string };
    const answers = [
      await api(`/v1/users/${user.id}/sessions/${user.sessionKey}/files/${name}`), // 502 file_undecryptable
      await api(`/v1/users/${user.id}/sessions/not-a-session/files`), // 404 session_not_found, with digi.me's upstream
      await api(`/v1/users/${user.id}/token`, { method: "PUT", body: token, headers: { "If-Match": '"999"' } }), // 412 token_changed
      await api(`/v1/flows/${flowId}/confirm`, { method: "POST" }), // 409 flow_not_awaiting_confirmation
      await refusedRefresh(api), // 409 refresh_token_expired
    ];
    const fields = new Map<string, string>();
    for (const answer of answers) {
      const { error } = (await answer.json()) as { error: Record<string, unknown> };
      for (const field of Object.keys(error)) fields.set(field, String(error.code));
    }
    expect([...fields.keys()]).toEqual(expect.arrayContaining(["upstream", "fileName", "currentVersion", "status", "reason", "next"]));
    const undeclared = [...fields].filter(([field]) => !(field in declared.properties)).map(([field, code]) => `${field} (${code})`);
    expect(undeclared).toEqual([]);
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
