/**
 * Token verification: what makes a token digi.me returned trustworthy. PS512
 * only, signed by a key of digi.me's key set at a `jku` under the API base,
 * with an `exp` in the future and any `nbf` in the past. The key set is
 * cached (key-set.ts) and fetched beside the call that returns the token.
 */
import { DigimeError } from "./errors.ts";
import { decodeJwt, verifyPs512 } from "./jwt.ts";
import { KEY_SET_PATH, KeySetCache, type SharedKeySetStore } from "./key-set.ts";

/** What the verifier needs. */
export interface TokenVerifierOptions {
  /** The API base: tokens' `jku` must lie under it (origin and path). */
  apiBaseUrl: URL;
  /** Fetches a key-set URL and returns its JSON (the transport's `getKeySet`). */
  loadKeySet: (url: string) => Promise<unknown>;
  now: () => number;
  /** Key-set cache lifetime; capped at 15 minutes. */
  keySetTtlMs?: number;
  /** Key sets shared across isolates; none by default. */
  keySetStore?: SharedKeySetStore;
}

/** Verifies the tokens of one API base; keep one per isolate (it holds the key-set cache). */
export class TokenVerifier {
  readonly #apiBaseUrl: URL;
  readonly #now: () => number;
  readonly #keySets: KeySetCache;

  constructor(options: TokenVerifierOptions) {
    this.#apiBaseUrl = options.apiBaseUrl;
    this.#now = options.now;
    this.#keySets = new KeySetCache({ load: options.loadKeySet, now: options.now, ttlMs: options.keySetTtlMs, shared: options.keySetStore });
  }

  /**
   * Cold path: the token a call returns is verified against digi.me's key set
   * (`{apiBase}jwks/oauth`, the `jku` digi.me names), so loading starts beside
   * the call instead of after it. Nothing happens when the set is cached.
   * Returns the call's mark for `verify`.
   */
  prefetchKeySet(): number {
    return this.#keySets.prefetch(new URL(KEY_SET_PATH, this.#apiBaseUrl).toString());
  }

  /**
   * Verifies a token digi.me issued: PS512 only, `jku` under the API base
   * (origin and path), a known `kid`, a valid signature, an `exp` (the SDK's
   * jsonwebtoken accepts a token without one; a response token that never
   * expires could be replayed forever, so the edge refuses it) and `nbf` when
   * present (checked in whole seconds, no leeway, as jsonwebtoken does).
   * Returns its payload. `keySetMark` is what the prefetch beside the call
   * that returned the token answered (see `KeySetCache.getKey`).
   */
  async verify(token: string, call: string, keySetMark?: number): Promise<Record<string, unknown>> {
    const invalid = (message: string) => new DigimeError({ kind: "invalid_response", message, call });
    let jwt;
    try {
      jwt = decodeJwt(token);
    } catch (error) {
      throw invalid((error as Error).message);
    }
    const { alg, jku, kid } = jwt.header;
    if (alg !== "PS512") throw invalid(`token alg "${alg}" refused (PS512 only)`);
    if (typeof jku !== "string" || typeof kid !== "string") throw invalid("token header lacks jku or kid");
    let keySetUrl: URL;
    try {
      keySetUrl = new URL(jku);
    } catch {
      throw invalid("token jku is not a URL");
    }
    // Origin and path prefix: another service on digi.me's API origin must not vouch for tokens.
    const base = this.#apiBaseUrl;
    if (keySetUrl.origin !== base.origin || !keySetUrl.pathname.startsWith(base.pathname) || keySetUrl.username || keySetUrl.password) {
      throw invalid(`token jku is not on ${base.href}`);
    }
    const key = await this.#keySets.getKey(keySetUrl.toString(), kid, keySetMark);
    if (!(await verifyPs512(jwt, key))) throw invalid("token signature does not verify");
    const { exp, nbf } = jwt.payload;
    const nowSeconds = Math.floor(this.#now() / 1000);
    if (exp === undefined) throw invalid("token has no exp");
    if (typeof exp !== "number") throw invalid("token exp is not a number");
    if (nbf !== undefined && typeof nbf !== "number") throw invalid("token nbf is not a number");
    if (typeof exp === "number" && nowSeconds >= exp) throw invalid("token has expired");
    if (typeof nbf === "number" && nbf > nowSeconds) throw invalid("token is not valid yet");
    return jwt.payload;
  }
}
