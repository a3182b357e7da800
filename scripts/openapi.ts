/**
 * `npm run openapi`: writes the OpenAPI document the Worker serves
 * (src/openapi.json) from the route definitions. Run it after changing a
 * route or a schema; `npm test` fails while the committed file is stale.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../harness/stack.ts";

// Loaded by computed specifier: the builder is Worker code, type-checked with the
// Workers types (tsconfig.json), not this Node project's.
const builder = "../src/openapi-document.ts";
const { buildOpenApiDocument } = (await import(builder)) as { buildOpenApiDocument: () => unknown };
const path = join(ROOT, "src", "openapi.json");
writeFileSync(path, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
console.log(`openapi: wrote ${path}`);
