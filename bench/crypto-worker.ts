/**
 * A benchmark-only Worker: runs the service's own crypto `n` times per request
 * so `npm run bench` can measure CPU per operation from outside (timers inside
 * workerd do not advance during computation). Never deployed.
 *
 *   GET /?op=sign|verify|seal|open|sha256|import|callback&n=200
 */
import { signJwt, decodeJwt, verifyPs512 } from "../src/digime/jwt.ts";
import { importPrivateKey, importPublicKey, PS512_IMPORT } from "../src/digime/keys.ts";
import { decodePem, pkcs1PrivateToPkcs8 } from "../src/digime/pem.ts";
import { Sealer, sha256 } from "../src/storage/crypto.ts";

interface Env {
  PRIVATE_KEY: string;
  PUBLIC_KEY: string;
}

const sealer = new Sealer([{ id: "bench", raw: new Uint8Array(32).fill(7) }]);
const TOKEN_JSON = JSON.stringify({
  accessToken: { value: "a".repeat(600), expiry: 1_900_000_000 },
  refreshToken: { value: "r".repeat(600), expiry: 1_900_000_000 },
  user: { id: "user-42" },
  consentid: "consent-42",
});
const CLAIMS = { client_id: "app_contract", code: "c".repeat(48), code_verifier: "v".repeat(43), grant_type: "authorization_code", nonce: "n".repeat(32), timestamp: 1_795_000_000_000 };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const op = url.searchParams.get("op") ?? "sign";
    const n = Math.min(Number(url.searchParams.get("n") ?? 1), 5000);
    // Warm state, as on a warm isolate: keys imported, a token and an envelope at hand.
    const privateKey = await importPrivateKey(env.PRIVATE_KEY);
    const publicKey = await importPublicKey(env.PUBLIC_KEY);
    const token = decodeJwt(await signJwt(CLAIMS, privateKey, { kid: "k", jku: "https://api.digi.me/v1.7/jwks/oauth" }));
    const envelope = await sealer.seal(TOKEN_JSON, "token:v1:user-42");
    for (let i = 0; i < n; i++) {
      switch (op) {
        case "sign":
          await signJwt({ ...CLAIMS, nonce: String(i).padStart(32, "0") }, privateKey);
          break;
        case "verify":
          if (!(await verifyPs512(token, publicKey))) throw new Error("verify failed");
          break;
        case "seal":
          await sealer.seal(TOKEN_JSON, "token:v1:user-42");
          break;
        case "open":
          await sealer.open(envelope, "token:v1:user-42");
          break;
        case "sha256":
          await sha256(`state-${i}`);
          break;
        case "import":
          // What a cold isolate pays once: the contract key from PKCS#1 PEM.
          await crypto.subtle.importKey("pkcs8", pkcs1PrivateToPkcs8(decodePem(env.PRIVATE_KEY).der), PS512_IMPORT, false, ["sign"]);
          break;
        case "callback":
          // What one user callback does: open the verifier, sign the exchange JWT,
          // verify digi.me's token, seal the new token, hash state and binding.
          await sealer.open(envelope, "token:v1:user-42");
          await signJwt({ ...CLAIMS, nonce: String(i).padStart(32, "0") }, privateKey);
          await verifyPs512(token, publicKey);
          await sealer.seal(TOKEN_JSON, "token:v1:user-42");
          await sha256(`state-${i}`);
          await sha256(`binding-${i}`);
          break;
        case "none":
          break;
        default:
          return new Response(`unknown op ${op}`, { status: 400 });
      }
    }
    return new Response("ok");
  },
};
