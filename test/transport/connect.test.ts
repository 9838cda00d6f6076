// Outgoing connections: failures come back as Node-shaped errors with the kernel's errno name
// (these feed the session's lastError and the graceful-restart fast unlock), the timeout is
// ours, and many attempts at once leave the event loop free.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/bgp/transport/connector.js';
import { Listener } from '../../src/bgp/transport/listener.js';
import type { TransportPeer } from '../../src/bgp/transport/peers.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { Inbox, exchange, memoryLog, nsPath, peer } from './support.js';

let C: Netns;
let R: Netns;
let S: Netns;

beforeAll(() => {
  requireRoot();
  C = new Netns('cnc');
  R = new Netns('cnr');
  S = new Netns('cns');
  link(C, ['10.3.1.2/24', 'fd03:1::2/64'], R, ['10.3.1.1/24', 'fd03:1::1/64']);
  link(R, ['10.3.2.1/24', 'fd03:2::1/64'], S, ['10.3.2.2/24', 'fd03:2::2/64']);
  R.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  C.ip('route', 'add', '10.3.0.0/16', 'via', '10.3.1.1');
  C.ip('route', 'add', '10.9.0.0/16', 'via', '10.3.1.1');
  C.ip('-6', 'route', 'add', 'fd03::/16', 'via', 'fd03:1::1');
  S.ip('route', 'add', 'default', 'via', '10.3.2.1');
  S.ip('-6', 'route', 'add', 'default', 'via', 'fd03:2::1');
  // the router answers for some destinations with ICMP unreachable, and silently drops others
  R.ip('route', 'add', 'unreachable', '10.9.9.0/24');
  R.ip('-6', 'route', 'add', 'unreachable', 'fd03:9::/64');
  R.ip('route', 'add', 'blackhole', '10.9.7.0/24');
  R.ip('-6', 'route', 'add', 'blackhole', 'fd03:7::/64');
});

afterAll(() => {
  for (const n of [C, R, S]) n?.delete();
});

function dial(address: string, o: { port?: number; timeoutMs?: number; localAddress?: string; signal?: AbortSignal; peer?: Partial<TransportPeer> } = {}) {
  return connect({
    peer: peer(address, { ibgp: true, ...o.peer }),
    port: o.port ?? 1179,
    timeoutMs: o.timeoutMs ?? 5000,
    netns: nsPath(C.name),
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

describe('connect errors, in Node shape', () => {
  it.each([
    ['10.3.2.2', '10.3.2.2:1179'],
    ['fd03:2::2', '[fd03:2::2]:1179'],
  ])('ECONNREFUSED from a host with nothing listening (%s)', async (address, where) => {
    const err = await dial(address).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address, port: 1179, message: `connect ECONNREFUSED ${where}` });
  });

  it('EHOSTUNREACH from a router without a route (ICMP host unreachable)', async () => {
    await expect(dial('10.9.9.9')).rejects.toMatchObject({ code: 'EHOSTUNREACH', errno: -113, syscall: 'connect' });
  });

  it('ENETUNREACH: from the router over IPv6 (ICMPv6 no route), and at once without a local route', async () => {
    await expect(dial('fd03:9::9')).rejects.toMatchObject({ code: 'ENETUNREACH', errno: -101, syscall: 'connect' });
    await expect(dial('192.0.2.99')).rejects.toMatchObject({ code: 'ENETUNREACH', syscall: 'connect', address: '192.0.2.99' });
  });

  it.each(['10.9.7.7', 'fd03:7::7'])('ETIMEDOUT after the timeout we set when SYNs vanish (%s)', async (address) => {
    const t0 = Date.now();
    await expect(dial(address, { timeoutMs: 1500 })).rejects.toMatchObject({ code: 'ETIMEDOUT', errno: -110, syscall: 'connect' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  });

  it('EADDRNOTAVAIL when the source address is not ours; AbortSignal cancels an attempt', async () => {
    await expect(dial('10.3.2.2', { localAddress: '10.3.1.99' })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'bind' });
    const ac = new AbortController();
    const p = dial('10.9.7.7', { timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('peer removed')), 100);
    await expect(p).rejects.toThrow('peer removed');
  });

  it('ECONNRESET from a listener that refuses the source, and bad arguments are refused before native code', async () => {
    const l = Listener.open({ address: '::', port: 1179, peers: [], dynamic: { ranges: [], password: undefined, ibgp: true }, log: memoryLog().log, netns: nsPath(S.name) });
    try {
      const r = await dial('10.3.2.2').then(
        (c) => new Promise((resolve) => c.socket.on('error', resolve).on('close', () => resolve({ code: 'closed' }))),
        (e: unknown) => e,
      );
      expect(r).toMatchObject({ code: 'ECONNRESET' });
    } finally {
      l.close();
    }
    await expect(dial('not-an-ip')).rejects.toThrow(TypeError);
    await expect(dial('10.3.2.2', { port: 0 })).rejects.toThrow(RangeError);
    await expect(dial('10.3.2.2', { peer: { password: 'x'.repeat(81) } })).rejects.toMatchObject({ message: expect.stringMatching(/1–80 bytes/) });
  });

  it('connects and hands a working net.Socket over', async () => {
    const l = Listener.open({ address: '::', port: 1179, peers: [peer('10.3.1.2'), peer('fd03:1::2')], dynamic: { ranges: [], password: undefined, ibgp: true }, log: memoryLog().log, netns: nsPath(S.name) });
    const box = new Inbox(l);
    try {
      for (const [to, from] of [['10.3.2.2', '10.3.1.2'], ['fd03:2::2', 'fd03:1::2']] as const) {
        const out = await dial(to);
        expect(out.remote).toEqual({ address: to, port: 1179, family: to.includes(':') ? 6 : 4 });
        await exchange((await box.wait(from)).socket, out.socket, from);
        out.socket.destroy();
      }
    } finally {
      box.closeAll();
      l.close();
    }
  });
});

describe('many connects at once', () => {
  it('1,000 attempts into a black hole time out together while the event loop keeps turning', async () => {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    let ticks = 0;
    const iv = setInterval(() => ticks++, 50);
    const t0 = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => dial(`10.9.7.${i % 250}`, { timeoutMs: 3000, port: 1000 + i })));
    const elapsed = Date.now() - t0;
    clearInterval(iv);
    h.disable();
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ETIMEDOUT')).toBe(true);
    // the attempts are started and time out as one batch, not one after another
    expect(elapsed).toBeLessThan(20_000);
    // a blocked loop would neither tick nor keep its delay low; generous bounds for a shared machine
    expect(ticks).toBeGreaterThan((elapsed / 50) * 0.5);
    expect(h.max / 1e6).toBeLessThan(1000);
  });
});
