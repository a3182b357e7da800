/**
 * The layering rules of eslint.config.js catch what they are for: each is
 * tried with one violating import, linted as if it sat in the file named, and
 * must fail; the same import where it is allowed must pass. Without this, a
 * rule whose pattern stopped matching (a renamed folder, a changed syntax)
 * would pass `npm test` silently.
 */
import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: process.cwd() });
});

/** The rule ids and messages ESLint reports for `code` as the file `filePath`. */
async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

const cases: Array<{ rule: string; file: string; code: string; allowedIn?: string }> = [
  { rule: "src/digime/ imports no Hono", file: "src/digime/client.ts", code: 'import type { Context } from "hono";\nexport type C = Context;\n' },
  { rule: "src/digime/ imports nothing outside itself (storage, routes, flows, users, middleware, …)", file: "src/digime/client.ts", code: 'import type { FlowEntry } from "../storage/flows.ts";\nexport type F = FlowEntry;\n', allowedIn: "src/flows/start.ts" },
  { rule: "only src/storage/ imports storage/kv.ts", file: "src/services.ts", code: 'import { Kv } from "./storage/kv.ts";\nexport const K = Kv;\n', allowedIn: "src/storage/kv-stores.ts" },
  { rule: "only src/storage/ imports storage/kv.ts (from a flow)", file: "src/flows/start.ts", code: 'import type { Kv } from "../storage/kv.ts";\nexport type K = Kv;\n' },
  { rule: "a DurableObjectStorage only in src/storage/ and src/users/object.ts", file: "src/users/client.ts", code: "export type S = DurableObjectStorage;\n", allowedIn: "src/users/object.ts" },
  { rule: "src/ never imports mock-server/", file: "src/app.ts", code: 'import type * as Mock from "../mock-server/handlers.ts";\nexport type M = typeof Mock;\n' },
  { rule: "src/ never imports test/", file: "src/routes/users.ts", code: 'import type * as Support from "../../test/support/app.ts";\nexport type S = typeof Support;\n' },
  { rule: "src/ never imports bench/, qa/ or scripts/", file: "src/flows/start.ts", code: 'import type * as Dev from "../../scripts/dev.ts";\nexport type D = typeof Dev;\n' },
  { rule: "src/ never imports harness/", file: "src/flows/start.ts", code: 'import type * as Stack from "../../harness/stack.ts";\nexport type S = typeof Stack;\n' },
  { rule: "harness/ imports none of qa/, scripts/, bench/, test/", file: "harness/stack.ts", code: 'import type * as Runner from "../qa/runner.ts";\nexport type R = typeof Runner;\n', allowedIn: "scripts/dev.ts" },
  { rule: "harness/ never imports scripts/", file: "harness/chromium.ts", code: 'import type * as Dev from "../scripts/dev.ts";\nexport type D = typeof Dev;\n' },
  { rule: "qa/ never imports scripts/", file: "qa/runner.ts", code: 'import type * as Demo from "../scripts/demo-app.ts";\nexport type D = typeof Demo;\n', allowedIn: "test/node/demo.test.ts" },
  { rule: "src/flows/ imports no Hono", file: "src/flows/browser.ts", code: 'import { getCookie } from "hono/cookie";\nexport const G = getCookie;\n', allowedIn: "src/routes/browser.ts" },
];

describe("the layering rules (eslint.config.js)", () => {
  for (const { rule, file, code, allowedIn } of cases) {
    it(`${rule}: fails in ${file}${allowedIn ? `, passes in ${allowedIn}` : ""}`, async () => {
      const found = await problems(file, code);
      expect(found.length, found.join("\n")).toBe(1);
      expect(found[0]).toMatch(/^no-restricted-(imports|syntax): /);
      if (allowedIn) expect(await problems(allowedIn, code)).toEqual([]);
    });
  }
});
