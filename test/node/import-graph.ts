/**
 * The import graph of a source folder, and its circles. Type-only imports
 * count: a circle of `import type` still ties the files' meanings together
 * (one cannot be read, moved or tested without the other), even though the
 * bundle erases it.
 *
 * `node test/node/import-graph.ts [folder]` prints the circles of `folder`
 * (default `src`) and exits 1 if there are any; test/node/import-circles.test.ts
 * runs it over `src/` in `npm test`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** File → the files of the same folder tree it imports (paths relative to the folder's parent). */
export type ImportGraph = Map<string, string[]>;

/** Source files the graph reads. */
const SOURCE = /\.(ts|mts|tsx)$/;

function sourceFiles(folder: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (SOURCE.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

/** The file a relative specifier names: as written, or with `.ts` or `/index.ts` added. */
function resolveSpecifier(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/**
 * Every relative import, re-export and dynamic import of every source file
 * under `folder`, type-only ones included (TypeScript's own pre-processor
 * reads them, so no syntax is missed). Imports of packages and of files
 * outside `folder` are left out: they cannot close a circle inside it.
 */
export function importGraph(folder: string, cwd = process.cwd()): ImportGraph {
  const root = resolve(cwd, folder);
  const graph: ImportGraph = new Map();
  for (const file of sourceFiles(root)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = new Set<string>();
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = resolveSpecifier(file, fileName);
      if (target && target.startsWith(root + "/") && SOURCE.test(target)) targets.add(relative(cwd, target));
    }
    graph.set(relative(cwd, file), [...targets].sort());
  }
  return graph;
}

/** A set of files that import each other round: every file in it reaches every other. */
export interface Circle {
  /** The files, sorted. */
  files: string[];
  /** One cycle through them (the shortest from the first file), so a report names an import to cut. */
  cycle: string[];
}

/** The graph's circles: each strongly connected component of more than one file, or a file importing itself. */
export function findCircles(graph: ImportGraph): Circle[] {
  // Tarjan's algorithm, iterative so a deep graph cannot overflow the stack.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; edge: number }> = [{ node: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const frame = work.at(-1)!;
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++]!;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfImport = (graph.get(frame.node) ?? []).includes(frame.node);
        if (component.length > 1 || selfImport) components.push(component.sort());
      }
    }
  }
  return components.map((files) => ({ files, cycle: shortestCycle(graph, files) })).sort((a, b) => a.files[0]!.localeCompare(b.files[0]!));
}

/** The shortest cycle from the component's first file back to itself, within the component. */
function shortestCycle(graph: ImportGraph, component: string[]): string[] {
  const members = new Set(component);
  const start = component[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    for (const to of graph.get(node) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/** One line per circle: its size and a cycle through it, `a.ts → b.ts → a.ts`. */
export function describeCircles(circles: Circle[]): string[] {
  return circles.map(({ files, cycle }) => `${files.length} file${files.length === 1 ? "" : "s"}: ${cycle.join(" → ")}${files.length > cycle.length - 1 ? ` (also ${files.filter((f) => !cycle.includes(f)).join(", ")})` : ""}`);
}

// `node test/node/import-graph.ts [folder]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const circles = findCircles(importGraph(process.argv[2] ?? "src"));
  for (const line of describeCircles(circles)) console.log(line);
  console.log(circles.length ? `${circles.length} import circle(s)` : "no import circles");
  process.exitCode = circles.length ? 1 : 0;
}
