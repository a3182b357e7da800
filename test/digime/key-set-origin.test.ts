import { CompactSign, exportSPKI, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { recordingClient } from "../support/client.ts";

/**
 * Where the key set that vouches for digi.me's tokens may come from: under
 * the configured API base (origin and path prefix), never through a redirect.
 */
async function attackerToken(jku: string) {
  const { privateKey, publicKey } = await generateKeyPair("PS512", { extractable: true });
  const token = await new CompactSign(new TextEncoder().encode('{"reference_code":"x"}')).setProtectedHeader({ alg: "PS512", jku, kid: "evil" }).sign(privateKey);
  return { token, keySet: { keys: [{ kid: "evil", pem: await exportSPKI(publicKey) }] } };
}

describe("jku", () => {
  it.each([
    ["another path on the API origin", "https://api.digi.me/other-service/jwks"],
    ["a path that climbs out of the API base", "https://api.digi.me/v1.7/../uploads/jwks"],
    ["a sibling prefix", "https://api.digi.me/v1.7-evil/jwks"],
    ["userinfo on the API origin", "https://user:pw@api.digi.me/v1.7/jwks/oauth"],
    // The API's own path on another origin: only the origin check can refuse these.
    ["the API's own key-set path on a foreign origin", "https://evil.example/v1.7/jwks/oauth"],
    ["the API's own key-set path over http", "http://api.digi.me/v1.7/jwks/oauth"],
    ["the API's own key-set path on another port", "https://api.digi.me:8443/v1.7/jwks/oauth"],
  ])("refuses %s without fetching it", async (_what, jku) => {
    const { token } = await attackerToken(jku);
    const { client, sent } = recordingClient();
    await expect(client.verifyToken(token, "test")).rejects.toMatchObject({ kind: "invalid_response", message: expect.stringMatching(/jku is not on https:\/\/api\.digi\.me\/v1\.7\//) });
    expect(sent).toHaveLength(0);
  });
});

describe("key-set fetch", () => {
  it("refuses a redirect instead of following it to another key set", async () => {
    const { token, keySet } = await attackerToken("https://api.digi.me/v1.7/jwks/oauth");
    const requested: string[] = [];
    // fetch as the platform does it: follows a redirect unless told `redirect: "manual"`.
    const platformFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = String(input);
      requested.push(url);
      if (url === "https://api.digi.me/v1.7/jwks/oauth") {
        const redirect = new Response(null, { status: 302, headers: { Location: "https://evil.example/keys" } });
        return init?.redirect === "manual" ? redirect : platformFetch("https://evil.example/keys", init);
      }
      return Response.json(keySet);
    };
    const { client } = recordingClient({ fetch: platformFetch });
    await expect(client.verifyToken(token, "test")).rejects.toMatchObject({ kind: "invalid_response", message: expect.stringMatching(/redirect/) });
    expect(requested).toEqual(["https://api.digi.me/v1.7/jwks/oauth"]);
  });
});

describe("response token lifetime", () => {
  async function signedAt(exp: number) {
    const { privateKey, publicKey } = await generateKeyPair("PS512", { extractable: true });
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify({ reference_code: "x", exp })))
      .setProtectedHeader({ alg: "PS512", jku: "https://api.digi.me/v1.7/jwks/oauth", kid: "k" })
      .sign(privateKey);
    const keySet = { keys: [{ kid: "k", pem: await exportSPKI(publicKey) }] };
    return { token, client: recordingClient({ fetch: async () => Response.json(keySet) }).client };
  }

  it("refuses a validly signed token whose exp has passed", async () => {
    const { token, client } = await signedAt(Math.floor(Date.now() / 1000) - 60);
    await expect(client.verifyToken(token, "test")).rejects.toMatchObject({ kind: "invalid_response", message: "token has expired" });
  });

  it("accepts the same token while exp is ahead", async () => {
    const { token, client } = await signedAt(Math.floor(Date.now() / 1000) + 60);
    await expect(client.verifyToken(token, "test")).resolves.toMatchObject({ reference_code: "x" });
  });
});
