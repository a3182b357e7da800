/**
 * JSON logs, one line per event, with the request id. Callers pass explicit
 * fields; nothing logs a request body, a token, a code or a verifier.
 */

type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where a line comes from: the Worker's LOG_LEVEL and, for a request, its id. */
export interface LogScope {
  /** LOG_LEVEL (`debug`, `info`, `warn`, `error`); `info` when absent. */
  logLevel?: string;
  requestId?: string;
}

/** Field names that must never reach a log line, whatever a caller passes. */
const FORBIDDEN = /token|code_verifier|verifier|secret|authorization|password|cookie|^code$|state/i;

/** Fields the logger owns: a caller's field of the same name lands as `field_<name>` instead. */
const RESERVED = new Set(["level", "event", "time", "requestId"]);

/** Writes one JSON log line; forbidden field names are dropped, reserved ones renamed. */
export function log(scope: LogScope | undefined, level: Level, event: string, fields: Record<string, unknown> = {}): void {
  const threshold = ORDER[(scope?.logLevel as Level | undefined) ?? "info"] ?? ORDER.info;
  if (ORDER[level] < threshold) return;
  const line: Record<string, unknown> = { level, event, time: new Date().toISOString() };
  if (scope?.requestId) line.requestId = scope.requestId;
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || FORBIDDEN.test(name)) continue;
    line[RESERVED.has(name) ? `field_${name}` : name] = value;
  }
  const text = JSON.stringify(line);
  if (level === "error") console.error(text);
  else if (level === "warn") console.warn(text);
  else console.log(text);
}
