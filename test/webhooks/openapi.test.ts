/**
 * The webhook events in the OpenAPI document (OpenAPI 3.1 `webhooks`),
 * generated from the same zod/mini schemas that shape the events.
 */
import { describe, expect, it } from "vitest";
import { testApp } from "../support/app.ts";

interface WebhookDoc {
  post: {
    parameters: Array<{ name: string; in: string }>;
    requestBody: { content: { "application/json": { schema: { required?: string[]; properties: Record<string, { const?: string; required?: string[]; properties?: Record<string, unknown> }> } } } };
  };
}

describe("GET /openapi.json: webhooks", () => {
  it("documents each event with its payload and the Standard Webhooks headers", async () => {
    const doc = (await (await testApp().request("/openapi.json")).json()) as { openapi: string; webhooks: Record<string, WebhookDoc>; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v1/reauth/user");
    expect(Object.keys(doc.webhooks).sort()).toEqual(["flow.awaiting_confirmation", "flow.expired", "flow.failed", "flow.succeeded", "token.expired", "token.expiring", "token.refresh_failed", "token.rotated"]);
    for (const [type, entry] of Object.entries(doc.webhooks)) {
      expect(entry.post.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(["header:webhook-id", "header:webhook-timestamp", "header:webhook-signature"]);
      const schema = entry.post.requestBody.content["application/json"].schema;
      expect(schema.required).toEqual(["type", "timestamp", "data"]);
      expect(schema.properties.type!.const).toBe(type);
    }
    const succeeded = doc.webhooks["flow.succeeded"]!.post.requestBody.content["application/json"].schema.properties.data!;
    expect(Object.keys(succeeded.properties!)).toContain("token");
    expect(succeeded.required).not.toContain("token");
    const rotated = doc.webhooks["token.rotated"]!.post.requestBody.content["application/json"].schema.properties.data!;
    expect(rotated.required).toContain("token");
    const failed = doc.webhooks["flow.failed"]!.post.requestBody.content["application/json"].schema.properties.data!;
    expect(failed.required).toContain("errorCode");
  });
});
