/**
 * `returnTo`: only to configured origins (no open redirect). The outcome is
 * appended to it, signed, by signed-return.ts.
 */
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";

/** Checks `returnTo` against ALLOWED_RETURN_ORIGINS; throws 400 `invalid_return_to`. */
export function checkReturnTo(config: Config, returnTo: string): string {
  let url: URL;
  try {
    url = new URL(returnTo);
  } catch {
    throw new AppError(400, "invalid_return_to", "returnTo must be an absolute URL");
  }
  if (url.username || url.password || !config.allowedReturnOrigins.includes(url.origin)) {
    throw new AppError(400, "invalid_return_to", "returnTo is not on an allowed origin", {
      hint: "add the origin to ALLOWED_RETURN_ORIGINS",
    });
  }
  return url.toString();
}

