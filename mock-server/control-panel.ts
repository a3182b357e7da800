/**
 * The mock's control panel: `GET /__mock/` from a browser (Accept: text/html)
 * answers a plain HTML page with a little script, no build step. It shows the
 * users and their tokens, each user's scenario and the global one (switchable,
 * every scenario the schema knows), the armed faults, and the journal, live and
 * filterable by user. A user's row shows its newest access and refresh token;
 * the ones issued before stay folded away, so the journal keeps its place. API clients
 * asking for JSON still get the admin API's answer at the same URL.
 *
 * The page reads `GET /__mock/state` (below) and `GET /__mock/journal`, and
 * switches scenarios through the admin API; it adds no other way to change
 * the mock. Development only.
 */
import { http, HttpResponse, type RequestHandler } from "msw";
import { escapeHtml } from "../src/pages.ts";
import { FAULT_TYPES, KNOWN_ERROR_CODES, SCENARIO_NAMES, type ActiveFault } from "./scenarios.ts";
import type { MockDigime, MockUser } from "./state.ts";

/** How long the page waits between two polls, in milliseconds. */
export const PANEL_POLL_MS = 1000;

/** Whether a request comes from a browser that wants a page rather than JSON. */
export function wantsHtml(request: Request): boolean {
  const accept = request.headers.get("Accept") ?? "";
  return /\btext\/html\b/i.test(accept);
}

function shortToken(value: string): string {
  return value.length > 14 ? `${value.slice(0, 12)}…` : value;
}

function faultView(fault: ActiveFault): Record<string, unknown> {
  return {
    type: fault.type,
    endpoints: fault.endpoints ?? (fault.type === "key-set-unavailable" ? ["jwks/oauth"] : "all"),
    remaining: Number.isFinite(fault.remaining) ? fault.remaining : "unlimited",
    ...(fault.ms !== undefined ? { ms: fault.ms } : {}),
    ...(fault.status !== undefined ? { status: fault.status } : {}),
  };
}

function tokensOf(mock: MockDigime, user: MockUser): Array<Record<string, unknown>> {
  const now = mock.now();
  const tokens: Array<Record<string, unknown>> = [];
  for (const [value, record] of mock.accessTokens) {
    if (record.userId !== user.id) continue;
    const verdict = mock.checkAccessToken(value, record.clientId);
    tokens.push({ kind: "access", value: shortToken(value), issuedAt: record.issuedAt, expiresAt: record.expiresAt, state: verdict.ok ? "valid" : record.revoked ? "revoked" : record.expiresAt <= now ? "expired" : "refused" });
  }
  for (const [value, record] of mock.refreshTokens) {
    if (record.userId !== user.id) continue;
    tokens.push({ kind: "refresh", value: shortToken(value), issuedAt: record.issuedAt, expiresAt: record.expiresAt, state: record.used ? "used" : record.expiresAt <= now ? "expired" : "unused" });
  }
  return tokens.sort((a, b) => Number(b.issuedAt) - Number(a.issuedAt));
}

/** What the panel shows, as JSON (`GET /__mock/state`). */
export function panelState(mock: MockDigime): Record<string, unknown> {
  return {
    now: mock.now(),
    globalScenario: mock.globalScenario,
    globalFaults: mock.globalFaults.map(faultView),
    journalEntries: mock.journal.length,
    lastSeq: mock.journal.at(-1)?.seq ?? 0,
    users: [...mock.users.values()].map((user) => ({
      userId: user.id,
      sessionKey: user.sessionKey,
      scenario: mock.scenarioFor(user),
      scenarioScope: user.scenario ? "user" : "global",
      faults: user.faults.map(faultView),
      accounts: user.accounts.map((a) => ({ id: a.id, serviceTypeName: a.serviceTypeName, needsReauth: a.needsReauth })),
      tokens: tokensOf(mock, user),
    })),
  };
}

const STYLE = `
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2433;background:#f6f7f9;font-size:14px}
header{background:#1d2433;color:#fff;padding:.7rem 1.2rem;display:flex;gap:1rem;align-items:baseline}
header h1{font-size:1.05rem;margin:0}header small{color:#b8c0d0}
main{padding:1rem 1.2rem;display:grid;gap:1rem}
section{background:#fff;border:1px solid #e3e6ec;border-radius:8px;padding:.8rem 1rem}
h2{font-size:.95rem;margin:0 0 .6rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#4a5468;font-size:.8rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.8rem}
.tag{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.75rem;background:#eef0f3}
.ok{color:#0a7d32}.bad{color:#b3261e}.muted{color:#667085}
select,button{font:inherit;font-size:.85rem;padding:.15rem .4rem}
tr.entry{cursor:pointer}tr.entry:hover{background:#f6f8fb}
summary{cursor:pointer;color:#667085;font-size:.8rem}details[open]{font-size:.9em}
pre{margin:0;background:#f4f5f7;padding:.5rem;border-radius:6px;font-size:.75rem;overflow:auto}
.row{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap}
`;

const SCRIPT = `
const names = ${JSON.stringify(SCENARIO_NAMES)};
const errorCodes = ${JSON.stringify(KNOWN_ERROR_CODES)};
const base = location.pathname.replace(/\\/+$/, "") + "/";
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
let lastSeq = 0, entries = [], expanded = new Set(), openTokens = new Set(), state = null;

async function call(method, path, body) {
  const r = await fetch(base + path, { method, headers: { "Content-Type": "application/json", Accept: "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) { $("status").textContent = method + " " + path + " → " + r.status + " " + text; $("status").className = "bad"; throw new Error(text); }
  $("status").textContent = method + " " + path + " → " + r.status; $("status").className = "ok";
  return text ? JSON.parse(text) : {};
}
function scenarioSelect(id, current) {
  return '<select id="' + id + '">' + names.map((n) => '<option' + (n === current ? " selected" : "") + ">" + n + "</option>").join("") + "</select>";
}
function faults(list) {
  return list.length ? list.map((f) => '<span class="tag">' + esc(f.type) + (f.ms !== undefined ? " " + f.ms + " ms" : "") + (f.status ? " " + f.status : "") + " · " + esc(Array.isArray(f.endpoints) ? f.endpoints.join(", ") : f.endpoints) + " · left " + esc(f.remaining) + "</span>").join(" ") : '<span class="muted">none</span>';
}
function when(ms) { return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC"; }
function token(t) {
  return '<code>' + esc(t.value) + '</code> <span class="tag ' + (t.state === "valid" || t.state === "unused" ? "ok" : "bad") + '">' + esc(t.kind) + " " + esc(t.state) + '</span> <span class="muted">until ' + when(t.expiresAt) + "</span>";
}
// The newest access and refresh token in view; the earlier ones folded (a long-running stack issues many).
function tokens(u) {
  const latest = ["access", "refresh"].map((kind) => u.tokens.find((t) => t.kind === kind)).filter(Boolean);
  const earlier = u.tokens.filter((t) => !latest.includes(t));
  return '<div class="latest">' + (latest.map(token).join("<br>") || '<span class="muted">none</span>') + "</div>" +
    (earlier.length ? '<details data-user="' + esc(u.userId) + '"' + (openTokens.has(u.userId) ? " open" : "") + "><summary>" + earlier.length + " issued before</summary>" + earlier.map(token).join("<br>") + "</details>" : "");
}
function renderState() {
  $("global-scenario").innerHTML = scenarioSelect("global-name", state.globalScenario.name);
  $("global-consent").value = state.globalScenario.consent;
  $("global-faults").innerHTML = faults(state.globalFaults);
  const filter = $("journal-user").value;
  $("journal-user").innerHTML = '<option value="">all users</option>' + state.users.map((u) => '<option' + (u.userId === filter ? " selected" : "") + ">" + esc(u.userId) + "</option>").join("");
  $("users").innerHTML = state.users.length ? state.users.map((u, i) =>
    '<tr data-user="' + esc(u.userId) + '"><td><code>' + esc(u.userId) + '</code><br><span class="muted">session <code>' + esc(u.sessionKey) + "</code></span></td>" +
    "<td>" + u.accounts.map((a) => "<code>" + esc(a.id) + "</code> " + esc(a.serviceTypeName) + (a.needsReauth ? ' <span class="tag bad">511</span>' : "")).join("<br>") + "</td>" +
    '<td><div class="row">' + scenarioSelect("user-scenario-" + i, u.scenario.name) + '<span class="tag">' + esc(u.scenarioScope) + "</span>" +
    '<button data-apply="' + i + '">apply</button>' + (u.scenarioScope === "user" ? '<button data-clear="' + i + '">use global</button>' : "") + "</div></td>" +
    "<td>" + faults(u.faults) + "</td>" +
    '<td class="tokens">' + tokens(u) + "</td></tr>").join("")
    : '<tr><td colspan="5" class="muted">No users yet: POST /__mock/users, or start npm start\\'s demo.</td></tr>';
  for (const b of document.querySelectorAll("[data-apply]")) b.onclick = () => {
    const u = state.users[b.dataset.apply], name = $("user-scenario-" + b.dataset.apply).value;
    call("PUT", "users/" + encodeURIComponent(u.userId) + "/scenario", { name, consent: u.scenario.consent }).then(refresh);
  };
  for (const d of document.querySelectorAll("details[data-user]")) d.ontoggle = () => { d.open ? openTokens.add(d.dataset.user) : openTokens.delete(d.dataset.user); };
  for (const b of document.querySelectorAll("[data-clear]")) b.onclick = () =>
    call("DELETE", "users/" + encodeURIComponent(state.users[b.dataset.clear].userId) + "/scenario").then(refresh);
}
function renderJournal() {
  const filter = $("journal-user").value;
  const shown = entries.filter((e) => !filter || e.userId === filter).slice(-200).reverse();
  $("journal-count").textContent = shown.length + " shown, " + entries.length + " received";
  $("journal").innerHTML = shown.map((e) =>
    '<tr class="entry" data-seq="' + e.seq + '"><td>' + e.seq + "</td><td>" + esc(e.time.slice(11, 23)) + "</td><td>" + esc(e.method) + "</td><td><code>" + esc(e.path) + "</code></td>" +
    '<td class="' + (e.status >= 400 || e.status === 0 ? "bad" : "ok") + '">' + (e.status || "network error") + "</td><td>" + esc(e.errorCode ?? "") + (e.fault ? ' <span class="tag">fault ' + esc(e.fault) + "</span>" : "") + "</td>" +
    "<td>" + (e.signatureVerified === undefined ? "" : e.signatureVerified ? '<span class="ok">yes</span>' : '<span class="bad">no</span>') + "</td><td>" + e.durationMs + " ms</td><td>" + esc(e.userId ?? "") + "</td></tr>" +
    (expanded.has(e.seq) ? '<tr><td></td><td colspan="8"><pre>' + esc(JSON.stringify({ claims: e.claims, body: e.body }, null, 2)) + "</pre></td></tr>" : "")).join("")
    || '<tr><td colspan="9" class="muted">No requests yet.</td></tr>';
  for (const row of document.querySelectorAll("tr.entry")) row.onclick = () => {
    const seq = Number(row.dataset.seq);
    expanded.has(seq) ? expanded.delete(seq) : expanded.add(seq);
    renderJournal();
  };
}
async function refresh() {
  state = await (await fetch(base + "state", { headers: { Accept: "application/json" } })).json();
  if (state.lastSeq < lastSeq) { entries = []; lastSeq = 0; } // the mock was reset
  const fresh = (await (await fetch(base + "journal?since=" + lastSeq + "&limit=500", { headers: { Accept: "application/json" } })).json()).entries;
  entries = entries.concat(fresh).slice(-2000);
  if (fresh.length) lastSeq = fresh[fresh.length - 1].seq;
  renderState();
  renderJournal();
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}
$("global-apply").onclick = () => call("PUT", "scenario", { name: $("global-name").value, consent: $("global-consent").value }).then(refresh);
$("global-reset").onclick = () => call("DELETE", "scenario").then(refresh);
$("journal-user").onchange = renderJournal;
$("journal-clear").onclick = () => call("DELETE", "journal").then(() => { entries = []; lastSeq = 0; return refresh(); });
refresh();
setInterval(() => refresh().catch((e) => { $("status").textContent = "poll failed: " + e.message; $("status").className = "bad"; }), ${PANEL_POLL_MS});
`;

/** The control panel page. */
export function controlPanelPage(mock: MockDigime): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mock digi.me · control panel</title><style>${STYLE}</style></head><body>
<header><h1>Mock digi.me · control panel</h1><small>development and tests only · API ${escapeHtml(mock.apiBaseUrl.toString())} · <span id="updated"></span> · <span id="status"></span></small></header>
<main>
<section><h2>Global scenario <span class="muted">(users without their own)</span></h2>
<div class="row"><span id="global-scenario"></span><select id="global-consent"><option>auto</option><option>interactive</option></select>
<button id="global-apply">apply</button><button id="global-reset">reset to success</button> armed faults: <span id="global-faults"></span></div></section>
<section><h2>Users</h2><table><thead><tr><th>user</th><th>accounts</th><th>scenario</th><th>armed faults</th><th>tokens</th></tr></thead><tbody id="users"></tbody></table>
<p class="muted">A failure scenario sends errorCode ${escapeHtml(KNOWN_ERROR_CODES[0])}; faults (${FAULT_TYPES.length} kinds) and other options are set through the admin API (mock-server/README.md).</p></section>
<section><h2>Journal</h2><div class="row"><label>user <select id="journal-user"><option value="">all users</option></select></label><span id="journal-count" class="muted"></span><button id="journal-clear">clear</button><span class="muted">click a row for its claims</span></div>
<table><thead><tr><th>#</th><th>time</th><th>method</th><th>path</th><th>status</th><th>error</th><th>signature verified</th><th>duration</th><th>user</th></tr></thead><tbody id="journal"></tbody></table></section>
</main><script>${SCRIPT}</script></body></html>`;
}

/**
 * The panel's handlers, placed before the admin API's: `GET /__mock/` from a
 * browser gets the page (anything else falls through to the JSON answer), and
 * `GET /__mock/state` feeds it.
 */
export function controlPanelHandlers(mock: MockDigime, origin: string): RequestHandler[] {
  return [
    http.get(`${origin}/__mock/`, ({ request }) => {
      if (!wantsHtml(request as unknown as Request)) return undefined;
      return new HttpResponse(controlPanelPage(mock), { headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" } });
    }),
    http.get(`${origin}/__mock/state`, () => HttpResponse.json(panelState(mock))),
  ];
}
