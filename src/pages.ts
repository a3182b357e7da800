/**
 * The few HTML pages a browser may see from the edge: error pages with one
 * clear sentence. No scripts, no external resources.
 */

/** Escapes text for HTML. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>` +
    `<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#1d2433;line-height:1.5}` +
    `code{color:#667;font-size:.85rem}</style></head><body>${body}</body></html>`
  );
}

/**
 * The page shown when digi.me issued a new token but storage failed: the
 * token travels sealed (AES-GCM, bound to the flow) in a form that posts it
 * back for another try. The browser cannot read it.
 */
export function recoveryPage(flowId: string, sealed: string): string {
  return layout(
    "Reauthorization",
    `<h1>Almost done</h1><p id="message">digi.me renewed your connection, but we could not save it just now. Please try again.</p>` +
      `<form method="post" action="/reauth/recover"><input type="hidden" name="flow" value="${escapeHtml(flowId)}">` +
      `<input type="hidden" name="sealed" value="${escapeHtml(sealed)}"><button id="retry" type="submit">Try again</button></form>` +
      `<p><code>token_not_stored</code></p>`,
  );
}

/** A page that says what went wrong in one sentence, with the error code for support. */
export function errorPage(sentence: string, code: string): string {
  return layout("Reauthorization", `<h1>We could not finish this step</h1><p id="message">${escapeHtml(sentence)}</p><p><code>${escapeHtml(code)}</code></p>`);
}
