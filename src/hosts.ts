/**
 * Which hosts are this machine: shared by the configuration checks, `returnTo`
 * and the webhook settings, so they cannot disagree on it.
 */

/** The names `http:` is accepted for even in production: the machine itself. */
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Whether a URL's host is this machine by name (`localhost`, 127.0.0.1, ::1). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/** `isLoopbackHost`, or any address of 127.0.0.0/8 (a local stack may bind one). */
export function isLoopbackNetworkHost(hostname: string): boolean {
  return isLoopbackHost(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
