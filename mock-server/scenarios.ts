/**
 * Scenarios: QA's vocabulary for how the mock digi.me behaves for one user or
 * for everyone. `success` is the happy path; every other scenario is a named
 * override that the handlers consult, and faults combine with any of them.
 */
import { z } from "zod";

/** The endpoints a fault can be scoped to (`onboarding` covers the onboarding pages). */
export const ENDPOINTS = [
  "oauth/token/reference",
  "reference",
  "oauth/token",
  "oauth/authorize",
  "permission-access/accounts",
  "permission-access/query",
  "permission-access/query/file",
  "permission-access/trigger",
  "permission-access/revoke",
  "permission-access/service",
  "user",
  "jwks/oauth",
  "onboarding",
] as const;

/** A mock endpoint name. */
export type Endpoint = (typeof ENDPOINTS)[number];

/** Error codes digi.me's SDKs list for a failed onboarding. */
export const KNOWN_ERROR_CODES = ["USER_CANCEL", "INITIALIZE_CHECK_FAIL", "ONBOARD_ERROR", "INVALID_CODE", "SERVER_ERROR"] as const;

export const FAULT_TYPES = [
  "delay",
  "hang",
  "network-error",
  "http-error",
  "malformed-json",
  "empty-body",
  "foreign-signature",
  "unknown-kid",
  "key-set-unavailable",
] as const;

/** How a fault breaks an endpoint. */
export type FaultType = (typeof FAULT_TYPES)[number];

const faultSchema = z
  .object({
    type: z.enum(FAULT_TYPES),
    /** Endpoints the fault applies to; all when absent (`key-set-unavailable` is always `jwks/oauth`). */
    endpoints: z.array(z.enum(ENDPOINTS)).min(1).optional(),
    /** For `delay`: how long, in milliseconds. */
    ms: z.number().int().min(0).max(600_000).optional(),
    /** For `http-error`: the status to answer (default 503). */
    status: z.number().int().min(500).max(599).optional(),
    /** For `http-error`: a `Retry-After` (seconds) the answer carries, as digi.me may send with a 503. */
    retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
    /** Apply to this many matching requests, then stop; unlimited when absent. */
    times: z.number().int().min(1).optional(),
  })
  .strict();

/** A fault as QA writes it. */
export type Fault = z.infer<typeof faultSchema>;

/**
 * Every scenario name, in the order the control panel offers them. The schema
 * below is built from this list, so a new scenario cannot be left out of the
 * panel.
 */
export const SCENARIO_NAMES = ["success", "failure", "account-511", "invalid-token", "refresh-expired", "sdk-version-invalid"] as const;

/** The schema of a scenario, shared by the admin API and the QA runner. */
export const scenarioSchema = z
  .object({
    name: z.enum(SCENARIO_NAMES).default("success"),
    /** `auto` redirects at once; `interactive` shows a page with Approve and Deny. */
    consent: z.enum(["auto", "interactive"]).default("auto"),
    /** For `failure`: the errorCode sent back; `null` sends none. */
    errorCode: z.string().max(100).nullable().default("USER_CANCEL"),
    /** For `account-511`: which accounts are partial (default: the user's first). */
    accounts: z.array(z.string().min(1)).optional(),
    /** For `account-511`: `nested` (the seed document's shape) or `flat` (the SDK type's). */
    shape: z.enum(["nested", "flat"]).default("nested"),
    /** For `invalid-token`: whether tokens issued by a later refresh work again. */
    recoverOnRefresh: z.boolean().default(false),
    /**
     * How long a session started by `permission-access/trigger` reports
     * `running` (on the mock's clock) before its outcome; 0 reports it at once.
     */
    syncMs: z.number().int().min(0).max(3_600_000).default(0),
    faults: z.array(faultSchema).default([]),
  })
  .strict();

/** A scenario as the mock stores it (defaults applied). */
export type Scenario = z.output<typeof scenarioSchema>;

/** A scenario as a caller writes it. */
export type ScenarioInput = z.input<typeof scenarioSchema>;

/** The default scenario: both flows succeed. */
export const SUCCESS: Scenario = scenarioSchema.parse({});

/** A fault with its remaining budget, as the mock tracks it. */
export interface ActiveFault extends Fault {
  remaining: number;
}

/** Arms a scenario's faults so `times` can be counted down. */
export function armFaults(scenario: Scenario): ActiveFault[] {
  return scenario.faults.map((fault) => ({ ...fault, remaining: fault.times ?? Number.POSITIVE_INFINITY }));
}

/**
 * Takes the first fault of `types` that applies to `endpoint`, spending one
 * use of its budget.
 */
export function takeFault(faults: ActiveFault[], endpoint: Endpoint, types: readonly FaultType[]): ActiveFault | undefined {
  for (const fault of faults) {
    if (fault.remaining <= 0 || !types.includes(fault.type)) continue;
    const scope = fault.type === "key-set-unavailable" ? ["jwks/oauth"] : fault.endpoints;
    if (scope && !scope.includes(endpoint)) continue;
    fault.remaining -= 1;
    return fault;
  }
  return undefined;
}
