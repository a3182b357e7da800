/**
 * Hand-made signed requests for tests that must send what the client never
 * would: a reused nonce, another client id, a stale timestamp, a wrong key.
 */
import { signJwt } from "../../src/digime/jwt.ts";
import { importPrivateKey } from "../../src/digime/keys.ts";
import { randomAlphanumeric } from "../../src/digime/random.ts";
import { devPrivateKey, TEST_API_BASE } from "./mock.ts";

/** Signs `claims` (plus client_id, nonce and timestamp unless given) with the dev contract key. */
export async function requestJwt(claims: Record<string, unknown>, privateKey = devPrivateKey): Promise<string> {
  const key = await importPrivateKey(privateKey);
  return signJwt({ client_id: "dev-app_dev-contract", nonce: randomAlphanumeric(32), timestamp: Date.now(), ...claims }, key);
}

/** Calls the mock API at `path` with a bearer JWT. */
export async function callApi(path: string, jwt: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return fetch(new URL(path, TEST_API_BASE), {
    method: init.method ?? "POST",
    headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** The `error` object of a digi.me error response. */
export async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, code: body.error.code, message: body.error.message };
}
