/**
 * Binds a flow to the browser that launched it: an HttpOnly, Secure,
 * SameSite=Lax cookie per flow holding a secret whose hash the flow keeps.
 * SameSite=Lax still sends it on digi.me's top-level redirect back.
 */
import { getCookie } from "hono/cookie";
import type { Context } from "hono";
import { AppError } from "../errors.ts";
import { sha256 } from "../storage/crypto.ts";
import type { FlowRecord } from "../storage/flows.ts";
import { timingSafeEqual } from "./ids.ts";

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

/** The binding secret this browser holds for a flow, if any. */
export function bindingSecret(c: Context, flowId: string): string | undefined {
  const value = getCookie(c, bindingCookieName(flowId));
  return value && /^[A-Za-z0-9_-]{22}$/.test(value) ? value : undefined;
}

/** Whether `secret` is the flow's binding secret. */
export async function matchesBinding(flow: FlowRecord, secret: string | undefined): Promise<boolean> {
  return secret !== undefined && flow.bindingHash !== undefined && timingSafeEqual(await sha256(secret), flow.bindingHash);
}

/** Throws unless this browser is the one that launched the flow. */
export async function requireBinding(flow: FlowRecord, secret: string | undefined): Promise<void> {
  if (await matchesBinding(flow, secret)) return;
  throw new AppError(403, "browser_not_bound", "this flow was not started in this browser", {
    page: "This reauthorization was started in another browser. Please go back to the application and start again.",
    detail: { flowId: flow.id, hadCookie: secret !== undefined },
  });
}
