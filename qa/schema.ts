/**
 * The scenario file format (YAML or JSON), validated with zod so a bad file
 * gets an error naming the file and the field. Documented in qa/README.md.
 */
import { z } from "zod";
import { ENDPOINTS, scenarioSchema } from "../mock-server/scenarios.ts";

/** An account of the scenario's user: its position (0 = first), its label (service name, e.g. "Spotify") or its id. */
const accountRefSchema = z.union([z.number().int().min(0), z.string().min(1)]);

/**
 * The mock scenario as a QA file writes it: `accounts` may name accounts by
 * position or label, since their ids are made up when the user is created.
 */
export const qaMockScenarioSchema = scenarioSchema.extend({ accounts: z.array(accountRefSchema).optional() });

const countSchema = z.union([z.number().int().min(0), z.string().regex(/^(>=|<=|>|<)\d+$/, 'a number or a comparison such as ">=1"')]);

/** A name a step saves a token version under (`save: first`), for later steps to compare with. */
const savedNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, "a name: a letter or _, then letters, digits, _ or -");

/** What a version expectation refers to: a number, or a saved name. */
export const VERSION_EXPECTATION = /^(>=|<=|!=|>|<|=)?([0-9]+|[A-Za-z_][A-Za-z0-9_-]*)$/;

/**
 * A token version expectation: a number (exactly), a saved name (the version a
 * step saved under it), or either after a comparison: `">first"`, `"!=first"`, `">=2"`.
 */
export const versionExpectationSchema = z.union([
  z.number().int().min(0),
  z.string().regex(VERSION_EXPECTATION, 'a number, a saved name, or a comparison such as ">first" or "!=first"'),
]);

/** An expectation on a number of seconds: `">=3000"`, `"<60"`. */
const secondsExpectationSchema = z.string().regex(/^(>=|<=|>|<)\d+$/, 'a comparison such as ">=3000"');

/** "present", "absent", or an exact value. */
const claimExpectation = z.union([z.literal("present"), z.literal("absent"), z.string(), z.number(), z.boolean()]);

/** A digi.me contract id the target serves (`dev-contract-2`): letters, digits and `. _ -`, as the edge takes them. */
export const contractIdSchema = z.string().regex(/^[A-Za-z0-9._-]+$/, "a contract id: letters, digits, '.', '_' and '-'");

/**
 * A step's contract (`contract: dev-contract-2`): its calls pass that `contractId`, and
 * it acts on the file's user under that contract (its own mock user and token); left
 * out, the file's `contract`, else the target's default.
 */
const contractField = { contract: contractIdSchema.optional() };

/** An assertion on the mock's journal. */
export const journalExpectationSchema = z
  .object({
    endpoint: z.enum([...ENDPOINTS]),
    /** Only entries whose claims match these (same forms as `claims`). */
    where: z.record(z.string(), claimExpectation).optional(),
    status: z.number().int().optional(),
    /** How many matching entries (default: at least one). */
    count: countSchema.optional(),
    /** Every matching entry's claims must satisfy these. */
    claims: z.record(z.string(), claimExpectation).optional(),
    signatureVerified: z.boolean().optional(),
    /** Shown in reports, e.g. "the exchange sent a code_verifier". */
    says: z.string().optional(),
    /** Only the requests for this contract's mock user (left out: every contract's the file uses). */
    contract: contractIdSchema.optional(),
  })
  .strict();

const startStep = z
  .object({
    start: z
      .object({
        /** `user`: POST /v1/reauth/user; `account`: POST /v1/reauth/account; `authorize`: POST /v1/authorize (a first connection, for a user the edge keeps no token for). */
        flow: z.enum(["user", "account", "authorize"]),
        /** For account flows: the account's position (default 0), label or id. */
        account: accountRefSchema.optional(),
        /** For account flows: the `start` body a read saved under this name (`save: name` of an `accounts: read` or `files: list` step), sent with `returnTo` added. */
        from: savedNameSchema.optional(),
        locale: z.string().optional(),
        triggerQuery: z.boolean().optional(),
        allowFullAuthorization: z.boolean().optional(),
      })
      .strict()
      .refine((start) => start.flow === "account" || (start.account === undefined && start.from === undefined), { message: "account and from are for account flows only", path: ["flow"] })
      .refine((start) => start.account === undefined || start.from === undefined, { message: "account and from exclude each other (from names the account already)", path: ["from"] })
      .refine((start) => start.flow === "user" || (start.triggerQuery === undefined && start.allowFullAuthorization === undefined), {
        message: "triggerQuery and allowFullAuthorization are for user flows only",
        path: ["flow"],
      }),
    expect: z
      .object({
        status: z.number().int().default(201),
        error: z.string().optional(),
        kind: z.enum(["user", "account", "authorize"]).optional(),
      })
      .strict()
      .default({ status: 201 }),
    ...contractField,
  })
  .strict();

const browserStep = z
  .object({
    browser: z.union([
      z.enum(["follow", "approve", "deny", "reload"]),
      z
        .object({
          action: z.enum(["follow", "approve", "deny", "reload"]),
          /** For deny: the errorCode chosen on the consent page ("" for none). */
          errorCode: z.string().optional(),
          /** `http` (default) follows redirects itself; `chromium` drives Debian's Chromium. */
          engine: z.enum(["http", "chromium"]).optional(),
        })
        .strict(),
    ]),
    expect: z
      .object({
        /** The browser came back to returnTo (default true). */
        landed: z.boolean().default(true),
        /** `status` in the returnTo query: succeeded | failed | awaiting_confirmation (another digi.me identity, for the application to confirm). */
        outcome: z.enum(["succeeded", "failed", "awaiting_confirmation"]).optional(),
        /** `identity` in the returnTo query: confirmed | new | replaced; null for none. */
        identity: z.enum(["confirmed", "new", "replaced"]).nullable().optional(),
        /** `errorCode` in the returnTo query; null for none. */
        errorCode: z.string().nullable().optional(),
        /** When not landed: the status of the page the browser stopped at. */
        httpStatus: z.number().int().optional(),
        /** When not landed: text the page must contain. */
        pageContains: z.string().optional(),
        /** The return's `sig` verifies for this flow and user with the return-signing secret. */
        signedReturn: z.boolean().optional(),
      })
      .strict()
      .default({ landed: true }),
  })
  .strict();

/**
 * The error of a step whose `expect` is required and left out: names the step
 * and what the expect holds, where zod would say "expected object, received undefined".
 */
function expectRequired(step: string, holds: string, example: string) {
  return { error: (issue: { input?: unknown }) => (issue.input === undefined ? `missing: a "${step}" step needs expect, ${holds}, e.g. expect: ${example}` : undefined) };
}

/** The longest long poll the edge holds (`GET /v1/flows/:flowId?wait=N`). */
export const MAX_FLOW_WAIT_SECONDS = 25;

const flowStep = z
  .object({
    flow: z.literal("check"),
    /** A long poll: `GET /v1/flows/:flowId?wait=N`, answered when the flow ends or after N seconds still pending. */
    wait: z.number().int().min(1).max(MAX_FLOW_WAIT_SECONDS).optional(),
    /**
     * With `wait`: send the long poll, check it is still waiting after a moment,
     * run the next step meanwhile (the browser), then check the answer.
     */
    background: z.boolean().default(false),
    expect: z
      .object({
        status: z.enum(["pending", "awaiting_confirmation", "succeeded", "failed", "expired"]).optional(),
        errorCode: z.string().nullable().optional(),
        httpStatus: z.number().int().optional(),
        /**
         * Seconds: the answer came at most this long after it could (after the
         * request was sent; for a background poll, after the next step ended).
         */
        answeredWithin: z.number().positive().max(60).optional(),
        /** Seconds: the answer came no sooner than this after the request was sent (a long poll held). */
        heldAtLeast: z.number().positive().max(MAX_FLOW_WAIT_SECONDS).optional(),
      }, expectRequired("flow: check", "what the flow must show (status, errorCode, httpStatus; with wait also heldAtLeast, answeredWithin)", "{ status: succeeded }"))
      .strict(),
  })
  .strict()
  .refine((step) => !step.background || step.wait !== undefined, { message: "background needs wait (a long poll)", path: ["background"] });

const statusStep = z
  .object({
    reauthStatus: z.object({ sessionKey: z.boolean().default(true) }).strict().default({ sessionKey: true }),
    expect: z
      .object({
        token: z.enum(["valid", "refreshed", "needs_user_reauth", "needs_full_authorization"]).optional(),
        /** Accounts expected to need reauthorization, in order (positions, labels or ids). */
        accounts: z.array(accountRefSchema).optional(),
        httpStatus: z.number().int().default(200),
      }, expectRequired("reauthStatus", "what the status must show (token, accounts, httpStatus)", "{ token: valid }"))
      .strict(),
    ...contractField,
  })
  .strict();

const setScenarioStep = z.object({ setScenario: qaMockScenarioSchema, ...contractField }).strict();

/** Expect a webhook event at the stack's recording receiver (qa/webhooks.ts). */
const webhookStep = z
  .object({
    webhook: z
      .object({
        /** Flow events are this file's flow's; token events are its user's. */
        type: z.enum(["flow.succeeded", "flow.failed", "flow.awaiting_confirmation", "flow.expired", "token.rotated", "token.expiring", "token.expired", "token.refresh_failed"]),
        /**
         * Seconds to wait: from the step's start, or with `afterExpiry` from the
         * flow's expiresAt (flow events) or the imported refresh token's expiry (token events).
         */
        within: z.number().positive().max(600).default(5),
        afterExpiry: z.boolean().default(false),
      })
      .strict(),
    expect: z
      .object({
        /** The receiver verified the signature with standardwebhooks (default true). */
        signatureValid: z.boolean().default(true),
        token: z.enum(["present", "absent"]).optional(),
        /** The event's token equals the edge's stored token. */
        tokenIsStored: z.boolean().optional(),
        errorCode: z.string().nullable().optional(),
        /** Attempts received with the event's webhook-id (a number or ">=2"). */
        deliveries: countSchema.optional(),
        /** Distinct events of this type (webhook-ids) received for the flow or user so far: `1` = sent once. */
        events: countSchema.optional(),
        /** token.expiring / token.expired: the expiries the event names are the edge's stored token's. */
        expiresAtIsStored: z.boolean().optional(),
        /** The event's `version` (token.rotated, flow.succeeded, token.refresh_failed): a number, a saved name, or a comparison. */
        version: versionExpectationSchema.optional(),
        /** The event's `version` is the edge's stored token's. */
        versionIsStored: z.boolean().optional(),
        /** flow.succeeded: `session` ({ key, expiry }) present or absent. */
        session: z.enum(["present", "absent"]).optional(),
        /** token.refresh_failed: why digi.me refused the refresh token. */
        reason: z.enum(["expired", "invalid"]).optional(),
        /**
         * token.refresh_failed: the `next` call it names, POST /v1/reauth/user with
         * `{ userId }` (user_reauth) or `{ userId, allowFullAuthorization: true }` (full_authorization).
         */
        next: z.enum(["user_reauth", "full_authorization"]).optional(),
        /** flow.awaiting_confirmation / flow.succeeded: the digi.me identity the flow brought (`new`, `replaced`; a confirmed flow's `confirmed`). */
        identity: z.enum(["new", "replaced", "confirmed"]).optional(),
        /** The event's `data.contractId`. */
        contractId: contractIdSchema.optional(),
      })
      .strict()
      .default({ signatureValid: true }),
    /** Token events: only this contract's (the user has a token per contract); flow events are the last flow's, whatever its contract. */
    ...contractField,
  })
  .strict();

/** The receiver refuses this scenario's user's next deliveries (an endpoint that is down, then recovers). */
const webhookOutageStep = z
  .object({ webhookOutage: z.object({ failures: z.number().int().min(1).max(20), status: z.number().int().min(400).max(599).default(503) }).strict() })
  .strict();

/** The longest minValidity the edge takes (GET /v1/users/:userId/token?minValidity=N). */
export const MAX_MIN_VALIDITY_SECONDS = 1800;

/**
 * Which pair a read answered: the one the runner imported, the one the previous
 * token read answered, the one the last token write stored, or another (`new`: a refresh or a reauthorization).
 */
const pairSchema = z.enum(["imported", "lastRead", "written", "new"]);

/** `token: read`: GET /v1/users/:userId/token[?minValidity=N]. */
const tokenReadStep = z
  .object({
    token: z.literal("read"),
    ...contractField,
    /** Seconds the answered access token must still be valid (0–1800; the edge's default, 300, when left out). */
    minValidity: z.number().int().min(0).max(MAX_MIN_VALIDITY_SECONDS).optional(),
    /** Saves the answered version (200) under this name. */
    save: savedNameSchema.optional(),
    expect: z
      .object({
        status: z.number().int().default(200),
        /** The error code (non-200). */
        error: z.string().optional(),
        version: versionExpectationSchema.optional(),
        refreshed: z.boolean().optional(),
        accessTokenExpiresIn: secondsExpectationSchema.optional(),
        token: pairSchema.optional(),
        /** The answered access token works at digi.me (the mock) now. */
        tokenWorks: z.boolean().optional(),
      })
      .strict()
      .default({ status: 200 }),
  })
  .strict();

/** `token: write`: PUT /v1/users/:userId/token with a precondition. */
const tokenWriteStep = z
  .object({
    token: z.literal("write"),
    ...contractField,
    /** What to write: the pair the last token read answered (`read`, default: a write-back), or a fresh pair from the mock (`fresh`). */
    pair: z.enum(["read", "fresh"]).default("read"),
    /** `If-Match: "<version>"`: a saved name or a number. */
    ifMatch: z.union([z.number().int().min(0), savedNameSchema]).optional(),
    /** `If-None-Match: *`: store only when no token is stored. */
    ifNoneMatch: z.literal(true).optional(),
    /** Saves the new version (the 204's ETag) under this name. */
    save: savedNameSchema.optional(),
    expect: z
      .object({
        status: z.number().int().default(204),
        error: z.string().optional(),
        /** The new version, from the 204's ETag. */
        version: versionExpectationSchema.optional(),
        /** 412: `error.currentVersion` (null: no token stored). */
        currentVersion: versionExpectationSchema.nullable().optional(),
      })
      .strict()
      .default({ status: 204 }),
  })
  .strict()
  .refine((step) => step.ifMatch === undefined || step.ifNoneMatch === undefined, { message: "ifMatch and ifNoneMatch exclude each other", path: ["ifNoneMatch"] });

/** Waits this many seconds (an access token expiring, a duplicate event given time to arrive). */
const pauseStep = z.object({ pause: z.number().positive().max(60) }).strict();

/** Each kind of step by the key that names it, so a bad step is checked against the schema its author meant. */
/** The application confirms the flow (POST /v1/flows/:flowId/confirm), as it does after checking the signed return against its session. */
const confirmStep = z
  .object({
    confirm: z.literal("flow"),
    expect: z
      .object({
        httpStatus: z.number().int().default(200),
        status: z.enum(["succeeded", "awaiting_confirmation", "failed", "expired", "pending"]).optional(),
      })
      .strict()
      .default({ httpStatus: 200 }),
  })
  .strict();

/** The longest long poll of a file list (`GET …/sessions/{sessionKey}/files?wait=N`). */
export const MAX_FILES_WAIT_SECONDS = 25;

/** Which accounts a read (the accounts, a file list) flags for reauthorization, why, and whether each carries its `start` body. */
const reauthExpectation = {
  /** The accounts whose `reauth.needed` is true, in order (positions, labels or ids); `[]` for none. */
  reauth: z.array(accountRefSchema).optional(),
  /** Every flagged account's `reauth.reason`. */
  reason: z.enum(["ServiceAuthorizationError", "unauthorized"]).optional(),
  /** Every flagged account's `reauth.start`: `present` (and exactly `{ userId, accountId }` of this user and that account) or `absent`. */
  start: z.enum(["present", "absent"]).optional(),
};

/** `accounts: read`: GET /v1/users/:userId/accounts[?sessionKey=]. */
const accountsStep = z
  .object({
    accounts: z.literal("read"),
    ...contractField,
    /** `?sessionKey=` the key a `session: start` step saved under this name (its sync's 511s and `syncState`); left out: none. */
    session: savedNameSchema.optional(),
    /** Saves the `start` body of the first account flagged for reauthorization (in `expect.reauth`'s order when given), for `start: { flow: account, from: name }`. */
    save: savedNameSchema.optional(),
    expect: z
      .object({
        status: z.number().int().default(200),
        error: z.string().optional(),
        /** How many accounts (a number or ">=1"). */
        accounts: countSchema.optional(),
        /** With `session`: the answer's `syncState`. */
        syncState: z.string().optional(),
        ...reauthExpectation,
      })
      .strict()
      .default({ status: 200 }),
  })
  .strict();

/** `session: start`: POST /v1/users/:userId/sessions. */
const sessionStep = z
  .object({
    session: z.literal("start"),
    ...contractField,
    /** Saves the session's key under this name (later steps name it with `session: name`; left out, they use the last session started). */
    save: savedNameSchema.optional(),
    scope: z.record(z.string(), z.unknown()).optional(),
    sessionOptions: z.record(z.string(), z.unknown()).optional(),
    expect: z
      .object({ status: z.number().int().default(201), error: z.string().optional() })
      .strict()
      .default({ status: 201 }),
  })
  .strict();

/** `files: list`: GET /v1/users/:userId/sessions/:sessionKey/files[?wait=N]. */
const filesStep = z
  .object({
    files: z.literal("list"),
    ...contractField,
    /** The session saved under this name; left out: the last session started. */
    session: savedNameSchema.optional(),
    /** A long poll: answered once the sync is no longer pending or running, or after N seconds (0–25). */
    wait: z.number().int().min(0).max(MAX_FILES_WAIT_SECONDS).optional(),
    /** Saves the `start` body of the first account flagged for reauthorization, as `accounts: read` does. */
    save: savedNameSchema.optional(),
    expect: z
      .object({
        status: z.number().int().default(200),
        error: z.string().optional(),
        /** The sync's `state`. */
        state: z.enum(["pending", "running", "partial", "completed"]).optional(),
        /** The accounts whose `state` is `partial`, in order (positions, labels or ids); `[]` for none. */
        partial: z.array(accountRefSchema).optional(),
        /** How many files are listed (a number or ">=3"). */
        files: countSchema.optional(),
        /** Names the list must include. */
        names: z.array(z.string().min(1)).optional(),
        /** Seconds: the answer came no sooner than this (the long poll held while the sync ran). */
        heldAtLeast: z.number().positive().max(MAX_FILES_WAIT_SECONDS).optional(),
        ...reauthExpectation,
      })
      .strict()
      .default({ status: 200 }),
  })
  .strict();

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256 in lowercase hex (64 characters)");
const compressionSchema = z.enum(["none", "gzip", "brotli"]);

/** `file: read`: GET …/sessions/:sessionKey/files/:fileName, decrypted and decompressed at the edge. */
const fileReadStep = z
  .object({
    file: z.literal("read"),
    ...contractField,
    /** A file name, or a position in the session's last file list (0 = first; the default). */
    name: z.union([z.number().int().min(0), z.string().min(1)]).default(0),
    /** The session saved under this name; left out: the last session started. */
    session: savedNameSchema.optional(),
    expect: z
      .object({
        status: z.number().int().default(200),
        error: z.string().optional(),
        /** The `Content-Type` (its media type, before any `;`). */
        contentType: z.string().optional(),
        /** The content, parsed as JSON, equals this. */
        json: z.unknown().optional(),
        /** The content's SHA-256 (hex). */
        sha256: sha256Schema.optional(),
        /** `X-Digime-Compression`: how digi.me compressed it. */
        compression: compressionSchema.optional(),
      })
      .strict()
      .default({ status: 200 }),
  })
  .strict();

/** `file: all`: reads every file of the session's last file list. */
const fileAllStep = z
  .object({
    file: z.literal("all"),
    ...contractField,
    session: savedNameSchema.optional(),
    expect: z
      .object({
        /** How many files were read (a number or ">=3"). */
        files: countSchema.optional(),
        /** Every file's `Content-Type` (media type). */
        contentType: z.string().optional(),
        /** Compressions (`X-Digime-Compression`) that must be among the files read. */
        compressions: z.array(compressionSchema).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

/** `mockFile`: puts a file on one of the user's accounts at the mock (POST /__mock/users/:userId/files). */
const mockFileStep = z
  .object({
    mockFile: z
      .object({
        /** The account: position, label or id (default 0). */
        account: accountRefSchema.default(0),
        name: z.string().min(1).optional(),
        /** Any JSON. */
        content: z.unknown().nonoptional("missing: the file's content, any JSON (e.g. content: { note: hello })"),
        compression: compressionSchema.optional(),
        mimetype: z.string().optional(),
      })
      .strict(),
    ...contractField,
  })
  .strict();

export const STEP_SCHEMAS = {
  start: startStep,
  browser: browserStep,
  flow: flowStep,
  confirm: confirmStep,
  reauthStatus: statusStep,
  setScenario: setScenarioStep,
  webhook: webhookStep,
  webhookOutage: webhookOutageStep,
  token: z.discriminatedUnion("token", [tokenReadStep, tokenWriteStep]),
  pause: pauseStep,
  accounts: accountsStep,
  session: sessionStep,
  files: filesStep,
  file: z.discriminatedUnion("file", [fileReadStep, fileAllStep]),
  mockFile: mockFileStep,
} as const;

/**
 * A step: start a flow, drive the browser, check or confirm the flow or the status, read or write the token, wait,
 * change the mock's scenario or put a file there, or read through the edge (accounts, a session, its file list, files).
 */
export const stepSchema = z.union([
  startStep,
  browserStep,
  flowStep,
  confirmStep,
  statusStep,
  setScenarioStep,
  webhookStep,
  webhookOutageStep,
  tokenReadStep,
  tokenWriteStep,
  pauseStep,
  accountsStep,
  sessionStep,
  filesStep,
  fileReadStep,
  fileAllStep,
  mockFileStep,
]);

/** A scenario file. */
export const scenarioFileSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    /**
     * The contract the file's steps use (`contractId` on every call; the mock user
     * under its client id); left out, the target's default. A step's own `contract`
     * overrides it: the file's user then has a mock user and a token on each contract.
     */
    contract: contractIdSchema.optional(),
    /**
     * The mock user: how many accounts (default 2), and whether the edge gets
     * its token first (`importToken`, default true; false for "no stored token" cases).
     */
    user: z
      .object({
        accounts: z.number().int().min(1).max(10).default(2),
        importToken: z.boolean().default(true),
        /**
         * Seconds the imported token's refresh token lives (the mock issues it so,
         * on its clock; default its 30 days): a token the edge's alarm announces as
         * `token.expiring` at once and `token.expired` when it lapses.
         */
        refreshTokenLifetime: z.number().int().min(1).max(30 * 24 * 60 * 60).optional(),
        /** Seconds the imported token's access token lives (the mock issues it so; default its hour): a token a read must refresh. */
        accessTokenLifetime: z.number().int().min(1).max(60 * 60).optional(),
      })
      .strict()
      .refine((user) => user.importToken || user.refreshTokenLifetime === undefined, { message: "refreshTokenLifetime needs importToken", path: ["refreshTokenLifetime"] })
      .refine((user) => user.importToken || user.accessTokenLifetime === undefined, { message: "accessTokenLifetime needs importToken", path: ["accessTokenLifetime"] })
      .default({ accounts: 2, importToken: true }),
    /** The mock scenario for this scenario's own user (see mock-server/README.md); `accounts` by position, label or id. */
    mock: qaMockScenarioSchema.optional(),
    /** A global mock scenario: only for faults that have no user (the key set). Runs the file alone. */
    global: scenarioSchema.optional(),
    steps: z.array(stepSchema).min(1),
    expect: z
      .object({
        /** Whether the edge's stored token changed by the end. */
        tokenRotated: z.boolean().optional(),
        /** Whether the stored token works at digi.me at the end. */
        tokenWorks: z.boolean().optional(),
        journal: z.array(journalExpectationSchema).default([]),
      })
      .strict()
      .default({ journal: [] }),
  })
  .strict()
  .superRefine((file, ctx) => {
    // A saved name is used only after the step that saves it.
    const saved = new Set<string>();
    file.steps.forEach((step, index) => {
      const uses: Array<[string, unknown]> = [];
      if ("token" in step) {
        uses.push(["expect.version", step.expect.version]);
        if (step.token === "write") uses.push(["ifMatch", step.ifMatch], ["expect.currentVersion", step.expect.currentVersion]);
      }
      if ("webhook" in step) uses.push(["expect.version", step.expect.version]);
      for (const [field, value] of uses) {
        const name = typeof value === "string" ? savedName(value) : undefined;
        if (name !== undefined && !saved.has(name)) {
          ctx.addIssue({ code: "custom", path: ["steps", index, ...field.split(".")], message: `no earlier step saves a version as "${name}" (save: ${name})`, params: { savedNames: true } });
        }
      }
      if ("token" in step && step.save) saved.add(step.save);
    });
    // A saved start body or session is named only after the step that saves it; a session or file read needs a session started before.
    const starts = new Set<string>();
    const sessions = new Set<string>();
    let sessionStarted = false;
    let listed = false;
    file.steps.forEach((step, index) => {
      const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path: ["steps", index, ...path], message, params: { savedNames: true } });
      if ("start" in step && step.start.from !== undefined && !starts.has(step.start.from)) {
        issue(["start", "from"], `no earlier step saves a start body as "${step.start.from}" (save: ${step.start.from} on an accounts: read or files: list step)`);
      }
      if ("accounts" in step || "files" in step || "file" in step) {
        const name = step.session;
        if (name !== undefined && !sessions.has(name)) issue(["session"], `no earlier step saves a session as "${name}" (session: start with save: ${name})`);
        else if (name === undefined && !("accounts" in step) && !sessionStarted) issue([], `no earlier step starts a session (session: start)`);
      }
      if ("file" in step && (step.file === "all" || typeof step.name === "number") && !listed) {
        issue(step.file === "all" ? ["file"] : ["name"], `${step.file === "all" ? "file: all" : "a file by position"} needs an earlier files: list step (the files it lists)`);
      }
      if ("session" in step && !("accounts" in step) && !("files" in step) && !("file" in step)) {
        sessionStarted = true;
        if (step.save) sessions.add(step.save);
      }
      if ("files" in step) listed = true;
      if (("accounts" in step || "files" in step) && step.save) starts.add(step.save);
    });
  });

/** The saved name a version expectation refers to (`">first"` → `first`), or undefined for a number. */
export function savedName(expectation: string): string | undefined {
  const operand = VERSION_EXPECTATION.exec(expectation)?.[2];
  return operand === undefined || /^[0-9]+$/.test(operand) ? undefined : operand;
}

/** A parsed scenario file. */
export type ScenarioFile = z.output<typeof scenarioFileSchema>;
/** One step of it. */
export type Step = z.output<typeof stepSchema>;
/** A webhook step. */
export type WebhookStep = z.output<typeof webhookStep>;
/** A flow step. */
export type FlowStep = z.output<typeof flowStep>;
/** A token read step. */
export type TokenReadStep = z.output<typeof tokenReadStep>;
/** A token write step. */
export type TokenWriteStep = z.output<typeof tokenWriteStep>;
/** A version expectation. */
export type VersionExpectation = z.output<typeof versionExpectationSchema>;
/** A webhook-outage step. */
export type WebhookOutageStep = z.output<typeof webhookOutageStep>;
/** An accounts read step. */
export type AccountsStep = z.output<typeof accountsStep>;
/** A session start step. */
export type SessionStep = z.output<typeof sessionStep>;
/** A file list step. */
export type FilesStep = z.output<typeof filesStep>;
/** A file read step (one or all). */
export type FileStep = z.output<typeof fileReadStep> | z.output<typeof fileAllStep>;
/** A mock file step. */
export type MockFileStep = z.output<typeof mockFileStep>;
/** A journal assertion. */
export type JournalExpectation = z.output<typeof journalExpectationSchema>;
