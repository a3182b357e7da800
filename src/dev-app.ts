/**
 * The development app: the production app plus an interactive API reference
 * at `/docs` (Scalar), rendered from the app's own `/openapi.json`. Only
 * `src/dev-entry.ts` imports it, never `src/index.ts`, so the production
 * bundle does not contain it (test/node/bundle.test.ts checks).
 */
import { Scalar } from "@scalar/hono-api-reference";
import type { Context, MiddlewareHandler } from "hono";
import { createApp } from "./app.ts";
import type { AppEnv } from "./env.ts";
import { newSecret } from "./flows/ids.ts";

/** Where Scalar's page loads its script and styles from. */
const SCALAR_CDN = "https://cdn.jsdelivr.net";

/** Builds the development app: the production one plus `/docs`. */
export function createDevApp(): ReturnType<typeof createApp> {
  const app = createApp();
  app.get("/docs", (c: Context<AppEnv>, next) => {
    // The page loads Scalar from its CDN and reads /openapi.json; nothing else.
    const nonce = newSecret();
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'nonce-${nonce}' ${SCALAR_CDN}; style-src 'unsafe-inline' ${SCALAR_CDN}; ` +
        `font-src ${SCALAR_CDN} https://fonts.scalar.com data:; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    );
    // Scalar's handler is typed for a plain Hono context; this app's bindings do not matter to it.
    const render = Scalar({ url: "/openapi.json", pageTitle: "digi.me reauthorization edge · API reference", nonce }) as unknown as MiddlewareHandler<AppEnv>;
    return render(c, next);
  });
  return app;
}

