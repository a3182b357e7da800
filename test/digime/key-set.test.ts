import { describe, expect, it } from "vitest";
import { cacheApiKeySetStore, KeySetCache, MAX_KEY_SET_TTL_MS, type SharedKeySetStore, type StoredKeySet } from "../../src/digime/key-set.ts";
import { devPublicKey } from "../support/mock.ts";

const URL_ = "https://api.digi.me/v1.7/jwks/oauth";
const set = (...kids: string[]) => ({ keys: kids.map((kid) => ({ kid, pem: devPublicKey })) });

/** A location's shared store in memory, counting what it is asked. */
function memoryStore(initial?: StoredKeySet) {
  const entries = new Map<string, StoredKeySet>(initial ? [[URL_, initial]] : []);
  const store: SharedKeySetStore & { puts: number } = {
    puts: 0,
    get: async (url) => entries.get(url),
    put: async (url, value) => {
      store.puts++;
      entries.set(url, value);
    },
  };
  return store;
}

function cache(options: { shared?: SharedKeySetStore; body?: unknown; now?: () => number }) {
  const loads: string[] = [];
  const keySets = new KeySetCache({
    load: async (url) => {
      loads.push(url);
      return options.body ?? set("k1");
    },
    now: options.now ?? (() => 1_000_000),
    shared: options.shared,
  });
  return { keySets, loads };
}

describe("key set shared across isolates (a location's Cache API)", () => {
  it("uses a location's fresh copy without asking digi.me", async () => {
    const { keySets, loads } = cache({ shared: memoryStore({ body: set("k1"), fetchedAt: 1_000_000 - 60_000 }) });
    await expect(keySets.getKey(URL_, "k1")).resolves.toBeDefined();
    expect(loads).toEqual([]);
  });

  it("ignores a copy fetched from digi.me 15 minutes ago or more, and shares the new one", async () => {
    const shared = memoryStore({ body: set("k1"), fetchedAt: 1_000_000 - MAX_KEY_SET_TTL_MS });
    const { keySets, loads } = cache({ shared });
    await keySets.getKey(URL_, "k1");
    expect(loads).toEqual([URL_]);
    expect(shared.puts).toBe(1);
    expect(await shared.get(URL_)).toEqual({ body: set("k1"), fetchedAt: 1_000_000 });
  });

  it("keeps the original fetch time, so an isolate's copy from the location expires with it", async () => {
    let now = 1_000_000;
    const { keySets, loads } = cache({ shared: memoryStore({ body: set("k1"), fetchedAt: now - 14 * 60_000 }), now: () => now });
    await keySets.getKey(URL_, "k1");
    expect(loads).toEqual([]);
    now += 60_000; // 15 minutes after digi.me was asked, though 1 minute after this isolate read it
    await keySets.getKey(URL_, "k1");
    expect(loads).toEqual([URL_]);
  });

  it("asks digi.me when a location's copy lacks the token's kid (a rotation since)", async () => {
    const { keySets, loads } = cache({ shared: memoryStore({ body: set("k0"), fetchedAt: 1_000_000 }), body: set("k0", "k1") });
    await expect(keySets.getKey(URL_, "k1")).resolves.toBeDefined();
    expect(loads).toEqual([URL_]);
  });

  it("does not refetch for an unknown kid in a set fetched for this verification (or by its prefetch, still on its way)", async () => {
    const { keySets, loads } = cache({});
    const mark = keySets.prefetch(URL_);
    await expect(keySets.getKey(URL_, "nope", mark)).rejects.toThrow(/unknown key id/);
    expect(loads).toEqual([URL_]);
    await expect(keySets.getKey(URL_, "nope")).rejects.toThrow(/unknown key id/);
    expect(loads).toEqual([URL_, URL_]); // a set held from before may predate a rotation: one refetch
  });

  it("does not refetch for an unknown kid in a set its own prefetch brought before the token arrived", async () => {
    const { keySets, loads } = cache({});
    const mark = keySets.prefetch(URL_);
    await keySets.getKey(URL_, "k1", mark); // the prefetch has landed; the call's token is verified after
    await expect(keySets.getKey(URL_, "nope", mark)).rejects.toThrow(/unknown key id/);
    expect(loads).toEqual([URL_]);
  });

  it("refetches for an unknown kid when the call's prefetch joined a load another request began earlier", async () => {
    const answers: Array<(body: unknown) => void> = [];
    const loads: number[] = [];
    const keySets = new KeySetCache({
      load: (url) => new Promise((resolve) => (loads.push(loads.length + 1), answers.push(resolve), void url)),
      now: () => 1_000_000,
    });
    keySets.prefetch(URL_); // another request's prefetch: digi.me answers the set from before the rotation
    const mark = keySets.prefetch(URL_); // this call's prefetch finds it on its way and joins it
    const key = keySets.getKey(URL_, "rotated", mark);
    answers[0]!(set("k1"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(loads).toEqual([1, 2]); // the rotated set is asked for once more, after the earlier load
    answers[1]!(set("k1", "rotated"));
    await expect(key).resolves.toBeDefined();
  });

  it("refetches for an unknown kid after another verification's refetch brought a set no one has used since", async () => {
    const { keySets, loads } = cache({});
    await keySets.getKey(URL_, "k1", keySets.prefetch(URL_));
    await expect(keySets.getKey(URL_, "gone", keySets.prefetch(URL_))).rejects.toThrow(/unknown key id/); // its one refetch
    await expect(keySets.getKey(URL_, "rotated", keySets.prefetch(URL_))).rejects.toThrow(/unknown key id/);
    expect(loads).toEqual([URL_, URL_, URL_]); // the QA key-rotation scenario's sequence: this call asks digi.me too
  });

  it("waits out another request's refetch begun before this call, then asks digi.me itself", async () => {
    const answers: Array<(body: unknown) => void> = [];
    const keySets = new KeySetCache({ load: () => new Promise((resolve) => answers.push(resolve)), now: () => 1_000_000 });
    const warm = keySets.getKey(URL_, "k1");
    answers[0]!(set("k1"));
    await warm;
    const other = keySets.getKey(URL_, "k0"); // another request's refetch, on its way before the rotation
    await new Promise((resolve) => setTimeout(resolve, 0));
    const mark = keySets.prefetch(URL_); // the set is fresh: nothing to prefetch
    const key = keySets.getKey(URL_, "rotated", mark);
    answers[1]!(set("k1"));
    await expect(other).rejects.toThrow(/unknown key id/);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(answers).toHaveLength(3);
    answers[2]!(set("k1", "rotated"));
    await expect(key).resolves.toBeDefined();
  });

  it("refetches for an unknown kid in a set another request loaded, even one no verification has used yet", async () => {
    const shared = memoryStore();
    const stored = new Promise<void>((resolve) => {
      const put = shared.put;
      shared.put = async (...args) => (await put(...args), resolve());
    });
    const { keySets, loads } = cache({ shared });
    keySets.prefetch(URL_); // another request's prefetch, complete (and shared) before this verification starts
    await stored;
    await new Promise((resolve) => setTimeout(resolve, 0)); // lets the finished load leave the in-flight map
    await expect(keySets.getKey(URL_, "rotated")).rejects.toThrow(/unknown key id/);
    expect(loads).toEqual([URL_, URL_]);
  });

  it("verifies as usual when the location's store fails", async () => {
    const broken: SharedKeySetStore = { get: () => Promise.reject(new Error("down")), put: () => Promise.reject(new Error("down")) };
    const { keySets, loads } = cache({ shared: broken });
    await expect(keySets.getKey(URL_, "k1")).resolves.toBeDefined();
    expect(loads).toEqual([URL_]);
  });

  it("prefetch shares one load with the verification that follows", async () => {
    const { keySets, loads } = cache({});
    keySets.prefetch(URL_);
    keySets.prefetch(URL_);
    await keySets.getKey(URL_, "k1");
    expect(loads).toEqual([URL_]);
  });
});

describe("cacheApiKeySetStore", () => {
  it("stores the set with its fetch time and reads it back; other URLs are separate", async () => {
    const store = cacheApiKeySetStore(await caches.open(`key-set-${crypto.randomUUID()}`));
    await store.put(URL_, { body: set("k1"), fetchedAt: 123 }, MAX_KEY_SET_TTL_MS);
    expect(await store.get(URL_)).toEqual({ body: set("k1"), fetchedAt: 123 });
    expect(await store.get("https://api.digi.me/v1.8/jwks/oauth")).toBeUndefined();
  });
});
