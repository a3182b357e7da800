/**
 * The mock's admin API under `/__mock/`: reset, contracts, users, scenarios,
 * the clock and the request journal. Shapes are documented in mock-server/README.md.
 */
import { http, HttpResponse, type RequestHandler } from "msw";
import { z } from "zod";
import { controlPanelHandlers } from "./control-panel.ts";
import { journaled } from "./respond.ts";
import { COMPRESSIONS, LARGE_FILE_MAX_BYTES, type MockFile } from "./data.ts";
import { scenarioSchema } from "./scenarios.ts";
import { LIFETIMES_MS, type JournalEntry, type MockDigime, type MockUser } from "./state.ts";

const contractSchema = z.object({ applicationId: z.string().min(1), contractId: z.string().min(1), publicKey: z.string().min(1) }).strict();

const userSchema = z
  .object({
    userId: z.string().min(1).max(200).regex(/^[A-Za-z0-9._:-]+$/).optional(),
    clientId: z.string().optional(),
    accounts: z.union([z.number().int().min(0).max(50), z.array(z.string().min(1)).max(50)]).optional(),
    scenario: scenarioSchema.optional(),
  })
  .strict();

/** `POST /__mock/users/:userId/token`: optional lifetimes (ms), e.g. a refresh token that expires in a minute. */
const issueSchema = z
  .object({
    accessTokenLifetimeMs: z.number().int().min(1000).max(LIFETIMES_MS.accessToken).optional(),
    refreshTokenLifetimeMs: z.number().int().min(1000).max(LIFETIMES_MS.refreshToken).optional(),
  })
  .strict();

const fileName = z.string().min(1).max(200).regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only");

/** `POST /__mock/users/:userId/files`: any JSON content on one of the user's accounts. */
const fileSchema = z
  .object({
    accountId: z.string().min(1),
    name: fileName.optional(),
    content: z.unknown().refine((value) => value !== undefined, "any JSON value is required"),
    compression: z.enum(COMPRESSIONS).optional(),
    mimetype: z.string().min(1).max(200).optional(),
  })
  .strict();

/** `POST /__mock/users/:userId/files/large`: a large file of deterministic content, 20 MiB and more allowed. */
const largeFileSchema = z
  .object({
    accountId: z.string().min(1),
    sizeBytes: z.number().int().min(2).max(LARGE_FILE_MAX_BYTES),
    name: fileName.optional(),
    compression: z.enum(COMPRESSIONS).optional(),
  })
  .strict();

/** `POST /__mock/users/:userId/files/foreign`: a file encrypted to another key than the contract's. */
const foreignFileSchema = z
  .object({
    accountId: z.string().min(1),
    name: fileName.optional(),
    content: z.unknown().optional(),
    compression: z.enum(COMPRESSIONS).optional(),
  })
  .strict();

const clockSchema = z.object({ advanceMs: z.number().int().min(0) }).strict();

const tokenCheckSchema = z.object({ accessToken: z.string() }).strict();

function invalid(message: string, status = 400): Response {
  return HttpResponse.json({ error: { code: "InvalidRequest", message } }, { status });
}

async function body<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S> | Response> {
  let value: unknown = {};
  const text = await request.text();
  if (text) {
    try {
      value = JSON.parse(text);
    } catch {
      return invalid("body is not JSON");
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    return invalid(result.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "));
  }
  return result.data;
}

/** Runs an admin action; what it throws (an unknown account, say) is a 400 naming the field. */
async function attempt(action: () => Response | Promise<Response>): Promise<Response> {
  try {
    return await action();
  } catch (error) {
    return invalid((error as Error).message);
  }
}

/** A file as `GET /__mock/users/:userId/files` lists it. */
function fileView(file: MockFile): Record<string, unknown> {
  return {
    name: file.name,
    accountId: file.accountId,
    updatedDate: file.updatedDate,
    compression: file.compression,
    mimetype: file.mimetype,
    objectType: file.objectType,
    objectCount: file.objectCount,
    encryptedTo: file.encryptedTo,
    ...(file.content.kind === "large" ? { sizeBytes: file.content.sizeBytes, sha256: file.sha256 } : { content: file.content.value }),
  };
}

function userView(mock: MockDigime, user: MockUser): Record<string, unknown> {
  return {
    userId: user.id,
    clientId: user.clientId,
    sessionKey: user.sessionKey,
    accounts: user.accounts.map((a) => ({ id: a.id, serviceTypeName: a.serviceTypeName, needsReauth: a.needsReauth })),
    scenario: mock.scenarioFor(user),
    scenarioScope: user.scenario ? "user" : "global",
  };
}

/** Filters for `GET /__mock/journal`. */
function filterJournal(entries: JournalEntry[], params: URLSearchParams): JournalEntry[] {
  const endpoint = params.get("endpoint");
  const userId = params.get("userId");
  const method = params.get("method")?.toUpperCase();
  const status = params.get("status");
  const since = Number(params.get("since") ?? 0);
  const limit = Math.min(Number(params.get("limit") ?? 1000) || 1000, 5000);
  return entries
    .filter(
      (e) =>
        (!endpoint || e.endpoint === endpoint) &&
        (!userId || e.userId === userId) &&
        (!method || e.method === method) &&
        (!status || String(e.status) === status) &&
        e.seq > since,
    )
    .slice(-limit);
}

/** Builds the admin handlers. `origin` is where they live (the API's origin). */
export function adminHandlers(mock: MockDigime, origin: string): RequestHandler[] {
  const admin = (path: string) => `${origin}/__mock/${path}`;
  const wrap = (fn: Parameters<typeof journaled>[2]) => journaled(mock, "admin", fn);
  const userOr404 = (id: string) => mock.users.get(id) ?? invalid(`no user "${id}"`, 404);

  return [
    // The control panel: GET /__mock/ from a browser, and the state it polls (control-panel.ts).
    ...controlPanelHandlers(mock, origin),
    http.post(
      admin("reset"),
      wrap(async () => {
        await mock.reset();
        return HttpResponse.json({ ok: true });
      }),
    ),
    http.post(
      admin("contracts"),
      wrap(async ({ request }) => {
        const input = await body(request, contractSchema);
        if (input instanceof Response) return input;
        try {
          return HttpResponse.json({ clientId: await mock.registerContract(input) }, { status: 201 });
        } catch (error) {
          return invalid(`publicKey: ${(error as Error).message}`);
        }
      }),
    ),
    http.post(
      admin("users"),
      wrap(async ({ request }) => {
        const input = await body(request, userSchema);
        if (input instanceof Response) return input;
        try {
          const { user, token } = mock.createUser(input);
          if (input.scenario) mock.setUserScenario(user, input.scenario);
          return HttpResponse.json({ ...userView(mock, user), token }, { status: 201 });
        } catch (error) {
          return invalid((error as Error).message, (error as Error).message.includes("exists") ? 409 : 400);
        }
      }),
    ),
    http.get(
      admin("users/:userId"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").pop() ?? ""));
        return user instanceof Response ? user : HttpResponse.json(userView(mock, user));
      }),
    ),
    http.post(
      admin("users/:userId/token"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").at(-2) ?? ""));
        if (user instanceof Response) return user;
        const input = await body(request, issueSchema);
        if (input instanceof Response) return input;
        const token = mock.issueToken(user, { accessTokenMs: input.accessTokenLifetimeMs, refreshTokenMs: input.refreshTokenLifetimeMs });
        return HttpResponse.json({ token }, { status: 201 });
      }),
    ),
    http.get(
      admin("users/:userId/files"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").at(-2) ?? ""));
        if (user instanceof Response) return user;
        return HttpResponse.json({ files: user.files.map(fileView) });
      }),
    ),
    http.post(
      admin("users/:userId/files"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").at(-2) ?? ""));
        if (user instanceof Response) return user;
        const input = await body(request, fileSchema);
        if (input instanceof Response) return input;
        return attempt(() => HttpResponse.json(mock.putFile(user, input), { status: 201 }));
      }),
    ),
    http.post(
      admin("users/:userId/files/large"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").at(-3) ?? ""));
        if (user instanceof Response) return user;
        const input = await body(request, largeFileSchema);
        if (input instanceof Response) return input;
        return attempt(async () => HttpResponse.json(await mock.putLargeFile(user, input), { status: 201 }));
      }),
    ),
    http.post(
      admin("users/:userId/files/foreign"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").at(-3) ?? ""));
        if (user instanceof Response) return user;
        const input = await body(request, foreignFileSchema);
        if (input instanceof Response) return input;
        return attempt(() => HttpResponse.json(mock.putForeignFile(user, input), { status: 201 }));
      }),
    ),
    http.put(
      admin("users/:userId/scenario"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").at(-2) ?? ""));
        if (user instanceof Response) return user;
        const scenario = await body(request, scenarioSchema);
        if (scenario instanceof Response) return scenario;
        try {
          mock.setUserScenario(user, scenario);
        } catch (error) {
          return invalid((error as Error).message);
        }
        return HttpResponse.json(userView(mock, user));
      }),
    ),
    http.delete(
      admin("users/:userId/scenario"),
      wrap(async ({ request }) => {
        const user = userOr404(decodeURIComponent(new URL(request.url).pathname.split("/").at(-2) ?? ""));
        if (user instanceof Response) return user;
        mock.setUserScenario(user, undefined);
        return HttpResponse.json(userView(mock, user));
      }),
    ),
    http.put(
      admin("scenario"),
      wrap(async ({ request }) => {
        const scenario = await body(request, scenarioSchema);
        if (scenario instanceof Response) return scenario;
        mock.setGlobalScenario(scenario);
        return HttpResponse.json({ scenario });
      }),
    ),
    http.delete(
      admin("scenario"),
      wrap(async () => {
        mock.setGlobalScenario(scenarioSchema.parse({}));
        return HttpResponse.json({ scenario: mock.globalScenario });
      }),
    ),
    http.get(
      admin("journal"),
      wrap(async ({ request }) => HttpResponse.json({ entries: filterJournal(mock.journal, new URL(request.url).searchParams) })),
    ),
    http.delete(
      admin("journal"),
      wrap(async () => {
        mock.journal = [];
        return HttpResponse.json({ ok: true });
      }),
    ),
    http.post(
      admin("tokens/check"),
      wrap(async ({ request }) => {
        const input = await body(request, tokenCheckSchema);
        if (input instanceof Response) return input;
        const owner = mock.userByAccessToken(input.accessToken);
        const verdict = owner ? mock.checkAccessToken(input.accessToken, owner.clientId) : { ok: false as const, message: "The token (access_token) is invalid" };
        return HttpResponse.json(verdict.ok ? { valid: true, userId: owner!.id } : { valid: false, message: verdict.message });
      }),
    ),
    http.post(
      admin("clock"),
      wrap(async ({ request }) => {
        const input = await body(request, clockSchema);
        if (input instanceof Response) return input;
        return HttpResponse.json({ now: mock.advanceClock(input.advanceMs) });
      }),
    ),
    http.get(
      admin(""),
      wrap(async () =>
        HttpResponse.json({
          apiBaseUrl: mock.apiBaseUrl.toString(),
          onboardBaseUrl: mock.onboardBaseUrl.toString(),
          contracts: [...mock.contracts.keys()],
          users: mock.users.size,
          globalScenario: mock.globalScenario,
          journalEntries: mock.journal.length,
        }),
      ),
    ),
  ];
}
