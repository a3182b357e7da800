/**
 * No import circles in src/, type-only imports included: each layer can be
 * read, moved and tested without the ones above it (README "Layout").
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeCircles, findCircles, importGraph } from "./import-graph.ts";

describe("src/ import graph", () => {
  it("has no circles, type-only imports included", () => {
    const graph = importGraph("src");
    expect(graph.size).toBeGreaterThan(50); // the checker read the tree
    expect(describeCircles(findCircles(graph))).toEqual([]);
  });

  it("the checker sees a circle of type-only imports and names a path through it", () => {
    const graph = new Map([
      ["src/a.ts", ["src/b.ts"]],
      ["src/b.ts", ["src/c.ts"]],
      ["src/c.ts", ["src/a.ts", "src/d.ts"]],
      ["src/d.ts", []],
      ["src/e.ts", ["src/e.ts"]],
    ]);
    expect(describeCircles(findCircles(graph))).toEqual(["3 files: src/a.ts → src/b.ts → src/c.ts → src/a.ts", "1 file: src/e.ts → src/e.ts"]);
  });

  it("reads type-only imports and re-exports from the files themselves", () => {
    const root = mkdtempSync(join(tmpdir(), "import-graph-"));
    try {
      mkdirSync(join(root, "src", "inner"), { recursive: true });
      writeFileSync(join(root, "src", "env.ts"), 'import type { Config } from "./inner/config.ts";\nexport interface Env { config: Config }\n');
      writeFileSync(join(root, "src", "inner", "config.ts"), 'export type * from "../env.ts";\nexport interface Config { a: string }\n');
      writeFileSync(join(root, "src", "leaf.ts"), 'import { z } from "zod";\nimport type { Env } from "./env.ts";\nexport type Leaf = Env;\n');
      expect(describeCircles(findCircles(importGraph("src", root)))).toEqual(["2 files: src/env.ts → src/inner/config.ts → src/env.ts"]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
