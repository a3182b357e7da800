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

/** Top-level names that can never be a public deployment (RFC 2606, RFC 6761). */
const RESERVED_TLDS = ["test", "example", "localhost", "invalid"];

/**
 * Whether a host name is a reserved test name: one of the reserved top-level
 * names or a name under one. Matched as a whole label (`edge.test`, not
 * `edge.contest`): `contest` is an ordinary, registrable name.
 */
export function isReservedTestHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return RESERVED_TLDS.some((tld) => host === tld || host.endsWith(`.${tld}`));
}

/**
 * Whether a URL can only be a development stack: a loopback host (127.0.0.0/8
 * included) or a name under a reserved test top-level name. A deployed Worker
 * (workers.dev or a custom domain) is neither; an unparsable URL is not local.
 */
export function isLocalDevelopmentUrl(value: string): boolean {
  let host: string;
  try {
    host = new URL(value).hostname.toLowerCase();
  } catch {
    return false;
  }
  return isLoopbackNetworkHost(host) || isReservedTestHost(host);
}
