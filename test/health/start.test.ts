// Starting PeerWatch in each mode: bpf, fallback when the kernel refuses (ROUTELET_BPF=auto),
// a loud failure with ROUTELET_BPF=on, off; the session layer's reports giving the same
// event type; stop detaching everything; the counters on a prom-client registry.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/log.js';
import { PeerWatch, PeerWatchError, type PeerHealthEvent } from '../../src/health/index.js';
import { registerPeerWatchMetrics } from '../../src/health/metrics.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { ROOT } from '../support/cli.js';
import { sh } from '../support/netns.js';
import { Collector, sleep } from './support.js';

const watches: PeerWatch[] = [];
const start = (o: Parameters<typeof PeerWatch.start>[0]) => {
  const w = PeerWatch.start(o);
  watches.push(w);
  return w;
};
afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Node's own error for a loopback connection to a closed port. */
function refusedBy(port: number): Promise<NodeJS.ErrnoException> {
  return new Promise((resolve) => connect(port, '127.0.0.1').on('error', resolve));
}

const DIST = `${ROOT}dist/health/index.js`;

/** PeerWatch.start in a child without any capability (uid nobody), via the built dist/. */
function startUnprivileged(bpf: 'on' | 'auto'): { status: number | null; out: { mode?: string; reason?: string; error?: string; code?: string; message?: string } } {
  const script = `
    const { PeerWatch } = await import(${JSON.stringify(DIST)});
    try {
      const w = PeerWatch.start({ bpf: ${JSON.stringify(bpf)}, cgroupPath: null });
      console.log(JSON.stringify({ mode: w.mode, reason: w.reason }));
      w.stop();
    } catch (e) {
      console.log(JSON.stringify({ error: e.name, code: e.code, message: e.message }));
      process.exitCode = 1;
    }`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 30_000,
  });
  return { status: r.status, out: JSON.parse(r.stdout.trim().split('\n').pop() || '{}') };
}

beforeAll(() => {
  requireRoot();
  requireCommand('setpriv', 'util-linux');
  requireCommand('bpftool');
  if (!existsSync(DIST) || statSync(DIST).mtimeMs < statSync(`${ROOT}src/health/service.ts`).mtimeMs)
    throw new Error(`${DIST} is missing or older than its source; run: npm run build:ts`);
});

describe('PeerWatch.preload', () => {
  it('loads on a native thread; start() with the same options only attaches, and the programs work', async () => {
    expect(PeerWatch.preload({ bpf: 'auto', cgroupPath: null })).toBe(true);
    expect(PeerWatch.preload({ bpf: 'auto', cgroupPath: null })).toBe(false); // one at a time
    const w = start({ bpf: 'on', cgroupPath: null });
    expect(w.status()).toMatchObject({ mode: 'bpf', preloaded: true });
    expect(w.status().attached.length).toBeGreaterThan(5);
    const got = new Collector(w);
    const port = await closedPort();
    w.setPeers([{ address: '127.0.0.1', port }]);
    await refusedBy(port);
    await got.wait((e) => e.kind === 'refused' && e.source === 'bpf' && e.port === port, 5000, 'refused from the preloaded programs');
  });

  it('start() with other options loads anew; a preload that failed is reported by start()', () => {
    expect(PeerWatch.preload({ bpf: 'auto', cgroupPath: null, ringBytes: 8192 })).toBe(true);
    const w = start({ bpf: 'on', cgroupPath: null });
    expect(w.status()).toMatchObject({ mode: 'bpf', preloaded: false });
    w.stop();
    expect(PeerWatch.preload({ bpf: 'auto', btfPath: '/nonexistent/vmlinux', cgroupPath: null })).toBe(true);
    const f = start({ bpf: 'auto', btfPath: '/nonexistent/vmlinux', cgroupPath: null });
    expect(f.mode).toBe('fallback');
    expect(f.reason).toMatch(/BPF unavailable: .*ENOENT.*BTF/s);
    expect(PeerWatch.preload({ bpf: 'off' })).toBe(false);
  });
});

describe('PeerWatch modes', () => {
  it('off: no programs; the session layer reports Node errors and gets typed events', async () => {
    const w = start({ bpf: 'off' });
    expect(w.mode).toBe('off');
    expect(w.reason).toMatch(/ROUTELET_BPF=off/);
    expect(w.status()).toMatchObject({ mode: 'off', sockops: false, attached: [], programIds: [] });
    const got = new Collector(w);
    const port = await closedPort();
    w.setPeers([{ address: '127.0.0.1', port }]);
    const err = await refusedBy(port);
    const e = w.reportSocketError({ address: '127.0.0.1', port, error: err, phase: 'connect' });
    expect(e).toMatchObject({ kind: 'refused', code: 'ECONNREFUSED', errno: -111, evidence: 'dead', source: 'socket', peer: '127.0.0.1', port });
    expect(got.events).toEqual([e]);
    expect(w.reportSocketError({ address: '127.0.0.2', error: err })).toBeNull(); // not watched
    expect(() => w.reportSocketError({ address: 'garbage', error: err })).toThrow(/not an IP address/);
    expect(w.peerCounters('127.0.0.1').kinds.refused).toBe(1);
    expect(w.lastDead('127.0.0.1')).toBe(e);
    expect(w.drain()).toBe(0);
  });

  it('auto on a kernel that refuses (BTF missing): fallback, with the reason, said once in the log', () => {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const w = start({ bpf: 'auto', btfPath: '/nonexistent/vmlinux', cgroupPath: null, log });
    expect(w.mode).toBe('fallback');
    expect(w.reason).toMatch(/BPF unavailable: .*ENOENT.*BTF/s);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, peerHealth: 'fallback', reason: w.reason });
    w.setPeers([{ address: '10.0.0.4' }]);
    expect(w.reportSocketError({ address: '10.0.0.4', error: { code: 'EHOSTUNREACH' } })).toMatchObject({ kind: 'unreachable', source: 'socket' });
  });

  it('on: fails to start, loudly, when the kernel refuses', () => {
    let err: unknown;
    try {
      start({ bpf: 'on', btfPath: '/nonexistent/vmlinux', cgroupPath: null });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PeerWatchError);
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'bpf(BPF_PROG_LOAD)' });
    expect((err as Error).message).toMatch(/^ROUTELET_BPF=on, but the BPF programs cannot run: .*BTF/s);
    expect(() => start({ bpf: 'on', cgroupPath: '/nonexistent/cgroup' })).toThrow(/ROUTELET_BPF=on.*cgroup v2 directory \/nonexistent\/cgroup/s);
  });

  it('auto without a usable cgroup: the tracepoints alone, and the reason sockops is missing', () => {
    const w = start({ bpf: 'auto', cgroupPath: '/nonexistent/cgroup' });
    expect(w.mode).toBe('bpf');
    expect(w.sockops).toBe(false);
    expect(w.reason).toMatch(/^no sockops: .*ENOENT/);
    expect(w.status().attached.some((a) => a.startsWith('sockops'))).toBe(false);
  });

  it('without privileges: on fails with EPERM, auto falls back saying why', () => {
    const on = startUnprivileged('on');
    expect(on.status).toBe(1);
    expect(on.out).toMatchObject({ error: 'PeerWatchError', code: 'EPERM' });
    expect(on.out.message).toMatch(/ROUTELET_BPF=on/);
    const auto = startUnprivileged('auto');
    expect(auto.status).toBe(0);
    expect(auto.out.mode).toBe('fallback');
    expect(auto.out.reason).toMatch(/EPERM/);
  });

  it('bad options are refused before anything loads', () => {
    expect(() => start({ bpf: 'yes' as never })).toThrow(/on, auto or off/);
    expect(() => start({ bpf: 'on', ringBytes: 5000, cgroupPath: null })).toThrow(/power of two/);
    expect(() => start({ bpf: 'on', maxEntries: 0, cgroupPath: null })).toThrow(/maxPeers/);
  });
});

describe('PeerWatch in bpf mode on this host', () => {
  it('the kernel and the session layer yield one event type; a report the kernel made already is dropped', async () => {
    const w = start({ bpf: 'on', cgroupPath: null });
    const got = new Collector(w);
    const port = await closedPort();
    w.setPeers([{ address: '127.0.0.1', port }]);
    const err = await refusedBy(port);
    const e = await got.kind('127.0.0.1', 'refused', 10_000);
    expect(e).toMatchObject({ source: 'bpf', port, code: 'ECONNREFUSED' });
    const fromSession = w.reportSocketError({ address: '127.0.0.1', port, error: err, phase: 'connect' });
    expect(fromSession).toBeNull();
    const kernelShape = Object.keys(e).sort();
    const fallback = start({ bpf: 'off' });
    fallback.setPeers([{ address: '127.0.0.1', port }]);
    expect(Object.keys(fallback.reportSocketError({ address: '127.0.0.1', port, error: err }) as PeerHealthEvent).sort()).toEqual(kernelShape);
  });

  it('counters reach a prom-client registry', async () => {
    const w = start({ bpf: 'on', cgroupPath: null });
    const port = await closedPort();
    w.setPeers([{ address: '127.0.0.1', port }]);
    const got = new Collector(w);
    await refusedBy(port);
    await got.kind('127.0.0.1', 'refused', 10_000);
    const reg = new Registry();
    registerPeerWatchMetrics(reg, () => w);
    const text = await reg.metrics();
    expect(text).toMatch(/^routelet_peerwatch_mode\{mode="bpf"\} 1$/m);
    expect(text).toMatch(/^routelet_peer_health_events_total\{peer="127.0.0.1",kind="refused"\} 1$/m);
    expect(text).toMatch(/^routelet_peer_md5_failures_total\{peer="127.0.0.1"\} 0$/m);
    expect(text).toMatch(/^routelet_bpf_events_total [1-9]/m);
    expect(text).toMatch(/^routelet_bpf_map_bytes\{map="peers"\} [1-9]/m);
  });

  it('stop detaches every program and frees the maps', async () => {
    const w = start({ bpf: 'on', cgroupPath: null });
    const ids = w.status().programIds;
    expect(ids.length).toBe(9);
    const loaded = () => ids.filter((id) => sh('bpftool', ['prog', 'show', 'id', String(id)], { allowFail: true }) !== '');
    expect(loaded()).toEqual(ids);
    w.stop();
    // the kernel frees programs after an RCU grace period: give it a generous bound
    for (let i = 0; i < 50 && loaded().length; i++) await sleep(100);
    expect(loaded()).toEqual([]);
    expect(w.status()).toMatchObject({ attached: [], programIds: [] });
    w.stop(); // idempotent
    expect(() => w.setPeers([{ address: '10.0.0.1' }])).not.toThrow();
  });
});
