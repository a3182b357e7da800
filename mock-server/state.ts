/**
 * The mock digi.me's memory: registered contracts, users and their accounts,
 * issued tokens, reference and authorization codes, seen nonces, scenarios and
 * the request journal. Handlers read and change it; nothing here speaks HTTP.
 */
import { CompactSign, compactVerify, decodeProtectedHeader, exportSPKI, generateKeyPair, importSPKI } from "jose";
import { decodePem, encodePem, pkcs1PublicToSpki, spkiToPkcs1Public } from "../src/digime/pem.ts";
import {
  defaultCompressions,
  defaultFileContent,
  encryptedBody,
  encryptedLength,
  generateForeignKey,
  importEncryptionKey,
  largeContentSha256,
  LARGE_FILE_MAX_BYTES,
  largeRecordCount,
  nextFileName,
  objectTypeOf,
  seedOf,
  syncView,
  type MockFile,
  type PutFileInput,
  type PutForeignFileInput,
  type PutLargeFileInput,
  type SyncView,
} from "./data.ts";
import { armFaults, SUCCESS, type ActiveFault, type Scenario } from "./scenarios.ts";

/** Lifetimes of what the mock issues, in milliseconds. */
export const LIFETIMES_MS = {
  accessToken: 60 * 60 * 1000,
  refreshToken: 30 * 24 * 60 * 60 * 1000,
  reference: 10 * 60 * 1000,
  authorizationCode: 2 * 60 * 1000,
  /** How far a request JWT's `timestamp` may be from the mock's clock. */
  timestampSkew: 5 * 60 * 1000,
} as const;

/** Options of a mock digi.me. */
export interface MockDigimeOptions {
  /** API base with trailing slash, e.g. `https://api.digi.me/v1.7/`. */
  apiBaseUrl: string;
  /** Onboarding base with trailing slash, e.g. `https://api.digi.me/apps/saas/`. */
  onboardBaseUrl: string;
  /** Contracts registered at start and again after every reset. */
  contracts?: ContractInput[];
  /** Injectable clock; the admin API can also move it forward. */
  now?: () => number;
}

/** A contract as registered through the admin API. */
export interface ContractInput {
  applicationId: string;
  contractId: string;
  /** The contract's public key, PKCS#1 or SPKI PEM. */
  publicKey: string;
}

interface Contract extends ContractInput {
  clientId: string;
  /** Verifies the contract's request JWTs (PS512). */
  key: CryptoKey;
  /** Encrypts its files' data keys (RSA-OAEP, SHA-1), as digi.me does. */
  encryptionKey: CryptoKey;
}

/** One of a mock user's accounts. */
export interface MockAccount {
  id: string;
  serviceTypeName: string;
  /** Set by the `account-511` scenario; cleared by a successful account reauthorization. */
  needsReauth: boolean;
}

/** A mock user. */
export interface MockUser {
  id: string;
  clientId: string;
  accounts: MockAccount[];
  scenario?: Scenario;
  faults: ActiveFault[];
  /**
   * When the user's scenario was set: `invalid-token` and `refresh-expired`
   * refuse tokens issued before this instant.
   */
  scenarioSetAt: number;
  sessionKey: string;
  /** The files on the user's accounts, in the order they were put (see `data.ts`). */
  files: MockFile[];
}

interface AccessTokenRecord {
  userId: string;
  clientId: string;
  expiresAt: number;
  issuedAt: number;
  revoked: boolean;
}

interface RefreshTokenRecord {
  userId: string;
  clientId: string;
  expiresAt: number;
  issuedAt: number;
  used: boolean;
}

/**
 * A code handed out for an onboarding page: by `oauth/token/reference` (with
 * PKCE: `user-reauth`; without: `account`, for the `reauthorize` and `onboard`
 * pages), `oauth/authorize` (`authorize`) or `permission-access/revoke` (`revoke`).
 */
export interface ReferenceRecord {
  kind: "user-reauth" | "account" | "authorize" | "revoke";
  userId: string | undefined;
  clientId: string;
  redirectUri: string;
  state?: string;
  codeChallenge?: string;
  /** For `revoke`: the account whose permission is revoked. */
  accountId?: string;
  sessionKey: string;
  expiresAt: number;
  used: boolean;
}

/** A session started by `permission-access/trigger`. */
export interface TriggeredSession {
  userId: string;
  startedAt: number;
}

interface AuthorizationCodeRecord {
  userId: string;
  clientId: string;
  codeChallenge: string;
  expiresAt: number;
  used: boolean;
}

/** One request the mock received, as the journal shows it. */
export interface JournalEntry {
  seq: number;
  time: string;
  method: string;
  path: string;
  endpoint: string;
  status: number;
  /** Time the mock spent answering, injected delays included. */
  durationMs: number;
  userId?: string;
  /** The Authorization JWT's claims, decoded whether or not the signature verified. */
  claims?: Record<string, unknown>;
  /** Whether the Authorization JWT verified under PS512 with the contract's key. */
  signatureVerified?: boolean;
  errorCode?: string;
  /** Why the mock refused, where its answer's message is digi.me's terse one. */
  errorDetail?: string;
  fault?: string;
  /** Request body, for calls that have one. */
  body?: unknown;
}

/** An issued user token, in the shape the project's client uses. */
export interface IssuedToken {
  accessToken: { value: string; expiry: number };
  refreshToken: { value: string; expiry: number };
  user: { id: string };
  consentid: string;
}

/** Shorter lifetimes for one issued token, in milliseconds (default: `LIFETIMES_MS`). */
export interface TokenLifetimes {
  accessTokenMs?: number;
  refreshTokenMs?: number;
}

/** Outcome of checking an Authorization JWT. */
export type AuthResult =
  | { ok: true; claims: Record<string, unknown>; contract: Contract }
  | { ok: false; status: number; code: string; message: string; detail?: string; claims?: Record<string, unknown>; verified?: boolean };

/** digi.me's answer to a missing or badly signed Authorization JWT (its recorded status is 400). */
const VALIDATION_ERRORS = { ok: false, status: 400, code: "ValidationErrors", message: "Parameter validation errors" } as const;

const JOURNAL_LIMIT = 5000;
/** Sweep stale state every this many journal entries. */
const SWEEP_EVERY = 1000;
const NONCE = /^[A-Za-z0-9]{32}$/;

function randomId(bytes = 24): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function importContractKey(pem: string): Promise<{ key: CryptoKey; encryptionKey: CryptoKey }> {
  const block = decodePem(pem);
  const spki = block.label === "RSA PUBLIC KEY" ? pkcs1PublicToSpki(block.der) : block.der;
  if (block.label !== "RSA PUBLIC KEY" && block.label !== "PUBLIC KEY") throw new Error("publicKey must be a public key PEM");
  return { key: await importSPKI(encodePem("PUBLIC KEY", spki), "PS512"), encryptionKey: await importEncryptionKey(spki) };
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  /** PKCS#1 PEM, as digi.me's key set publishes it. */
  pem: string;
}

async function createSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("PS512", { modulusLength: 2048 });
  const spki = decodePem(await exportSPKI(publicKey)).der;
  return { kid, privateKey, pem: encodePem("RSA PUBLIC KEY", spkiToPkcs1Public(spki)) };
}

/** The state of one mock digi.me. Create with `MockDigime.create`. */
export class MockDigime {
  readonly apiBaseUrl: URL;
  readonly onboardBaseUrl: URL;
  readonly contracts = new Map<string, Contract>();
  readonly users = new Map<string, MockUser>();
  readonly accessTokens = new Map<string, AccessTokenRecord>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly references = new Map<string, ReferenceRecord>();
  readonly accountRefs = new Map<string, { userId: string; accountId: string }>();
  readonly authorizationCodes = new Map<string, AuthorizationCodeRecord>();
  /** Sessions started by `permission-access/trigger`, by session key. */
  readonly sessions = new Map<string, TriggeredSession>();
  /** Seen nonces and when; kept while a request carrying them could still be accepted. */
  readonly nonces = new Map<string, number>();
  journal: JournalEntry[] = [];
  globalScenario: Scenario = SUCCESS;
  globalFaults: ActiveFault[] = [];
  #clockOffsetMs = 0;
  #seq = 0;
  #userCounter = 0;
  readonly #options: MockDigimeOptions;
  readonly #signing: SigningKey;
  /** Signs `foreign-signature` tokens: same kid as the real key, wrong key. */
  readonly #foreign: SigningKey;
  /** What foreign files are encrypted to (made when first needed). */
  #foreignKey: Promise<CryptoKey> | undefined;

  private constructor(options: MockDigimeOptions, signing: SigningKey, foreign: SigningKey) {
    this.#options = options;
    this.apiBaseUrl = new URL(options.apiBaseUrl);
    this.onboardBaseUrl = new URL(options.onboardBaseUrl);
    this.#signing = signing;
    this.#foreign = foreign;
  }

  /** Creates a mock with a fresh signing key and registers the given contracts. */
  static async create(options: MockDigimeOptions): Promise<MockDigime> {
    const signing = await createSigningKey(`mock-${randomId(4)}`);
    const foreign = await createSigningKey(signing.kid);
    const mock = new MockDigime(options, signing, foreign);
    await mock.reset();
    return mock;
  }

  /** The mock's clock in milliseconds. */
  now(): number {
    return (this.#options.now ?? Date.now)() + this.#clockOffsetMs;
  }

  /** Moves the mock's clock forward (to expire tokens and codes without waiting). */
  advanceClock(ms: number): number {
    this.#clockOffsetMs += ms;
    return this.now();
  }

  /** Forgets everything but the signing key, then registers the start-up contracts again. */
  async reset(): Promise<void> {
    for (const map of [this.contracts, this.users, this.accessTokens, this.refreshTokens, this.references, this.accountRefs, this.authorizationCodes, this.sessions]) {
      map.clear();
    }
    this.nonces.clear();
    this.journal = [];
    this.globalScenario = SUCCESS;
    this.globalFaults = [];
    this.#clockOffsetMs = 0;
    this.#userCounter = 0;
    for (const contract of this.#options.contracts ?? []) await this.registerContract(contract);
  }

  /** Registers a contract; later requests signed with its key are accepted. */
  async registerContract(input: ContractInput): Promise<string> {
    const clientId = `${input.applicationId}_${input.contractId}`;
    this.contracts.set(clientId, { ...input, clientId, ...(await importContractKey(input.publicKey)) });
    return clientId;
  }

  /** Creates a user with `accountCount` accounts (or the given ids) and issues a token. */
  createUser(options: { userId?: string; clientId?: string; accounts?: number | string[] } = {}): { user: MockUser; token: IssuedToken } {
    const clientId = options.clientId ?? this.contracts.keys().next().value;
    if (!clientId || !this.contracts.has(clientId)) throw new Error("no such contract registered; register one first");
    const id = options.userId ?? `user-${++this.#userCounter}-${randomId(4)}`;
    if (this.users.has(id)) throw new Error(`user "${id}" exists`);
    const accountIds = Array.isArray(options.accounts)
      ? options.accounts
      : Array.from({ length: options.accounts ?? 2 }, (_, i) => `${i + 1}_${id}`);
    const services = ["Facebook", "Spotify", "Fitbit", "Instagram"];
    const user: MockUser = {
      id,
      clientId,
      accounts: accountIds.map((accountId, i) => ({ id: accountId, serviceTypeName: services[i % services.length] ?? "Service", needsReauth: false })),
      faults: [],
      scenarioSetAt: 0,
      sessionKey: randomId(16),
      files: [],
    };
    user.accounts.forEach((account, index) => this.#putDefaultFiles(user, account, index));
    this.users.set(id, user);
    return { user, token: this.issueToken(user) };
  }

  /** Sets (or with `undefined` clears) a user's scenario and arms its faults. */
  setUserScenario(user: MockUser, scenario: Scenario | undefined): void {
    user.scenario = scenario;
    user.faults = scenario ? armFaults(scenario) : [];
    // +1: a token issued in the same millisecond as the scenario counts as older.
    user.scenarioSetAt = this.now() + 1;
    for (const account of user.accounts) account.needsReauth = false;
    if (scenario?.name === "account-511") {
      const chosen = scenario.accounts ?? [user.accounts[0]?.id ?? ""];
      for (const account of user.accounts) account.needsReauth = chosen.includes(account.id);
      const unknown = chosen.filter((id) => !user.accounts.some((a) => a.id === id));
      if (unknown.length) throw new Error(`unknown account id(s) for ${user.id}: ${unknown.join(", ")}`);
    }
  }

  /** Sets the global scenario, which applies to users without their own. */
  setGlobalScenario(scenario: Scenario): void {
    this.globalScenario = scenario;
    this.globalFaults = armFaults(scenario);
  }

  /** The scenario in force for a user (theirs, else the global one). */
  scenarioFor(user: MockUser | undefined): Scenario {
    return user?.scenario ?? this.globalScenario;
  }

  /** Faults in force for a user: their own first, then the global ones. */
  faultsFor(user: MockUser | undefined): ActiveFault[] {
    return user ? [...user.faults, ...this.globalFaults] : this.globalFaults;
  }

  /**
   * Issues a fresh access/refresh pair for a user. `lifetimes` shortens them
   * (the admin API's "a token whose refresh token expires soon"); an access
   * token never outlives its refresh token. Each token expires, on the mock's
   * clock, at the second its `expiry` states, so the mock refuses it exactly
   * when a client reading that expiry expects it to.
   */
  issueToken(user: MockUser, lifetimes: TokenLifetimes = {}): IssuedToken {
    const now = this.now();
    const refreshMs = lifetimes.refreshTokenMs ?? LIFETIMES_MS.refreshToken;
    const accessMs = Math.min(lifetimes.accessTokenMs ?? LIFETIMES_MS.accessToken, refreshMs);
    const accessExpiry = Math.floor((now + accessMs) / 1000);
    const refreshExpiry = Math.floor((now + refreshMs) / 1000);
    const access = `mat_${randomId()}`;
    const refresh = `mrt_${randomId()}`;
    this.accessTokens.set(access, { userId: user.id, clientId: user.clientId, expiresAt: accessExpiry * 1000, issuedAt: now, revoked: false });
    this.refreshTokens.set(refresh, { userId: user.id, clientId: user.clientId, expiresAt: refreshExpiry * 1000, issuedAt: now, used: false });
    return {
      accessToken: { value: access, expiry: accessExpiry },
      refreshToken: { value: refresh, expiry: refreshExpiry },
      user: { id: user.id },
      consentid: `consent-${user.id}`,
    };
  }

  /** Starts a sync session for a user (`permission-access/trigger`) and returns its key. */
  triggerSession(user: MockUser): string {
    const key = randomId(16);
    this.sessions.set(key, { userId: user.id, startedAt: this.now() });
    return key;
  }

  /** Adds an account to a user (a service onboarded through the `onboard` page). */
  addAccount(user: MockUser, serviceTypeName = "Service"): MockAccount {
    const account: MockAccount = { id: `${user.accounts.length + 1}_${user.id}_${randomId(2)}`, serviceTypeName, needsReauth: false };
    user.accounts.push(account);
    this.#putDefaultFiles(user, account, user.accounts.length - 1);
    return account;
  }

  /** Removes an account from its user (`DELETE permission-access/service`, or a revoke). */
  removeAccount(user: MockUser, accountId: string): boolean {
    const before = user.accounts.length;
    user.accounts = user.accounts.filter((a) => a.id !== accountId);
    user.files = user.files.filter((f) => f.accountId !== accountId);
    return user.accounts.length < before;
  }

  /** Deletes a user (`DELETE user`): their tokens die with them. */
  deleteUser(user: MockUser): void {
    this.revokeAccessTokens(user.id);
    for (const record of this.refreshTokens.values()) if (record.userId === user.id) record.used = true;
    for (const [key, session] of this.sessions) if (session.userId === user.id) this.sessions.delete(key);
    this.users.delete(user.id);
  }

  /** An account's default files (see `defaultCompressions` and `defaultFileContent` in `data.ts`). */
  #putDefaultFiles(user: MockUser, account: MockAccount, index: number): void {
    for (const compression of defaultCompressions(index)) {
      const name = nextFileName(user, account.id);
      const n = Number(/_(\d+)\.json$/.exec(name)?.[1]);
      this.putFile(user, { accountId: account.id, name, content: defaultFileContent(account, n), compression });
    }
  }

  #account(user: MockUser, accountId: string): MockAccount {
    const account = user.accounts.find((a) => a.id === accountId);
    if (!account) throw new Error(`accountId: user "${user.id}" has no account "${accountId}"`);
    return account;
  }

  #store(user: MockUser, file: MockFile): { name: string } {
    user.files = user.files.filter((f) => f.name !== file.name);
    user.files.push(file);
    return { name: file.name };
  }

  /**
   * Puts a file of JSON content on one of a user's accounts, encrypted (when
   * first read) to the contract's key; a file of the same name is replaced.
   * Throws for an account the user does not have.
   */
  putFile(user: MockUser, input: PutFileInput): { name: string } {
    const account = this.#account(user, input.accountId);
    if (input.content === undefined) throw new Error("content: any JSON value is required");
    return this.#store(user, {
      name: input.name ?? nextFileName(user, account.id),
      accountId: account.id,
      updatedDate: this.now(),
      compression: input.compression ?? "none",
      mimetype: input.mimetype ?? "application/json",
      objectType: input.objectType ?? objectTypeOf(account),
      objectCount: Array.isArray(input.content) ? input.content.length : 1,
      encryptedTo: "contract",
      content: { kind: "json", value: input.content },
    });
  }

  /**
   * Puts a large file: `sizeBytes` of deterministic JSON (see `largeContent`
   * in `data.ts`), generated, compressed and encrypted as a stream on each
   * read. Answers its name and the SHA-256 (hex) of its plaintext.
   */
  async putLargeFile(user: MockUser, input: PutLargeFileInput): Promise<{ name: string; sha256: string }> {
    const account = this.#account(user, input.accountId);
    if (!Number.isInteger(input.sizeBytes) || input.sizeBytes < 2 || input.sizeBytes > LARGE_FILE_MAX_BYTES) {
      throw new Error(`sizeBytes: an integer from 2 to ${LARGE_FILE_MAX_BYTES}`);
    }
    const name = input.name ?? nextFileName(user, account.id);
    const seed = seedOf(name);
    const sha256 = largeContentSha256(input.sizeBytes, seed);
    this.#store(user, {
      name,
      accountId: account.id,
      updatedDate: this.now(),
      compression: input.compression ?? "none",
      mimetype: "application/json",
      objectType: objectTypeOf(account),
      objectCount: largeRecordCount(input.sizeBytes),
      encryptedTo: "contract",
      content: { kind: "large", sizeBytes: input.sizeBytes, seed },
      sha256,
    });
    return { name, sha256 };
  }

  /** Puts a file encrypted to another RSA key than the contract's: it does not decrypt with the contract's private key. */
  putForeignFile(user: MockUser, input: PutForeignFileInput): { name: string } {
    const content = input.content ?? [{ id: "foreign-1", text: "encrypted to another key" }];
    const { name } = this.putFile(user, { accountId: input.accountId, name: input.name, content, compression: input.compression });
    const file = user.files.find((f) => f.name === name)!;
    file.encryptedTo = "foreign";
    return { name };
  }

  /**
   * What a session's `permission-access/query/{sessionKey}` shows now, or
   * `undefined` when the key is neither the user's own session key nor one
   * their `permission-access/trigger` started.
   */
  sessionView(user: MockUser, sessionKey: string): SyncView | undefined {
    const triggered = this.sessions.get(sessionKey);
    if (sessionKey !== user.sessionKey && triggered?.userId !== user.id) return undefined;
    const scenario = this.scenarioFor(user);
    const elapsed = sessionKey === user.sessionKey ? undefined : this.now() - triggered!.startedAt;
    return syncView(user, scenario.syncMs, scenario.shape, elapsed);
  }

  /** A file's encrypted body (bytes, or a stream for a large file) and its length when known. */
  async fileBody(user: MockUser, file: MockFile): Promise<{ body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>; length?: number }> {
    const key = file.encryptedTo === "foreign" ? await (this.#foreignKey ??= generateForeignKey()) : this.contracts.get(user.clientId)?.encryptionKey;
    if (!key) throw new Error(`no contract key to encrypt ${file.name} to`);
    const body = await encryptedBody(file, key);
    return { body, length: encryptedLength(file) };
  }

  /** Revokes every access token of a user (after a refresh or a reauthorization). */
  revokeAccessTokens(userId: string): void {
    for (const record of this.accessTokens.values()) if (record.userId === userId) record.revoked = true;
  }

  /**
   * Checks an access token. `allowExpired` is for user reauthorization, which
   * exists precisely for users whose tokens have run out.
   */
  checkAccessToken(value: unknown, clientId: string, allowExpired = false): { ok: true; user: MockUser } | { ok: false; message: string; user?: MockUser } {
    const record = typeof value === "string" ? this.accessTokens.get(value) : undefined;
    const user = record ? this.users.get(record.userId) : undefined;
    if (!record || !user || record.revoked || record.clientId !== clientId) {
      return { ok: false, message: "The token (access_token) is invalid", user };
    }
    const scenario = this.scenarioFor(user).name;
    const predatesScenario = record.issuedAt < user.scenarioSetAt || !user.scenario;
    if (scenario === "invalid-token" && (predatesScenario || !user.scenario?.recoverOnRefresh)) {
      return { ok: false, message: "The token (access_token) is invalid", user };
    }
    const expired = record.expiresAt <= this.now() || (scenario === "refresh-expired" && predatesScenario);
    if (expired && !allowExpired) return { ok: false, message: "The token (access_token) is expired", user };
    return { ok: true, user };
  }

  /** Spends a refresh token; the caller issues the new pair. */
  useRefreshToken(value: unknown, clientId: string): { ok: true; user: MockUser } | { ok: false; message: string; user?: MockUser } {
    const record = typeof value === "string" ? this.refreshTokens.get(value) : undefined;
    const user = record ? this.users.get(record.userId) : undefined;
    if (!record || !user || record.clientId !== clientId) return { ok: false, message: "The token (refresh_token) is invalid", user };
    if (record.used) return { ok: false, message: "The token (refresh_token) is invalid", user };
    const predatesScenario = record.issuedAt < user.scenarioSetAt || !user.scenario;
    if (record.expiresAt <= this.now() || (this.scenarioFor(user).name === "refresh-expired" && predatesScenario)) {
      return { ok: false, message: "The token (refresh_token) is expired", user };
    }
    record.used = true;
    return { ok: true, user };
  }

  /**
   * Verifies a request's `Authorization: Bearer <JWT>` the way digi.me does:
   * PS512 with the contract's key, a known client id, a fresh nonce and a
   * timestamp near the mock's clock. Records the nonce once it verified.
   */
  async authenticate(header: string | null): Promise<AuthResult> {
    const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    if (!token) return { ...VALIDATION_ERRORS, detail: "Authorization header with a Bearer JWT is required" };
    let claims: Record<string, unknown> | undefined;
    try {
      const [, body] = token.split(".");
      claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob((body ?? "").replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));
    } catch {
      return { ...VALIDATION_ERRORS, detail: "Authorization JWT is malformed" };
    }
    if (!claims || typeof claims !== "object") return { ...VALIDATION_ERRORS, detail: "Authorization JWT is malformed" };
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { ...VALIDATION_ERRORS, detail: "Authorization JWT header is malformed", claims };
    }
    const contract = typeof claims.client_id === "string" ? this.contracts.get(claims.client_id) : undefined;
    if (!contract) return { ok: false, status: 401, code: "InvalidClient", message: `The client_id (${String(claims.client_id)}) is invalid`, claims };
    if (alg !== "PS512") return { ...VALIDATION_ERRORS, detail: "Authorization JWT must be signed with PS512", claims, verified: false };
    try {
      await compactVerify(token, contract.key, { algorithms: ["PS512"] });
    } catch {
      return { ...VALIDATION_ERRORS, detail: "Authorization JWT signature is invalid", claims, verified: false };
    }
    const nonce = claims.nonce;
    if (typeof nonce !== "string" || !NONCE.test(nonce)) {
      return { ...VALIDATION_ERRORS, detail: "nonce must be 32 alphanumeric characters", claims, verified: true };
    }
    if (this.nonces.has(nonce)) {
      return { ok: false, status: 406, code: "InvalidRequest", message: `The nonce provided in JWT payload (${nonce}) has already been used`, claims, verified: true };
    }
    const timestamp = claims.timestamp;
    if (typeof timestamp !== "number" || Math.abs(timestamp - this.now()) > LIFETIMES_MS.timestampSkew) {
      return { ok: false, status: 406, code: "InvalidRequest", message: "The timestamp provided in JWT payload is out of range", claims, verified: true };
    }
    this.nonces.set(nonce, this.now());
    return { ok: true, claims, contract };
  }

  /** URL of the mock's key set, as tokens name it in `jku`. */
  get keySetUrl(): string {
    return new URL("jwks/oauth", this.apiBaseUrl).toString();
  }

  /** The key set digi.me publishes: PKCS#1 PEM keys with `kid`. */
  keySet(): { keys: Array<Record<string, string>> } {
    return { keys: [{ kid: this.#signing.kid, kty: "RSA", alg: "PS512", use: "sig", pem: this.#signing.pem }] };
  }

  /**
   * Signs a response token (valid for 10 minutes unless the payload says). `foreign-signature` signs with another key under
   * the real `kid`; `unknown-kid` names a `kid` the key set does not have.
   */
  async signToken(payload: Record<string, unknown>, fault?: "foreign-signature" | "unknown-kid"): Promise<string> {
    const key = fault === "foreign-signature" || fault === "unknown-kid" ? this.#foreign.privateKey : this.#signing.privateKey;
    const kid = fault === "unknown-kid" ? `unknown-${randomId(4)}` : this.#signing.kid;
    const now = Math.floor(this.now() / 1000);
    // A payload's own iat/exp/nbf win, so tests can sign tokens that are expired or not yet valid.
    const body = new TextEncoder().encode(JSON.stringify({ iat: now, exp: now + 600, ...payload }));
    return new CompactSign(body).setProtectedHeader({ alg: "PS512", typ: "JWT", jku: this.keySetUrl, kid }).sign(key);
  }

  /** Stores a reference code and returns it. */
  createReference(record: Omit<ReferenceRecord, "expiresAt" | "used">): string {
    const code = `ref_${randomId()}`;
    this.references.set(code, { ...record, expiresAt: this.now() + LIFETIMES_MS.reference, used: false });
    return code;
  }

  /** Stores an account reference for `reference` and returns its id. */
  createAccountRef(userId: string, accountId: string): string {
    const id = `acr_${randomId(12)}`;
    this.accountRefs.set(id, { userId, accountId });
    return id;
  }

  /** Issues a single-use authorization code bound to a PKCE challenge. */
  createAuthorizationCode(userId: string, clientId: string, codeChallenge: string): string {
    const code = `mac_${randomId()}`;
    this.authorizationCodes.set(code, { userId, clientId, codeChallenge, expiresAt: this.now() + LIFETIMES_MS.authorizationCode, used: false });
    return code;
  }

  /** Spends an authorization code; refuses unknown, expired, reused or foreign ones. */
  useAuthorizationCode(code: unknown, clientId: string): AuthorizationCodeRecord | undefined {
    const record = typeof code === "string" ? this.authorizationCodes.get(code) : undefined;
    if (!record || record.used || record.clientId !== clientId || record.expiresAt <= this.now()) return undefined;
    record.used = true;
    return record;
  }

  /** The user a reference code or session belongs to, for scoping scenarios. */
  userById(id: string | undefined): MockUser | undefined {
    return id === undefined ? undefined : this.users.get(id);
  }

  /** The user an access token was issued to, whatever its state. */
  userByAccessToken(value: unknown): MockUser | undefined {
    const record = typeof value === "string" ? this.accessTokens.get(value) : undefined;
    return record ? this.users.get(record.userId) : undefined;
  }

  /** Finds the user who owns an account id. */
  userByAccount(accountId: unknown): MockUser | undefined {
    for (const user of this.users.values()) if (user.accounts.some((a) => a.id === accountId)) return user;
    return undefined;
  }

  /** Appends to the journal (bounded: the oldest entries go first). */
  record(entry: Omit<JournalEntry, "seq" | "time">): JournalEntry {
    const full: JournalEntry = { seq: ++this.#seq, time: new Date(this.now()).toISOString(), ...entry };
    this.journal.push(full);
    if (this.journal.length > JOURNAL_LIMIT) this.journal.splice(0, this.journal.length - JOURNAL_LIMIT);
    if (this.#seq % SWEEP_EVERY === 0) this.sweep();
    return full;
  }

  /**
   * Forgets what can no longer matter, so a long QA session or soak keeps the
   * mock's memory flat: nonces whose timestamp window has passed (a replay
   * would be refused for its timestamp anyway), spent or expired codes.
   */
  sweep(): void {
    const now = this.now();
    for (const [nonce, seenAt] of this.nonces) if (seenAt < now - 2 * LIFETIMES_MS.timestampSkew) this.nonces.delete(nonce);
    for (const [code, record] of this.references) if (record.expiresAt < now - LIFETIMES_MS.reference) this.references.delete(code);
    for (const [code, record] of this.authorizationCodes) if (record.expiresAt < now - LIFETIMES_MS.authorizationCode) this.authorizationCodes.delete(code);
    for (const [value, record] of this.accessTokens) if (record.expiresAt < now - LIFETIMES_MS.accessToken) this.accessTokens.delete(value);
  }
}
