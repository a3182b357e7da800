// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
  {
    files: ["**/*.mjs", "scripts/**", "mock-server/standalone.ts", "qa/**"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
