/**
 * The documentation's local links: every link in README.md and docs/ to a file
 * of the repository names a file that exists (and, for a Markdown page, a
 * heading that exists when it names one), and nothing points outside the
 * repository at the team's shared folder: the project carries its own notes
 * (docs/digime-protocol.md).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

/** The shared folder beside the repository, spelled so that this file does not name it. */
const SHARED = ["..", "shared", ""].join("/");

/** README.md and every Markdown page under docs/. */
function documentationPages(): string[] {
  const pages = [join(ROOT, "README.md")];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".md")) pages.push(path);
    }
  };
  walk(join(ROOT, "docs"));
  return pages;
}

/** The text a reader sees as prose: fenced code blocks and inline code removed. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** Link targets: inline links and images `[text](target "title")` and reference definitions `[label]: target`. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const targets: string[] = [];
  for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1]!);
  for (const match of text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) targets.push(match[1]!);
  return targets;
}

/** GitHub's anchors for a page's headings (lower case, punctuation dropped, spaces to hyphens, repeats numbered). */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  for (const match of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = match[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** What is wrong with one link of `page`, or undefined when it resolves. */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: and the like
  const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
  const path = decodeURIComponent(pathPart.split("?")[0]!);
  const file = path === "" ? page : resolve(dirname(page), path);
  if (!file.startsWith(ROOT + "/") && file !== ROOT) return "points outside the repository";
  if (!existsSync(file)) return "no such file";
  if (anchor && file.endsWith(".md") && !headingAnchors(readFileSync(file, "utf8")).has(decodeURIComponent(anchor))) {
    return `no heading #${anchor} in ${relative(ROOT, file)}`;
  }
  return undefined;
}

/** Every text file of the repository, outside dependencies, build output and local state. */
function repositoryTextFiles(): string[] {
  const skip = new Set(["node_modules", ".git", ".wrangler", "dist", "coverage", "qa-results"]);
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (skip.has(name)) continue;
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (/\.(ts|js|mjs|md|json|toml|ya?ml|html)$/.test(name) && !name.endsWith("package-lock.json")) files.push(path);
    }
  };
  walk(ROOT);
  return files;
}

describe("the documentation (README.md and docs/)", () => {
  const pages = documentationPages();

  it("finds the pages", () => {
    expect(pages.map((p) => relative(ROOT, p))).toEqual(expect.arrayContaining(["README.md", "docs/digime-protocol.md"]));
  });

  it("links only to files (and headings) that exist in the repository", () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const target of linkTargets(readFileSync(page, "utf8"))) {
        const problem = brokenLink(page, target);
        if (problem) broken.push(`${relative(ROOT, page)}: (${target}) ${problem}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("names no file of the shared folder outside the repository", () => {
    const offenders = pages.filter((page) => readFileSync(page, "utf8").includes(SHARED)).map((p) => relative(ROOT, p));
    expect(offenders).toEqual([]);
  });

  it("nor does any other file of the repository", () => {
    const self = resolve(import.meta.filename);
    const offenders = repositoryTextFiles()
      .filter((file) => file !== self && readFileSync(file, "utf8").includes(SHARED))
      .map((p) => relative(ROOT, p));
    expect(offenders).toEqual([]);
  });

  it("the checker itself catches a broken link, a missing heading and the shared folder", () => {
    const page = join(ROOT, "README.md");
    expect(brokenLink(page, "docs/no-such-page.md")).toBe("no such file");
    expect(brokenLink(page, "docs/digime-protocol.md#no-such-heading")).toMatch(/no heading/);
    expect(brokenLink(page, SHARED + "digime-wire.md")).toBe("points outside the repository");
    expect(brokenLink(page, "https://example.com/x")).toBeUndefined();
    expect(linkTargets("see [a](a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d]: d.md")).toEqual(["a.md", "d.md"]);
    expect(headingAnchors("# The `allowScripts` warning of `npm install`\n## A\n## A")).toEqual(
      new Set(["the-allowscripts-warning-of-npm-install", "a", "a-1"]),
    );
  });
});
