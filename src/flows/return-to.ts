/**
 * `returnTo`: only to configured origins (no open redirect). The outcome is
 * appended to it, signed, by signed-return.ts.
 */
import { isLoopbackHost, type Config } from "../config.ts";
import { AppError } from "../errors.ts";

/**
 * Checks `returnTo` against ALLOWED_RETURN_ORIGINS: `https:` (or `http:` on a
 * loopback host), no userinfo, an allowed origin. Throws 400 `invalid_return_to`.
 */
export function checkReturnTo(config: Config, returnTo: string): string {
  let url: URL;
  try {
    url = new URL(returnTo);
  } catch {
    throw new AppError(400, "invalid_return_to", "returnTo must be an absolute URL");
  }
  // `blob:https://app…` has the app's origin, so the scheme is checked on its own; http: only on this machine.
  const scheme = url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  if (!scheme || url.username || url.password || !config.allowedReturnOrigins.includes(url.origin)) {
    throw new AppError(400, "invalid_return_to", "returnTo is not on an allowed origin", {
      hint: "add the origin to ALLOWED_RETURN_ORIGINS",
    });
  }
  return url.toString();
}

