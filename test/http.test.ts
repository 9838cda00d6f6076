// The HTTP layer and the status/routes commands, over a fixed snapshot of agent state.
import { Gauge } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerView, RouteView } from '../src/api/types.js';
import { startHttp, type AgentView, type HttpServer, type RouteFilter } from '../src/http/server.js';
import { createRegistry } from '../src/http/metrics.js';
import { createLogger } from '../src/log.js';
import { routeletAsync as routelet } from './support/cli.js';
import { formatPeers } from '../src/api/format.js';
import { formatRoutes } from '../src/cli/routes.js';

const peer = (address: string, state: PeerView['state'], lastError: string | null): PeerView => ({
  address,
  port: 179,
  asn: 65000,
  dynamic: false,
  state,
  uptimeSeconds: state === 'Established' ? 3725 : 0,
  lastError,
  gracefulRestart: { negotiated: state === 'Established', restarting: false, staleRoutes: 0 },
  prefixes: { received: 3, accepted: 2, advertised: 1 },
  md5Failures: 0,
});

const route = (i: number): RouteView => ({
  prefix: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`,
  paths: [
    {
      nextHop: '192.0.2.1',
      peer: '192.0.2.1',
      asPath: '65001 65002',
      origin: 'IGP',
      localPref: 100,
      med: null,
      communities: ['65000:1'],
      largeCommunities: [],
      originatorId: null,
      clusterList: [],
      best: true,
      stale: false,
      bestReason: 'only path',
    },
  ],
  kernel: 'installed',
});

describe('HTTP API and CLI', () => {
  let server: HttpServer;
  let problems: string[] = [];
  let live = { ok: true } as { ok: boolean; reason?: string };
  const N = 20_000;
  const peers = [peer('10.0.0.2', 'Established', null), peer('10.0.0.3', 'Active', 'ECONNREFUSED')];
  const registry = createRegistry();
  new Gauge({ name: 'routelet_test_peers', help: 'peers', registers: [registry], collect() { this.set(peers.length); } });
  const view: AgentView = {
    peers: () => peers,
    *routes(f: RouteFilter) {
      for (let i = 0; i < N; i++) {
        const r = route(i);
        if (f.prefix === undefined || f.prefix === r.prefix) yield r;
      }
    },
    problems: () => problems,
    live: async () => live,
    metrics: registry,
  };
  let base: string;
  let http: string;

  beforeAll(async () => {
    server = await startHttp({ host: '127.0.0.1', port: 0 }, view, createLogger('silent'));
    http = `127.0.0.1:${server.address.port}`;
    base = `http://${http}`;
  });
  afterAll(() => server?.close());

  it('/livez follows the route-install path', async () => {
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    live = { ok: false, reason: 'route queue thread not answering' };
    const r = await fetch(`${base}/livez`);
    expect(r.status).toBe(503);
    expect(await r.text()).toContain('route queue thread');
    live = { ok: true };
  });

  it('/readyz is 200 when nothing is wrong, else 503 with one line per problem', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    problems = ['BGP not established with 10.0.0.3: Active (last error ECONNREFUSED)', 'TCP-MD5 authentication failing for 10.0.0.4 (12 segments dropped)'];
    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(503);
    expect((await r.text()).trim().split('\n')).toEqual(problems);
    problems = [];
  });

  it('/metrics is Prometheus text', async () => {
    const r = await fetch(`${base}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await r.text();
    expect(text).toMatch(/^routelet_test_peers 2$/m);
    expect(text).toMatch(/^routelet_process_cpu_seconds_total /m);
  });

  it('/api/v1/peers and /api/v1/routes return the contract shapes; routes stream', async () => {
    expect(await (await fetch(`${base}/api/v1/peers`)).json()).toEqual(peers);
    const all = (await (await fetch(`${base}/api/v1/routes`)).json()) as RouteView[];
    expect(all).toHaveLength(N);
    expect(all[N - 1]).toEqual(route(N - 1));
    const one = (await (await fetch(`${base}/api/v1/routes?prefix=10.0.1.2/32`)).json()) as RouteView[];
    expect(one).toEqual([route(258)]);
  });

  it('unknown paths are 404 and other methods 405', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/readyz`, { method: 'POST' })).status).toBe(405);
  });

  it('routelet status prints the peers as a table, or JSON', async () => {
    const r = await routelet(['status', '--http', http]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${formatPeers(peers)}\n`);
    expect(r.stdout).toMatch(/^10\.0\.0\.3\s+65000\s+ibgp|^10\.0\.0\.3\s+65000\s+Active/m);
    expect(r.stdout).toMatch(/ECONNREFUSED/);
    expect(JSON.parse((await routelet(['status', '--json', '--http', http])).stdout)).toEqual(peers);
    expect((await routelet(['status'], { ROUTELET_HTTP_ADDRESS: http })).status).toBe(0);
  });

  it('routelet routes filters by prefix', async () => {
    const r = await routelet(['routes', '--prefix', '10.0.1.2/32', '--http', http]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${formatRoutes([route(258)])}\n`);
    expect(JSON.parse((await routelet(['routes', '--json', '--prefix', '10.0.1.2/32', '--http', http])).stdout)).toEqual([route(258)]);
  });

  it('exits 1 when no agent answers, 2 for a bad address or prefix', async () => {
    const down = await routelet(['status', '--http', '127.0.0.1:1']);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the routelet agent at 127\.0\.0\.1:1: ECONNREFUSED/);
    const bad = await routelet(['status', '--http', 'localhost']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--http "localhost"/);
    expect((await routelet(['status'], { ROUTELET_HTTP_ADDRESS: 'nowhere' })).stderr).toMatch(/ROUTELET_HTTP_ADDRESS/);
    expect((await routelet(['routes', '--prefix', '10.0.0.0/99', '--http', http])).status).toBe(2);
  });
});
