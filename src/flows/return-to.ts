/**
 * `returnTo`: only to configured origins (no open redirect). The outcome is
 * appended to it, signed, by signed-return.ts.
 */
import type { Config } from "../config.ts";
import { isLoopbackHost } from "../hosts.ts";
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
    throw new AppError("invalid_return_to", "returnTo must be an absolute URL");
  }
  // `blob:https://app…` has the app's origin, so the scheme is checked on its own; http: only on this machine.
  const scheme = url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  if (!scheme) {
    throw new AppError("invalid_return_to", `returnTo must be an https URL (http only on this machine), not ${url.protocol}`, {
      hint: "use an https URL on an origin in ALLOWED_RETURN_ORIGINS",
    });
  }
  if (url.username || url.password) {
    throw new AppError("invalid_return_to", "returnTo must not carry a user name or password");
  }
  if (!config.allowedReturnOrigins.includes(url.origin)) {
    throw new AppError("invalid_return_to", `returnTo's origin ${url.origin} is not in ALLOWED_RETURN_ORIGINS`, {
      hint: originHint(url, config.allowedReturnOrigins),
    });
  }
  return url.toString();
}

/**
 * What to do about a refused origin. The common trap: `localhost` and
 * `127.0.0.1` are different origins, so an allowlist naming one refuses the other.
 */
function originHint(url: URL, allowed: readonly string[]): string {
  if (isLoopbackHost(url.hostname)) {
    const twin = allowed.find((origin) => {
      const other = new URL(origin);
      return isLoopbackHost(other.hostname) && other.port === url.port && other.protocol === url.protocol;
    });
    if (twin) return `localhost, 127.0.0.1 and [::1] are different origins: use ${twin}, which is allowed, or add ${url.origin} to ALLOWED_RETURN_ORIGINS`;
  }
  return `add ${url.origin} to ALLOWED_RETURN_ORIGINS (allowed now: ${allowed.join(", ")})`;
}
