/**
 * Response helpers shared by the mock's handlers: digi.me-style errors, the
 * journal wrapper, and the faults that act on a response.
 */
import { delay, HttpResponse, type HttpResponseResolver } from "msw";
import { takeFault, type ActiveFault, type Endpoint, type FaultType } from "./scenarios.ts";
import type { JournalEntry, MockDigime, MockUser } from "./state.ts";

/** A digi.me error: JSON body plus `X-Error-*` headers. */
export function apiError(status: number, code: string, message: string): Response {
  const reference = `mock-${crypto.randomUUID()}`;
  return HttpResponse.json(
    { error: { code, message, reference } },
    { status, headers: { "X-Error-Code": code, "X-Error-Message": message, "X-Error-Reference": reference } },
  );
}

/** What a handler learned while answering, for the journal. */
export type JournalNotes = Partial<Pick<JournalEntry, "userId" | "claims" | "signatureVerified" | "errorCode" | "errorDetail" | "fault" | "body">>;

/** The request-scoped context a handler body receives. */
export interface HandlerContext {
  request: Request;
  notes: JournalNotes;
  /** Faults in force, once the user is known (see `forUser`). */
  faults: ActiveFault[];
  /** Records the user the request is about and selects their faults. */
  forUser(user: MockUser | undefined): void;
  /** Takes a fault of the given types for this endpoint, noting it in the journal. */
  takeFault(types: readonly FaultType[]): ActiveFault | undefined;
}

/**
 * Wraps a handler body so every request lands in the journal with its final
 * status, and an uncaught error becomes a loud 500 instead of a silent hang.
 */
export function journaled(
  mock: MockDigime,
  endpoint: Endpoint | "admin",
  body: (context: HandlerContext) => Promise<Response>,
): HttpResponseResolver {
  return async (info) => {
    // msw types requests with the DOM's Request; at run time it is the platform's own.
    const request = info.request as unknown as Request;
    const notes: JournalNotes = {};
    const context: HandlerContext = {
      request,
      notes,
      faults: mock.faultsFor(undefined),
      forUser(user) {
        if (user) notes.userId = user.id;
        context.faults = mock.faultsFor(user);
      },
      takeFault(types) {
        if (endpoint === "admin") return undefined;
        const fault = takeFault(context.faults, endpoint, types);
        if (fault) notes.fault = fault.type;
        return fault;
      },
    };
    const began = performance.now();
    let response: Response;
    try {
      response = await body(context);
    } catch (error) {
      console.error(`[mock digi.me] handler for ${endpoint} failed:`, error);
      response = apiError(500, "MockHandlerError", (error as Error).message);
    }
    if (endpoint !== "admin") {
      const url = new URL(request.url);
      mock.record({
        method: request.method,
        path: url.pathname,
        endpoint,
        status: response.type === "error" ? 0 : response.status,
        durationMs: Math.round((performance.now() - began) * 100) / 100,
        ...notes,
      });
    }
    return response;
  };
}

/**
 * Applies the faults that replace an answer before it is computed: a delay
 * (then carries on), an endless delay, a network error or a 5xx. Returns the
 * response to send instead, if any.
 */
export async function applyPreFaults(context: HandlerContext): Promise<Response | undefined> {
  const delayed = context.takeFault(["delay"]);
  if (delayed) await delay(delayed.ms ?? 1000);
  const fault = context.takeFault(["hang", "network-error", "http-error", "key-set-unavailable"]);
  if (!fault) return undefined;
  switch (fault.type) {
    case "hang":
      await new Promise<void>((resolve) => context.request.signal.addEventListener("abort", () => resolve(), { once: true }));
      return HttpResponse.error();
    case "network-error":
      return HttpResponse.error();
    default: {
      const status = fault.status ?? 503;
      context.notes.errorCode = "ServiceUnavailable";
      const answer = apiError(status, "ServiceUnavailable", `mock fault: HTTP ${status}`);
      if (fault.retryAfterSeconds !== undefined) answer.headers.set("Retry-After", String(fault.retryAfterSeconds));
      return answer;
    }
  }
}

/** Applies the faults that spoil a computed answer's body: malformed JSON or an empty body. */
export function applyBodyFaults(context: HandlerContext, response: Response): Response {
  const fault = context.takeFault(["malformed-json", "empty-body"]);
  if (!fault) return response;
  const headers = { "Content-Type": "application/json" };
  return fault.type === "empty-body"
    ? new Response(null, { status: response.status, headers })
    : new Response('{"token": "eyJ', { status: response.status, headers });
}

/** Takes a signature fault for a token-bearing answer. */
export function signatureFault(context: HandlerContext): "foreign-signature" | "unknown-kid" | undefined {
  const fault = context.takeFault(["foreign-signature", "unknown-kid"]);
  return fault?.type === "foreign-signature" || fault?.type === "unknown-kid" ? fault.type : undefined;
}
