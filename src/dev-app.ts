/**
 * The development app: the production app plus an interactive API reference
 * at `/docs` (Scalar), rendered from the app's own `/openapi.json`. Only
 * `src/dev-entry.ts` imports it, never `src/index.ts`, so the production
 * bundle does not contain it (test/node/bundle.test.ts checks).
 *
 * The page loads nothing from another origin, so it works offline: Scalar's
 * script is the installed `@scalar/api-reference` package's standalone build,
 * served beside the page at SCALAR_SCRIPT_PATH (`harness/stack.ts` hands it to
 * `wrangler dev` as a static asset); Scalar's web fonts and AI agent, which
 * reach Scalar's servers, are off.
 */
import { Scalar } from "@scalar/hono-api-reference";
import type { Context, MiddlewareHandler } from "hono";
import { createApp } from "./app.ts";
import type { AppEnv } from "./env.ts";
import { newSecret } from "./flows/ids.ts";

/** Where the page loads Scalar's script from: the edge's own origin. */
export const SCALAR_SCRIPT_PATH = "/docs/scalar.js";

/** Builds the development app: the production one plus `/docs`. */
export function createDevApp(): ReturnType<typeof createApp> {
  const app = createApp();
  app.get("/docs", (c: Context<AppEnv>, next) => {
    // The page loads Scalar's script (by nonce) from this origin and reads /openapi.json; nothing else, from nowhere else.
    const nonce = newSecret();
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; ` +
        `connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    );
    // Scalar's handler is typed for a plain Hono context; this app's bindings do not matter to it.
    const render = Scalar({
      url: "/openapi.json",
      pageTitle: "digi.me reauthorization edge · API reference",
      nonce,
      cdn: SCALAR_SCRIPT_PATH,
      withDefaultFonts: false,
      // Scalar's AI agent reaches its own servers (proxy.scalar.com): off, so the page asks nothing of anyone else.
      agent: { disabled: true },
      // Its localhost toolbar (Configure, Share, Deploy) is about Scalar's hosted service.
      showDeveloperTools: "never",
    }) as unknown as MiddlewareHandler<AppEnv>;
    return render(c, next);
  });
  return app;
}
