/**
 * The demo application for `npm start`: a stand-in for an application backend
 * and its web page. It seeds a demo user in the mock digi.me, hands the user's
 * token to the edge, and offers buttons that set a mock scenario and start a
 * flow through the edge's backend API; the browser comes back to /return,
 * which shows the outcome — checking the signed return as an application
 * must — the webhooks the edge sent for the flow, verified by the stack's
 * receiver, and after a user reauthorization the session digi.me opened and the
 * stored token's version and expiries (never its values). The demo writes the
 * token as a backend must: create only, else over the version stored. One scenario instead opens digi.me in a new tab and watches the
 * flow from the page through a long poll (`GET /v1/flows/{flowId}?wait=25`,
 * made by the demo's backend), as a backend without webhooks would.
 * "Read data" reads through the edge with the API key alone: the user's
 * accounts, each with the reauthorization it needs and a button that starts it
 * from the read's `start` body; a sync as it runs (the page polls the file list
 * with `wait`, through the demo's backend); and the first file's content,
 * escaped and truncated. "Connect a new user" runs `POST /v1/authorize` for a
 * fresh user id, and the confirmation the demo already offers for
 * `awaiting_confirmation` stores the token. A selector on the index page
 * switches the session between the stack's two contracts (a cookie): every
 * edge call passes that `contractId`, the demo user has a mock user under each,
 * and every page names the active one. Token values never reach a page.
 * Development only: it never ships with the Worker.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { escapeHtml } from "../src/pages.ts";
import { mockAdmin } from "../harness/mock-admin.ts";
import { DEV_CONTRACT, DEV_CONTRACT_2 } from "../mock-server/standalone.ts";
import { checkSignedReturn } from "../harness/signed-return.ts";
import type { ReceivedWebhook, WebhookReceiver } from "../harness/webhook-receiver.ts";

/** Where the demo finds the edge and the mock. */
export interface DemoOptions {
  port: number;
  host: string;
  edgeUrl: string;
  mockUrl: string;
  apiKey: string;
  /** The edge's RETURN_SIGNING_SECRET: the demo checks every return with it. */
  returnSigningSecret: string;
  /** The stack's webhook receiver, whose deliveries the demo shows beside each flow. */
  webhooks?: WebhookReceiver;
  /** Where the webhooks go instead (`npm start -- --webhook-url`): the demo sees none of them, and says so. */
  webhooksElsewhere?: string;
}

/** The contracts the demo switches between (the local stack's two; the first is the edge's default). */
export const DEMO_CONTRACTS = [DEV_CONTRACT, DEV_CONTRACT_2].map((c) => ({ contractId: c.contractId, clientId: `${c.applicationId}_${c.contractId}` }));

/** The cookie that remembers which contract this browser's demo session uses. */
const CONTRACT_COOKIE = "demo_contract";

/** The contract the request being answered uses (its cookie): every edge call the demo makes passes it. */
const activeContract = new AsyncLocalStorage<string>();

/** The active contract's id (outside a request: the default). */
function currentContract(): string {
  return activeContract.getStore() ?? DEMO_CONTRACTS[0]!.contractId;
}

/** The contract this browser's session chose (its cookie), else the default. */
function sessionContract(cookie: string | undefined): string {
  const id = new RegExp(`(?:^|;\\s*)${CONTRACT_COOKIE}=([A-Za-z0-9._-]+)`).exec(cookie ?? "")?.[1] ?? "";
  return DEMO_CONTRACTS.some((c) => c.contractId === id) ? id : DEMO_CONTRACTS[0]!.contractId;
}

/** The demo user at the mock under a contract (a digi.me user belongs to one): `demo-user` under the default, `demo-user.<contractId>` under another. */
export function demoMockUser(contractId = currentContract()): string {
  return contractId === DEMO_CONTRACTS[0]!.contractId ? DEMO_USER : `${DEMO_USER}.${contractId}`;
}

/** The cookie that remembers which flow this browser's demo session started. */
const FLOW_COOKIE = "demo_flow";

/** The cookie that remembers the new user this browser's demo session connects ("Connect a new user"). */
const USER_COOKIE = "demo_user";

/** The long poll the demo's backend makes (the edge's longest). */
export const DEMO_WAIT_SECONDS = 25;

/** The file list's long poll while "Read data" shows a sync (short, so the page shows the accounts finishing one by one). */
export const DEMO_SYNC_WAIT_SECONDS = 2;

/** How much of the first file "Read data" shows (characters). */
export const DEMO_PREVIEW_CHARS = 600;

/** How long the mock's syncs take for the "Read data" buttons (its `syncMs`). */
export const DEMO_SYNC_MS = 4000;

/** The ids "Connect a new user" makes: `demo-new-` and 8 hex digits. */
export const NEW_USER_ID = /^demo-new-[0-9a-f]{8}$/;

/** The flow this browser's demo session started (its cookie), or "". */
function sessionFlow(cookie: string | undefined): string {
  return new RegExp(`(?:^|;\\s*)${FLOW_COOKIE}=([A-Za-z0-9_-]+)`).exec(cookie ?? "")?.[1] ?? "";
}

/** The new user this browser's demo session connects (its cookie), or "". */
function sessionUser(cookie: string | undefined): string {
  const id = new RegExp(`(?:^|;\\s*)${USER_COOKIE}=([A-Za-z0-9_-]+)`).exec(cookie ?? "")?.[1] ?? "";
  return NEW_USER_ID.test(id) ? id : "";
}

/** The user this browser's session acts for: the new user it connects, else the demo user. */
function signedInUser(cookie: string | undefined): string {
  return sessionUser(cookie) || DEMO_USER;
}

/** Whether this browser's session may read `userId`'s data: the demo user, or the new user it connected. */
function mayRead(userId: string, cookie: string | undefined): boolean {
  return userId === DEMO_USER || (userId !== "" && userId === sessionUser(cookie));
}

/** A JSON value inside a script element: no "<" may close it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** The webhooks received (for a flow: flowWebhooks), as a table. */
function webhookTable(entries: ReceivedWebhook[]): string {
  if (entries.length === 0) return "<p><small>No webhook yet (deliveries arrive about a second after the flow ends; this page reloads).</small></p>";
  const rows = entries.map((e) => {
    const data = e.event?.data ?? {};
    const token = data.token as { accessToken?: { value?: string } } | undefined;
    const detail = [data.errorCode ? `errorCode=${String(data.errorCode)}` : "", token?.accessToken?.value ? `token …${token.accessToken.value.slice(-8)}` : ""].filter(Boolean).join(" ");
    return `<tr><td><code>${escapeHtml(e.type ?? "?")}</code></td><td class="${e.verified ? "ok" : "bad"}">${e.verified ? "signature valid" : `refused: ${escapeHtml(e.verifyError ?? "")}`}</td><td>${e.answered}</td><td>${e.latencyMs ?? "?"} ms</td><td><code>${escapeHtml(e.webhookId)}</code></td><td>${escapeHtml(detail)}</td></tr>`;
  });
  return `<table><tr><th>event</th><th>standardwebhooks</th><th>answered</th><th>latency</th><th>webhook-id</th><th></th></tr>${rows.join("")}</table>`;
}

/** The demo user's id. */
export const DEMO_USER = "demo-user";

/** A flow as `GET /v1/flows/{flowId}` answers it (the fields the webhook filter reads; absent when the read failed). */
export interface FlowTimes {
  flowId: string;
  userId?: string;
  status?: string;
  createdAt?: string;
  completedAt?: string;
  expiresAt?: string;
}

/** How the return page picks a flow's webhooks (shown there under the table). */
export const FLOW_WEBHOOKS_RULE =
  "the events whose <code>data.flowId</code> is this flow, and the token events (<code>token.*</code>, which name no flow) of this flow's user that the edge made between the flow's <code>createdAt</code> and its end — its <code>completedAt</code>; while it is pending or awaiting confirmation, now; once expired, its <code>expiresAt</code> — such as a refresh during an account flow. A token event from before or after (another flow's, a read's, the keep-alive's) is not this flow's";

/**
 * The webhooks of one flow: the events whose `data.flowId` is the flow, and the
 * token events of its user the edge made (the event's `timestamp`) between the
 * flow's start and its end (FLOW_WEBHOOKS_RULE). A flow the edge did not
 * answer (no `createdAt`) gets its own events only.
 */
export function flowWebhooks(received: readonly ReceivedWebhook[], flow: FlowTimes, now = Date.now()): ReceivedWebhook[] {
  const start = flow.createdAt ? Date.parse(flow.createdAt) : Number.NaN;
  const open = flow.status === "pending" || flow.status === "awaiting_confirmation";
  const end = open ? now : Date.parse(flow.completedAt ?? flow.expiresAt ?? "") || now;
  return received.filter((e) => {
    if (e.flowId !== undefined) return e.flowId === flow.flowId;
    if (!e.type?.startsWith("token.") || !flow.userId || e.userId !== flow.userId || Number.isNaN(start)) return false;
    const made = e.event?.timestamp ? Date.parse(e.event.timestamp) : e.receivedAt;
    return made >= start && made <= end;
  });
}

interface Scenario {
  id: string;
  title: string;
  flow: "user" | "account";
  scenario: Record<string, unknown>;
  allowFullAuthorization?: boolean;
  /** Open digi.me in a new tab and watch the flow from this page with a long poll. */
  watch?: boolean;
  note: string;
}

const SCENARIOS: Scenario[] = [
  { id: "user-success", title: "User reauthorization: success", flow: "user", scenario: { name: "success" }, note: "digi.me approves at once; the edge exchanges the code and stores the new token." },
  {
    id: "user-long-poll",
    title: "User reauthorization, watched by a long poll",
    flow: "user",
    scenario: { name: "success", consent: "interactive" },
    watch: true,
    note: `No webhook needed: digi.me opens in a new tab, and this page's backend long-polls GET /v1/flows/{flowId}?wait=${DEMO_WAIT_SECONDS}; the status changes the moment you approve or deny there.`,
  },
  { id: "user-interactive", title: "User reauthorization: you decide", flow: "user", scenario: { name: "success", consent: "interactive" }, note: "The mock shows a consent page: approve, or deny with an errorCode of your choice." },
  { id: "user-failure", title: "User reauthorization: failure (USER_CANCEL)", flow: "user", scenario: { name: "failure", errorCode: "USER_CANCEL" }, note: "digi.me calls back with success=false&errorCode=USER_CANCEL." },
  { id: "user-invalid-token", title: "User reauthorization: InvalidToken at start", flow: "user", scenario: { name: "invalid-token" }, note: "digi.me refuses the access token: the edge answers 409 invalid_token, and no browser step happens." },
  { id: "user-full-authorization", title: "InvalidToken, with the full-authorization fallback", flow: "user", scenario: { name: "invalid-token" }, allowFullAuthorization: true, note: "Same refusal, but the backend asked for allowFullAuthorization: the edge starts full authorization instead." },
  { id: "user-refresh-expired", title: "Expired refresh token, then user reauthorization", flow: "user", scenario: { name: "refresh-expired" }, note: "reauth-status says needs_user_reauth; user reauthorization issues a fresh pair." },
  { id: "account-511", title: "Account reauthorization: an account with 511", flow: "account", scenario: { name: "account-511" }, note: "The first account reports ServiceAuthorizationError 511 until it is reauthorized." },
  { id: "account-failure", title: "Account reauthorization: failure (ONBOARD_ERROR)", flow: "account", scenario: { name: "failure", errorCode: "ONBOARD_ERROR" }, note: "digi.me calls back with success=false&errorCode=ONBOARD_ERROR." },
];

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d2433}
li{margin:.6rem 0}button{font-size:.95rem;padding:.35rem .8rem;cursor:pointer}small{color:#667}
table{border-collapse:collapse;font-size:.85rem}td,th{border-bottom:1px solid #dde;padding:.25rem .5rem;text-align:left}
pre{background:#f4f5f7;padding:.8rem;overflow:auto;border-radius:6px;font-size:.8rem}
.ok{color:#0a7d32}.bad{color:#b3261e}.warn{color:#8a5300;background:#fff3cd;padding:.5rem .75rem;border-radius:6px}.tag{background:#fff3cd;padding:.2rem .5rem;border-radius:4px;font-size:.8rem}</style></head>
<body><p class="tag">Demo application · development only · talks to the edge at its backend API with the dev API key · contract <code id="active-contract">${escapeHtml(currentContract())}</code></p>${body}</body></html>`;
}

/**
 * The page that watches a flow: digi.me opens in a new tab, and a little
 * script asks the demo's backend (`/flows/{flowId}/wait`, one edge long poll
 * each) until the flow is no longer pending.
 */
function watchPage(title: string, flowId: string, launchUrl: string): string {
  // The id is JSON in a script element: no "<" may close it early.
  const script = `const flowId = ${JSON.stringify(flowId).replace(/</g, "\\u003c")};
const live = document.getElementById("live-status");
const polls = document.getElementById("polls");
async function watch() {
  for (;;) {
    const item = document.createElement("li");
    const request = "GET /v1/flows/" + flowId + "?wait=${DEMO_WAIT_SECONDS}";
    item.textContent = request + " … held by the edge";
    polls.append(item);
    let answer;
    try {
      answer = await (await fetch("/flows/" + flowId + "/wait")).json();
    } catch (error) {
      item.textContent = request + " failed: " + error;
      return;
    }
    const status = answer.status || answer.error || "error";
    item.textContent = request + " → " + answer.httpStatus + " " + status + (answer.errorCode ? " " + answer.errorCode : "") + " after " + (answer.heldMs / 1000).toFixed(1) + " s";
    live.textContent = status;
    live.className = status === "succeeded" ? "ok" : status === "pending" ? "" : "bad";
    if (status !== "pending") return;
  }
}
watch();`;
  return page(
    "Watching a flow",
    `<h1>${escapeHtml(title)}</h1>
<p>Flow <code id="flowId">${escapeHtml(flowId)}</code> has started. <a id="launch" href="${escapeHtml(launchUrl)}" target="_blank">Open digi.me in a new tab</a>, then approve or deny there; this page stays.</p>
<p style="font-size:1.3rem">status: <strong id="live-status">pending</strong></p>
<p><small>The demo's backend long-polls the edge, <code>GET /v1/flows/{flowId}?wait=${DEMO_WAIT_SECONDS}</code>: each poll is answered the moment the flow ends, or after ${DEMO_WAIT_SECONDS} s still <code>pending</code> (then it asks again). No webhook needed.</small></p>
<ol id="polls"></ol>
<p><a href="/">Back to the scenarios</a></p>
<script>${script}</script>`,
  );
}

/** A time as ISO 8601: Unix seconds, or milliseconds when the number is that large. */
function isoTime(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return new Date(value > 1e12 ? value : value * 1000).toISOString();
}

/** What a user reauthorization left: the digi.me session its flow opened, and the stored token's version and expiries (never its values). */
export function sessionAndTokenSection(flow: Record<string, unknown>, tokenStatus: number, token: Record<string, unknown>, userId = DEMO_USER): string {
  const session = flow.session as { key?: string; expiry?: number } | undefined;
  const pair = token.token as { accessToken?: { expiry?: number }; refreshToken?: { expiry?: number } } | undefined;
  const sessionRow = session?.key
    ? `key <code id="session-key">${escapeHtml(session.key)}</code>, expires <span id="session-expiry">${escapeHtml(isoTime(session.expiry))}</span>`
    : `<span id="session-key">none</span> <small>(the flow read names no session)</small>`;
  const tokenRows =
    tokenStatus === 200
      ? `<tr><th>token version</th><td><strong id="token-version">${escapeHtml(String(token.version ?? "—"))}</strong>${flow.tokenVersion !== undefined ? ` <small>(the flow stored version ${escapeHtml(String(flow.tokenVersion))})</small>` : ""}${token.refreshed ? " <small>(refreshed by this read)</small>" : ""}</td></tr>
<tr><th>access token</th><td>expires <span id="access-expiry">${escapeHtml(isoTime(pair?.accessToken?.expiry))}</span>, in <span id="access-expires-in">${escapeHtml(String(token.accessTokenExpiresIn ?? "—"))}</span> s</td></tr>
<tr><th>refresh token</th><td>expires <span id="refresh-expiry">${escapeHtml(isoTime(pair?.refreshToken?.expiry))}</span></td></tr>
<tr><th>stored</th><td>${escapeHtml(String(token.updatedAt ?? "—"))}</td></tr>`
      : `<tr><th>token</th><td class="bad" id="token-version">${tokenStatus} ${escapeHtml(String((token.error as { code?: string } | undefined)?.code ?? ""))}</td></tr>`;
  return `<h2>Session and token</h2>
<table id="session-token"><tr><th>digi.me session</th><td>${sessionRow}</td></tr>
${tokenRows}</table>
<p><small>From <code>GET /v1/flows/{flowId}</code> (<code>session</code>) and <code>GET /v1/users/${escapeHtml(userId)}/token</code> (<code>version</code>, the ETag a write-back sends as If-Match, and the expiries; the token values stay off this page).</small></p>`;
}

/** A request's body as text (at most 16 KiB: the demo's forms and JSON are small). */
async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) {
    text += (chunk as Buffer).toString("utf8");
    if (text.length > 16 * 1024) throw new Error("body too large");
  }
  return text;
}

/** Starts the demo app and seeds the demo user. */
export async function startDemoApp(options: DemoOptions): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const origin = `http://${options.host}:${options.port}`;
  /** A call of the edge's backend API under the active contract: `?contractId=` on the user routes, `contractId` in a start's body. */
  const edge = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const contractId = currentContract();
    if (path.startsWith("/v1/users/")) path += `${path.includes("?") ? "&" : "?"}contractId=${encodeURIComponent(contractId)}`;
    const body = init.body !== undefined && (path.startsWith("/v1/reauth/") || path === "/v1/authorize") ? { ...(init.body as Record<string, unknown>), contractId } : init.body;
    return fetch(`${options.edgeUrl}${path}`, {
      method: init.method ?? (body === undefined ? "GET" : "POST"),
      headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json", ...init.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  const mock = mockAdmin(options.mockUrl);

  /** (Re)creates the demo user in the mock and gives its token to the edge. */
  async function seed(): Promise<{ accounts: Array<{ id: string }> }> {
    const mockUser = demoMockUser();
    const clientId = DEMO_CONTRACTS.find((c) => c.contractId === currentContract())!.clientId;
    let created = await mock.createUser({ userId: mockUser, clientId, accounts: 3 });
    if (created.status === 409) created = await mock.call(`users/${mockUser}/token`, undefined, "POST");
    const body = (await created.json()) as { token: unknown };
    // As a backend replaces a token: create only (If-None-Match: *), else over the version stored now (If-Match), which the refusal names.
    let stored = await edge(`/v1/users/${DEMO_USER}/token`, { method: "PUT", body: body.token, headers: { "If-None-Match": "*" } });
    if (stored.status === 412) {
      const current = ((await stored.json()) as { error?: { currentVersion?: number | null } }).error?.currentVersion;
      const precondition: Record<string, string> = typeof current === "number" ? { "If-Match": `"${current}"` } : { "If-None-Match": "*" };
      stored = await edge(`/v1/users/${DEMO_USER}/token`, { method: "PUT", body: body.token, headers: precondition });
    }
    if (stored.status !== 204) throw new Error(`the edge refused the demo token: ${stored.status} ${await stored.text()}`);
    const user = (await (await mock.user(mockUser)).json()) as { accounts: Array<{ id: string }> };
    seededAccounts.set(currentContract(), user.accounts);
    return user;
  }
  /**
   * The session key of the digi.me user whose token the edge now holds. After
   * full authorization that is a new digi.me user (a new library, a new
   * session), so the demo user's first session key no longer applies.
   */
  async function currentSessionKey(userId = DEMO_USER): Promise<string> {
    const stored = (await (await edge(`/v1/users/${encodeURIComponent(userId)}/token`)).json()) as { token?: { accessToken: { value: string } } };
    const owner = stored.token
      ? ((await (await mock.checkToken(stored.token.accessToken.value)).json()) as { userId?: string }).userId
      : undefined;
    if (!owner && userId !== DEMO_USER) return ""; // a new user before its confirmation: no token, no session
    const user = (await (await mock.user(owner ?? demoMockUser())).json()) as { sessionKey?: string };
    return user.sessionKey ?? "";
  }
  /** GET /v1/users/{userId}/reauth-status, with the user's own digi.me session when there is one. */
  async function reauthStatus(userId: string): Promise<unknown> {
    const key = await currentSessionKey(userId);
    return (await edge(`/v1/users/${encodeURIComponent(userId)}/reauth-status${key ? `?sessionKey=${key}` : ""}`)).json();
  }

  /**
   * "Read data" for a user: the accounts read through the edge (each with the
   * reauthorization it needs and, when it does, a button that starts it from the
   * read's `start` body), a button that starts a sync the page watches, and where
   * the first file's content will show.
   */
  async function readDataSection(userId: string): Promise<string> {
    const key = await currentSessionKey(userId);
    const read = await edge(`/v1/users/${encodeURIComponent(userId)}/accounts${key ? `?sessionKey=${key}` : ""}`);
    const body = (await read.json()) as { accounts?: Array<{ id: string; serviceTypeName?: string; reauth?: { needed: boolean; reason?: string; start?: { userId: string; accountId: string } } }>; syncState?: string; error?: { code?: string } };
    let accounts: string;
    if (read.status !== 200) {
      const code = body.error?.code ?? "";
      accounts = `<p id="accounts-error" class="bad">GET /v1/users/${escapeHtml(userId)}/accounts answered ${read.status} ${escapeHtml(code)}${code === "token_not_found" ? " — the edge keeps no token for this user yet (confirm the connection first)" : ""}.</p>`;
    } else {
      const rows = (body.accounts ?? []).map((account) => {
        const reauth = account.reauth;
        const cell = reauth?.needed
          ? `<td class="bad">needs reauthorization: <strong>${escapeHtml(reauth.reason ?? "?")}</strong>${
              reauth.start
                ? `<br><small>start: <code>${escapeHtml(JSON.stringify(reauth.start))}</code></small><form method="post" action="/data/reconnect"><input type="hidden" name="userId" value="${escapeHtml(userId)}"><input type="hidden" name="accountId" value="${escapeHtml(account.id)}"><button id="reconnect-${escapeHtml(account.id)}" class="reconnect">Reconnect ${escapeHtml(account.serviceTypeName ?? account.id)} (POST /v1/reauth/account with this start)</button></form>`
                : ""
            }</td>`
          : `<td class="ok">ok</td>`;
        return `<tr data-account="${escapeHtml(account.id)}"><td><code>${escapeHtml(account.id)}</code></td><td>${escapeHtml(account.serviceTypeName ?? "")}</td>${cell}</tr>`;
      });
      accounts = `<table id="accounts"><tr><th>account</th><th>service</th><th>reauthorization</th></tr>${rows.join("")}</table>
<p><small><code>GET /v1/users/${escapeHtml(userId)}/accounts${key ? "?sessionKey=…" : ""}</code>${body.syncState ? ` (the user's own session: <code>${escapeHtml(body.syncState)}</code>)` : ""}: the edge reads digi.me with the token it keeps; each account's <code>reauth.start</code> is the body of <code>POST /v1/reauth/account</code>, less <code>returnTo</code>.</small></p>`;
    }
    const script = `const userId = ${scriptJson(userId)};
const button = document.getElementById("start-sync");
const state = document.getElementById("sync-state");
const polls = document.getElementById("sync-polls");
const parts = document.getElementById("sync-accounts");
const files = document.getElementById("sync-files");
const first = document.getElementById("first-file");
const item = (text) => { const li = document.createElement("li"); li.textContent = text; return li; };
button.addEventListener("click", async () => {
  button.disabled = true;
  polls.replaceChildren(); parts.replaceChildren(); files.replaceChildren(); first.replaceChildren();
  try {
    const started = await (await fetch("/data/sessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ userId }) })).json();
    if (!started.sessionKey) { state.textContent = started.httpStatus + " " + (started.error || "error"); state.className = "bad"; return; }
    state.textContent = "pending"; state.className = "";
    const query = "?userId=" + encodeURIComponent(userId);
    for (;;) {
      const request = "GET …/sessions/{sessionKey}/files?wait=${DEMO_SYNC_WAIT_SECONDS}";
      const poll = item(request + " … held by the edge");
      polls.append(poll);
      const list = await (await fetch("/data/sessions/" + started.sessionKey + "/files" + query)).json();
      const shown = list.state || list.error || "error";
      poll.textContent = request + " → " + list.httpStatus + " " + shown + " after " + (list.heldMs / 1000).toFixed(1) + " s, " + (list.fileList || []).length + " files";
      state.textContent = shown;
      state.className = shown === "completed" ? "ok" : shown === "pending" || shown === "running" ? "" : "bad";
      parts.replaceChildren(...(list.accounts || []).map((a) => item(a.accountId + ": " + a.state + (a.reauth && a.reauth.needed ? " — needs reauthorization (" + a.reauth.reason + ")" : ""))));
      files.replaceChildren(...(list.fileList || []).map((f) => item(f.name)));
      if (list.httpStatus !== 200 || (list.state !== "pending" && list.state !== "running")) break;
    }
    const file = await (await fetch("/data/sessions/" + started.sessionKey + "/first-file" + query)).json();
    first.innerHTML = file.html; // escaped and truncated by the demo's backend
  } catch (error) {
    state.textContent = "failed: " + error; state.className = "bad";
  } finally {
    button.disabled = false;
  }
});`;
    return `<section id="read-data"><h2>Read data</h2>
<p><small>Through the edge, with the API key alone: no token, no digi.me secret on this side. User <code id="read-user">${escapeHtml(userId)}</code>.</small></p>
${accounts}
<h3>A sync</h3>
<p><button id="start-sync" type="button">Start a sync and read the first file</button> state: <strong id="sync-state">—</strong></p>
<p><small>The demo's backend starts a session (<code>POST /v1/users/{userId}/sessions</code>), then the page polls the file list through it (<code>GET …/sessions/{sessionKey}/files?wait=${DEMO_SYNC_WAIT_SECONDS}</code>: each poll is held while the sync is <code>pending</code> or <code>running</code>, so the accounts show finishing one by one), and reads the first file, decrypted and decompressed at the edge (shown escaped, the first ${DEMO_PREVIEW_CHARS} characters).</small></p>
<ol id="sync-polls"></ol><ul id="sync-accounts"></ul><ul id="sync-files"></ul><div id="first-file"></div>
<script>${script}</script></section>`;
  }

  /** The first file of a session's list, read through the edge: what the page shows of it, escaped and truncated. */
  async function firstFile(userId: string, sessionKey: string): Promise<{ httpStatus: number; name?: string; contentType?: string; compression?: string; characters?: number; truncated?: boolean; error?: string; html: string }> {
    const path = `/v1/users/${encodeURIComponent(userId)}/sessions/${encodeURIComponent(sessionKey)}/files`;
    const listed = await edge(path);
    const list = (await listed.json()) as { fileList?: Array<{ name: string }>; error?: { code?: string } };
    if (listed.status !== 200) return { httpStatus: listed.status, error: list.error?.code, html: `<p class="bad">The file list answered ${listed.status} ${escapeHtml(list.error?.code ?? "")}.</p>` };
    const name = list.fileList?.[0]?.name;
    if (!name) return { httpStatus: 200, html: `<p id="first-file-none">No file listed.</p>` };
    const read = await edge(`${path}/${encodeURIComponent(name)}`);
    const text = await read.text();
    if (read.status !== 200) {
      const code = ((): string => {
        try {
          return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? "";
        } catch {
          return "";
        }
      })();
      return { httpStatus: read.status, name, error: code, html: `<p class="bad">${escapeHtml(name)}: ${read.status} ${escapeHtml(code)}</p>` };
    }
    const contentType = read.headers.get("Content-Type") ?? "";
    const compression = read.headers.get("X-Digime-Compression") ?? "";
    const truncated = text.length > DEMO_PREVIEW_CHARS;
    const html = `<h3>The first file: <code id="first-file-name">${escapeHtml(name)}</code></h3>
<p><small><code>${escapeHtml(contentType)}</code>, compressed <code>${escapeHtml(compression)}</code> at digi.me, ${text.length} characters${truncated ? ` <span id="first-file-truncated">(the first ${DEMO_PREVIEW_CHARS} shown)</span>` : ""}.</small></p>
<pre id="first-file-content">${escapeHtml(text.slice(0, DEMO_PREVIEW_CHARS))}${truncated ? "\n…" : ""}</pre>`;
    return { httpStatus: 200, name, contentType, compression, characters: text.length, truncated, html };
  }
  const noReceiver = options.webhooksElsewhere ? `<p>Sent to <code>${escapeHtml(options.webhooksElsewhere)}</code> (npm start --webhook-url): see them there.</p>` : "<p>No receiver.</p>";
  /** The demo user's accounts at the mock, by contract (seeded when the demo starts, and when a session switches to another contract). */
  const seededAccounts = new Map<string, Array<{ id: string }>>();
  await seed();
  /** The active contract's demo user's accounts. */
  const accountsOf = async () => seededAccounts.get(currentContract()) ?? (await seed()).accounts;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", origin);
    const send = (status: number, html: string, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", ...headers });
      res.end(html);
    };
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(body));
    };
    /** The cookies of a flow this session starts for the demo user (and no longer for a new user it connected). */
    const demoUserFlow = (flowId: string | undefined) => [`${FLOW_COOKIE}=${flowId}; Path=/; HttpOnly; SameSite=Lax`, `${USER_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`];
    try {
      if (url.pathname === "/contract" && req.method === "POST") {
        // Switch this session's contract: remembered by a cookie; the demo user is seeded under it.
        const contractId = url.searchParams.get("contractId") ?? new URLSearchParams(await readBody(req)).get("contractId") ?? "";
        if (!DEMO_CONTRACTS.some((c) => c.contractId === contractId)) return send(400, page("Unknown contract", `<p class="bad">No such contract.</p><p><a href="/">Back</a></p>`));
        await activeContract.run(contractId, () => seed());
        res.writeHead(303, { Location: "/", "Cache-Control": "no-store", "Set-Cookie": [`${CONTRACT_COOKIE}=${contractId}; Path=/; HttpOnly; SameSite=Lax`, `${USER_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`] });
        res.end();
        return;
      }
      if (url.pathname === "/") {
        const seeded = { accounts: await accountsOf() };
        const options_ = DEMO_CONTRACTS.map((c) => `<option value="${escapeHtml(c.contractId)}"${c.contractId === currentContract() ? " selected" : ""}>${escapeHtml(c.contractId)}${c === DEMO_CONTRACTS[0] ? " (default)" : ""}</option>`).join("");
        const selector = `<form id="contract-form" method="post" action="/contract"><label>Contract <select id="contract" name="contractId">${options_}</select></label> <button id="switch-contract" type="submit">Switch</button>
<br><small>The edge serves both of the local stack's contracts; every call this demo makes passes <code>contractId</code>. The demo user has a digi.me user and a token under each (mock user <code>${escapeHtml(demoMockUser())}</code>, client id <code>${escapeHtml(DEMO_CONTRACTS.find((c) => c.contractId === currentContract())!.clientId)}</code>).</small></form>`;
        const items = SCENARIOS.map(
          (s) => `<li><form method="post" action="/start/${s.id}" style="display:inline"><button id="${s.id}">${escapeHtml(s.title)}</button></form><br><small>${escapeHtml(s.note)}</small></li>`,
        ).join("");
        send(200, page("digi.me reauthorization demo", `<h1>digi.me reauthorization at the edge: demo</h1>
${selector}
<p>User <code>${DEMO_USER}</code> exists in the mock digi.me with accounts ${seeded.accounts.map((a) => `<code>${escapeHtml(a.id)}</code>`).join(", ")}; the edge holds its token.
Each button sets the mock's scenario for this user and starts a flow through the edge.</p><ol>${items}</ol>
<h2>Read data</h2>
<ol><li><form method="post" action="/data/seed/sync" style="display:inline"><button id="read-sync">Read data: a sync</button></form><br><small>The accounts, a sync of ${DEMO_SYNC_MS / 1000} s watched as it runs, and the first file's content, all read through the edge with the API key alone.</small></li>
<li><form method="post" action="/data/seed/account-511" style="display:inline"><button id="read-511">Read data: an account with 511</button></form><br><small>The first account reports ServiceAuthorizationError 511: the read hands out the body that starts its reauthorization (a button), and after it the same read completes.</small></li>
<li><form method="post" action="/connect" style="display:inline"><button id="connect-new-user">Connect a new user</button></form><br><small>POST /v1/authorize for a fresh user id the edge keeps no token for: digi.me approves, the browser comes back awaiting_confirmation (identity new), you confirm, and the user's data reads.</small></li></ol>
<h2>Webhooks received</h2>${options.webhooks ? webhookTable(options.webhooks.received.slice(-10).reverse()) : noReceiver}
<p><a href="/status">Reauthorization status of ${DEMO_USER}</a> · <a href="${escapeHtml(options.edgeUrl)}/openapi.json">OpenAPI</a> · <a href="${escapeHtml(options.mockUrl)}/__mock/journal?userId=${encodeURIComponent(demoMockUser())}">Mock journal</a></p>`));
        return;
      }
      if (url.pathname === "/status") {
        const status = await edge(`/v1/users/${DEMO_USER}/reauth-status?sessionKey=${await currentSessionKey()}`);
        send(200, page("Status", `<h1>reauth-status</h1><pre>${escapeHtml(JSON.stringify(await status.json(), null, 2))}</pre><p><a href="/">Back</a></p>`));
        return;
      }
      const start = /^\/start\/([a-z0-9-]+)$/.exec(url.pathname);
      if (start && req.method === "POST") {
        const scenario = SCENARIOS.find((s) => s.id === start[1]);
        if (!scenario) return send(404, page("Unknown", "<p>No such demo scenario.</p>"));
        await seed(); // a fresh token each run, so earlier scenarios leave nothing behind
        const config = scenario.scenario.name === "account-511" ? { ...scenario.scenario, accounts: [(await accountsOf())[0]!.id] } : scenario.scenario;
        await mock.setScenario(config, demoMockUser());
        let before = "";
        if (scenario.id === "user-refresh-expired" || scenario.flow === "account") {
          const user = (await (await mock.user(demoMockUser())).json()) as { sessionKey: string };
          before = JSON.stringify(await (await edge(`/v1/users/${DEMO_USER}/reauth-status?sessionKey=${user.sessionKey}`)).json(), null, 2);
        }
        const returnTo = `${origin}/return?scenario=${scenario.id}`;
        const body =
          scenario.flow === "user"
            ? { userId: DEMO_USER, returnTo, locale: "en", ...(scenario.allowFullAuthorization ? { allowFullAuthorization: true } : {}) }
            : { userId: DEMO_USER, accountId: (await accountsOf())[0]!.id, returnTo };
        const started = await edge(`/v1/reauth/${scenario.flow}`, { body });
        const answer = (await started.json()) as { launchUrl?: string; flowId?: string };
        if (started.status !== 201 || !answer.launchUrl) {
          send(200, page("Refused at start", `<h1>${escapeHtml(scenario.title)}</h1><p class="bad">The edge answered <strong>${started.status}</strong>; there is no browser step.</p>
<pre>${escapeHtml(JSON.stringify(answer, null, 2))}</pre><p><a href="/">Back</a></p>`));
          return;
        }
        if (scenario.watch) {
          send(200, watchPage(scenario.title, answer.flowId ?? "", answer.launchUrl), { "Set-Cookie": demoUserFlow(answer.flowId) });
          return;
        }
        if (before) {
          send(200, page("Before", `<h1>${escapeHtml(scenario.title)}</h1><p>reauth-status before the flow:</p><pre>${escapeHtml(before)}</pre>
<p><a id="continue" href="${escapeHtml(answer.launchUrl)}">Continue to digi.me</a></p>`), { "Set-Cookie": demoUserFlow(answer.flowId) });
          return;
        }
        res.writeHead(303, { Location: answer.launchUrl, "Cache-Control": "no-store", "Set-Cookie": demoUserFlow(answer.flowId) });
        res.end();
        return;
      }
      if (url.pathname === "/connect" && req.method === "POST") {
        // A first connection: a fresh user id the edge keeps no token for; this browser's session remembers it (as a signed-in user).
        const userId = `demo-new-${crypto.randomUUID().slice(0, 8)}`;
        const started = await edge("/v1/authorize", { body: { userId, returnTo: `${origin}/return?scenario=connect`, locale: "en" } });
        const answer = (await started.json()) as { launchUrl?: string; flowId?: string };
        if (started.status !== 201 || !answer.launchUrl) {
          send(200, page("Refused at start", `<h1>Connect a new user</h1><p class="bad">POST /v1/authorize answered <strong>${started.status}</strong>; there is no browser step.</p>
<pre>${escapeHtml(JSON.stringify(answer, null, 2))}</pre><p><a href="/">Back</a></p>`));
          return;
        }
        res.writeHead(303, {
          Location: answer.launchUrl,
          "Cache-Control": "no-store",
          "Set-Cookie": [`${FLOW_COOKIE}=${answer.flowId}; Path=/; HttpOnly; SameSite=Lax`, `${USER_COOKIE}=${userId}; Path=/; HttpOnly; SameSite=Lax`],
        });
        res.end();
        return;
      }
      const seedData = /^\/data\/seed\/(sync|account-511)$/.exec(url.pathname);
      if (seedData && req.method === "POST") {
        await seed();
        const scenario = seedData[1] === "account-511" ? { name: "account-511", accounts: [(await accountsOf())[0]!.id], syncMs: DEMO_SYNC_MS } : { name: "success", syncMs: DEMO_SYNC_MS };
        await mock.setScenario(scenario, demoMockUser());
        res.writeHead(303, { Location: "/data", "Cache-Control": "no-store", "Set-Cookie": `${USER_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0` });
        res.end();
        return;
      }
      if (url.pathname === "/data" && req.method === "GET") {
        const userId = signedInUser(req.headers.cookie);
        send(200, page("Read data", `<h1>Read data of ${escapeHtml(userId)}</h1>${await readDataSection(userId)}<p><a href="/">Back to the scenarios</a></p>`));
        return;
      }
      if (url.pathname === "/data/reconnect" && req.method === "POST") {
        // The account's reauthorization, started from the start body the edge's accounts read hands out (read again here, not taken from the form).
        const form = new URLSearchParams(await readBody(req));
        const userId = form.get("userId") ?? "";
        const accountId = form.get("accountId") ?? "";
        if (!mayRead(userId, req.headers.cookie)) return send(403, page("Not yours", `<p class="bad">Not a user this browser's session may act for.</p><p><a href="/">Back</a></p>`));
        const key = await currentSessionKey(userId);
        const read = (await (await edge(`/v1/users/${encodeURIComponent(userId)}/accounts${key ? `?sessionKey=${key}` : ""}`)).json()) as { accounts?: Array<{ id: string; reauth?: { start?: Record<string, string> } }> };
        const start = read.accounts?.find((account) => account.id === accountId)?.reauth?.start;
        if (!start) return send(409, page("Nothing to reconnect", `<p class="bad">The accounts read no longer says <code>${escapeHtml(accountId)}</code> needs reauthorization.</p><p><a href="/data">Read again</a></p>`));
        const started = await edge("/v1/reauth/account", { body: { ...start, returnTo: `${origin}/return?scenario=reconnect` } });
        const answer = (await started.json()) as { launchUrl?: string; flowId?: string };
        if (started.status !== 201 || !answer.launchUrl) {
          send(200, page("Refused at start", `<h1>Reconnect ${escapeHtml(accountId)}</h1><p class="bad">POST /v1/reauth/account answered <strong>${started.status}</strong>.</p><pre>${escapeHtml(JSON.stringify(answer, null, 2))}</pre><p><a href="/">Back</a></p>`));
          return;
        }
        const cookies = [`${FLOW_COOKIE}=${answer.flowId}; Path=/; HttpOnly; SameSite=Lax`];
        res.writeHead(303, { Location: answer.launchUrl, "Cache-Control": "no-store", "Set-Cookie": cookies });
        res.end();
        return;
      }
      if (url.pathname === "/data/sessions" && req.method === "POST") {
        // The backend's side of "Start a sync": POST /v1/users/{userId}/sessions.
        let userId = "";
        try {
          userId = String((JSON.parse(await readBody(req)) as { userId?: unknown }).userId ?? "");
        } catch {
          return json(400, { error: "a JSON body { userId }" });
        }
        if (!mayRead(userId, req.headers.cookie)) return json(403, { error: "not a user this session may read" });
        const started = await edge(`/v1/users/${encodeURIComponent(userId)}/sessions`, { body: {} });
        const answer = (await started.json()) as { sessionKey?: string; expiry?: number; error?: { code?: string } };
        json(200, { httpStatus: started.status, sessionKey: answer.sessionKey, expiry: answer.expiry, error: answer.error?.code });
        return;
      }
      const sessionRead = /^\/data\/sessions\/([A-Za-z0-9_-]{1,128})\/(files|first-file)$/.exec(url.pathname);
      if (sessionRead && req.method === "GET") {
        const userId = url.searchParams.get("userId") ?? "";
        if (!mayRead(userId, req.headers.cookie)) return json(403, { error: "not a user this session may read" });
        const sessionKey = sessionRead[1]!;
        if (sessionRead[2] === "first-file") return json(200, await firstFile(userId, sessionKey));
        // One poll of the file list, held by the edge while the sync runs.
        const began = performance.now();
        const listed = await edge(`/v1/users/${encodeURIComponent(userId)}/sessions/${sessionKey}/files?wait=${DEMO_SYNC_WAIT_SECONDS}`);
        const list = (await listed.json()) as { state?: string; accounts?: unknown[]; fileList?: unknown[]; error?: { code?: string } };
        json(200, { httpStatus: listed.status, state: list.state, accounts: list.accounts, fileList: list.fileList, error: list.error?.code, heldMs: Math.round(performance.now() - began) });
        return;
      }
      const confirm = /^\/flows\/([A-Za-z0-9_-]+)\/confirm$/.exec(url.pathname);
      if (confirm && req.method === "POST") {
        // Only for the flow this browser's session started, as a real application checks against its own signed-in session.
        const flowId = confirm[1]!;
        if (sessionFlow(req.headers.cookie) !== flowId) {
          send(403, page("Not yours", `<p class="bad">This is not the flow this browser's session started; nothing was confirmed.</p><p><a href="/">Back</a></p>`));
          return;
        }
        const user = signedInUser(req.headers.cookie);
        const confirmed = await edge(`/v1/flows/${encodeURIComponent(flowId)}/confirm`, { method: "POST" });
        const flow = (await confirmed.json()) as Record<string, unknown>;
        let sessionAndToken = "";
        let readData = "";
        if (flow.status === "succeeded") {
          const token = await edge(`/v1/users/${encodeURIComponent(user)}/token`);
          sessionAndToken = sessionAndTokenSection(flow, token.status, (await token.json()) as Record<string, unknown>, user);
          readData = await readDataSection(user);
        }
        send(confirmed.status === 200 ? 200 : 409, page("Confirmed", `<h1>Confirmed</h1>
<p id="outcome" class="${flow.status === "succeeded" ? "ok" : "bad"}">status=<strong id="status">${escapeHtml(String(flow.status ?? confirmed.status))}</strong>: the token of digi.me identity ${escapeHtml(String(flow.digimeUserId ?? "?"))} is now <code id="user">${escapeHtml(user)}</code>'s.</p>
${sessionAndToken}
${readData}
<h2>POST /v1/flows/${escapeHtml(flowId)}/confirm</h2><pre id="flow">${escapeHtml(JSON.stringify(flow, null, 2))}</pre>
<h2>GET /v1/users/${escapeHtml(user)}/reauth-status</h2><pre>${escapeHtml(JSON.stringify(await reauthStatus(user), null, 2))}</pre>
<p><a href="/">Back to the scenarios</a></p>`));
        return;
      }
      const poll = /^\/flows\/([A-Za-z0-9_-]+)\/wait$/.exec(url.pathname);
      if (poll && req.method === "GET") {
        // The backend's side of the watch page: one long poll at the edge, for the flow this session started.
        if (sessionFlow(req.headers.cookie) !== poll[1]) return json(403, { error: "not the flow this session started" });
        const began = performance.now();
        const answer = await edge(`/v1/flows/${poll[1]}?wait=${DEMO_WAIT_SECONDS}`);
        const flow = (await answer.json()) as { status?: string; errorCode?: string; error?: { code?: string } };
        json(200, { httpStatus: answer.status, status: flow.status, errorCode: flow.errorCode, error: flow.error?.code, heldMs: Math.round(performance.now() - began) });
        return;
      }
      if (url.pathname === "/return") {
        const flowId = url.searchParams.get("flowId") ?? "";
        const status = url.searchParams.get("status") ?? "";
        const errorCode = url.searchParams.get("errorCode");
        // What an application must do before trusting the outcome: the flow this session started, its user, a valid recent signature.
        const started = sessionFlow(req.headers.cookie);
        // The signed-in user: the demo user, or the new user this session connects.
        const user = signedInUser(req.headers.cookie);
        const check = checkSignedReturn(url, { flowId: started, userId: user, contractId: currentContract() }, options.returnSigningSecret);
        const verdict = check.ok
          ? `<p id="signature" class="ok">Signed return verified: flow ${escapeHtml(flowId)} of ${escapeHtml(user)}, status ${escapeHtml(status)} — trusted without an API read.</p>`
          : `<p id="signature" class="bad">Signed return NOT trusted (${escapeHtml(check.reason)}): ${check.reason === "wrong_flow" ? "this is not the flow this browser's session started" : "the outcome may have been tampered with or is stale"}.</p>`;
        const flow = await edge(`/v1/flows/${encodeURIComponent(flowId)}`);
        const flowBody = (await flow.json()) as Record<string, unknown>;
        // A user reauthorization that stored a token: its session and the token's version and expiry.
        let sessionAndToken = "";
        if (status === "succeeded" && flowBody.kind !== "account" && flowBody.userId === user) {
          const token = await edge(`/v1/users/${encodeURIComponent(user)}/token`);
          sessionAndToken = sessionAndTokenSection(flowBody, token.status, (await token.json()) as Record<string, unknown>, user);
        }
        const after = await reauthStatus(user);
        // Nothing is stored before a confirmation: reading then would only say so.
        const readData =
          status === "awaiting_confirmation"
            ? `<section id="read-data"><h2>Read data</h2><p id="read-data-later"><small>Nothing is stored for ${escapeHtml(user)} until you confirm: the data reads after that.</small></p></section>`
            : await readDataSection(user);
        const received = flowWebhooks(options.webhooks?.received ?? [], { ...(flowBody as Omit<FlowTimes, "flowId">), flowId });
        const identity = check.ok ? check.identity : undefined;
        // Another digi.me account came back (a forwarded link, or a person signing in as someone else): something to look at, not a success.
        const awaiting =
          status === "awaiting_confirmation" && check.ok
            ? `<div id="confirmation" class="warn"><p><strong>Look before you confirm.</strong> digi.me came back with a digi.me account that is ${identity === "new" ? "not known for" : "not the one on file for"} <code id="user">${escapeHtml(user)}</code> (identity <strong id="identity">${escapeHtml(identity ?? "?")}</strong>). Nothing is stored yet.
Confirm only if this browser is your signed-in user; a launch link opened by someone else lands here too.</p>
<form method="post" action="/flows/${escapeHtml(flowId)}/confirm"><button id="confirm" type="submit">Yes, this is me: confirm</button></form></div>`
            : "";
        const waiting = options.webhooks && !received.some((e) => e.flowId === flowId && e.answered < 300);
        send(200, page("Outcome", `${waiting ? '<meta http-equiv="refresh" content="1">' : ""}<h1>Back from the edge</h1>
${awaiting}
<p id="outcome" class="${status === "succeeded" ? "ok" : status === "awaiting_confirmation" ? "warn" : "bad"}">status=<strong id="status">${escapeHtml(status)}</strong>${errorCode ? ` errorCode=<strong id="errorCode">${escapeHtml(errorCode)}</strong>` : ""} flowId=<code>${escapeHtml(flowId)}</code></p>
${verdict}
${sessionAndToken}
${readData}
<h2>Webhooks for this flow</h2><div id="webhooks">${options.webhooks ? webhookTable(received) : noReceiver}</div>
${options.webhooks ? `<p id="webhook-rule"><small>Listed: ${FLOW_WEBHOOKS_RULE}.</small></p>` : ""}
<h2>GET /v1/flows/${escapeHtml(flowId)}</h2><pre id="flow">${escapeHtml(JSON.stringify(flowBody, null, 2))}</pre>
<h2>GET /v1/users/${escapeHtml(user)}/reauth-status</h2><pre>${escapeHtml(JSON.stringify(after, null, 2))}</pre>
<p><a href="/">Back to the scenarios</a></p>`));
        return;
      }
      send(404, page("Not found", "<p>Not found.</p>"));
    } catch (error) {
      console.error("[demo] failed:", error);
      send(500, page("Demo error", `<p class="bad">${escapeHtml((error as Error).message)}</p>`));
    }
  };
  // Each request runs under the contract its session chose.
  const server = createServer((req, res) => void activeContract.run(sessionContract(req.headers.cookie), () => handle(req, res)));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return { url: `${origin}/`, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
