// Socket errors of BGP connections in words, for a session's lastError and the log: one table,
// keyed by the errno names the transport reports (err.code).

/** errno name → what it means for a BGP connection. */
export const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused: nothing listens on the BGP port',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable: no route to the peer',
  ETIMEDOUT: 'connection timed out: no answer (the peer is down, a filter drops the SYN, or the TCP-MD5 key or GTSM TTL does not match)',
  ECONNRESET: 'connection reset by the peer',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed by the peer while sending',
  EADDRNOTAVAIL: 'the source address is not an address of this host',
  EADDRINUSE: 'address already in use',
  EACCES: 'refused by a firewall rule or a prohibit route',
  EPERM: 'not permitted',
  ENOMEM: 'the kernel refused the TCP-MD5 key: the socket option memory (net.core.optmem_max) is spent',
  EINVAL: 'invalid argument',
  EMFILE: 'out of file descriptors (process limit)',
  ENFILE: 'out of file descriptors (system limit)',
  ENOBUFS: 'out of kernel buffer memory',
};

/** `ECONNREFUSED (connection refused: …)`, or the code alone when it is not in the table. */
export function socketErrorText(e: { code?: string; message?: string }): string {
  const code = e.code ?? 'EUNKNOWN';
  const words = SOCKET_ERRORS[code];
  return words ? `${code} (${words})` : e.message ? `${code} (${e.message})` : code;
}
