/**
 * The onboarding (web client) pages a browser visits: `user-reauth`,
 * `reauthorize`, `authorize`, `onboard` and `revoke`. With `consent: auto`
 * they redirect at once to the callback with the scenario's outcome; with
 * `interactive` they show a page where a person (or a browser test) approves
 * or denies.
 */
import { http, HttpResponse, type RequestHandler } from "msw";
import { applyPreFaults, journaled, type HandlerContext } from "./respond.ts";
import { escapeHtml } from "../src/pages.ts";
import { KNOWN_ERROR_CODES } from "./scenarios.ts";
import type { MockDigime, MockUser, ReferenceRecord } from "./state.ts";

type Page = "user-reauth" | "reauthorize" | "authorize" | "onboard" | "revoke";

/** Which reference a page takes: `reauthorize` and `onboard` share the no-PKCE `oauth/token/reference`. */
const PAGE_KIND: Record<Page, ReferenceRecord["kind"]> = {
  "user-reauth": "user-reauth",
  reauthorize: "account",
  authorize: "authorize",
  onboard: "account",
  revoke: "revoke",
};

const TITLES: Record<Page, string> = {
  "user-reauth": "Reauthorize your digi.me connection",
  reauthorize: "Reconnect your account",
  authorize: "Connect to digi.me",
  onboard: "Add a service",
  revoke: "Revoke access to your account",
};

function page(title: string, body: string, status = 200): Response {
  return new HttpResponse(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
      `<meta name="viewport" content="width=device-width, initial-scale=1">` +
      `<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d2433}` +
      `.mock{background:#fff3cd;padding:.4rem .7rem;border-radius:4px;font-size:.85rem}` +
      `button{font-size:1rem;padding:.5rem 1.2rem;margin:.3rem .3rem .3rem 0;cursor:pointer}` +
      `fieldset{border:1px solid #ccd;border-radius:6px;margin:1rem 0}</style></head>` +
      `<body><p class="mock">Mock digi.me, for development and tests only.</p><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
    { status, headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" } },
  );
}

/** Appends the outcome to the callback URL, keeping whatever query it already has. */
function callbackUrl(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

function redirect(location: string): Response {
  return new HttpResponse(null, { status: 302, headers: { Location: location, "Cache-Control": "no-store" } });
}

/** Builds the onboarding page handlers. */
export function onboardingHandlers(mock: MockDigime): RequestHandler[] {
  const onboard = (path: string) => new URL(path, mock.onboardBaseUrl).toString();

  function lookup(context: HandlerContext, pageName: Page): { reference: ReferenceRecord; code: string; user: MockUser | undefined } | Response {
    const code = new URL(context.request.url).searchParams.get("code") ?? "";
    const reference = mock.references.get(code);
    const user = mock.userById(reference?.userId);
    context.forUser(user);
    if (!reference || reference.used || reference.expiresAt <= mock.now() || reference.kind !== PAGE_KIND[pageName]) {
      context.notes.errorCode = "INVALID_CODE";
      return page("This link is no longer valid", "<p>The reference code is unknown, expired, already used or for another page.</p>", 400);
    }
    return { reference, code, user };
  }

  /**
   * Completes a reference with approve or deny and redirects to its callback,
   * with the parameters digi.me's pages send (see the SDK's `documents/`).
   */
  function decide(pageName: Page, reference: ReferenceRecord, user: MockUser | undefined, approve: boolean, errorCode: string | null, accountRef: string | null): Response {
    reference.used = true;
    if (pageName === "revoke") {
      // MedMij revoke answers `result`, with an optional `error_message`.
      if (!approve) return redirect(callbackUrl(reference.redirectUri, { result: "failed", error_message: errorCode ?? undefined }));
      if (user && reference.accountId) mock.removeAccount(user, reference.accountId);
      return redirect(callbackUrl(reference.redirectUri, { result: "success" }));
    }
    if (!approve) {
      return redirect(callbackUrl(reference.redirectUri, { success: "false", errorCode: errorCode ?? undefined }));
    }
    if (pageName === "onboard") {
      if (!user) return redirect(callbackUrl(reference.redirectUri, { success: "false", errorCode: "INVALID_CODE" }));
      mock.addAccount(user);
      // The SDK lists only success and errorCode for onboard; its option text says state comes back, so it does when given.
      return redirect(callbackUrl(reference.redirectUri, { success: "true", state: reference.state }));
    }
    if (reference.kind === "account") {
      const target = accountRef ? mock.accountRefs.get(accountRef) : undefined;
      const account = target && target.userId === user?.id ? user.accounts.find((a) => a.id === target.accountId) : undefined;
      if (!account) return redirect(callbackUrl(reference.redirectUri, { success: "false", errorCode: "INVALID_CODE" }));
      account.needsReauth = false;
      return redirect(callbackUrl(reference.redirectUri, { success: "true" }));
    }
    let owner = user;
    if (reference.kind === "authorize") {
      // A person who completes full authorization is onboarded afresh.
      owner = owner ?? mock.createUser({ clientId: reference.clientId }).user;
      if (owner.scenario?.name === "invalid-token") mock.setUserScenario(owner, undefined);
    }
    if (!owner || !reference.codeChallenge) {
      return redirect(callbackUrl(reference.redirectUri, { success: "false", errorCode: "SERVER_ERROR" }));
    }
    const code = mock.createAuthorizationCode(owner.id, reference.clientId, reference.codeChallenge);
    if (reference.kind === "authorize") {
      // The authorize callback also names the account the person onboarded (create-user/authorizing.md).
      const onboarded = owner.accounts[0] ?? mock.addAccount(owner);
      const accountReference = mock.createAccountRef(owner.id, onboarded.id);
      return redirect(callbackUrl(reference.redirectUri, { success: "true", state: reference.state, code, accountReference }));
    }
    return redirect(callbackUrl(reference.redirectUri, { success: "true", state: reference.state, code }));
  }

  function consentPage(pageName: Page, code: string, user: MockUser | undefined, accountRef: string | null, failureCode: string | null): Response {
    const account = accountRef ? mock.accountRefs.get(accountRef)?.accountId : undefined;
    const options = [...KNOWN_ERROR_CODES, "CUSTOM_ERROR"]
      .map((c) => `<option value="${c}"${c === failureCode ? " selected" : ""}>${c}</option>`)
      .join("");
    const hidden = `<input type="hidden" name="code" value="${escapeHtml(code)}">` +
      (accountRef ? `<input type="hidden" name="accountRef" value="${escapeHtml(accountRef)}">` : "");
    const action = escapeHtml(onboard("decide"));
    return page(
      TITLES[pageName],
      `<p>User <strong id="user">${escapeHtml(user?.id ?? "new user")}</strong>` +
        (account ? ` · account <strong id="account">${escapeHtml(account)}</strong>` : "") + `</p>` +
        `<form method="get" action="${action}">${hidden}<input type="hidden" name="decision" value="approve">` +
        `<button id="approve" type="submit">Approve</button></form>` +
        `<form method="get" action="${action}"><fieldset><legend>Deny</legend>${hidden}` +
        `<input type="hidden" name="decision" value="deny">` +
        `<label>errorCode <select id="errorCode" name="errorCode">${options}<option value="">(none)</option></select></label> ` +
        `<button id="deny" type="submit">Deny</button></fieldset></form>`,
    );
  }

  const handlers: RequestHandler[] = [
    http.get(
      onboard("decide"),
      journaled(mock, "onboarding", async (context) => {
        const params = new URL(context.request.url).searchParams;
        const code = params.get("code") ?? "";
        const reference = mock.references.get(code);
        const accountRef = params.get("accountRef");
        const pageName: Page =
          reference?.kind === "account" ? (accountRef ? "reauthorize" : "onboard") : ((Object.keys(PAGE_KIND) as Page[]).find((p) => PAGE_KIND[p] === reference?.kind) ?? "user-reauth");
        const found = lookup(context, pageName);
        if (found instanceof Response) return found;
        const approve = params.get("decision") === "approve";
        const errorCode = params.get("errorCode") || null;
        return decide(pageName, found.reference, found.user, approve, errorCode, accountRef);
      }),
    ),
  ];
  for (const pageName of Object.keys(PAGE_KIND) as Page[]) {
    handlers.push(
      http.get(
        onboard(pageName),
        journaled(mock, "onboarding", async (context) => {
          const found = lookup(context, pageName);
          if (found instanceof Response) return found;
          const early = await applyPreFaults(context);
          if (early) return early;
          const scenario = mock.scenarioFor(found.user);
          const accountRef = new URL(context.request.url).searchParams.get("accountRef");
          const failing = scenario.name === "failure";
          if (scenario.consent === "interactive") {
            return consentPage(pageName, found.code, found.user, accountRef, failing ? scenario.errorCode : "USER_CANCEL");
          }
          return decide(pageName, found.reference, found.user, !failing, scenario.errorCode, accountRef);
        }),
      ),
    );
  }
  return handlers;
}
