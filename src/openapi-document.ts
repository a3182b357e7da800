/**
 * Builds the OpenAPI 3.1 document from the route definitions and their
 * schemas. Runs at build time only (`npm run openapi` writes
 * `src/openapi.json`; a test fails when that file is stale): the Worker serves
 * the generated file and never bundles zod's JSON-schema conversion.
 */
import * as z from "zod/mini";
import { browserRouteSpecs } from "./routes/browser.ts";
import { jsonError, type RouteSpec } from "./routes/define.ts";
import { flowRouteSpecs } from "./routes/flows.ts";
import { healthRouteSpecs } from "./routes/health.ts";
import { reauthRouteSpecs } from "./routes/reauth.ts";
import { userRouteSpecs } from "./routes/users.ts";
import { dataRouteSpecs } from "./routes/data.ts";
import { withWebhookEvents } from "./webhooks/openapi.ts";

/** Every documented route, in the document's order. */
export const ROUTE_SPECS: RouteSpec[] = [...healthRouteSpecs, ...reauthRouteSpecs, ...flowRouteSpecs, ...userRouteSpecs, ...dataRouteSpecs, ...browserRouteSpecs];

type JsonSchema = Record<string, unknown>;

/** Whether a request part's object schema has a `contractId` field. */
function namesContract(schema: z.ZodMiniType | undefined): boolean {
  const shape = (schema as { def?: { shape?: Record<string, unknown> } } | undefined)?.def?.shape;
  return shape !== undefined && "contractId" in shape;
}

/**
 * A backend route that takes `contractId` (query or body) also answers 404
 * `contract_not_found` (no such contract here) and 403 `contract_forbidden`
 * (the API key is limited to other contracts): added to its responses here,
 * so no route's list can forget them.
 */
export function withContractErrors(spec: RouteSpec): RouteSpec {
  // Only the backend's routes (API key): a browser's never choose a contract.
  if (!spec.security || (!namesContract(spec.request?.query) && !namesContract(spec.request?.json))) return spec;
  const notFound = "no contract `contractId` names is configured here (contract_not_found, naming the ones that are)";
  const existing = spec.responses[404];
  return {
    ...spec,
    responses: {
      ...spec.responses,
      ...jsonError(403, "The API key is limited to other contracts than `contractId` (contract_forbidden)"),
      ...(existing ? { 404: { ...existing, description: `${existing.description}; or ${notFound}` } } : jsonError(404, notFound.replace(/^no/, "No"))),
    },
  };
}

/** The document served at `/openapi.json`, with the webhook events (OpenAPI 3.1 `webhooks`). */
export function buildOpenApiDocument(specs: RouteSpec[] = ROUTE_SPECS): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};

  /** A schema as JSON Schema; named schemas become components and are referenced. */
  const convert = (schema: z.ZodMiniType, io: "input" | "output"): JsonSchema => {
    const id = (z.globalRegistry.get(schema) as { id?: string } | undefined)?.id;
    const converted = z.toJSONSchema(schema, { unrepresentable: "any", io }) as JsonSchema;
    const defs = (converted.$defs ?? {}) as Record<string, JsonSchema>;
    for (const [name, def] of Object.entries(defs)) components[name] = relink(def);
    delete converted.$defs;
    delete converted.$schema;
    delete converted.$id;
    delete converted.id;
    const body = relink(converted);
    if (!id) return body;
    // zod already moves a named root into $defs and answers a $ref to it.
    if (!(id in defs)) components[id] = body;
    return { $ref: `#/components/schemas/${id}` };
  };

  const parameters = (schema: z.ZodMiniType | undefined, where: "path" | "query" | "header") => {
    if (!schema) return [];
    const object = convert(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
    return Object.entries(object.properties ?? {}).map(([name, property]) => ({
      // Header schemas use the lower-case names Hono reads; the document spells them as people do (If-Match).
      name: where === "header" ? name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase()) : name,
      in: where,
      required: where === "path" || (object.required ?? []).includes(name),
      schema: property,
    }));
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const given of specs) {
    const spec = withContractErrors(given);
    const request = spec.request ?? {};
    const body = request.json ? { "application/json": request.json } : request.form ? { "application/x-www-form-urlencoded": request.form } : undefined;
    const params = [...parameters(request.param, "path"), ...parameters(request.query, "query"), ...parameters(request.header, "header")];
    const operation: Record<string, unknown> = {
      tags: spec.tags,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      ...(spec.security ? { security: spec.security } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(body
        ? { requestBody: { required: true, content: Object.fromEntries(Object.entries(body).map(([media, schema]) => [media, { schema: convert(schema, "input") }])) } }
        : {}),
      responses: Object.fromEntries(
        Object.entries(spec.responses).map(([status, response]) => [
          status,
          {
            description: response.description,
            ...(response.headers
              ? { headers: Object.fromEntries(Object.entries(response.headers).map(([name, header]) => [name, { description: header.description, schema: { type: "string" } }])) }
              : {}),
            ...(response.content
              ? { content: Object.fromEntries(Object.entries(response.content).map(([media, { schema }]) => [media, { schema: convert(schema, "output") }])) }
              : {}),
          },
        ]),
      ),
    };
    (paths[spec.path] ??= {})[spec.method] = operation;
  }

  return withWebhookEvents({
    openapi: "3.1.0",
    info: {
      title: "digi.me reauthorization edge",
      version: "1.0.0",
      description:
        "Runs digi.me's user and account reauthorization flows at the edge. " +
        "On every path, a method it does not have answers 405 `method_not_allowed` with `Allow`; every route but /healthz answers 503 `configuration_error` while the service is misconfigured, without naming the problems (they are logged, and /healthz names them to a caller with an API key). " +
        "Errors are `{ error: { code, message, hint?, retryable?, upstream? } }` (JSON routes) or a small HTML page (browser routes).",
    },
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: { ApiKey: { type: "http", scheme: "bearer", description: "One of API_KEYS" } },
    },
  });
}

/** Points zod's local `#/$defs/X` references at the document's components. */
function relink(schema: JsonSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
}
