/**
 * How often and how long a delivery is retried before it is dead-lettered.
 */

/** Attempts per delivery, the first included; the last failure goes to the dead-letter queue. */
export const MAX_DELIVERY_ATTEMPTS = 10;
/** The wait after the first failed attempt: 2 seconds. */
export const RETRY_BASE_SECONDS = 2;
/** Each wait is this many times the previous one. */
export const RETRY_FACTOR = 4;
/** No wait is longer than 1 hour. */
export const RETRY_MAX_SECONDS = 60 * 60;

/**
 * The wait before the next attempt after attempt `attempts` (1-based) failed:
 * 2 s, 8 s, 32 s, ~2 min, ~8.5 min, ~34 min, then 1 h — about 3.8 hours from
 * the first attempt to the tenth.
 */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(RETRY_BASE_SECONDS * RETRY_FACTOR ** Math.max(0, attempts - 1), RETRY_MAX_SECONDS);
}
