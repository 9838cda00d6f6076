// Health, metrics and API over HTTP (CONTRACT.md). It reads snapshots through AgentView
// and never reaches into the state machines or the RIB.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import type { PeerView, RouteView } from '../api/types.js';
import type { Logger } from '../log.js';
import { HTTP_HEADERS_TIMEOUT_MS, HTTP_IDLE_TIMEOUT_MS, HTTP_KEEPALIVE_TIMEOUT_MS, HTTP_MAX_CONNECTIONS, HTTP_REQUEST_TIMEOUT_MS } from './limits.js';

export interface RouteFilter {
  /** exact prefix (`10.0.0.0/24`), or an address for the longest match covering it */
  prefix?: string;
}

/** What the agent shows to HTTP: read-only snapshots. */
export interface AgentView {
  peers(): PeerView[];
  /** may be very large: the server streams it */
  routes(filter: RouteFilter): Iterable<RouteView>;
  /** one line per reason the agent is not ready; empty when ready */
  problems(): string[];
  /** the route-install path answers (the event loop does, or this would not run) */
  live(): Promise<{ ok: boolean; reason?: string }>;
  metrics: Registry;
}

export interface HttpServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** Write a JSON array element by element, in chunks, respecting backpressure. */
async function streamJsonArray(res: ServerResponse, items: Iterable<unknown>): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  let chunk = '[';
  let first = true;
  for (const item of items) {
    chunk += (first ? '' : ',') + JSON.stringify(item);
    first = false;
    if (chunk.length >= 65536) {
      if (!res.write(chunk)) await new Promise<void>((r) => res.once('drain', r));
      chunk = '';
    }
  }
  res.end(`${chunk}]\n`);
}

async function handle(view: AgentView, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://routelet');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain', 'method not allowed\n');
  }
  switch (url.pathname) {
    case '/livez': {
      const l = await view.live();
      return send(res, l.ok ? 200 : 503, 'text/plain', l.ok ? 'ok\n' : `${l.reason ?? 'not live'}\n`);
    }
    case '/readyz': {
      const problems = view.problems();
      return send(res, problems.length === 0 ? 200 : 503, 'text/plain', problems.length === 0 ? 'ok\n' : `${problems.join('\n')}\n`);
    }
    case '/metrics':
      return send(res, 200, view.metrics.contentType, await view.metrics.metrics());
    case '/api/v1/peers':
      return send(res, 200, 'application/json', `${JSON.stringify(view.peers())}\n`);
    case '/api/v1/routes': {
      const prefix = url.searchParams.get('prefix') ?? undefined;
      let routes: Iterable<RouteView>;
      try {
        routes = view.routes(prefix === undefined ? {} : { prefix });
      } catch (e) {
        // a query that is not a prefix or an address: the caller's mistake, said plainly
        if (e instanceof RangeError) return send(res, 400, 'text/plain', `${e.message}\n`);
        throw e;
      }
      return streamJsonArray(res, routes);
    }
    default:
      return send(res, 404, 'text/plain', `no such endpoint: ${url.pathname}\n`);
  }
}

export interface HttpLimits {
  maxConnections: number;
  idleTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: HTTP_MAX_CONNECTIONS,
  idleTimeoutMs: HTTP_IDLE_TIMEOUT_MS,
  headersTimeoutMs: HTTP_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: HTTP_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: HTTP_KEEPALIVE_TIMEOUT_MS,
};

/**
 * HTTP may never take what BGP needs (issue 12): at most `maxConnections` connections are
 * held. One more evicts the oldest connection with no request in progress (a health check
 * gets through however many idle clients there are), or is closed at once when all are busy.
 * Idle and slow connections are closed after the timeouts in limits.ts.
 */
export function startHttp(addr: { host: string; port: number }, view: AgentView, log: Logger, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Promise<HttpServer> {
  /** open connections, oldest first, with their requests in progress */
  const open = new Map<Socket, { busy: number }>();
  let evicted = 0;
  let refused = 0;
  let warnedAt = 0;
  const server: Server = createServer({ connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs) }, (req, res) => {
    const st = open.get(req.socket);
    if (st) {
      st.busy += 1;
      res.once('close', () => (st.busy -= 1));
    }
    handle(view, req, res).catch((e: unknown) => {
      log.error({ err: e, url: req.url }, 'HTTP handler failed');
      if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${(e as Error).message}\n`);
      else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      let idle: Socket | undefined;
      for (const [s, st] of open) {
        if (st.busy === 0) {
          idle = s;
          break;
        }
      }
      if (idle) {
        open.delete(idle);
        idle.destroy();
        evicted += 1;
      } else {
        socket.destroy();
        refused += 1;
      }
      const now = Date.now();
      if (now - warnedAt >= 60_000) {
        warnedAt = now;
        log.warn({ maxConnections: limits.maxConnections, evicted, refused }, `HTTP connections at the cap (${limits.maxConnections}): idle ones closed (${evicted} so far), new ones refused while all are busy (${refused} so far)`);
      }
      if (!idle) return;
    }
    open.set(socket, { busy: 0 });
    socket.once('close', () => open.delete(socket));
  });
  // idle (no bytes either way) and slow (headers, request) connections are closed
  server.timeout = limits.idleTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      log.info({ address: a.address, port: a.port, maxConnections: limits.maxConnections, idleTimeoutMs: limits.idleTimeoutMs }, 'HTTP listening');
      resolve({
        address: { host: a.address, port: a.port },
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
            for (const s of open.keys()) s.destroy();
          }),
      });
    });
  });
}
