/**
 * A browser without a browser: follows redirects with a cookie jar, and
 * answers the mock's interactive consent page by submitting its form. Stops
 * when it reaches the application's returnTo origin (never fetched).
 */

/** Where a navigation ended. */
export interface Navigation {
  /** The URL the browser stopped at. */
  url: URL;
  /** True when it reached the returnTo origin. */
  landed: boolean;
  /** The answer it stopped at when not landed. */
  status?: number;
  body?: string;
  /** The last edge callback URL visited (for `reload`). */
  lastCallback?: string;
}

/** Consent actions. */
export type ConsentAction = "follow" | "approve" | "deny";

/** A cookie jar keyed by origin; enough for the edge's per-flow cookies. */
export class HttpBrowser {
  readonly #jar = new Map<string, Map<string, string>>();
  readonly #returnOrigin: string | undefined;

  /** Without `returnTo`, it follows redirects wherever they lead (a demo application's own pages). */
  constructor(returnTo?: string) {
    this.#returnOrigin = returnTo === undefined ? undefined : new URL(returnTo).origin;
  }

  /** One request with the jar's cookies for its origin (redirects not followed); keeps the cookies it sets. */
  async request(url: string, method = "GET"): Promise<Response> {
    const origin = new URL(url).origin;
    const cookies = this.#jar.get(origin);
    const header = cookies ? [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") : "";
    const response = await fetch(url, { method, redirect: "manual", headers: header ? { Cookie: header } : {}, signal: AbortSignal.timeout(30_000) });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const jar = this.#jar.get(origin) ?? new Map<string, string>();
      if (attributes.some((a) => /^max-age=0$/i.test(a))) jar.delete(name);
      else jar.set(name, pair.slice(eq + 1));
      this.#jar.set(origin, jar);
    }
    return response;
  }

  /**
   * Navigates from `url`. On the mock's consent page, `approve` or `deny`
   * submits the matching form (deny with `errorCode`); `follow` stops there.
   */
  async navigate(url: string, action: ConsentAction, errorCode?: string, maxHops = 12): Promise<Navigation> {
    let current = url;
    let lastCallback: string | undefined;
    for (let hop = 0; hop < maxHops; hop++) {
      const target = new URL(current);
      if (target.origin === this.#returnOrigin) return { url: target, landed: true, lastCallback };
      if (/\/reauth\/(user|account)\/callback$/.test(target.pathname)) lastCallback = current;
      const response = await this.request(current);
      const location = response.headers.get("Location");
      if (response.status >= 300 && response.status < 400 && location) {
        current = new URL(location, current).toString();
        continue;
      }
      const body = await response.text();
      if (response.status === 200 && action !== "follow" && body.includes('name="decision"')) {
        current = consentDecision(body, current, action, errorCode);
        action = "follow"; // decide once
        continue;
      }
      return { url: target, landed: false, status: response.status, body, lastCallback };
    }
    throw new Error(`more than ${maxHops} redirects from ${url}`);
  }
}

/** Builds the URL the consent page's Approve or Deny form submits to. */
function consentDecision(html: string, pageUrl: string, action: "approve" | "deny", errorCode?: string): string {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((f) => f[2]!.includes(`name="decision" value="${action}"`));
  if (!form) throw new Error(`the consent page has no ${action} form`);
  const url = new URL(form[1]!.replace(/&amp;/g, "&"), pageUrl);
  for (const input of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    url.searchParams.set(input[1]!, input[2]!.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))));
  }
  if (action === "deny") url.searchParams.set("errorCode", errorCode ?? "USER_CANCEL");
  return url.toString();
}
