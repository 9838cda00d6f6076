// Each detection path of the BPF programs, triggered for real: namespaces A (the agent's),
// R (a router) and C (peers), plain TCP sockets made inside them, the programs filtering on
// A's namespace and a cgroup of this test process for sockops. Every test checks the kind,
// the peer and the errno, and that an address nobody watches produces nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { PeerWatch } from '../../src/health/service.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { Netns, link } from '../support/netns.js';
import { Collector, connectFrom, fastNeighbours, icmpCounters, listenIn, nsInode, privateCgroup, routed, sleep, sysctl, type Topology } from './support.js';

let topo: Topology;
let watch: PeerWatch;
let got: Collector;
let cgroup: ReturnType<typeof privateCgroup>;
const sockets: Socket[] = [];
const extra: Netns[] = [];

/** Connect from A and remember the socket for cleanup. */
function connect(host: string, port: number, md5?: { address: string; key: string }[]) {
  const c = connectFrom(topo.a, host, port, md5);
  sockets.push(c.socket);
  return c;
}

/** Let the ring buffer empty, then: nothing about these addresses arrived. */
async function expectNothingFor(...addresses: string[]) {
  await sleep(300);
  watch.drain();
  for (const a of addresses) expect(got.of(a), `events for unwatched ${a}`).toEqual([]);
}

beforeAll(() => {
  requireRoot();
  requireCommand('ip', 'iproute2');
  requireCommand('sysctl', 'procps');
  requireCommand('ping', 'iputils-ping');
  topo = routed(Netns, (a, aa, b, bb) => link(a, aa, b, bb));
  cgroup = privateCgroup('detect');
  watch = PeerWatch.start({ bpf: 'on', netns: nsInode(topo.a), cgroupPath: cgroup.path });
  got = new Collector(watch);
  watch.setPeers([
    { address: '10.77.2.2' },
    { address: 'fd77:2::2' },
    { address: '10.77.3.5' },
    { address: '10.77.5.5' },
    { address: '10.77.2.9' },
    { address: '10.88.0.8' },
    { address: '10.99.0.9' },
    { address: '10.77.4.4' },
    { address: '10.77.1.9' },
    { address: 'fd77:1::9' },
    { address: '10.77.6.2', port: 179 },
    { address: '10.77.7.2' },
    { address: '10.77.8.8', gateway: '10.77.9.2' },
  ]);
});

afterAll(() => {
  for (const s of sockets) s.destroy();
  watch?.stop();
  cgroup?.release();
  for (const n of [...extra, topo?.a, topo?.r, topo?.c]) n?.delete();
});

describe('BPF detection in namespaces', () => {
  it('loads in bpf mode with every tracepoint and sockops on the test cgroup', () => {
    const s = watch.status();
    expect(s.mode).toBe('bpf');
    expect(s.reason).toBeNull();
    expect(s.sockops).toBe(true);
    for (const tp of ['inet_sk_error_report', 'inet_sock_set_state', 'tcp_receive_reset', 'tcp_retransmit_skb', 'neigh_timer_handler', 'tcp_hash_md5_mismatch'])
      expect(s.attached).toContain(`tp_btf/${tp}`);
    expect(s.attached).toContain(`sockops:${cgroup.path}`);
  });

  it('refused: an RST answers our SYN (IPv4 and IPv6)', async () => {
    const conns = [connect('10.77.2.2', 1001), connect('fd77:2::2', 1001), connect('10.77.2.3', 1001), connect('fd77:2::3', 1001)];
    for (const peer of ['10.77.2.2', 'fd77:2::2']) {
      const e = await got.kind(peer, 'refused', 10_000);
      expect(e).toMatchObject({ code: 'ECONNREFUSED', errno: -111, port: 1001, oldState: 'SYN_SENT', newState: 'CLOSE', evidence: 'dead', source: 'bpf', hook: 'inet_sock_set_state' });
      expect(e.family).toBe(peer.includes(':') ? 6 : 4);
      expect(e.localPort).toBeGreaterThan(1023);
      expect(e.socketCookie).toBeGreaterThan(0n);
    }
    for (const c of conns) expect((await c.error).code).toBe('ECONNREFUSED');
    // the state machine was seen too: SYN_SENT → CLOSE
    expect(got.of('10.77.2.2').some((e) => e.kind === 'state' && e.oldState === 'SYN_SENT' && e.newState === 'CLOSE')).toBe(true);
    // the RST to a SYN is one "refused", not also a "reset"
    expect(got.of('10.77.2.2').filter((e) => e.kind === 'reset')).toEqual([]);
    await expectNothingFor('10.77.2.3', 'fd77:2::3');
  });

  it('unreachable by ICMP: the router has an unreachable and a prohibit route toward the peer', async () => {
    topo.r.ip('route', 'add', 'unreachable', '10.77.3.0/24');
    topo.r.ip('route', 'add', 'prohibit', '10.77.5.0/24');
    const conns = [connect('10.77.3.5', 179), connect('10.77.5.5', 179), connect('10.77.3.6', 179)];
    for (const peer of ['10.77.3.5', '10.77.5.5']) {
      const e = await got.kind(peer, 'unreachable', 10_000);
      expect(e).toMatchObject({ code: 'EHOSTUNREACH', errno: -113, port: 179, oldState: 'SYN_SENT', evidence: 'dead' });
    }
    for (const c of conns) expect((await c.error).code).toBe('EHOSTUNREACH');
    await expectNothingFor('10.77.3.6');
  });

  it("unreachable by ICMP: the peer's address moved away (the router's ARP fails)", async () => {
    topo.c.ip('addr', 'add', '10.77.2.9/24', 'dev', topo.cDev);
    topo.c.ip('addr', 'del', '10.77.2.9/24', 'dev', topo.cDev);
    topo.r.ip('neigh', 'flush', 'dev', topo.rcDev);
    const c = connect('10.77.2.9', 179);
    const e = await got.kind('10.77.2.9', 'unreachable', 15_000);
    expect(e).toMatchObject({ code: 'EHOSTUNREACH', oldState: 'SYN_SENT', evidence: 'dead' });
    expect((await c.error).code).toBe('EHOSTUNREACH');
  });

  it('unreachable by no route: the router has none (ICMP net unreachable)', async () => {
    const c = connect('10.88.0.8', 179);
    const e = await got.kind('10.88.0.8', 'unreachable', 10_000).catch((err: Error) => {
      // say which hop stayed silent: the router not sending the error, or A not taking it
      throw new Error(`${err.message}; router: ${icmpCounters(topo.r)}; agent's namespace: ${icmpCounters(topo.a)}`);
    });
    expect(e).toMatchObject({ code: 'ENETUNREACH', errno: -101, evidence: 'dead' });
    expect((await c.error).code).toBe('ENETUNREACH');
  });

  it('unreachable by no route on this host: connect() fails at once, the session reports it', async () => {
    topo.a.ip('route', 'add', 'throw', '10.99.0.0/16');
    const c = connect('10.99.0.9', 179);
    const err = await c.error;
    expect(err.code).toBe('ENETUNREACH');
    // no socket left CLOSE: nothing for a tracepoint to see
    await sleep(300);
    watch.drain();
    expect(got.of('10.99.0.9')).toEqual([]);
    const e = watch.reportSocketError({ address: '10.99.0.9', port: 179, error: err, phase: 'connect' });
    expect(e).toMatchObject({ kind: 'unreachable', code: 'ENETUNREACH', errno: -101, evidence: 'dead', source: 'socket', peer: '10.99.0.9' });
    expect(got.of('10.99.0.9')).toHaveLength(1);
  });

  it('reset on an established connection', async () => {
    const srv = await listenIn(topo.c, '10.77.2.2', 1002);
    const c = connect('10.77.2.2', 1002);
    await c.connected;
    (await srv.next()).resetAndDestroy();
    const e = await got.kind('10.77.2.2', 'reset', 10_000);
    expect(e).toMatchObject({ code: 'ECONNRESET', errno: -104, port: 1002, oldState: 'ESTABLISHED', newState: 'CLOSE', evidence: 'dead', hook: 'tcp_receive_reset' });
    expect((await c.error).code).toBe('ECONNRESET');
    await sleep(200);
    watch.drain();
    // one event for one reset: the error report's ECONNRESET is not repeated
    expect(got.of('10.77.2.2').filter((x) => x.port === 1002 && x.kind !== 'state')).toHaveLength(1);
    srv.server.close();
  });

  it('SYN retransmissions without an answer (the peer drops silently)', async () => {
    topo.r.ip('route', 'add', 'blackhole', '10.77.4.0/24');
    const t0 = process.hrtime.bigint();
    connect('10.77.4.4', 179);
    connect('10.77.4.5', 179);
    const e = await got.kind('10.77.4.4', 'syn-unanswered', 10_000);
    expect(e).toMatchObject({ oldState: 'SYN_SENT', retransmits: 1, evidence: 'dead', code: null, port: 179 });
    // the sockops program sets the first SYN retransmission to 100 ms (SYN_RTO_MS) for sockets
    // to watched peers; the kernel's own would come after one second
    expect(Number(e.time - t0) / 1e6).toBeLessThan(800);
    await expectNothingFor('10.77.4.5');
  });

  it('neighbour FAILED: the peer on the shared link does not answer ARP / NDP', async () => {
    connect('10.77.1.9', 179);
    connect('fd77:1::9', 179);
    connect('10.77.1.10', 179);
    for (const peer of ['10.77.1.9', 'fd77:1::9']) {
      const e = await got.kind(peer, 'neighbour-failed', 10_000);
      expect(e).toMatchObject({ neighbour: peer, code: 'EHOSTUNREACH', evidence: 'dead', hook: 'neigh', oldState: null, newState: null });
    }
    // and the socket's own error follows from the failed resolution
    expect(await got.kind('10.77.1.9', 'unreachable', 10_000)).toMatchObject({ code: 'EHOSTUNREACH' });
    await expectNothingFor('10.77.1.10');
  });

  it("neighbour FAILED: the peer's gateway vanished", async () => {
    const g = new Netns('g');
    extra.push(g);
    const l = link(topo.a, ['10.77.9.1/24'], g, ['10.77.9.2/24']);
    fastNeighbours(topo.a, l.aDev);
    topo.a.ip('route', 'add', '10.77.8.0/24', 'via', '10.77.9.2');
    g.ip('addr', 'del', '10.77.9.2/24', 'dev', l.bDev);
    connect('10.77.8.8', 179);
    const e = await got.kind('10.77.8.8', 'neighbour-failed', 10_000);
    expect(e).toMatchObject({ neighbour: '10.77.9.2', peer: '10.77.8.8', evidence: 'dead' });
    // the gateway itself is not a peer: no event under its own address
    expect(got.of('10.77.9.2')).toEqual([]);
  });

  it('host vanishing under an established session: retransmissions with an ICMP host-unreachable soft error', async () => {
    const v = new Netns('v');
    extra.push(v);
    const l = link(topo.r, ['10.77.6.1/24'], v, ['10.77.6.2/24', '10.77.6.3/24']);
    fastNeighbours(topo.r, l.aDev);
    v.ip('route', 'add', 'default', 'via', '10.77.6.1');
    const srv = await listenIn(v, '0.0.0.0', 179);
    const c = connect('10.77.6.2', 179);
    const u = connect('10.77.6.3', 179);
    await Promise.all([c.connected, u.connected]);
    await srv.next();
    // the peer is watched on port 179 only: a refused connection to another port says nothing
    const other = connect('10.77.6.2', 180);
    expect((await other.error).code).toBe('ECONNREFUSED');
    await sleep(200);
    watch.drain();
    expect(got.of('10.77.6.2').filter((e) => e.port !== 179)).toEqual([]);
    v.ip('link', 'set', l.bDev, 'down');
    c.socket.write(Buffer.alloc(1000, 1));
    u.socket.write(Buffer.alloc(1000, 1));
    const e = await got.kind('10.77.6.2', 'host-gone', 30_000);
    expect(e).toMatchObject({ softCode: 'EHOSTUNREACH', oldState: 'ESTABLISHED', evidence: 'dead', port: 179 });
    expect(e.retransmits).toBeGreaterThanOrEqual(1);
    // Node itself has seen no error: the soft error stays in the kernel
    expect(c.socket.destroyed).toBe(false);
    await expectNothingFor('10.77.6.3');
    srv.server.close();
  });

  it('host vanishing silently (blackhole): RTOs without a soft error, then the retry limit', async () => {
    const v = new Netns('s');
    extra.push(v);
    link(topo.r, ['10.77.7.1/24'], v, ['10.77.7.2/24']);
    v.ip('route', 'add', 'default', 'via', '10.77.7.1');
    const srv = await listenIn(v, '10.77.7.2', 179);
    sysctl(topo.a, 'net.ipv4.tcp_retries2=3');
    try {
      const c = connect('10.77.7.2', 179);
      await c.connected;
      await srv.next();
      topo.r.ip('route', 'add', 'blackhole', '10.77.7.2/32');
      c.socket.write(Buffer.alloc(1000, 1));
      const rto = await got.kind('10.77.7.2', 'rto', 10_000);
      expect(rto).toMatchObject({ softCode: null, oldState: 'ESTABLISHED', evidence: 'suspect', retransmits: 1, expired: false });
      // armed by sockops at connect, so its RTO callback reports first
      expect(rto.hook).toBe('sockops');
      const timeout = await got.kind('10.77.7.2', 'timeout', 30_000);
      expect(timeout).toMatchObject({ code: 'ETIMEDOUT', errno: -110, evidence: 'dead' });
      expect(got.of('10.77.7.2').some((x) => x.kind === 'rto' && x.expired && x.evidence === 'dead')).toBe(true);
      expect((await c.error).code).toBe('ETIMEDOUT');
      expect(watch.status().globals.sockopsArmed).toBeGreaterThan(0);
    } finally {
      sysctl(topo.a, 'net.ipv4.tcp_retries2=15');
      srv.server.close();
    }
  });

  it('TCP-MD5 mismatch, required and unexpected, counted per peer', async () => {
    const peerKeyA = [{ address: '10.77.2.2', key: 'alpha' }, { address: '10.77.2.3', key: 'alpha' }];
    const l1 = await listenIn(topo.a, '10.77.1.1', 1791, peerKeyA);
    const l2 = await listenIn(topo.a, '10.77.1.1', 1792, peerKeyA);
    const l3 = await listenIn(topo.a, '10.77.1.1', 1793);
    const fromC = (port: number, source: string, md5?: { address: string; key: string }[]) => {
      const c = connectFrom(topo.c, '10.77.1.1', port, md5, source);
      sockets.push(c.socket);
      return c;
    };
    fromC(1791, '10.77.2.2', [{ address: '10.77.1.1', key: 'beta' }]);
    const mismatch = await got.kind('10.77.2.2', 'md5-mismatch', 10_000);
    expect(mismatch).toMatchObject({ localPort: 1791, evidence: 'info', hook: 'tcp_hash_md5', newState: 'LISTEN' });
    expect(mismatch.port).toBeGreaterThan(1023);
    // each kind has its own rate limit: the first SYN of each connection is reported, though
    // the same peer's mismatch was reported a moment ago (its SYN retransmission would come
    // a second later)
    for (const [port, kind, md5] of [
      [1792, 'md5-required', undefined],
      [1793, 'md5-unexpected', [{ address: '10.77.1.1', key: 'alpha' }]],
    ] as const) {
      const t = process.hrtime.bigint();
      fromC(port, '10.77.2.2', md5 ? [...md5] : undefined);
      const e = await got.kind('10.77.2.2', kind, 10_000);
      expect(e).toMatchObject({ localPort: port });
      expect(Number(e.time - t) / 1e6, `${kind} reported for the first SYN`).toBeLessThan(900);
    }

    const counts = watch.peerCounters('10.77.2.2');
    expect(counts.kinds['md5-mismatch']).toBeGreaterThanOrEqual(1);
    expect(counts.kinds['md5-required']).toBeGreaterThanOrEqual(1);
    expect(counts.kinds['md5-unexpected']).toBeGreaterThanOrEqual(1);
    expect(counts.md5Failures).toBe(counts.kinds['md5-mismatch'] + counts.kinds['md5-required'] + counts.kinds['md5-unexpected']);
    const line = watch.readinessProblems().find((x) => x.includes('10.77.2.2'));
    expect(line).toMatch(/^TCP-MD5 authentication failing for 10\.77\.2\.2 \(\d+ segments? dropped\)$/);
    // the peer's SYNs keep coming: each is counted, even when the event is rate-limited
    // (SYN retransmissions come 1, 3, 7 s apart: poll rather than guess one window)
    const deadline = Date.now() + 12_000;
    while (watch.md5Failures('10.77.2.2') <= counts.md5Failures && Date.now() < deadline) await sleep(200);
    expect(watch.md5Failures('10.77.2.2')).toBeGreaterThan(counts.md5Failures);
    for (const l of [l1, l2, l3]) l.server.close();
  });

  it('TCP-MD5 over IPv6', async () => {
    const l = await listenIn(topo.a, 'fd77:1::1', 1796, [{ address: 'fd77:2::2', key: 'alpha' }]);
    const c = connectFrom(topo.c, 'fd77:1::1', 1796, [{ address: 'fd77:1::1', key: 'beta' }], 'fd77:2::2');
    sockets.push(c.socket);
    const e = await got.kind('fd77:2::2', 'md5-mismatch', 10_000);
    expect(e).toMatchObject({ family: 6, localPort: 1796 });
    expect(watch.md5Failures('fd77:2::2')).toBeGreaterThanOrEqual(1);
    l.server.close();
  });

  it('a passive session on a dual-stack listener: the IPv4-mapped peer is reported as IPv4', async () => {
    const l = await listenIn(topo.a, '::', 1795);
    const c = connectFrom(topo.c, '10.77.1.1', 1795, undefined, '10.77.2.2');
    sockets.push(c.socket);
    await c.connected;
    const accepted = await l.next();
    expect(accepted.remoteAddress).toBe('::ffff:10.77.2.2');
    const est = await got.wait((e) => e.peer === '10.77.2.2' && e.localPort === 1795 && e.newState === 'ESTABLISHED', 10_000, 'passive ESTABLISHED');
    expect(est).toMatchObject({ family: 4, port: c.socket.localPort });
    c.socket.resetAndDestroy();
    const reset = await got.wait((e) => e.peer === '10.77.2.2' && e.localPort === 1795 && e.kind === 'reset', 10_000, 'passive reset');
    expect(reset).toMatchObject({ family: 4, code: 'ECONNRESET', oldState: 'ESTABLISHED', evidence: 'dead' });
    l.server.close();
  });

  it('TCP-MD5 failures from an address nobody watches produce nothing', async () => {
    const l = await listenIn(topo.a, '10.77.1.1', 1794, [{ address: '10.77.2.3', key: 'alpha' }]);
    const c = connectFrom(topo.c, '10.77.1.1', 1794, [{ address: '10.77.1.1', key: 'beta' }], '10.77.2.3');
    sockets.push(c.socket);
    await sleep(1500);
    await expectNothingFor('10.77.2.3');
    expect(watch.md5Failures('10.77.2.3')).toBe(0);
    l.server.close();
  });

  it('a peer removed from the watch stops producing events; added again, its counters start at zero', async () => {
    watch.removePeer({ address: '10.77.3.5' });
    const before = got.of('10.77.3.5').length;
    connect('10.77.3.5', 180);
    await sleep(500);
    watch.drain();
    expect(got.of('10.77.3.5')).toHaveLength(before);
    watch.addPeer({ address: '10.77.3.5' });
    expect(watch.peerCounters('10.77.3.5').kinds.unreachable).toBe(0);
    connect('10.77.3.5', 181);
    await got.wait((e) => e.peer === '10.77.3.5' && e.port === 181 && e.kind === 'unreachable', 10_000);
    expect(watch.peerCounters('10.77.3.5').kinds.unreachable).toBe(1);
  });
});
