/**
 * Starts the mock digi.me inside the Workers runtime for one test file: the
 * mock's MSW handlers intercept every outbound `fetch`, and a request no
 * handler matches fails the fetch loudly.
 */
import { FetchInterceptor } from "@mswjs/interceptors/fetch";
import { afterAll, afterEach, beforeAll } from "vitest";
import { defineNetwork, InterceptorSource } from "msw/experimental";
import { createMockDigime, type MockDigime } from "../../mock-server/index.ts";
import devPrivateKey from "../../mock-server/keys/dev-contract.private.pem?raw";
import devPublicKey from "../../mock-server/keys/dev-contract.public.pem?raw";
import devPrivateKey2 from "../../mock-server/keys/dev-contract-2.private.pem?raw";
import devPublicKey2 from "../../mock-server/keys/dev-contract-2.public.pem?raw";

/** Where the tests' digi.me lives: the production defaults, never reached (nothing escapes the interceptor). */
export const TEST_API_BASE = "https://api.digi.me/v1.7/";
export const TEST_ONBOARD_BASE = "https://api.digi.me/apps/saas/";
export const TEST_APPLICATION_ID = "dev-app";
export const TEST_CONTRACT_ID = "dev-contract";
/** The second development contract: two-contract tests. */
export const TEST_CONTRACT_2_ID = "dev-contract-2";
export { devPrivateKey, devPrivateKey2, devPublicKey, devPublicKey2 };

/** A running mock and the switch that stops intercepting. */
export interface TestMock {
  mock: MockDigime;
  stop: () => Promise<void>;
}

/** Starts a mock with the development contract registered; `now` drives its clock. */
export async function startMock(options: { now?: () => number } = {}): Promise<TestMock> {
  const { mock, handlers } = await createMockDigime({
    apiBaseUrl: TEST_API_BASE,
    onboardBaseUrl: TEST_ONBOARD_BASE,
    contracts: [
      { applicationId: TEST_APPLICATION_ID, contractId: TEST_CONTRACT_ID, publicKey: devPublicKey },
      { applicationId: TEST_APPLICATION_ID, contractId: TEST_CONTRACT_2_ID, publicKey: devPublicKey2 },
    ],
    now: options.now,
  });
  const network = defineNetwork({
    sources: [new InterceptorSource({ interceptors: [new FetchInterceptor()] })],
    handlers,
    onUnhandledFrame: "error",
    context: { quiet: true },
  });
  await network.enable();
  return { mock, stop: async () => void (await network.disable()) };
}

/**
 * The usual lifecycle for a test file: the mock starts before all tests, is
 * reset after each (tests stay independent of order) and stops after all.
 */
export function useTestMock(): { readonly mock: MockDigime } {
  let running: TestMock | undefined;
  beforeAll(async () => {
    running = await startMock();
  });
  afterEach(() => running?.mock.reset());
  afterAll(() => running?.stop());
  return {
    get mock(): MockDigime {
      if (!running) throw new Error("the mock starts in beforeAll");
      return running.mock;
    },
  };
}
