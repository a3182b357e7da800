/**
 * The Worker's bindings and Hono's environment type, written once. Nothing
 * here knows the configuration or the services: every layer may import it.
 */
import type { WebhookMessage } from "./webhooks/messages.ts";

/** Bindings: vars and secrets (see docs/configuration.md), the KV namespace and the user objects. */
export interface Env {
  REAUTH_KV: KVNamespace;
  /** Durable Objects: one per (contract, user), src/users/object.ts. */
  USERS?: DurableObjectNamespace;
  /** Where new user objects are placed (a DurableObjectLocationHint such as `weur`); by default near their first caller. */
  USER_OBJECT_LOCATION_HINT?: string;
  /** Seconds before a refresh token expires that `token.expiring` is sent (default 7 days). */
  TOKEN_EXPIRING_NOTICE_SECONDS?: string;
  /** Keep-alive: seconds before a refresh token expires that the user's object refreshes the token (unset: off). */
  TOKEN_KEEPALIVE_SECONDS?: string;
  DIGIME_APPLICATION_ID?: string;
  /** The default contract (with DIGIME_PRIVATE_KEY), or one of DIGIME_CONTRACTS. */
  DIGIME_CONTRACT_ID?: string;
  /** More contracts: JSON `{ "<contractId>": "<binding name of its private key secret>" }` (src/config/contracts.ts). */
  DIGIME_CONTRACTS?: string;
  /** The contract a request without `contractId` uses, when several are configured. */
  DIGIME_DEFAULT_CONTRACT?: string;
  /** Secret: the contract private key, PKCS#1 or PKCS#8 PEM. */
  DIGIME_PRIVATE_KEY?: string;
  DIGIME_API_BASE_URL?: string;
  DIGIME_ONBOARD_BASE_URL?: string;
  DIGIME_TIMEOUT_MS?: string;
  /** Secret: comma-separated backend API keys (several at once, for rotation). */
  API_KEYS?: string;
  /** Secret: comma-separated `keyId:base64(32 bytes)`; the first encrypts, all decrypt. */
  TOKEN_ENCRYPTION_KEYS?: string;
  PUBLIC_BASE_URL?: string;
  ALLOWED_RETURN_ORIGINS?: string;
  FLOW_TTL_SECONDS?: string;
  LOG_LEVEL?: string;
  /** Secret: HMAC key of the signed return to returnTo (≥ 32 characters). */
  RETURN_SIGNING_SECRET?: string;
  /** The backend's webhook endpoint; without it (and WEBHOOK_SECRET) no event is sent. */
  WEBHOOK_URL?: string;
  /** Secret: Standard Webhooks signing secret, `whsec_<base64>`. */
  WEBHOOK_SECRET?: string;
  /** Queues producer: webhook deliveries and delayed expiry checks (consumed by this Worker). */
  WEBHOOK_QUEUE?: Queue<WebhookMessage>;
  /** Queues producer: where deliveries go after the last attempt. */
  WEBHOOK_DLQ?: Queue<WebhookMessage>;
  /** `"true"` accepts the development defaults (local stack and tests only); see `productionProblems`. */
  DEVELOPMENT_MODE?: string;
  /** Tests only: the property tests' seed. */
  FC_SEED?: string;
}

/**
 * Hono's environment type for this app: the bindings. The values middleware
 * puts on the context are declared, Hono's way, by the module that sets each
 * (`ContextVariableMap`): `requestId` by hono/request-id, `config` and
 * `services` by src/middleware/services.ts, `flowReturnTo` by
 * src/routes/browser.ts. Declared here, they would tie this file to the
 * services, and every layer that imports the bindings to all of them.
 */
export interface AppEnv {
  Bindings: Env;
}
