// What one HTTP client may hold of the agent (issue 12: 22,000 idle connections to the HTTP
// port took every file descriptor, and BGP with them). Kept apart from server.ts so that the
// start-up check of the descriptor limit (agent/run.ts) does not load the server.

/**
 * Connections open at once. One more evicts the oldest idle one (no request in progress), or
 * is closed at once when every one is busy: descriptors beyond this are never held.
 */
export const HTTP_MAX_CONNECTIONS = 256;
/** a connection with no request in progress and nothing sent or received this long is closed */
export const HTTP_IDLE_TIMEOUT_MS = 10_000;
/** the request line and headers must arrive within this (slowloris) */
export const HTTP_HEADERS_TIMEOUT_MS = 5_000;
/** the whole request must arrive within this */
export const HTTP_REQUEST_TIMEOUT_MS = 10_000;
/** a kept-alive connection waits this long for its next request */
export const HTTP_KEEPALIVE_TIMEOUT_MS = 5_000;
