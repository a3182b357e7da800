/**
 * A fresh `npm install` leaves `git status` clean, with npm 10 (Node 22's) as
 * with npm 11 (Node 24's): the lock file holds nothing one of them rewrites.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../harness/stack.ts";

interface LockEntry {
  version?: string;
  libc?: string[];
  hasInstallScript?: boolean;
}

const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { lockfileVersion: number; packages: Record<string, LockEntry> };
const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> };

describe("package-lock.json", () => {
  it("is a version 3 lock", () => {
    expect(lock.lockfileVersion).toBe(3);
  });

  it("records no libc field: npm 11 writes it and npm 10 deletes it, so either one would change the committed lock", () => {
    // Without it, npm 11 also installs the musl builds of sharp, rolldown and lightningcss on glibc Linux (never loaded).
    expect(Object.entries(lock.packages).filter(([, entry]) => entry.libc).map(([path]) => path)).toEqual([]);
  });

  it("has an allowScripts decision in package.json for every package with an install script (no install-scripts warning)", () => {
    const withScripts = [...new Set(Object.entries(lock.packages).filter(([, entry]) => entry.hasInstallScript).map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)))];
    expect(withScripts.filter((name) => manifest.allowScripts?.[name] === undefined)).toEqual([]);
  });
});
