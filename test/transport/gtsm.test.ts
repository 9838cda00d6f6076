// GTSM (RFC 5082) with real sockets: client — router — server namespaces, the router
// decrementing TTL (hop limit) by one. The listener's minimum TTL is per peer: peers with
// different settings sit on different members of the listening group.
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/bgp/transport/connector.js';
import { Listener } from '../../src/bgp/transport/listener.js';
import type { TransportPeer } from '../../src/bgp/transport/peers.js';
import { sockets } from '../../src/native/sockets.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { Inbox, exchange, fdOf, memoryLog, nsPath, peer } from './support.js';

const PORT = 1179;
let C: Netns;
let R: Netns;
let S: Netns;

beforeAll(() => {
  requireRoot();
  C = new Netns('gtc');
  R = new Netns('gtr');
  S = new Netns('gts');
  link(C, ['10.1.1.2/24', '10.1.1.3/24', 'fd01:1::2/64', 'fd01:1::3/64'], R, ['10.1.1.1/24', 'fd01:1::1/64']);
  link(R, ['10.1.2.1/24', 'fd01:2::1/64'], S, ['10.1.2.2/24', 'fd01:2::2/64']);
  R.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  C.ip('route', 'add', 'default', 'via', '10.1.1.1');
  C.ip('-6', 'route', 'add', 'default', 'via', 'fd01:1::1');
  S.ip('route', 'add', 'default', 'via', '10.1.2.1');
  S.ip('-6', 'route', 'add', 'default', 'via', 'fd01:2::1');
});

afterAll(() => {
  for (const n of [C, R, S]) n?.delete();
});

let listener: Listener | undefined;
let inbox: Inbox | undefined;
afterEach(() => {
  inbox?.closeAll();
  listener?.close();
  listener = undefined;
});

function listen(peers: TransportPeer[]) {
  listener = Listener.open({ address: '::', port: PORT, peers, dynamic: { ranges: [], password: undefined, ibgp: false }, log: memoryLog().log, netns: nsPath(S.name) });
  inbox = new Inbox(listener);
  return { l: listener, inbox };
}

/** The server namespace's count of segments dropped for a TTL below the minimum. */
function minTtlDrops(): number {
  const m = /TcpExtTCPMinTTLDrop\s+(\d+)/.exec(S.exec('nstat', ['-az', 'TcpExtTCPMinTTLDrop']));
  return Number(m?.[1] ?? NaN);
}

const serverOf = (a: string) => (a.includes(':') ? 'fd01:2::2' : '10.1.2.2');

function dial(from: string, o: Partial<TransportPeer>, timeoutMs = 2500) {
  return connect({ peer: peer(serverOf(from), { ibgp: false, ...o }), port: PORT, localAddress: from, timeoutMs, netns: nsPath(C.name) });
}

describe.each([
  ['IPv4', '10.1.1.2', '10.1.1.3'],
  ['IPv6', 'fd01:1::2', 'fd01:1::3'],
])('GTSM over %s, one router between', (_n, gtsmPeer, plainPeer) => {
  it('a peer one hop away is refused with ttlSecurity 1 (TTL 254 arrives below 255) and accepted with 2', async () => {
    const { l, inbox } = listen([peer(gtsmPeer, { ttlSecurity: 1, ibgp: false })]);
    expect(l.snapshot().shards.map((s) => s.minTtl)).toEqual([0, 255]);
    const drops = minTtlDrops();
    await expect(dial(gtsmPeer, { ttlSecurity: 2 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(inbox.byAddress.size).toBe(0);
    expect(minTtlDrops()).toBeGreaterThan(drops); // the kernel dropped the SYN for its TTL

    l.update([peer(gtsmPeer, { ttlSecurity: 2, ibgp: false })], { ranges: [], password: undefined, ibgp: false });
    expect(l.snapshot().shards.map((s) => s.minTtl)).toEqual([0, 254]);
    // our SYN-ACK leaves with TTL 255 and arrives with 254: it passes the client's own GTSM check
    const out = await dial(gtsmPeer, { ttlSecurity: 2 });
    const inb = await inbox.wait(gtsmPeer);
    await exchange(inb.socket, out.socket, 'gtsm');
    // accepted and connected sockets: minimum TTL 254, TTL 255 on send
    const v4 = !gtsmPeer.includes(':');
    for (const fd of [fdOf(inb.socket), fdOf(out.socket)]) {
      expect(sockets.getOption(fd, v4 ? 'IP_MINTTL' : 'IPV6_MINHOPCOUNT')).toBe(254);
      expect(sockets.getOption(fd, v4 ? 'IP_TTL' : 'IPV6_UNICAST_HOPS')).toBe(255);
    }
    out.socket.destroy();
  });

  it('per peer on one listener: a GTSM peer beside a multihop peer without it, each as configured', async () => {
    const { l, inbox } = listen([peer(gtsmPeer, { ttlSecurity: 1, ibgp: false }), peer(plainPeer, { multihop: 2, ibgp: false })]);
    expect(l.snapshot().shards.map((s) => s.minTtl)).toEqual([0, 255]);
    const plain = await dial(plainPeer, { multihop: 2 });
    const inb = await inbox.wait(plainPeer);
    expect(inb.shard).toBe(0);
    expect(sockets.getOption(fdOf(inb.socket), plainPeer.includes(':') ? 'IPV6_UNICAST_HOPS' : 'IP_TTL')).toBe(2);
    await exchange(inb.socket, plain.socket, 'multihop');
    await expect(dial(gtsmPeer, { ttlSecurity: 1 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    plain.socket.destroy();
  });

  it('outgoing with GTSM: a peer answering with TTL 64 from one hop away is dropped by our minimum TTL', async () => {
    // a plain Node server in the client namespace answers with the default TTL (64 → 63 here)
    const srv: Server = await new Promise((resolve) => {
      const s = createServer();
      // net.Server cannot be made in another namespace; listen on a socket the addon made there
      const fd = sockets.open(6, nsPath(C.name));
      sockets.setOption(fd, 'IPV6_V6ONLY', 0);
      sockets.bind(fd, '::', 2179);
      sockets.listen(fd, 16);
      s.listen({ fd }, () => resolve(s));
    });
    try {
      const target = gtsmPeer;
      const via = (o: Partial<TransportPeer>) => connect({ peer: peer(target, { ibgp: false, ...o }), port: 2179, timeoutMs: 2500, netns: nsPath(S.name) });
      await expect(via({ ttlSecurity: 1 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      const ok = await via({ multihop: 2 });
      ok.socket.destroy();
    } finally {
      srv.close();
    }
  });
});

describe('GTSM directly connected', () => {
  it('TTL 255 from a neighbour passes; TTL 254 sent by a peer without GTSM is refused', async () => {
    const A = new Netns('gta');
    const B = new Netns('gtb');
    try {
      link(A, '10.2.0.1/24', B, ['10.2.0.2/24', '10.2.0.3/24']);
      const m = memoryLog();
      const l = Listener.open({
        address: '0.0.0.0',
        port: PORT,
        peers: [peer('10.2.0.2', { ttlSecurity: 1, ibgp: false }), peer('10.2.0.3', { ttlSecurity: 1, ibgp: false })],
        dynamic: { ranges: [], password: undefined, ibgp: false },
        log: m.log,
        netns: nsPath(A.name),
      });
      const box = new Inbox(l);
      try {
        const good = await connect({ peer: peer('10.2.0.1', { ttlSecurity: 1, ibgp: false }), port: PORT, localAddress: '10.2.0.2', timeoutMs: 2500, netns: nsPath(B.name) });
        await box.wait('10.2.0.2');
        good.socket.destroy();
        await expect(
          connect({ peer: peer('10.2.0.1', { multihop: 254, ibgp: false }), port: PORT, localAddress: '10.2.0.3', timeoutMs: 2500, netns: nsPath(B.name) }),
        ).rejects.toMatchObject({ code: 'ETIMEDOUT' });
        expect(box.byAddress.has('10.2.0.3')).toBe(false);
      } finally {
        box.closeAll();
        l.close();
      }
    } finally {
      A.delete();
      B.delete();
    }
  });
});

describe('TCP user timeout per peer (ROUTELET_TCP_USER_TIMEOUT, peer option tcpUserTimeout)', () => {
  it('is set on the accepted and the connected socket of a peer that has one, and left at 0 for one that has not', async () => {
    // one router between: multihop 2 (an eBGP TTL of 1 would not arrive)
    const { inbox } = listen([peer('10.1.1.2', { multihop: 2, ibgp: false, tcpUserTimeout: 300 }), peer('10.1.1.3', { multihop: 2, ibgp: false })]);
    const out = await dial('10.1.1.2', { multihop: 2, tcpUserTimeout: 450 });
    const inb = await inbox.wait('10.1.1.2');
    expect(sockets.getOption(fdOf(inb.socket), 'TCP_USER_TIMEOUT')).toBe(300);
    expect(sockets.getOption(fdOf(out.socket), 'TCP_USER_TIMEOUT')).toBe(450);
    const plain = await dial('10.1.1.3', { multihop: 2 });
    const inbPlain = await inbox.wait('10.1.1.3');
    expect(sockets.getOption(fdOf(inbPlain.socket), 'TCP_USER_TIMEOUT')).toBe(0);
    expect(sockets.getOption(fdOf(plain.socket), 'TCP_USER_TIMEOUT')).toBe(0);
    out.socket.destroy();
    plain.socket.destroy();
  });
});
