/**
 * The Worker entry `wrangler dev` runs for the local stack (harness/stack.ts):
 * the production app plus `/docs`, whose script (Scalar's standalone build)
 * the stack serves as a static asset at /docs/scalar.js. To serve `/docs`
 * from a deployed Worker too, deploy this entry with that asset:
 * `npx wrangler deploy src/dev-entry.ts --assets <folder with docs/scalar.js>`,
 * the file copied from node_modules/@scalar/api-reference/dist/browser/standalone.js.
 */
import { createDevApp } from "./dev-app.ts";
import type { Env } from "./env.ts";
import { handleWebhookBatch } from "./webhooks/consumer.ts";

/** The user objects' class (binding USERS in wrangler.toml). */
export { UserObject } from "./users/object.ts";

const app = createDevApp();

// A Worker module may export only handlers, so createDevApp lives in dev-app.ts.
// The queue handler as in src/index.ts: the local stack delivers webhooks too.
export default {
  fetch: app.fetch,
  queue: (batch, env) => handleWebhookBatch(batch, env),
} satisfies ExportedHandler<Env>;
