// TCP-MD5 at scale: 2,000 clients, each bound to its own source address in one namespace,
// connect at once to ONE listener (one address and port) in another. With a shared password
// and with 2,000 distinct passwords, at the default option memory (128 KiB) and at 20 KiB (as
// older kernels); and the naive plan — one key per peer on one socket — failing at the
// kernel's limit with ENOMEM, reported per peer.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type OutboundConnection, connect } from '../../src/bgp/transport/connector.js';
import { Listener } from '../../src/bgp/transport/listener.js';
import type { TransportPeer } from '../../src/bgp/transport/peers.js';
import { sockets } from '../../src/native/sockets.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { Inbox, exchange, fdOf, memoryLog, nsPath, peer } from './support.js';

const N = 2000;
const PORT = 1179;
const SERVER = '192.0.2.1';
const addr = (i: number) => `10.100.${(i + 1) >> 8}.${(i + 1) & 255}`;
const ADDRS = Array.from({ length: N }, (_, i) => addr(i));
const addr6 = (i: number) => `fd10::${(i + 1).toString(16)}`;
const ADDRS6 = Array.from({ length: N }, (_, i) => addr6(i));

let S: Netns;
let C: Netns;

beforeAll(() => {
  requireRoot();
  S = new Netns('scls');
  C = new Netns('sclc');
  const { bDev } = link(S, ['192.0.2.1/30', 'fd0f::1/64'], C, ['192.0.2.2/30', 'fd0f::2/64']);
  const adds = [...ADDRS.map((a) => `addr add ${a}/32 dev ${bDev}`), ...ADDRS6.map((a) => `addr add ${a}/128 dev ${bDev} nodad`)];
  C.exec('ip', ['-batch', '-'], { input: adds.join('\n') + '\n' });
  S.ip('route', 'add', '10.100.0.0/16', 'via', '192.0.2.2');
  S.ip('-6', 'route', 'add', 'fd10::/64', 'via', 'fd0f::2');
  C.ip('route', 'add', 'default', 'via', '192.0.2.1');
  C.ip('-6', 'route', 'add', 'default', 'via', 'fd0f::1');
}, 120_000);

afterAll(() => {
  C?.delete();
  S?.delete();
});

let listener: Listener | undefined;
let inbox: Inbox | undefined;
let outs: OutboundConnection[] = [];
afterEach(() => {
  for (const o of outs) o.socket.destroy();
  outs = [];
  inbox?.closeAll();
  listener?.close();
  listener = undefined;
});

function listen(peers: TransportPeer[], maxShards?: number) {
  const m = memoryLog('info');
  listener = Listener.open({ address: '::', port: PORT, peers, dynamic: { ranges: [], password: undefined, ibgp: true }, log: m.log, netns: nsPath(S.name), ...(maxShards ? { maxShards } : {}) });
  inbox = new Inbox(listener);
  return { l: listener, inbox, lines: m.lines };
}

function dial(i: number, password: string, timeoutMs = 30_000, v6 = false) {
  return connect({ peer: peer(v6 ? 'fd0f::1' : SERVER, { password }), port: PORT, localAddress: v6 ? addr6(i) : addr(i), timeoutMs, netns: nsPath(C.name) });
}

/** All N clients connect at once; every one is accepted, as itself, on the member its key is on. */
async function allConnect(l: Listener, box: Inbox, password: (i: number) => string, talk: boolean, v6 = false) {
  const addrs = v6 ? ADDRS6 : ADDRS;
  outs = await Promise.all(addrs.map((_, i) => dial(i, password(i), 30_000, v6)));
  const inbound = await Promise.all(addrs.map((a) => box.wait(a, 30_000)));
  expect(box.byAddress.size).toBe(N);
  for (const [i, inb] of inbound.entries()) {
    expect(inb.remote.address).toBe(addrs[i]);
    const st = l.keyStatus(addrs[i]!);
    expect(st?.state).toBe('installed');
    if (st?.state === 'installed') expect(inb.shard).toBe(st.shard);
  }
  if (talk) await Promise.all(inbound.map((inb, i) => exchange(inb.socket, outs[i]!.socket, addr(i))));
  return inbound;
}

describe(`${N} TCP-MD5 peers on one listener`, () => {
  it('a shared password: one prefix key on one socket', async () => {
    const { l, inbox } = listen(ADDRS.map((a) => peer(a, { password: 'mesh' })));
    const snap = l.snapshot();
    expect(snap.keys).toBe(1);
    expect(snap.naiveKeys).toBe(N);
    expect(snap.shards).toHaveLength(1);
    expect(snap.shards[0]!.optmem).toBe(136);
    await allConnect(l, inbox, () => 'mesh', false);
  });

  it('distinct passwords: keys spread over a SO_REUSEPORT group, every SYN routed to the member holding its key', async () => {
    const { l, inbox } = listen(ADDRS.map((a, i) => peer(a, { password: `pw-${i}` })));
    const snap = l.snapshot();
    expect(snap.capacity).toBe(963);
    expect(snap.keys).toBe(N);
    expect(snap.shards).toHaveLength(3);
    for (const s of snap.shards) {
      expect(s.keysFailed).toBe(0);
      expect(s.optmem).toBe(s.keys * 136);
      expect(s.optmem!).toBeLessThan(128 * 1024);
    }
    expect(l.problems()).toEqual([]);
    const inbound = await allConnect(l, inbox, (i) => `pw-${i}`, true);
    // an accepted socket copies only the key that matched
    expect(sockets.info(fdOf(inbound[1234]!.socket)).optmem).toBe(136);
    // a peer's SYN signed with another peer's password is dropped
    await expect(dial(5, 'pw-6', 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('distinct passwords over IPv6: the selector compares 128-bit source addresses in the kernel', async () => {
    const { l, inbox } = listen(ADDRS6.map((a, i) => peer(a, { password: `pw6-${i}` })));
    expect(l.snapshot().shards).toHaveLength(3);
    await allConnect(l, inbox, (i) => `pw6-${i}`, false, true);
  });

  it('the naive plan (one key per peer on one socket) fails at the kernel limit with ENOMEM, per peer, in the log and the status', async () => {
    const { l, inbox, lines } = listen(ADDRS.map((a, i) => peer(a, { password: `pw-${i}` })), 1);
    const snap = l.snapshot();
    expect(snap.shards).toHaveLength(1);
    const capacity = snap.capacity!;
    expect(snap.shards[0]!.keys).toBe(capacity);
    expect(snap.shards[0]!.keysFailed).toBe(N - capacity);
    const failed = ADDRS.filter((a) => l.keyStatus(a)?.state === 'failed');
    expect(failed).toHaveLength(N - capacity);
    expect(l.keyStatus(failed[0]!)).toMatchObject({ state: 'failed', code: 'ENOMEM', errno: -12 });
    const logged = lines().filter((x) => x.code === 'ENOMEM' && typeof x.peer === 'string');
    expect(new Set(logged.map((x) => x.peer))).toEqual(new Set(failed));
    const problems = l.problems();
    expect(problems).toHaveLength(N - capacity);
    expect(problems[0]).toMatch(/^TCP-MD5 key for 10\.100\.\d+\.\d+ refused by the kernel on the listening socket: ENOMEM/);
    // the peer whose key was refused cannot connect; one whose key is set can
    const ok = ADDRS.findIndex((a) => l.keyStatus(a)?.state === 'installed');
    const bad = ADDRS.indexOf(failed[0]!);
    outs.push(await dial(ok, `pw-${ok}`, 5000));
    await inbox.wait(addr(ok));
    await expect(dial(bad, `pw-${bad}`, 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  describe('with 20 KiB of option memory per socket (net.core.optmem_max=20480, as older kernels)', () => {
    beforeAll(() => S.exec('sysctl', ['-qw', 'net.core.optmem_max=20480']));
    afterAll(() => S.exec('sysctl', ['-qw', 'net.core.optmem_max=131072']));

    it('distinct passwords still all connect: 150 keys a socket, more members', async () => {
      const { l, inbox } = listen(ADDRS.map((a, i) => peer(a, { password: `pw-${i}` })));
      const snap = l.snapshot();
      expect(snap.capacity).toBe(150);
      expect(snap.shards).toHaveLength(Math.ceil(N / Math.floor(150 * 0.9)));
      for (const s of snap.shards) expect(s.optmem!).toBeLessThan(20480);
      expect(l.problems()).toEqual([]);
      await allConnect(l, inbox, (i) => `pw-${i}`, false);
    });

    it('one key per peer on one socket stops at 150', () => {
      const { l } = listen(ADDRS.map((a, i) => peer(a, { password: `pw-${i}` })), 1);
      expect(l.snapshot().shards[0]).toMatchObject({ keys: 150, keysFailed: N - 150 });
    });
  });
});
