/**
 * `npm run bench -- --profile`: where the Worker's own time goes. Boots the
 * lean runtime with workerd's inspector, records a V8 CPU profile of the
 * isolate while it serves each step warm at concurrency 1, and sums self time
 * by function and by source (the service, hono, zod, workerd's own code).
 */
import type { MockHandle } from "../harness/stack.ts";
import { DEV_API_KEY, freePort } from "../harness/stack.ts";
import { bootLean, type Bundle } from "./lean.ts";
import { client, measure, prepareCallbacks, sendStep, setUp, STEPS, type PreparedCallback, type StepName } from "./lib.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Where the isolate's thread was, per step: shares of its busy samples. */
export interface StepProfile {
  step: StepName;
  requests: number;
  /** Busy (not idle) samples taken while the step ran. */
  samples: number;
  /** Per cent of busy samples, by where the code lives. */
  byGroupPercent: Record<string, number>;
  topFunctions: Array<{ name: string; percent: number }>;
}

const SAMPLE_INTERVAL_US = 100;

function group(url: string, name: string): string {
  if (name === "(idle)") return "idle (waiting on I/O)";
  if (name === "(program)" || name === "(garbage collector)") return `V8/workerd ${name}`;
  if (!url) return "workerd built-ins (fetch, crypto, streams…)";
  return "bundle (service, hono, zod/mini)";
}

/** A Chrome DevTools Protocol session on a workerd inspector target (`send` resolves with the result). */
export async function cdp(url: string) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let next = 0;
  const pending = new Map<number, (value: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  return {
    send: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++next;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Profiles each step; `bundle` is the lean Worker (bench/lean-worker.ts). */
export async function profileSteps(bundle: Bundle, mock: MockHandle, delay: number, requests = 60): Promise<StepProfile[]> {
  const inspectorPort = await freePort();
  // The user objects run in the Worker's isolate (workerd, locally): their work is in the same profile.
  const runtime = await bootLean({ script: { path: bundle.path }, port: await freePort(), mock, inspectorPort, userObjects: bundle.userObjects });
  try {
    // Miniflare runs helper Workers beside ours (core:entry in front, outbound:0 for fetches, kv, cache); ours is core:user.
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ id: string; webSocketDebuggerUrl: string }>;
    const target = targets.find((t) => t.id.startsWith("core:user"));
    if (!target) throw new Error("workerd's inspector lists no core:user worker");
    const session = await cdp(target.webSocketDebuggerUrl);
    const c = client(runtime.url, DEV_API_KEY, mock.origin);
    const users = await setUp(c, 16, delay, `profile-${Date.now()}`);
    for (const step of STEPS) await measure(c, step, 1, 3, delay, users); // warm-up
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: SAMPLE_INTERVAL_US });
    const profiles: StepProfile[] = [];
    for (const step of STEPS.filter((s) => !s.startsWith("baseline"))) {
      // Callbacks' flows are started first, outside the profile: only the step itself is sampled.
      let callbacks: PreparedCallback[] = [];
      if (step === "user callback") callbacks = await prepareCallbacks(c, users, "user", requests);
      if (step === "account callback") callbacks = await prepareCallbacks(c, users, "account", requests);
      await session.send("Profiler.start");
      for (let i = 0; i < requests; i++) await sendStep(c, step, users[i % users.length]!, callbacks[i]);
      const { profile } = (await session.send("Profiler.stop")) as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const byGroup: Record<string, number> = {};
      const byFunction = new Map<string, number>();
      profile.samples.forEach((sample, i) => {
        const node = byId.get(sample)!;
        // Counted by samples, not timeDeltas: workerd's clock does not advance while JS runs,
        // so the deltas lump waiting time onto whichever sample follows it.
        void i;
        const ms = 1;
        const g = group(node.callFrame.url, node.callFrame.functionName);
        byGroup[g] = (byGroup[g] ?? 0) + ms;
        if (!g.startsWith("idle")) {
          const name = `${node.callFrame.functionName || "(anonymous)"}${node.callFrame.url ? `:${node.callFrame.lineNumber + 1}` : " (built-in)"}`;
          byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
        }
      });
      const busy = Object.entries(byGroup).filter(([k]) => !k.startsWith("idle")).reduce((a, [, v]) => a + v, 0);
      const percent = (n: number) => Math.round((n / Math.max(busy, 1)) * 1000) / 10;
      profiles.push({
        step,
        requests,
        samples: busy,
        byGroupPercent: Object.fromEntries(Object.entries(byGroup).filter(([k]) => !k.startsWith("idle")).map(([k, v]) => [k, percent(v)])),
        topFunctions: [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([name, n]) => ({ name, percent: percent(n) })),
      });
      console.log(`profile ${step}: ${JSON.stringify(profiles.at(-1)!.byGroupPercent)}`);
    }
    session.close();
    return profiles;
  } finally {
    await runtime.close();
  }
}
