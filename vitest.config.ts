import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** The Worker's configuration in tests: the development contract and a mock digi.me at the production URLs. */
const testBindings = {
  DIGIME_APPLICATION_ID: "dev-app",
  DIGIME_CONTRACT_ID: "dev-contract",
  DIGIME_PRIVATE_KEY: readFileSync("mock-server/keys/dev-contract.private.pem", "utf8"),
  DIGIME_API_BASE_URL: "https://api.digi.me/v1.7/",
  DIGIME_ONBOARD_BASE_URL: "https://api.digi.me/apps/saas/",
  DIGIME_TIMEOUT_MS: "2000",
  API_KEYS: "test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,test-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
  // Two keys: "k2" seals, "k1" still opens (rotation). Test-only key material.
  TOKEN_ENCRYPTION_KEYS: "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
  PUBLIC_BASE_URL: "https://edge.test",
  ALLOWED_RETURN_ORIGINS: "https://app.test,https://other-app.test",
  FLOW_TTL_SECONDS: "600",
  // Test-only: the HMAC key of the signed return to returnTo.
  RETURN_SIGNING_SECRET: "test-return-signing-secret-000000000000",
  LOG_LEVEL: "error",
  // The tests run the committed development contract key; production refuses it (src/config/production.ts productionProblems).
  DEVELOPMENT_MODE: "true",
  // The property tests' seed: FC_SEED=<n> npm test reproduces a run; otherwise a new one each run.
  FC_SEED: process.env.FC_SEED ?? String(Math.floor(Math.random() * 2 ** 31)),
};

/**
 * Two projects: `workers` runs inside workerd (the Worker, the digi.me client
 * and the mock's handlers, with MSW intercepting outbound fetch); `node` runs
 * what only exists in Node (the standalone mock server, scripts).
 */
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { compatibilityFlags: ["nodejs_compat"], bindings: testBindings },
          }),
        ],
        test: { name: "workers", include: ["test/**/*.test.ts"], exclude: ["test/node/**"] },
      },
      {
        test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node" },
      },
    ],
  },
});
