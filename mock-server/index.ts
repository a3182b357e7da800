/**
 * The mock digi.me: one set of MSW handlers, served inside the Worker tests
 * (intercepting outbound `fetch`) and by the standalone server (`npm run mock`).
 * Never imported by `src/`.
 */
import { http, HttpResponse, type RequestHandler } from "msw";
import { adminHandlers } from "./admin.ts";
import { apiHandlers } from "./handlers.ts";
import { onboardingHandlers } from "./onboarding.ts";
import { MockDigime, type MockDigimeOptions } from "./state.ts";

export { MockDigime, LIFETIMES_MS, type JournalEntry, type IssuedToken, type MockDigimeOptions, type MockUser } from "./state.ts";
export {
  COMPRESSIONS,
  LARGE_FILE_MAX_BYTES,
  type FileCompression,
  type FileListItem,
  type MockFile,
  type PutFileInput,
  type PutForeignFileInput,
  type PutLargeFileInput,
} from "./data.ts";
export { ENDPOINTS, FAULT_TYPES, KNOWN_ERROR_CODES, scenarioSchema, type Fault, type Scenario, type ScenarioInput } from "./scenarios.ts";

/** A mock digi.me and the handlers that serve it. */
export interface MockDigimeServer {
  mock: MockDigime;
  handlers: RequestHandler[];
}

/**
 * Creates a mock digi.me with its handlers: API and onboarding first, then the
 * admin API, then a catch-all that answers anything else on the mock's origins
 * with a loud 404 so a wrong path is never silently ignored.
 */
export async function createMockDigime(options: MockDigimeOptions): Promise<MockDigimeServer> {
  const mock = await MockDigime.create(options);
  const origins = [...new Set([mock.apiBaseUrl.origin, mock.onboardBaseUrl.origin])];
  const handlers: RequestHandler[] = [
    ...apiHandlers(mock),
    ...onboardingHandlers(mock),
    ...adminHandlers(mock, mock.apiBaseUrl.origin),
    ...origins.map((origin) =>
      http.all(`${origin}/*`, ({ request }) => {
        console.error(`[mock digi.me] no handler for ${request.method} ${request.url}`);
        return HttpResponse.json(
          { error: { code: "MockRouteNotFound", message: `mock digi.me has no route ${request.method} ${new URL(request.url).pathname}` } },
          { status: 404 },
        );
      }),
    ),
  ];
  return { mock, handlers };
}
