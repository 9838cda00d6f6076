// Health, metrics and API over HTTP (CONTRACT.md). It reads snapshots through AgentView
// and never reaches into the state machines or the RIB.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { PeerView, RouteView } from '../api/types.js';
import type { Logger } from '../log.js';

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

export function startHttp(addr: { host: string; port: number }, view: AgentView, log: Logger): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    handle(view, req, res).catch((e: unknown) => {
      log.error({ err: e, url: req.url }, 'HTTP handler failed');
      if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${(e as Error).message}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      log.info({ address: a.address, port: a.port }, 'HTTP listening');
      resolve({
        address: { host: a.address, port: a.port },
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
