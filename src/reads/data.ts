/**
 * The reads a backend makes through the edge: the user's accounts (each
 * saying whether it needs reauthorization, and the exact start that brings it
 * back), a sync session, its file list (long-polled while the sync runs) and a
 * file, decrypted and decompressed as it streams. A 511 from the sync comes
 * back with its account reauthorization ready.
 */
import { AppError } from "../errors.ts";
import { accountsNeedingReauth, DigimeError, type DecryptStats, type DigimeAccount, type FileHeader, type FileListResponse, type SessionOptions } from "../digime/index.ts";
import { withUserToken, type ReadDeps } from "./read.ts";

/** Why an account needs reauthorization. */
export type ReauthReason = "ServiceAuthorizationError" | "unauthorized";

/** Whether an account needs reauthorization, and the body of `POST /v1/reauth/account` that starts it (add `returnTo`). */
export interface AccountReauth {
  needed: boolean;
  reason?: ReauthReason;
  message?: string;
  start?: { userId: string; accountId: string; contractId?: string };
}

/** The answer of `GET /v1/users/{userId}/accounts`. */
export interface AccountsRead {
  userId: string;
  accounts: Array<DigimeAccount & { reauth: AccountReauth }>;
  /** With `sessionKey`: the session's sync state. */
  syncState?: string;
}

/** One account's part of a sync, as the file list answers it. */
export interface SyncAccount {
  accountId: string;
  state: string;
  reauth: AccountReauth;
  /** digi.me's error for a `partial` account (as sent). */
  error?: Record<string, unknown>;
}

/** The answer of `GET /v1/users/{userId}/sessions/{sessionKey}/files`. */
export interface FileListRead {
  userId: string;
  sessionKey: string;
  state: string;
  accounts: SyncAccount[];
  fileList: Array<{ name: string; updated?: number; objectType?: string; serviceName?: string }>;
}

/** How often the long poll of a file list asks digi.me again while the sync runs: every second. */
export const FILE_LIST_POLL_MS = 1_000;

function reauthFor(deps: Pick<ReadDeps, "user" | "startContractId">, accountId: string, reason: ReauthReason | undefined, message?: string): AccountReauth {
  if (!reason) return { needed: false };
  const contract = deps.startContractId ? { contractId: deps.startContractId } : {};
  return { needed: true, reason, ...(message ? { message } : {}), start: { userId: deps.user.userId, accountId, ...contract } };
}

/** 511s a sync reported, by account. */
function serviceAuthorizationErrors(fileList: FileListResponse | undefined): Map<string, string | undefined> {
  return new Map((fileList ? accountsNeedingReauth(fileList) : []).map((found) => [found.accountId, found.message]));
}

/**
 * The user's accounts (with `sessionKey`, read beside that session's sync
 * status, in parallel): each with `reauth`, from a 511 in the sync or
 * digi.me's `accessTokenStatus.authorized: false`.
 */
export async function readAccounts(deps: ReadDeps, sessionKey?: string): Promise<AccountsRead> {
  const userId = deps.user.userId;
  const [accounts, fileList] = await withUserToken(deps, (accessToken) =>
    Promise.all([deps.digime.readAccounts(accessToken), sessionKey ? deps.digime.readFileList({ sessionKey, userAccessToken: accessToken }) : Promise.resolve(undefined)]),
  );
  const lost = serviceAuthorizationErrors(fileList);
  return {
    userId,
    accounts: accounts.map((account) => {
      const reason: ReauthReason | undefined = lost.has(account.id) ? "ServiceAuthorizationError" : account.accessTokenStatus?.authorized === false ? "unauthorized" : undefined;
      return { ...account, reauth: reauthFor(deps, account.id, reason, lost.get(account.id)) };
    }),
    ...(fileList ? { syncState: fileList.status.state } : {}),
  };
}

/** Starts a sync (digi.me's `permission-access/trigger`): the new session's key and expiry. */
export async function startSession(deps: ReadDeps, sessionOptions?: SessionOptions): Promise<{ sessionKey: string; expiry: number }> {
  const session = await withUserToken(deps, (userAccessToken) => deps.digime.triggerSession({ userAccessToken, ...(sessionOptions ? { sessionOptions } : {}) }));
  return { sessionKey: session.key, expiry: session.expiry };
}

function fileListItem(item: unknown): FileListRead["fileList"][number] | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const { name, updatedDate, objectType, serviceName } = item as Record<string, unknown>;
  if (typeof name !== "string") return undefined;
  return {
    name,
    ...(typeof updatedDate === "number" ? { updated: updatedDate } : {}),
    ...(typeof objectType === "string" ? { objectType } : {}),
    ...(typeof serviceName === "string" ? { serviceName } : {}),
  };
}

function still(state: string): boolean {
  return state === "running" || state === "pending";
}

/**
 * A session's file list: the sync's state, each account's part (a 511 with
 * its account reauthorization ready) and the files so far. With `waitMs`,
 * asked again every `FILE_LIST_POLL_MS` while the sync is pending or running,
 * until it is not or the wait is over.
 */
export async function readFileList(deps: ReadDeps, sessionKey: string, waitMs = 0): Promise<FileListRead> {
  const userId = deps.user.userId;
  const until = deps.now() + waitMs;
  const read = () => withUserToken(deps, (userAccessToken) => deps.digime.readFileList({ sessionKey, userAccessToken }));
  let answer = await read();
  while (still(answer.status.state) && deps.now() + FILE_LIST_POLL_MS <= until) {
    await deps.sleep(FILE_LIST_POLL_MS);
    answer = await read();
  }
  const lost = serviceAuthorizationErrors(answer);
  const accounts: SyncAccount[] = Object.entries(answer.status.details ?? {}).map(([accountId, entry]) => ({
    accountId,
    state: entry.state,
    reauth: reauthFor(deps, accountId, lost.has(accountId) ? "ServiceAuthorizationError" : undefined, lost.get(accountId)),
    ...(entry.error ? { error: entry.error } : {}),
  }));
  return {
    userId,
    sessionKey,
    state: answer.status.state,
    accounts,
    fileList: (answer.fileList ?? []).map(fileListItem).filter((item) => item !== undefined),
  };
}

/** A file opened through the edge: what digi.me's header says, and the content as a stream. */
export interface OpenedFile {
  header: FileHeader;
  content: ReadableStream<Uint8Array>;
}

/**
 * One file of a session: fetched with the user's token, decrypted with the
 * contract key and decompressed as it streams (`openFile`). A file encrypted
 * to another key fails before any content: `file_undecryptable`.
 */
export async function readFile(deps: ReadDeps, sessionKey: string, fileName: string, stats?: DecryptStats): Promise<OpenedFile> {
  const file = await withUserToken(deps, (userAccessToken) => deps.digime.readFile({ sessionKey, fileName, userAccessToken }));
  try {
    return { header: file.header, content: await deps.digime.openFile(file, stats) };
  } catch (error) {
    if (!(error instanceof DigimeError && error.kind === "undecryptable")) throw error;
    throw new AppError("file_undecryptable", `the file ${fileName} does not decrypt under the contract key`, {
      hint: deps.contract
        ? `digi.me encrypted it to another key than contract ${deps.contract.id}'s: check that ${deps.contract.keyBinding} holds the private key of contract ${deps.contract.id}`
        : "digi.me encrypted it to another key than this contract's: check that the contract's secret holds its private key",
      extra: { fileName },
      cause: error,
    });
  }
}

/** A file's header only (its body is not read). */
export async function readFileHeader(deps: ReadDeps, sessionKey: string, fileName: string): Promise<FileHeader> {
  const file = await withUserToken(deps, (userAccessToken) => deps.digime.readFile({ sessionKey, fileName, userAccessToken }));
  await file.body.cancel().catch(() => undefined);
  return file.header;
}
