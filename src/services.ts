/**
 * What the routes work with: the digi.me client, the stores, the user
 * objects and the clock, built from the validated configuration once per
 * isolate (the user objects build the same for themselves).
 */
import type { Config } from "./config.ts";
import { cacheApiKeySetStore, DigimeClient } from "./digime/index.ts";
import { AppError } from "./errors.ts";
import { Sealer } from "./storage/crypto.ts";
import { kvStores, type KvStores } from "./storage/kv-stores.ts";
import { UserObjects } from "./users/client.ts";
import type { WebhookMessage } from "./webhooks/messages.ts";
import { WebhookOutbox } from "./webhooks/outbox.ts";

/** The bindings services are built from. */
export interface ServiceBindings {
  REAUTH_KV: KVNamespace;
  USERS?: DurableObjectNamespace;
}

/** One contract's services: its digi.me client (signing with its key) and its user objects. */
export interface ContractServices {
  id: string;
  /** The secret its key came from (`DIGIME_PRIVATE_KEY`, or the one `DIGIME_CONTRACTS` names). */
  keyBinding: string;
  digime: DigimeClient;
  /** The user objects of this contract (a user has one per contract). */
  users: UserObjects;
}

/** The per-isolate services; the KV-backed stores (flow start entries, legacy token records) come from storage/kv-stores.ts. */
export interface Services extends KvStores {
  config: Config;
  /** The default contract's digi.me client. */
  digime: DigimeClient;
  sealer: Sealer;
  /** The default contract's user objects: tokens and flow states. */
  users: UserObjects;
  /** A contract's services: `undefined` is the default; an id not configured is a 404 `contract_not_found`. */
  forContract(contractId: string | undefined): ContractServices;
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

function missingBinding(): DurableObjectNamespace {
  const fail = () => {
    throw new Error("the USERS Durable Object binding is missing (wrangler.toml [[durable_objects.bindings]])");
  };
  return { idFromName: fail, get: fail } as unknown as DurableObjectNamespace;
}

/**
 * Builds (or returns the isolate's) services for a configuration and its
 * bindings. The digi.me client lives as long as the isolate, so its key-set
 * cache and imported contract key are reused by every request.
 */
export function getServices(config: Config, bindings: ServiceBindings, options: ServicesOptions = {}): Services {
  const namespace = bindings.REAUTH_KV;
  let byNamespace = cache.get(config);
  if (!byNamespace) cache.set(config, (byNamespace = new WeakMap()));
  const existing = byNamespace.get(namespace);
  if (existing) return existing;
  const now = options.now ?? Date.now;
  const keySetCache = options.keySetCache === undefined ? (typeof caches === "undefined" ? null : caches.default) : options.keySetCache;
  const sealer = new Sealer(config.encryptionKeys);
  const webhooks = new WebhookOutbox({ settings: config.webhooks, queue: options.webhookQueue, sealer, now });
  const contracts = new Map<string, ContractServices>();
  for (const contract of config.contracts) {
    contracts.set(contract.id, {
      id: contract.id,
      keyBinding: contract.keyBinding,
      digime: new DigimeClient({
        applicationId: config.applicationId,
        contractId: contract.id,
        privateKey: contract.privateKey,
        apiBaseUrl: config.apiBaseUrl,
        onboardBaseUrl: config.onboardBaseUrl,
        timeoutMs: config.timeoutMs,
        now,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(keySetCache ? { keySetStore: cacheApiKeySetStore(keySetCache) } : {}),
      }),
      users: new UserObjects({
        namespace: bindings.USERS ?? missingBinding(),
        contractId: contract.id,
        ...(config.userObjectLocationHint ? { locationHint: config.userObjectLocationHint } : {}),
        webhooks,
        now,
      }),
    });
  }
  const forContract = (contractId: string | undefined): ContractServices => {
    const found = contracts.get(contractId ?? config.contractId);
    if (!found) {
      throw new AppError("contract_not_found", `no contract ${JSON.stringify(contractId)} is configured here`, {
        hint: `use one of: ${[...contracts.keys()].join(", ")} (or leave contractId out for ${config.contractId})`,
      });
    }
    return found;
  };
  const fallback = forContract(undefined);
  const services: Services = {
    config,
    now,
    sealer,
    digime: fallback.digime,
    ...kvStores(namespace, sealer),
    users: fallback.users,
    forContract,
    webhooks,
  };
  byNamespace.set(namespace, services);
  return services;
}
