/**
 * What the routes work with: the digi.me client, the stores and the clock,
 * built from the validated configuration once per isolate.
 */
import type { Config } from "./config.ts";
import { cacheApiKeySetStore, DigimeClient } from "./digime/index.ts";
import { Sealer } from "./storage/crypto.ts";
import { FlowStore } from "./storage/flows.ts";
import { Kv } from "./storage/kv.ts";
import { TokenStore } from "./storage/tokens.ts";
import type { WebhookMessage } from "./webhooks/messages.ts";
import { WebhookOutbox } from "./webhooks/outbox.ts";

/** The per-isolate services. */
export interface Services {
  config: Config;
  digime: DigimeClient;
  flows: FlowStore;
  tokens: TokenStore;
  /** Webhook events (a no-op when WEBHOOK_URL is not set). */
  webhooks: WebhookOutbox;
  now: () => number;
}

/** Options for building services (tests inject a clock or a fetch). */
export interface ServicesOptions {
  now?: () => number;
  fetch?: typeof fetch;
  /** The Queues producer webhook events go to (the WEBHOOK_QUEUE binding). */
  webhookQueue?: Queue<WebhookMessage>;
  /**
   * Where digi.me's key set is shared across isolates: `caches.default` (one per
   * Cloudflare location) by default; tests pass their own cache, or `null` for none.
   */
  keySetCache?: Cache | null;
}

const cache = new WeakMap<Config, WeakMap<KVNamespace, Services>>();

/**
 * Builds (or returns the isolate's) services for a configuration and KV
 * namespace. The digi.me client lives as long as the isolate, so its key-set
 * cache and imported contract key are reused by every request.
 */
export function getServices(config: Config, namespace: KVNamespace, options: ServicesOptions = {}): Services {
  let byNamespace = cache.get(config);
  if (!byNamespace) cache.set(config, (byNamespace = new WeakMap()));
  const existing = byNamespace.get(namespace);
  if (existing) return existing;
  const now = options.now ?? Date.now;
  const keySetCache = options.keySetCache === undefined ? (typeof caches === "undefined" ? null : caches.default) : options.keySetCache;
  const kv = new Kv(namespace);
  const sealer = new Sealer(config.encryptionKeys);
  const services: Services = {
    config,
    now,
    digime: new DigimeClient({
      applicationId: config.applicationId,
      contractId: config.contractId,
      privateKey: config.privateKey,
      apiBaseUrl: config.apiBaseUrl,
      onboardBaseUrl: config.onboardBaseUrl,
      timeoutMs: config.timeoutMs,
      now,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(keySetCache ? { keySetStore: cacheApiKeySetStore(keySetCache) } : {}),
    }),
    flows: new FlowStore({ kv, sealer, now }),
    tokens: new TokenStore({ kv, sealer, now }),
    webhooks: new WebhookOutbox({ settings: config.webhooks, queue: options.webhookQueue, sealer, now }),
  };
  byNamespace.set(namespace, services);
  return services;
}
