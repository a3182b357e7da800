// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// ---- The layering of src/ (README "Layout"), checked on every `npm test` ----
// Each rule is a pattern of `no-restricted-imports` (type-only imports included).
// ESLint keeps only the last options a file matches for a rule, so every group
// below repeats the rules of src/ as a whole.

/** The Worker ships without the mock, the tests and the tools. */
const NOT_OUTSIDE_SRC = {
  regex: "(^|/)(mock-server|test|bench|qa|scripts|harness)(/|$)",
  message: "src/ never imports mock-server/, test/, bench/, qa/, scripts/ or harness/: the Worker ships without them.",
};

// ---- The tools around src/: no folder imports a folder that imports it back ----
// harness/ (stack, mock admin client, browsers) is shared by qa/, scripts/, bench/
// and test/, and imports none of them; scripts/ are entry points nothing in qa/
// or harness/ imports.

/** harness/ is the bottom of the tools. */
const HARNESS_ALONE = {
  regex: "(^|/)(test|bench|qa|scripts)(/|$)",
  message: "harness/ imports none of qa/, scripts/, bench/ or test/: they import it (move what both need into harness/).",
};

/** Scripts are entry points. */
const NOT_SCRIPTS = {
  regex: "(^|/)scripts(/|$)",
  message: "qa/ never imports scripts/ (entry points): move what both need into harness/.",
};

/** KV is called in one place. */
const KV_ONLY_IN_STORAGE = {
  regex: "(^|/)storage/kv(\\.ts)?$",
  message: "Only src/storage/ imports storage/kv.ts, the one module that calls KV; build stores with storage/kv-stores.ts.",
};

/** Hono and its packages. */
const HONO = ["hono", "hono/*", "@hono/*"];

/** Flows take services, never a Hono Context: each is unit-testable without the app. */
const NO_HONO_IN_FLOWS = {
  group: HONO,
  message: "src/flows/ never imports Hono: a flow takes what it needs (services, the binding secret, the request's scope), and the route passes it.",
};

/** Reads take services too, never a Hono Context. */
const NO_HONO_IN_READS = {
  group: HONO,
  message: "src/reads/ never imports Hono: a read takes the user's object and the digi.me client, and the route passes them.",
};

/** The digi.me client is the protocol alone. */
const DIGIME_ALONE = [
  { group: HONO, message: "src/digime/ is the digi.me protocol client: it knows no Hono." },
  {
    regex: "^\\.\\./",
    message: "src/digime/ is the digi.me protocol client: it imports only its own files and zod (no storage, routes, flows, users, middleware or app modules).",
  },
];

/**
 * `no-restricted-imports` with these patterns.
 * @param {...object} patterns
 */
function restrictImports(...patterns) {
  return { "no-restricted-imports": ["error", { patterns }] };
}

/** A DurableObjectStorage used as a type, or a Durable Object's `ctx.storage`. */
const DURABLE_STORAGE_MESSAGE = "Only src/storage/ (user-store.ts) and src/users/object.ts use a DurableObjectStorage; go through the user's object.";

export default tseslint.config(
  { ignores: ["node_modules/", ".wrangler/", "dist/", "coverage/", "qa-results/", "worker-configuration.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["error", "warn", "log"] }],
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      // The Worker logs through src/log.ts only, so nothing secret slips out by accident.
      "no-console": "off",
    },
  },
  { files: ["src/**/*.ts"], rules: restrictImports(NOT_OUTSIDE_SRC, KV_ONLY_IN_STORAGE) },
  { files: ["src/storage/**/*.ts"], rules: restrictImports(NOT_OUTSIDE_SRC) },
  { files: ["src/flows/**/*.ts"], rules: restrictImports(NOT_OUTSIDE_SRC, KV_ONLY_IN_STORAGE, NO_HONO_IN_FLOWS) },
  { files: ["src/reads/**/*.ts"], rules: restrictImports(NOT_OUTSIDE_SRC, KV_ONLY_IN_STORAGE, NO_HONO_IN_READS) },
  { files: ["src/digime/**/*.ts"], rules: restrictImports(NOT_OUTSIDE_SRC, KV_ONLY_IN_STORAGE, ...DIGIME_ALONE) },
  { files: ["harness/**/*.ts"], rules: restrictImports(HARNESS_ALONE) },
  { files: ["qa/**/*.ts"], rules: restrictImports(NOT_SCRIPTS) },
  {
    // A global type, not an import: no-restricted-syntax sees where it is named.
    files: ["src/**/*.ts"],
    ignores: ["src/storage/**", "src/users/object.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        { selector: "TSTypeReference[typeName.name='DurableObjectStorage']", message: DURABLE_STORAGE_MESSAGE },
        { selector: "MemberExpression[property.name='storage'][object.property.name='ctx']", message: DURABLE_STORAGE_MESSAGE },
      ],
    },
  },
  {
    files: ["**/*.mjs", "scripts/**", "mock-server/standalone.ts", "qa/**", "harness/**"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
