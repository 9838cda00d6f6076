// Benchmark: how long 1,000 TCP-MD5 peers connecting at once take until every one is accepted
// by one listener, with BIRD's listen backlog of 8 beside routelet's (65535, capped by
// net.core.somaxconn = 4096), side by side in the same run on the same topology. Each client
// behaves like a BGP speaker: it sends its OPEN at once, and when its connection is reset or
// gets no answer it connects again after 1 s.
//   npx vitest bench --run test/transport/backlog.bench.ts        (BENCH_PEERS=N to change 1,000)
import type { Socket } from 'node:net';
import { bench, describe } from 'vitest';
import { type OutboundConnection, connect } from '../../src/bgp/transport/connector.js';
import { Listener } from '../../src/bgp/transport/listener.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { memoryLog, nsPath, peer } from './support.js';

const N = Number(process.env.BENCH_PEERS ?? 1000);
const addr = (i: number) => `10.101.${(i + 1) >> 8}.${(i + 1) & 255}`;
const ADDRS = Array.from({ length: N }, (_, i) => addr(i));
let port = 2000;

// the topology is made at load (hooks do not run around benches); netns.ts deletes it at exit
requireRoot();
const S = new Netns('bls');
const C = new Netns('blc');
const { bDev } = link(S, '192.0.2.1/30', C, '192.0.2.2/30');
C.exec('ip', ['-batch', '-'], { input: ADDRS.map((a) => `addr add ${a}/32 dev ${bDev}`).join('\n') + '\n' });
S.ip('route', 'add', '10.101.0.0/16', 'via', '192.0.2.2');
C.ip('route', 'add', 'default', 'via', '192.0.2.1');
process.once('SIGTERM', () => {
  C.delete();
  S.delete();
  process.exit(143);
});

/** One client: connect, send OPEN, wait for the listener's greeting; on failure retry after 1 s. */
async function speaker(address: string, p: number, outs: OutboundConnection[]): Promise<void> {
  for (;;) {
    try {
      const o = await connect({ peer: peer('192.0.2.1', { password: 'mesh' }), port: p, localAddress: address, timeoutMs: 60_000, netns: nsPath(C.name) });
      outs.push(o);
      o.socket.write('OPEN');
      const up = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 30_000);
        const end = (v: boolean) => () => (clearTimeout(t), resolve(v));
        o.socket.once('data', end(true)).once('error', end(false)).once('close', end(false));
      });
      if (up) return;
      o.socket.destroy();
    } catch {
      // refused, reset or timed out: like a BGP speaker, try again
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function run(backlog: number): Promise<void> {
  port++;
  const l = Listener.open({
    address: '::',
    port,
    backlog,
    peers: ADDRS.map((a) => peer(a, { password: 'mesh' })),
    dynamic: { ranges: [], password: undefined, ibgp: true },
    log: memoryLog('error').log,
    netns: nsPath(S.name),
  });
  const inbound: Socket[] = [];
  l.on('connection', (c) => {
    c.socket.on('error', () => {});
    c.socket.write('OK');
    inbound.push(c.socket);
  });
  const outs: OutboundConnection[] = [];
  try {
    await Promise.all(ADDRS.map((a) => speaker(a, port, outs)));
  } finally {
    for (const o of outs) o.socket.destroy();
    for (const s of inbound) s.destroy();
    l.close();
  }
}

describe(`${N} MD5 peers connecting at once, until all are accepted`, () => {
  const opts = { iterations: 3, warmupIterations: 0, time: 0, warmupTime: 0 };
  bench('listen backlog 8 (BIRD)', () => run(8), opts);
  bench('listen backlog 65535 → somaxconn 4096 (routelet)', () => run(65535), opts);
});
