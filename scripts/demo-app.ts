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
 * Development only: it never ships with the Worker.
 */
import { createServer, type Server } from "node:http";
import { escapeHtml } from "../src/pages.ts";
import { mockAdmin } from "../harness/mock-admin.ts";
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

/** The cookie that remembers which flow this browser's demo session started. */
const FLOW_COOKIE = "demo_flow";

/** The long poll the demo's backend makes (the edge's longest). */
export const DEMO_WAIT_SECONDS = 25;

/** The flow this browser's demo session started (its cookie), or "". */
function sessionFlow(cookie: string | undefined): string {
  return new RegExp(`(?:^|;\\s*)${FLOW_COOKIE}=([A-Za-z0-9_-]+)`).exec(cookie ?? "")?.[1] ?? "";
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
<body><p class="tag">Demo application · development only · talks to the edge at its backend API with the dev API key</p>${body}</body></html>`;
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
export function sessionAndTokenSection(flow: Record<string, unknown>, tokenStatus: number, token: Record<string, unknown>): string {
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
<p><small>From <code>GET /v1/flows/{flowId}</code> (<code>session</code>) and <code>GET /v1/users/${DEMO_USER}/token</code> (<code>version</code>, the ETag a write-back sends as If-Match, and the expiries; the token values stay off this page).</small></p>`;
}

/** Starts the demo app and seeds the demo user. */
export async function startDemoApp(options: DemoOptions): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const origin = `http://${options.host}:${options.port}`;
  const edge = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${options.edgeUrl}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { Authorization: `Bearer ${options.apiKey}`, "Content-Type": "application/json", ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  const mock = mockAdmin(options.mockUrl);

  /** (Re)creates the demo user in the mock and gives its token to the edge. */
  async function seed(): Promise<{ accounts: Array<{ id: string }> }> {
    let created = await mock.createUser({ userId: DEMO_USER, accounts: 3 });
    if (created.status === 409) created = await mock.call(`users/${DEMO_USER}/token`, undefined, "POST");
    const body = (await created.json()) as { token: unknown };
    // As a backend replaces a token: create only (If-None-Match: *), else over the version stored now (If-Match), which the refusal names.
    let stored = await edge(`/v1/users/${DEMO_USER}/token`, { method: "PUT", body: body.token, headers: { "If-None-Match": "*" } });
    if (stored.status === 412) {
      const current = ((await stored.json()) as { error?: { currentVersion?: number | null } }).error?.currentVersion;
      const precondition: Record<string, string> = typeof current === "number" ? { "If-Match": `"${current}"` } : { "If-None-Match": "*" };
      stored = await edge(`/v1/users/${DEMO_USER}/token`, { method: "PUT", body: body.token, headers: precondition });
    }
    if (stored.status !== 204) throw new Error(`the edge refused the demo token: ${stored.status} ${await stored.text()}`);
    return (await (await mock.user(DEMO_USER)).json()) as { accounts: Array<{ id: string }> };
  }
  /**
   * The session key of the digi.me user whose token the edge now holds. After
   * full authorization that is a new digi.me user (a new library, a new
   * session), so the demo user's first session key no longer applies.
   */
  async function currentSessionKey(): Promise<string> {
    const stored = (await (await edge(`/v1/users/${DEMO_USER}/token`)).json()) as { token?: { accessToken: { value: string } } };
    const owner = stored.token
      ? ((await (await mock.checkToken(stored.token.accessToken.value)).json()) as { userId?: string }).userId
      : undefined;
    const user = (await (await mock.user(owner ?? DEMO_USER)).json()) as { sessionKey: string };
    return user.sessionKey;
  }
  const noReceiver = options.webhooksElsewhere ? `<p>Sent to <code>${escapeHtml(options.webhooksElsewhere)}</code> (npm start --webhook-url): see them there.</p>` : "<p>No receiver.</p>";
  const seeded = await seed();
  const firstAccount = seeded.accounts[0]!.id;

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", origin);
    const send = (status: number, html: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", ...headers });
      res.end(html);
    };
    try {
      if (url.pathname === "/") {
        const items = SCENARIOS.map(
          (s) => `<li><form method="post" action="/start/${s.id}" style="display:inline"><button id="${s.id}">${escapeHtml(s.title)}</button></form><br><small>${escapeHtml(s.note)}</small></li>`,
        ).join("");
        send(200, page("digi.me reauthorization demo", `<h1>digi.me reauthorization at the edge: demo</h1>
<p>User <code>${DEMO_USER}</code> exists in the mock digi.me with accounts ${seeded.accounts.map((a) => `<code>${escapeHtml(a.id)}</code>`).join(", ")}; the edge holds its token.
Each button sets the mock's scenario for this user and starts a flow through the edge.</p><ol>${items}</ol>
<h2>Webhooks received</h2>${options.webhooks ? webhookTable(options.webhooks.received.slice(-10).reverse()) : noReceiver}
<p><a href="/status">Reauthorization status of ${DEMO_USER}</a> · <a href="${escapeHtml(options.edgeUrl)}/openapi.json">OpenAPI</a> · <a href="${escapeHtml(options.mockUrl)}/__mock/journal?userId=${DEMO_USER}">Mock journal</a></p>`));
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
        const config = scenario.scenario.name === "account-511" ? { ...scenario.scenario, accounts: [firstAccount] } : scenario.scenario;
        await mock.setScenario(config, DEMO_USER);
        let before = "";
        if (scenario.id === "user-refresh-expired" || scenario.flow === "account") {
          const user = (await (await mock.user(DEMO_USER)).json()) as { sessionKey: string };
          before = JSON.stringify(await (await edge(`/v1/users/${DEMO_USER}/reauth-status?sessionKey=${user.sessionKey}`)).json(), null, 2);
        }
        const returnTo = `${origin}/return?scenario=${scenario.id}`;
        const body =
          scenario.flow === "user"
            ? { userId: DEMO_USER, returnTo, locale: "en", ...(scenario.allowFullAuthorization ? { allowFullAuthorization: true } : {}) }
            : { userId: DEMO_USER, accountId: firstAccount, returnTo };
        const started = await edge(`/v1/reauth/${scenario.flow}`, { body });
        const answer = (await started.json()) as { launchUrl?: string; flowId?: string };
        if (started.status !== 201 || !answer.launchUrl) {
          send(200, page("Refused at start", `<h1>${escapeHtml(scenario.title)}</h1><p class="bad">The edge answered <strong>${started.status}</strong>; there is no browser step.</p>
<pre>${escapeHtml(JSON.stringify(answer, null, 2))}</pre><p><a href="/">Back</a></p>`));
          return;
        }
        if (scenario.watch) {
          send(200, watchPage(scenario.title, answer.flowId ?? "", answer.launchUrl), { "Set-Cookie": `${FLOW_COOKIE}=${answer.flowId}; Path=/; HttpOnly; SameSite=Lax` });
          return;
        }
        if (before) {
          send(200, page("Before", `<h1>${escapeHtml(scenario.title)}</h1><p>reauth-status before the flow:</p><pre>${escapeHtml(before)}</pre>
<p><a id="continue" href="${escapeHtml(answer.launchUrl)}">Continue to digi.me</a></p>`), { "Set-Cookie": `${FLOW_COOKIE}=${answer.flowId}; Path=/; HttpOnly; SameSite=Lax` });
          return;
        }
        res.writeHead(303, { Location: answer.launchUrl, "Cache-Control": "no-store", "Set-Cookie": `${FLOW_COOKIE}=${answer.flowId}; Path=/; HttpOnly; SameSite=Lax` });
        res.end();
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
        const confirmed = await edge(`/v1/flows/${encodeURIComponent(flowId)}/confirm`, { method: "POST" });
        const flow = (await confirmed.json()) as Record<string, unknown>;
        let sessionAndToken = "";
        if (flow.status === "succeeded") {
          const token = await edge(`/v1/users/${DEMO_USER}/token`);
          sessionAndToken = sessionAndTokenSection(flow, token.status, (await token.json()) as Record<string, unknown>);
        }
        send(confirmed.status === 200 ? 200 : 409, page("Confirmed", `<h1>Confirmed</h1>
<p id="outcome" class="${flow.status === "succeeded" ? "ok" : "bad"}">status=<strong id="status">${escapeHtml(String(flow.status ?? confirmed.status))}</strong>: the token of digi.me identity ${escapeHtml(String(flow.digimeUserId ?? "?"))} is now ${DEMO_USER}'s.</p>
${sessionAndToken}
<h2>POST /v1/flows/${escapeHtml(flowId)}/confirm</h2><pre id="flow">${escapeHtml(JSON.stringify(flow, null, 2))}</pre>
<h2>GET /v1/users/${DEMO_USER}/reauth-status</h2><pre>${escapeHtml(JSON.stringify(await (await edge(`/v1/users/${DEMO_USER}/reauth-status?sessionKey=${await currentSessionKey()}`)).json(), null, 2))}</pre>
<p><a href="/">Back to the scenarios</a></p>`));
        return;
      }
      const poll = /^\/flows\/([A-Za-z0-9_-]+)\/wait$/.exec(url.pathname);
      if (poll && req.method === "GET") {
        // The backend's side of the watch page: one long poll at the edge, for the flow this session started.
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
          res.end(JSON.stringify(body));
        };
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
        const check = checkSignedReturn(url, { flowId: started, userId: DEMO_USER }, options.returnSigningSecret);
        const verdict = check.ok
          ? `<p id="signature" class="ok">Signed return verified: flow ${escapeHtml(flowId)} of ${DEMO_USER}, status ${escapeHtml(status)} — trusted without an API read.</p>`
          : `<p id="signature" class="bad">Signed return NOT trusted (${escapeHtml(check.reason)}): ${check.reason === "wrong_flow" ? "this is not the flow this browser's session started" : "the outcome may have been tampered with or is stale"}.</p>`;
        const flow = await edge(`/v1/flows/${encodeURIComponent(flowId)}`);
        const flowBody = (await flow.json()) as Record<string, unknown>;
        // A user reauthorization that stored a token: its session and the token's version and expiry.
        let sessionAndToken = "";
        if (status === "succeeded" && flowBody.kind !== "account" && flowBody.userId === DEMO_USER) {
          const token = await edge(`/v1/users/${DEMO_USER}/token`);
          sessionAndToken = sessionAndTokenSection(flowBody, token.status, (await token.json()) as Record<string, unknown>);
        }
        const after = await edge(`/v1/users/${DEMO_USER}/reauth-status?sessionKey=${await currentSessionKey()}`);
        const received = flowWebhooks(options.webhooks?.received ?? [], { ...(flowBody as Omit<FlowTimes, "flowId">), flowId });
        const identity = check.ok ? check.identity : undefined;
        // Another digi.me account came back (a forwarded link, or a person signing in as someone else): something to look at, not a success.
        const awaiting =
          status === "awaiting_confirmation" && check.ok
            ? `<div id="confirmation" class="warn"><p><strong>Look before you confirm.</strong> digi.me came back with a digi.me account that is ${identity === "new" ? "not known for" : "not the one on file for"} ${DEMO_USER} (identity <strong id="identity">${escapeHtml(identity ?? "?")}</strong>). Nothing is stored yet.
Confirm only if this browser is your signed-in user; a launch link opened by someone else lands here too.</p>
<form method="post" action="/flows/${escapeHtml(flowId)}/confirm"><button id="confirm" type="submit">Yes, this is me: confirm</button></form></div>`
            : "";
        const waiting = options.webhooks && !received.some((e) => e.flowId === flowId && e.answered < 300);
        send(200, page("Outcome", `${waiting ? '<meta http-equiv="refresh" content="1">' : ""}<h1>Back from the edge</h1>
${awaiting}
<p id="outcome" class="${status === "succeeded" ? "ok" : status === "awaiting_confirmation" ? "warn" : "bad"}">status=<strong id="status">${escapeHtml(status)}</strong>${errorCode ? ` errorCode=<strong id="errorCode">${escapeHtml(errorCode)}</strong>` : ""} flowId=<code>${escapeHtml(flowId)}</code></p>
${verdict}
${sessionAndToken}
<h2>Webhooks for this flow</h2><div id="webhooks">${options.webhooks ? webhookTable(received) : noReceiver}</div>
${options.webhooks ? `<p id="webhook-rule"><small>Listed: ${FLOW_WEBHOOKS_RULE}.</small></p>` : ""}
<h2>GET /v1/flows/${escapeHtml(flowId)}</h2><pre id="flow">${escapeHtml(JSON.stringify(flowBody, null, 2))}</pre>
<h2>GET /v1/users/${DEMO_USER}/reauth-status</h2><pre>${escapeHtml(JSON.stringify(await after.json(), null, 2))}</pre>
<p><a href="/">Back to the scenarios</a></p>`));
        return;
      }
      send(404, page("Not found", "<p>Not found.</p>"));
    } catch (error) {
      console.error("[demo] failed:", error);
      send(500, page("Demo error", `<p class="bad">${escapeHtml((error as Error).message)}</p>`));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return { url: `${origin}/`, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
