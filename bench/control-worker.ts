/**
 * The soak's control: a Worker with none of the service's logic but the same
 * kinds of I/O per request (one KV read, one KV write with a TTL, one fetch),
 * run under the same `wrangler dev` and load, so memory that the local
 * development runtime accumulates per request and per subrequest can be told
 * from memory the service itself keeps.
 */
interface Env {
  KV: KVNamespace;
  FETCH_URL: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const key = `control:${new URL(request.url).searchParams.get("n") ?? "0"}`;
    await env.KV.get(key);
    await env.KV.put(key, "x".repeat(800), { expirationTtl: 60 });
    await (await fetch(env.FETCH_URL)).arrayBuffer();
    return new Response("ok");
  },
};
