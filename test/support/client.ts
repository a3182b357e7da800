/**
 * Builds the project's digi.me client against the test mock, recording each
 * outbound request so tests can inspect exactly what went on the wire.
 */
import { DigimeClient, type DigimeClientOptions } from "../../src/digime/index.ts";
import { devPrivateKey, TEST_API_BASE, TEST_APPLICATION_ID, TEST_CONTRACT_ID, TEST_ONBOARD_BASE } from "./mock.ts";

/** One request the client sent, with when it started and finished. */
export interface SentRequest {
  method: string;
  url: URL;
  headers: Headers;
  authorization: string | null;
  body: string | null;
  startedAt: number;
  endedAt: number;
}

/** A client plus the requests it sent. */
export interface RecordingClient {
  client: DigimeClient;
  sent: SentRequest[];
}

/** A client for the development contract whose `fetch` records every request. */
export function recordingClient(overrides: Partial<DigimeClientOptions> = {}): RecordingClient {
  const sent: SentRequest[] = [];
  const upstream = overrides.fetch ?? ((input, init) => fetch(input, init));
  const client = new DigimeClient({
    applicationId: TEST_APPLICATION_ID,
    contractId: TEST_CONTRACT_ID,
    privateKey: devPrivateKey,
    apiBaseUrl: TEST_API_BASE,
    onboardBaseUrl: TEST_ONBOARD_BASE,
    ...overrides,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const entry: SentRequest = {
        method: request.method,
        url: new URL(request.url),
        headers: request.headers,
        authorization: request.headers.get("Authorization"),
        body: init?.body ? String(init.body) : null,
        startedAt: performance.now(),
        endedAt: Number.NaN,
      };
      sent.push(entry);
      try {
        return await upstream(input, init);
      } finally {
        entry.endedAt = performance.now();
      }
    },
  });
  return { client, sent };
}

/** Follows an onboarding URL (auto consent) and returns the callback URL digi.me redirects to. */
export async function followConsent(url: string): Promise<URL> {
  const response = await fetch(url, { redirect: "manual" });
  const location = response.headers.get("Location");
  if (response.status !== 302 || !location) {
    throw new Error(`onboarding page answered ${response.status}: ${await response.text()}`);
  }
  return new URL(location);
}
