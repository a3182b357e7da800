/**
 * The few HTML pages a browser may see from the edge: one plain style, one
 * clear sentence, a way back to the application when the flow names one, and
 * the request id for support. No scripts, no external resources.
 */

/** Escapes text for HTML. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What every edge page may show besides its sentence. */
export interface PageContext {
  /** The flow's `returnTo`, when the flow is known: the "Back to the application" link. */
  returnTo?: string;
  /** The request id, quoted for support. */
  requestId?: string;
  /** The stable error code, quoted for support. */
  code?: string;
}

const STYLE =
  "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:34rem;margin:4rem auto;padding:0 1.25rem;color:#1d2433;line-height:1.5;background:#fff}" +
  "h1{font-size:1.35rem;margin:0 0 .75rem}p{margin:.75rem 0}" +
  "a.back,button{display:inline-block;margin-top:.5rem;padding:.5rem 1rem;border-radius:6px;background:#1d4ed8;color:#fff;text-decoration:none;border:0;font:inherit;cursor:pointer}" +
  ".support{margin-top:2.5rem;padding-top:.75rem;border-top:1px solid #e3e6ec;color:#667085;font-size:.8rem}" +
  "code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.8rem}";

function layout(heading: string, body: string, context: PageContext): string {
  const back = context.returnTo ? `<p><a class="back" id="back" href="${escapeHtml(context.returnTo)}">Back to the application</a></p>` : "";
  const support = [
    context.code ? `Error <code id="code">${escapeHtml(context.code)}</code>` : "",
    context.requestId ? `request id <code id="request-id">${escapeHtml(context.requestId)}</code>` : "",
  ].filter(Boolean);
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(heading)}</title>` +
    `<style>${STYLE}</style></head><body><main><h1>${escapeHtml(heading)}</h1>${body}${back}` +
    (support.length ? `<p class="support">If you contact support, quote: ${support.join(" · ")}</p>` : "") +
    `</main></body></html>`
  );
}

/**
 * The page shown when digi.me issued a new token but storage failed: the
 * token travels sealed (AES-GCM, bound to the flow) in a form that posts it
 * back for another try. The browser cannot read it.
 */
export function recoveryPage(flowId: string, sealed: string, context: PageContext = {}): string {
  return layout(
    "Almost done",
    `<p id="message">digi.me renewed your connection, but we could not save it just now. Please try again.</p>` +
      `<form method="post" action="/reauth/recover"><input type="hidden" name="flow" value="${escapeHtml(flowId)}">` +
      `<input type="hidden" name="sealed" value="${escapeHtml(sealed)}"><button id="retry" type="submit">Try again</button></form>`,
    { ...context, code: context.code ?? "token_not_stored", returnTo: undefined },
  );
}

/** A page that says what went wrong in one sentence, with a way back and what support needs. */
export function errorPage(sentence: string, context: PageContext = {}): string {
  return layout("We could not finish this step", `<p id="message">${escapeHtml(sentence)}</p>`, context);
}
