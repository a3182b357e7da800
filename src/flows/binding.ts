/**
 * Binds a flow to the browser that launched it: an HttpOnly, Secure,
 * SameSite=Lax cookie per flow holding a secret whose hash the user's object
 * keeps. SameSite=Lax still sends it on digi.me's top-level redirect back.
 */

/** The cookie of a flow: `__Host-` forces Secure, Path=/ and no Domain. */
export function bindingCookieName(flowId: string): string {
  return `__Host-reauth-${flowId}`;
}

/** `Set-Cookie` for a flow's binding secret, alive as long as the flow. */
export function bindingCookie(flowId: string, secret: string, maxAgeSeconds: number): string {
  return `${bindingCookieName(flowId)}=${secret}; Path=/; Max-Age=${Math.max(1, Math.floor(maxAgeSeconds))}; HttpOnly; Secure; SameSite=Lax`;
}

/** `Set-Cookie` that removes a flow's cookie. */
export function clearBindingCookie(flowId: string): string {
  return `${bindingCookieName(flowId)}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`;
}

/** The binding secret in a cookie's value, if it has the shape of one. */
export function bindingSecretOf(cookieValue: string | undefined): string | undefined {
  return cookieValue && /^[A-Za-z0-9_-]{22}$/.test(cookieValue) ? cookieValue : undefined;
}
