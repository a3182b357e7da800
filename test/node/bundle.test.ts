import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WRANGLER } from "../../harness/stack.ts";

/** The production bundle's size budget (docs/speed.md): script start-up grows with it. */
const MAX_BUNDLE_KIB = 350;

let outdir: string;
let bundle: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "edge-bundle-"));
  execFileSync(WRANGLER[0], [WRANGLER[1], "deploy", "--dry-run", "--outdir", outdir], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: "pipe",
  });
  bundle = readFileSync(join(outdir, "index.js"), "utf8");
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("the production bundle (wrangler deploy --dry-run)", () => {
  it("contains the service", () => {
    expect(bundle).toContain("/reauth/user/callback");
    expect(bundle).toContain("oauth/token/reference");
  });

  it("contains nothing of the mock, the demo, msw or the development keys", () => {
    for (const marker of ["__mock", "MockRouteNotFound", "Mock digi.me", "mockServiceWorker", "demo-user", "dev-api-key", "BEGIN RSA PRIVATE KEY-----\nMII"]) {
      expect(bundle, marker).not.toContain(marker);
    }
    expect(bundle).not.toMatch(/from ["']msw/);
  });

  it("leaves out the development API reference (/docs, Scalar)", () => {
    for (const marker of ["@scalar", "cdn.jsdelivr.net", "renderApiReference", "API reference", '"/docs"']) {
      expect(bundle, marker).not.toContain(marker);
    }
  });

  it(`stays within ${MAX_BUNDLE_KIB} KiB raw: zod/mini, no full zod, no OpenAPI generator`, () => {
    const kib = Buffer.byteLength(bundle) / 1024;
    expect(kib).toBeLessThanOrEqual(MAX_BUNDLE_KIB);
    // Full zod brings its English locale; zod/mini does not.
    expect(bundle).not.toContain("Too small: expected");
    // The document is generated at build time: the Worker ships it as JSON, not the converter.
    expect(bundle).not.toContain("toJSONSchema");
    expect(bundle).not.toContain("zod-openapi");
    expect(bundle).toMatch(/openapi"?: ?"3\.1\.0"/);
  });
});

describe("a two-contract configuration (docs/configuration.md)", () => {
  it("passes wrangler deploy --dry-run with DIGIME_CONTRACTS beside the default contract", () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-two-contracts-"));
    try {
      const two = readFileSync("wrangler.toml", "utf8")
        .replace(/^main = .*$/m, `main = "${join(process.cwd(), "src", "index.ts")}"`)
        .replace(/^DIGIME_CONTRACT_ID = .*$/m, `DIGIME_CONTRACT_ID = "health"\nDIGIME_CONTRACTS = '{"social":"DIGIME_PRIVATE_KEY_SOCIAL"}'`);
      expect(two).toContain("DIGIME_CONTRACTS");
      writeFileSync(join(dir, "wrangler.toml"), two);
      const output = execFileSync(WRANGLER[0], [WRANGLER[1], "deploy", "--dry-run", "--config", join(dir, "wrangler.toml"), "--outdir", join(dir, "out")], {
        env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
        stdio: "pipe",
      }).toString();
      expect(output).toContain("DIGIME_CONTRACTS");
      expect(readFileSync(join(dir, "out", "index.js"), "utf8")).toContain("DIGIME_CONTRACTS");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

