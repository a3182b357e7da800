/**
 * Prints a request JWT for calling digi.me (or the mock) by hand with curl:
 * PS512-signed with a contract key, with `client_id`, a fresh `nonce` and the
 * current `timestamp` added to the claims you pass.
 *
 *   npm run -s jwt -- '{"access_token":"mat_..."}'
 *   npm run -s jwt -- --key path/to/private.pem --client-id app_contract '{"grant_type":"refresh_token","refresh_token":"mrt_..."}'
 *
 *   npm run -s jwt -- --decode <token>     prints a token's header and payload (no verification)
 *
 * Defaults: the development contract (mock-server/keys/, dev-app_dev-contract).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { decodeJwt, signJwt } from "../src/digime/jwt.ts";
import { importPrivateKey } from "../src/digime/keys.ts";
import { randomAlphanumeric } from "../src/digime/random.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: "string", default: new URL("../mock-server/keys/dev-contract.private.pem", import.meta.url).pathname },
    "client-id": { type: "string", default: "dev-app_dev-contract" },
    decode: { type: "string" },
  },
});

if (values.decode) {
  const { header, payload } = decodeJwt(values.decode);
  console.log(JSON.stringify({ header, payload }, null, 2));
  process.exit(0);
}

let claims: Record<string, unknown> = {};
if (positionals[0]) {
  try {
    claims = JSON.parse(positionals[0]);
  } catch {
    console.error(`claims must be a JSON object, got: ${positionals[0]}`);
    process.exit(2);
  }
}
const key = await importPrivateKey(readFileSync(values.key, "utf8"));
console.log(await signJwt({ ...claims, client_id: values["client-id"], nonce: randomAlphanumeric(32), timestamp: Date.now() }, key));
