/**
 * The Worker entry `wrangler dev` runs for the local stack (scripts/stack.ts):
 * the production app plus `/docs`. To serve `/docs` from a deployed Worker
 * too, deploy this entry instead: `npx wrangler deploy src/dev-entry.ts`.
 */
import { createDevApp } from "./dev-app.ts";

// A Worker module may export only handlers, so createDevApp lives in dev-app.ts.
export default createDevApp();
