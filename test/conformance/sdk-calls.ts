/**
 * THE table of what digi.me's official Node SDK 16.1.5 sends and reads, call
 * by call, written from docs/digime-protocol.md "Every call, as the official
 * SDK 16.1.5 makes it". Both conformance tests read it: `mock.test.ts` sends
 * these requests to the mock and checks its answers; `client.test.ts` checks
 * that our client sends exactly these requests. Change the wire format here,
 * once, and both sides must follow.
 *
 * Where the wire section is silent, the row says "choice" and why.
 */
import { z } from "zod";
import { codeChallenge } from "../../src/digime/index.ts";

/** The SDK's name and version as its `agent` block carries them (`src/sdk-version.ts`). */
export const SDK_NAME = "nodejs";
export const SDK_VERSION = "16.1.5";

/** The `agent` block: `meta.node` is the sender's `process.version`, so the caller says what it is. */
export function sdkAgent(node: string): { sdk: { name: string; version: string; meta: { node: string } } } {
  return { sdk: { name: SDK_NAME, version: SDK_VERSION, meta: { node } } };
}

/** Claims every request JWT carries besides the per-call ones. */
export const COMMON_CLAIMS = ["client_id", "nonce", "timestamp"] as const;

/** The request JWT's header: PS512, `typ` JWT, no `kid`. */
export const REQUEST_JWT_HEADER = { alg: "PS512", typ: "JWT" } as const;

/** What a row needs to build its request. Only the fields a call uses need be set. */
export interface CallInputs {
  /** The value of `meta.node` in the agent block. */
  node: string;
  accessToken?: string;
  refreshToken?: string;
  redirectUri?: string;
  state?: string;
  codeVerifier?: string;
  code?: string;
  accountId?: string;
  sessionKey?: string;
  storageId?: string;
  /** Session options: under `actions` for reference calls, at the top level for `permission-access/trigger`. */
  sessionOptions?: Record<string, unknown>;
  /** For `readSession`: the pull session options. */
  pullOptions?: Record<string, unknown>;
}

/** One request as the SDK sends it (the Authorization JWT's claims apart from `COMMON_CLAIMS`). */
export interface SdkRequest {
  method: "GET" | "POST" | "DELETE";
  /** Below the API base, exactly as sent (no encoding applied by the table). */
  path: string;
  /**
   * Headers the SDK sets besides `Authorization`, by lower-case name.
   * `content-type` is listed exactly when the SDK sends one.
   */
  headers: Record<string, string>;
  /** The JSON body, or `undefined` for none. */
  body: unknown;
  /** Per-call claims; a claim whose value is `undefined` is left out, as the SDK leaves it out. */
  claims: Record<string, unknown>;
}

/** An onboarding URL: the page below the onboarding base and its query, in the SDK's order. */
export interface OnboardUrl {
  page: string;
  params: Array<[string, string]>;
}

/** One SDK call: its request(s), digi.me's recorded answer, and the onboarding page it leads to. */
export interface SdkCall {
  /** The SDK function (`src/<kebab-case>.ts`). */
  call: string;
  request: (inputs: CallInputs) => Promise<SdkRequest>;
  answer: {
    /** The status of digi.me's recorded answer. */
    status: number;
    /** The shape the SDK reads from the body (`null` when it reads none). */
    body: z.ZodType | null;
    /** For token-bearing answers: what the SDK reads from the verified token's payload. */
    tokenPayload?: z.ZodType;
  };
  /** The onboarding URL the SDK builds from the answer, given the code it read (and more inputs). */
  onboard?: (code: string, inputs: CallInputs & { accountRef?: string; locale?: string; serviceId?: number; triggerQuery?: boolean }) => OnboardUrl;
  /** The query parameter names digi.me's page sends back to the callback on success, in order. */
  callback?: string[];
}

/** Drops claims whose value is `undefined`, as the SDK's JWT library does. */
export function definedClaims(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

const JSON_BODY = { "content-type": "application/json" } as const;
const tokenBody = z.object({ token: z.string().min(1) });
const session = z.object({ expiry: z.number(), key: z.string().min(1) });
const userTokenPayload = z.object({
  access_token: z.object({ value: z.string().min(1), expires_on: z.number() }),
  refresh_token: z.object({ value: z.string().min(1), expires_on: z.number() }),
  sub: z.string().min(1),
  consentid: z.string().min(1),
});
/** Account types the SDK accepts (others are a TypeValidationError). */
export const ACCOUNT_TYPES = ["USER", "ADMIN", "EVENT", "GROUP", "BANK", "CREDIT_CARD", "IMPORTED", "INVESTMENT", "INSURANCE", "LOAN", "REWARD", "BILL", "PUSH"] as const;
const account = z.looseObject({
  id: z.string(),
  reference: z.string(),
  type: z.enum(ACCOUNT_TYPES),
  createdDate: z.number(),
  serviceGroupId: z.number(),
  serviceGroupName: z.string(),
  serviceTypeId: z.number(),
  serviceTypeName: z.string(),
  serviceTypeReference: z.string(),
  sourceId: z.number(),
  updatedDate: z.number(),
  accessTokenStatus: z.object({ authorized: z.boolean(), expiresAt: z.number().optional() }).optional(),
  username: z.string().optional(),
});
const partialError = z.looseObject({ code: z.string(), statusCode: z.number() });
const fileList = z.looseObject({
  status: z.looseObject({
    state: z.enum(["running", "partial", "completed", "pending"]),
    details: z
      .record(
        z.string(),
        z.union([
          z.looseObject({ state: z.literal("running") }),
          z.looseObject({ state: z.literal("completed") }),
          z.looseObject({ state: z.literal("partial"), error: partialError }),
        ]),
      )
      .optional(),
  }),
  fileList: z.array(z.looseObject({ name: z.string(), updatedDate: z.number() })).optional(),
});

/** The authorize and onboard pages' query, in the SDK's order (`code`, `sourceType`, `service`, …, `lng`, …, `triggerQuery`). */
function authorizeParams(code: string, inputs: { serviceId?: number; locale?: string; triggerQuery?: boolean }): Array<[string, string]> {
  const params: Array<[string, string]> = [["code", code], ["sourceType", "pull"]];
  if (inputs.serviceId) params.push(["service", String(inputs.serviceId)]);
  if (inputs.locale) params.push(["lng", inputs.locale]);
  if (inputs.triggerQuery !== undefined) params.push(["triggerQuery", String(inputs.triggerQuery)]);
  return params;
}

/** The calls, by SDK function name. */
export const SDK_CALLS = {
  getAuthorizeUrl: {
    call: "getAuthorizeUrl",
    request: async (i) => ({
      method: "POST",
      path: "oauth/authorize",
      headers: { ...JSON_BODY },
      body: { agent: sdkAgent(i.node), ...(i.sessionOptions ? { actions: i.sessionOptions } : {}) },
      claims: {
        access_token: i.accessToken,
        code_challenge: await codeChallenge(i.codeVerifier!),
        code_challenge_method: "S256",
        redirect_uri: i.redirectUri,
        response_mode: "query",
        response_type: "code",
        state: i.state,
      },
    }),
    // The fixture is `{ token }` alone; the SDK defaults `session` to `{}`.
    answer: { status: 201, body: tokenBody, tokenPayload: z.object({ preauthorization_code: z.string().min(1) }) },
    onboard: (code, i) => ({ page: "authorize", params: authorizeParams(code, i) }),
    callback: ["success", "state", "code", "accountReference"],
  },
  /** getAuthorizeUrl with a storageId. Choice: 201, as digi.me's other creating POSTs (the section names no status). */
  storageReference: {
    call: "getAuthorizeUrl (storageId)",
    request: async (i) => ({ method: "POST", path: "reference", headers: { ...JSON_BODY }, body: { type: "cloudId", value: i.storageId }, claims: {} }),
    answer: { status: 201, body: z.object({ id: z.string().min(1) }) },
  },
  getReauthorizeUrl: {
    call: "getReauthorizeUrl",
    request: async (i) => ({
      method: "POST",
      path: "oauth/token/reference",
      headers: { ...JSON_BODY },
      body: { agent: sdkAgent(i.node), ...(i.sessionOptions ? { actions: i.sessionOptions } : {}) },
      claims: {
        access_token: i.accessToken,
        code_challenge: await codeChallenge(i.codeVerifier!),
        code_challenge_method: "S256",
        redirect_uri: i.redirectUri,
        state: i.state,
      },
    }),
    // No success fixture: choice, 201 with `session` as getOnboardServiceUrl's fixture and the earlier reference say.
    answer: { status: 201, body: tokenBody.extend({ session: session.optional() }), tokenPayload: z.object({ reference_code: z.string().min(1) }) },
    onboard: (code, i) => ({
      page: "user-reauth",
      params: [["code", code], ...(i.locale ? [["lng", i.locale] as [string, string]] : []), ...(i.triggerQuery !== undefined ? [["triggerQuery", String(i.triggerQuery)] as [string, string]] : [])],
    }),
    callback: ["success", "state", "code"],
  },
  getOnboardServiceUrl: {
    call: "getOnboardServiceUrl",
    request: async (i) => ({
      method: "POST",
      path: "oauth/token/reference",
      headers: { ...JSON_BODY },
      body: { agent: sdkAgent(i.node), ...(i.sessionOptions ? { actions: i.sessionOptions } : {}) },
      claims: { access_token: i.accessToken, redirect_uri: i.redirectUri, state: i.state },
    }),
    answer: { status: 201, body: tokenBody.extend({ session: session.optional() }), tokenPayload: z.object({ reference_code: z.string().min(1) }) },
    onboard: (code, i) => ({ page: "onboard", params: authorizeParams(code, i) }),
    // Only success is listed; the option text says state returns (choice: it does when sent).
    callback: ["success", "state"],
  },
  getReauthorizeAccountUrl: {
    call: "getReauthorizeAccountUrl (1)",
    request: async (i) => ({
      method: "POST",
      path: "oauth/token/reference",
      headers: { ...JSON_BODY },
      body: { agent: sdkAgent(i.node) },
      claims: { access_token: i.accessToken, redirect_uri: i.redirectUri },
    }),
    answer: { status: 201, body: tokenBody.extend({ session: session.optional() }), tokenPayload: z.object({ reference_code: z.string().min(1) }) },
    onboard: (code, i) => ({ page: "reauthorize", params: [["code", code], ["accountRef", i.accountRef!], ...(i.locale ? [["lng", i.locale] as [string, string]] : [])] }),
    callback: ["success"],
  },
  accountReference: {
    call: "getReauthorizeAccountUrl (2)",
    request: async (i) => ({ method: "POST", path: "reference", headers: { ...JSON_BODY }, body: { type: "accountId", value: i.accountId }, claims: {} }),
    // Choice: 201, as digi.me's other creating POSTs (the section names no status; any 2xx is read).
    answer: { status: 201, body: z.object({ id: z.string().min(1) }) },
  },
  exchangeCodeForToken: {
    call: "exchangeCodeForToken",
    request: async (i) => ({
      method: "POST",
      path: "oauth/token",
      headers: {},
      body: undefined,
      claims: { code: i.code, code_verifier: i.codeVerifier, grant_type: "authorization_code" },
    }),
    answer: { status: 201, body: tokenBody, tokenPayload: userTokenPayload },
  },
  refreshToken: {
    call: "refreshToken",
    request: async (i) => ({
      method: "POST",
      path: "oauth/token",
      headers: { ...JSON_BODY },
      body: undefined,
      claims: { grant_type: "refresh_token", refresh_token: i.refreshToken },
    }),
    answer: { status: 201, body: tokenBody, tokenPayload: userTokenPayload },
  },
  getRevokeAccountPermissionUrl: {
    call: "getRevokeAccountPermissionUrl",
    request: async (i) => ({
      method: "GET",
      path: "permission-access/revoke/h:accountId",
      headers: { accept: "application/json", accountid: i.accountId!, redirecturi: i.redirectUri! },
      body: undefined,
      claims: { access_token: i.accessToken },
    }),
    answer: { status: 201, body: z.object({ location: z.string().url() }) },
    callback: ["result"],
  },
  readAccounts: {
    call: "readAccounts",
    request: async (i) => ({ method: "GET", path: "permission-access/accounts", headers: {}, body: undefined, claims: { access_token: i.accessToken } }),
    answer: { status: 202, body: z.array(account) },
  },
  readSession: {
    call: "readSession",
    request: async (i) => ({
      method: "POST",
      path: "permission-access/trigger",
      headers: { ...JSON_BODY },
      body: { ...(i.pullOptions ?? {}), agent: sdkAgent(i.node) },
      claims: { access_token: i.accessToken },
    }),
    answer: { status: 202, body: z.object({ session: session.strict() }).strict() },
  },
  readFileList: {
    call: "readFileList",
    request: async (i) => ({ method: "GET", path: `permission-access/query/${i.sessionKey}`, headers: {}, body: undefined, claims: { access_token: i.accessToken } }),
    answer: { status: 200, body: fileList },
  },
  deleteAccount: {
    call: "deleteAccount",
    request: async (i) => ({
      method: "DELETE",
      path: "permission-access/service/h:accountId",
      headers: { accountid: i.accountId! },
      body: undefined,
      claims: { access_token: i.accessToken },
    }),
    answer: { status: 201, body: null },
  },
  deleteUser: {
    call: "deleteUser",
    request: async (i) => ({ method: "DELETE", path: "user", headers: {}, body: undefined, claims: { access_token: i.accessToken } }),
    answer: { status: 201, body: null },
  },
} satisfies Record<string, SdkCall>;

/** The key set: GET the token's `jku` verbatim, no Authorization; 201 `{ keys: [{ kid, pem }] }` with a PKCS#1 pem. */
export const KEY_SET = {
  status: 201,
  body: z.object({ keys: z.array(z.looseObject({ kid: z.string().min(1), pem: z.string().startsWith("-----BEGIN RSA PUBLIC KEY-----") })).min(1) }),
} as const;

/** digi.me's recorded errors (`src/net.ts` and the specs' fixtures). */
export const SDK_ERRORS = {
  InvalidRedirectUri: { status: 404, message: (redirectUri: string) => `The redirect_uri (${redirectUri}) is invalid` },
  InvalidToken: { status: 401, message: (tokenType: "access_token" | "refresh_token") => `The token (${tokenType}) is invalid` },
  SDKInvalid: { status: 400, message: (name: string) => `The SDK is invalid: ${name}` },
  SDKVersionInvalid: { status: 403, message: () => "This SDK version is no longer supported." },
  ValidationErrors: { status: 400, message: () => "Parameter validation errors" },
} as const;

/** The error body the SDK reads: `{ error: { code, message, reference? } }`. */
export const ERROR_BODY = z.object({ error: z.object({ code: z.string(), message: z.string(), reference: z.string().optional() }) });

/**
 * The SDK's GET retries (got 11, `limit: 2`): these statuses and network
 * errors, 1 s then 2 s apart unless `Retry-After` says otherwise; never a POST.
 */
export const SDK_RETRY = {
  limit: 2,
  statuses: [408, 413, 429, 500, 502, 503, 504, 521, 522, 524],
  backoffMs: [1000, 2000],
} as const;
