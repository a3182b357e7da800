/**
 * The configuration as `GET /healthz` shows it to a caller with an API key:
 * what maps the deployment, never a secret (not even a prefix).
 */
import type { Config } from "./parse.ts";

/** The configuration as `/healthz` shows it: no secret, not even a prefix. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    applicationId: config.applicationId,
    contractId: config.contractId,
    apiBaseUrl: config.apiBaseUrl,
    onboardBaseUrl: config.onboardBaseUrl,
    timeoutMs: config.timeoutMs,
    publicBaseUrl: config.publicBaseUrl,
    allowedReturnOrigins: config.allowedReturnOrigins,
    flowTtlSeconds: config.flowTtlSeconds,
    tokenExpiringNoticeSeconds: config.tokenExpiringNoticeSeconds,
    tokenKeepAliveSeconds: config.tokenKeepAliveSeconds ?? null,
    userObjectLocationHint: config.userObjectLocationHint ?? "near the first caller",
    apiKeys: config.apiKeys.length,
    encryptionKeyIds: config.encryptionKeys.map((k) => k.id),
    // The receiver's origin only: a path could carry a token of the receiver's own.
    webhooks: config.webhooks ? new URL(config.webhooks.url).origin : "off",
    ...(config.developmentMode ? { developmentMode: true } : {}),
  };
}
