// The FIB against a real kernel in scratch namespaces: install, replace, delete, ECMP, IPv6,
// device and on-link next hops (inline and as kernel next-hop objects), checked against
// `ip -j route show`; refusals reported per route and retried; routes deleted by someone else
// restored; link down and up; 100,000 routes in and out.
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fib, openFib } from '../../src/fib/index.js';
import { HostInterfaces } from '../../src/fib/interfaces.js';
import { parsePrefix, prefix4, type Prefix } from '../../src/net/prefix.js';
import { deleteAll } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { gateways, ipRoute, ipRoutes, PROTOCOL, topology, waitFor, type Topology } from './support.js';

const P = (text: string): Prefix => parsePrefix(text)!;

afterAll(() => deleteAll());

describe.each([
  ['inline next hops', false],
  ['kernel next-hop objects', true],
])('FIB with %s', (_name, nexthopObjects) => {
  let topo: Topology;
  let fib: Fib;

  beforeAll(async () => {
    requireRoot();
    requireCommand('ip', 'iproute2');
    topo = topology(nexthopObjects ? 'fo' : 'fi');
    fib = await openFib({ netns: topo.ns.name, table: 254, protocol: PROTOCOL, nexthopObjects, retryInitialMs: 100, resyncDelayMs: 50 });
  });
  afterAll(async () => {
    await fib?.close();
    topo?.ns.delete();
    topo?.peer.delete();
  });

  it('installs, replaces and deletes an IPv4 route', async () => {
    const { ns, ifindex, dev } = topo;
    fib.set(P('10.1.0.0/24'), [{ gateway: '192.0.2.2', ifindex }]);
    expect(await fib.whenSettled(P('10.1.0.0/24'))).toBe('installed');
    const r = ipRoute(ns, '10.1.0.0/24');
    expect(r).toMatchObject({ gateway: '192.0.2.2', dev });
    expect(r?.nhid !== undefined).toBe(nexthopObjects);

    fib.set(P('10.1.0.0/24'), [{ gateway: '192.0.2.3', ifindex }]);
    expect(await fib.whenSettled(P('10.1.0.0/24'))).toBe('installed');
    expect(ipRoutes(ns).filter((x) => x.dst === '10.1.0.0/24').map(gateways)).toEqual([['192.0.2.3']]);

    fib.remove(P('10.1.0.0/24'));
    expect(await fib.whenSettled(P('10.1.0.0/24'))).toBeUndefined();
    expect(ipRoute(ns, '10.1.0.0/24')).toBeUndefined();
    expect(fib.state(P('10.1.0.0/24'))).toBeUndefined();
  });

  it('installs ECMP as one multipath route, IPv4 and IPv6, with weights', async () => {
    const { ns, ifindex } = topo;
    fib.set(P('10.2.0.0/24'), [{ gateway: '192.0.2.3', ifindex }, { gateway: '192.0.2.2', ifindex, weight: 3 }]);
    fib.set(P('fd10::/64'), [{ gateway: 'fd00::2', ifindex }, { gateway: 'fd00::3', ifindex }]);
    await fib.settled();
    expect(fib.state(P('10.2.0.0/24'))).toBe('installed');
    expect(fib.state(P('fd10::/64'))).toBe('installed');
    const v4 = ipRoutes(ns).filter((x) => x.dst === '10.2.0.0/24');
    expect(v4).toHaveLength(1);
    expect(gateways(v4[0])).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(v4[0]!.nexthops!.find((h) => h.gateway === '192.0.2.2')?.weight).toBe(3);
    expect(gateways(ipRoute(ns, 'fd10::/64', 6))).toEqual(['fd00::2', 'fd00::3']);
    // down to one path: replaced, still one route
    fib.set(P('fd10::/64'), [{ gateway: 'fd00::3', ifindex }]);
    await fib.settled();
    expect(ipRoutes(ns, 6).filter((x) => x.dst === 'fd10::/64').map(gateways)).toEqual([['fd00::3']]);
  });

  it('installs routes onto a device and through an on-link gateway', async () => {
    const { ns, ifindex, dev } = topo;
    fib.set(P('10.3.0.0/24'), [{ ifindex }]);
    fib.set(P('10.5.0.0/24'), [{ gateway: '10.9.9.9', ifindex, onlink: true }]);
    fib.set(P('fd30::/64'), [{ gateway: 'fd00::2' }]);
    await fib.settled();
    expect(ipRoute(ns, '10.3.0.0/24')).toMatchObject({ dev });
    expect(ipRoute(ns, '10.3.0.0/24')?.gateway).toBeUndefined();
    expect(ipRoute(ns, '10.5.0.0/24')).toMatchObject({ gateway: '10.9.9.9', dev });
    expect(ipRoute(ns, '10.5.0.0/24')?.flags).toContain('onlink');
    expect(ipRoute(ns, 'fd30::/64', 6)).toMatchObject({ gateway: 'fd00::2', dev });
  });

  it('reports a kernel refusal per route, never thrown, and retries it until it works', async () => {
    const { ns, ifindex, dev } = topo;
    const bad = P('10.4.0.0/24');
    const good = P('10.6.0.0/24');
    const retriesBefore = fib.stats().retries;
    fib.set(bad, [{ gateway: '10.9.9.9' }]);
    fib.set(good, [{ gateway: '192.0.2.2', ifindex }]);
    await fib.settled();
    expect(fib.state(good)).toBe('installed');
    expect(fib.state(bad)).toBe('failed: ENETUNREACH (gateway 10.9.9.9 not reachable)');
    expect(fib.problems()).toContain('kernel route 10.4.0.0/24 failed: ENETUNREACH (gateway 10.9.9.9 not reachable)');
    expect(ipRoute(ns, '10.4.0.0/24')).toBeUndefined();
    await waitFor('a retry with backoff', () => fib.stats().retries >= retriesBefore + 2);
    // The gateway becomes reachable: the address event makes the FIB retry at once.
    ns.ip('addr', 'add', '10.9.9.1/24', 'dev', dev);
    await waitFor('the refused route to be installed', () => fib.state(bad) === 'installed');
    expect(gateways(ipRoute(ns, '10.4.0.0/24'))).toEqual(['10.9.9.9']);
    expect(fib.problems()).toEqual([]);
    ns.ip('addr', 'del', '10.9.9.1/24', 'dev', dev);
    fib.remove(bad);
    await fib.settled();
  });

  it('restores a route deleted with ip route del', async () => {
    const { ns, ifindex } = topo;
    const p = P('10.7.0.0/24');
    fib.set(p, [{ gateway: '192.0.2.2', ifindex }]);
    await fib.whenSettled(p);
    const restored = fib.stats().restored;
    ns.ip('route', 'del', '10.7.0.0/24');
    expect(ipRoute(ns, '10.7.0.0/24')).toBeUndefined();
    await waitFor('the deleted route to come back', () => ipRoute(ns, '10.7.0.0/24'));
    expect(gateways(ipRoute(ns, '10.7.0.0/24'))).toEqual(['192.0.2.2']);
    expect(fib.stats().restored).toBeGreaterThan(restored);
    // the kernel shows the route before its answer reaches the FIB: wait for the answer
    expect(await fib.whenSettled(p)).toBe('installed');
  });

  it('puts its routes back after the link goes down and comes up again', async () => {
    const { ns, ifindex, dev } = topo;
    const p = P('10.8.0.0/24');
    const q = P('10.12.0.0/24'); // the kernel picks the device: learned from its answer
    fib.set(p, [{ gateway: '192.0.2.2', ifindex }]);
    fib.set(q, [{ gateway: '192.0.2.3' }]);
    await fib.settled();
    // A link that carries none of our routes (a pod's veth) going down costs no resync.
    const resyncs = fib.stats().resyncs;
    ns.ip('link', 'add', 'other0', 'type', 'veth', 'peer', 'name', 'other1');
    ns.ip('link', 'set', 'other0', 'up');
    ns.ip('link', 'set', 'other1', 'up');
    ns.ip('link', 'del', 'other0');
    await new Promise((r) => setTimeout(r, 300));
    expect(fib.stats().resyncs).toBe(resyncs);

    ns.ip('link', 'set', dev, 'down');
    // IPv4 routes of the device go silently; the resync finds them gone and the reinstall fails.
    await waitFor('the routes to be reported failed', () => fib.state(p)?.startsWith('failed: ') && fib.state(q)?.startsWith('failed: '));
    expect(fib.problems().join('\n')).toContain('kernel route 10.8.0.0/24 failed: ');
    ns.ip('link', 'set', dev, 'up');
    await waitFor('the routes to be installed again', () => fib.state(p) === 'installed' && fib.state(q) === 'installed' && ipRoute(ns, '10.12.0.0/24'));
    expect(gateways(ipRoute(ns, '10.8.0.0/24'))).toEqual(['192.0.2.2']);
    expect(gateways(ipRoute(ns, '10.12.0.0/24'))).toEqual(['192.0.2.3']);
  });

  it('the RIB\'s lone change goes to the kernel before update() returns (the priority lane)', async () => {
    // (update() picks the device of a next hop in this process's namespace, not the scratch
    // one: whether the kernel takes the route is not what this test is about)
    const writes = fib.stats().writes;
    fib.update([{ prefix: P('10.7.0.0/24'), nextHops: [{ address: '192.0.2.2' }] }]);
    expect(fib.stats().writes).toBe(writes + 1); // sent within the call, not in a microtask
    expect(fib.stats().inflight).toBe(1);
    await fib.whenSettled(P('10.7.0.0/24'));
    expect(fib.stats().inflight).toBe(0);
    const before = fib.stats().writes;
    fib.update([{ prefix: P('10.7.0.0/24'), nextHops: null }]);
    expect(fib.stats().writes).toBe(before + 1);
    expect(await fib.whenSettled(P('10.7.0.0/24'))).toBeUndefined();
    expect(ipRoute(topo.ns, '10.7.0.0/24')).toBeUndefined();
  });

  it('a lone change after a burst of its next hop still takes the lane, also when the burst\'s routes were removed before their flush', async () => {
    const hops = [{ address: '192.0.2.2' }];
    const at = (k: number) => prefix4((0x0a600000 + k * 256) >>> 0, 24);
    const routes = fib.stats().routes; // (earlier tests' routes)
    // 40 prefixes of one next hop in one turn: past the lane's 16, the rest wait for the FIFO
    fib.update(Array.from({ length: 40 }, (_, k) => ({ prefix: at(k), nextHops: hops })));
    await fib.settled();
    // 40 more set and removed in the same turn: dirtied, then forgotten unwritten
    fib.update(Array.from({ length: 40 }, (_, k) => ({ prefix: at(100 + k), nextHops: hops })));
    fib.update(Array.from({ length: 40 }, (_, k) => ({ prefix: at(100 + k), nextHops: null })));
    await fib.settled();
    for (const k of [200, 201]) {
      const writes = fib.stats().writes;
      fib.update([{ prefix: at(k), nextHops: hops }]);
      expect(fib.stats().writes).toBe(writes + 1); // by the lane, within the call
      expect(await fib.whenSettled(at(k))).toBeDefined();
    }
    fib.update([...Array.from({ length: 40 }, (_, k) => at(k)), at(200), at(201)].map((prefix) => ({ prefix, nextHops: null })));
    await fib.settled();
    expect(fib.stats().routes).toBe(routes);
  });

  it('coalesces many changes of a prefix before a flush into one kernel operation', async () => {
    const { ns, ifindex } = topo;
    const p = P('10.9.0.0/24');
    // The kernel's own account: every change of the route is a notification.
    const monitor = spawn('ip', ['-n', ns.name, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    monitor.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 100; i++) fib.set(p, [{ gateway: i % 2 ? '192.0.2.2' : '192.0.2.3', ifindex }]);
    fib.remove(p);
    fib.set(p, [{ gateway: '192.0.2.2', ifindex }, { gateway: '192.0.2.3', ifindex }]);
    await fib.whenSettled(p);
    await new Promise((r) => setTimeout(r, 200));
    monitor.kill();
    expect(seen.split('\n').filter((l) => /^(Deleted )?10\.9\.0\.0\/24/.test(l))).toHaveLength(1);
    expect(gateways(ipRoute(ns, '10.9.0.0/24'))).toEqual(['192.0.2.2', '192.0.2.3']);
  });

  it('refuses bad input with a clear error and loses nothing', async () => {
    const { ifindex } = topo;
    const before = fib.stats().routes;
    expect(() => fib.set(P('10.10.0.0/24'), [])).toThrow(/at least one hop/);
    expect(() => fib.set(P('10.10.0.0/24'), [{ gateway: '300.1.1.1' }])).toThrow(/IP address/);
    expect(() => fib.set(P('fd40::/64'), [{ gateway: '192.0.2.2', ifindex }])).toThrow(/IPv6 route cannot use the IPv4 gateway/);
    expect(() => fib.set(1.5, [{ gateway: '192.0.2.2' }])).toThrow(/not an IPv4 prefix/);
    expect(() => fib.set('short', [{ gateway: 'fd00::2' }])).toThrow(/not an IPv6 prefix/);
    expect(() => fib.set(P('10.10.0.0/24'), fib.nexthopSet(6, [{ gateway: 'fd00::2' }]))).toThrow(/IPv6 routes given/);
    expect(fib.stats().routes).toBe(before);
  });
});

describe('FIB at scale', () => {
  let topo: Topology;
  beforeAll(() => {
    requireRoot();
    requireCommand('ip', 'iproute2');
    topo = topology('fs');
  });
  afterAll(() => {
    topo?.ns.delete();
    topo?.peer.delete();
  });

  it('puts 100,000 routes in and takes them out, leaving the table as it was', async () => {
    const { ns, ifindex } = topo;
    // (the local table changes by itself as the link-local address finishes DAD)
    const snapshot = () => [ns.ip('route', 'show', 'table', 'main'), ns.ip('-6', 'route', 'show', 'table', 'main'), ns.ip('nexthop', 'show')];
    const before = snapshot();
    // A small window: most changes wait for answers before they go (bounded memory).
    const fib = await openFib({ netns: ns.name, table: 254, protocol: PROTOCOL, window: 20_000 });
    const nh = fib.nexthopSet(4, [{ gateway: '192.0.2.2', ifindex }]);
    const ecmp = fib.nexthopSet(4, [{ gateway: '192.0.2.2', ifindex }, { gateway: '192.0.2.3', ifindex }]);
    const n = 100_000;
    const at = (i: number) => prefix4((0x20000000 + i * 256) >>> 0, 24);
    for (let i = 0; i < n; i++) fib.set(at(i), i % 10 === 0 ? ecmp : nh);
    expect(fib.stats().inflight).toBeLessThanOrEqual(20_000);
    await fib.settled();
    expect(fib.stats()).toMatchObject({ routes: n, installed: n, failed: 0, pending: 0 });
    const count = spawnSync('sh', ['-c', `ip -n ${ns.name} route show proto ${PROTOCOL} | grep -c '^[0-9]'`], { encoding: 'utf8' });
    expect(Number(count.stdout)).toBe(n);
    for (let i = 0; i < n; i++) fib.remove(at(i));
    await fib.settled();
    expect(fib.stats().routes).toBe(0);
    await fib.close();
    expect(snapshot()).toEqual(before);
  });

  it('installs a lone route of another next hop ahead of a table load (the priority lane)', async () => {
    const { ns, ifindex } = topo;
    const fib = await openFib({ netns: ns.name, table: 254, protocol: PROTOCOL, window: 20_000 });
    const load = fib.nexthopSet(4, [{ gateway: '192.0.2.2', ifindex }]);
    const lone = fib.nexthopSet(4, [{ gateway: '192.0.2.3', ifindex }]);
    const n = 100_000;
    const at = (i: number) => prefix4((0x20000000 + i * 256) >>> 0, 24);
    for (let i = 0; i < n; i++) fib.set(at(i), load);
    fib.set(P('10.99.0.0/24'), lone); // last in, not last out
    expect(await fib.whenSettled(P('10.99.0.0/24'))).toBe('installed');
    expect(fib.stats().installed).toBeLessThan(n / 2);
    expect(ns.ip('route', 'show', '10.99.0.0/24')).toMatch(/^10\.99\.0\.0\/24 .*via 192\.0\.2\.3 /);
    await fib.settled();
    expect(fib.stats()).toMatchObject({ routes: n + 1, installed: n + 1, failed: 0 });
    for (let i = 0; i < n; i++) fib.remove(at(i));
    fib.remove(P('10.99.0.0/24'));
    await fib.settled();
    expect(fib.stats().routes).toBe(0);
    await fib.close();
  });
});

describe('opening', () => {
  it('fails in Node shape for a namespace that does not exist', async () => {
    requireRoot();
    await expect(openFib({ netns: 'routelet-no-such-netns', table: 254, protocol: PROTOCOL })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
    await expect(openFib({ table: 254, protocol: 0 })).rejects.toThrow(/protocol must be an integer 1–255/);
  });
});

describe("the FIB's monitor and the host's interface list", () => {
  it('an address added or removed in the namespace marks the interface list stale (read again when next needed, never polled)', async () => {
    requireRoot();
    const topo = topology('fh');
    let reads = 0;
    const host = new HostInterfaces(() => (reads++, {}));
    const fib = await openFib({ netns: topo.ns.name, table: 254, protocol: PROTOCOL, interfaces: host });
    try {
      host.list();
      const g0 = host.generation;
      topo.ns.ip('addr', 'add', '198.51.100.1/24', 'dev', topo.dev);
      await waitFor('the address event', () => host.generation > g0);
      const g1 = host.generation;
      host.list();
      expect(reads).toBe(2);
      topo.ns.ip('addr', 'del', '198.51.100.1/24', 'dev', topo.dev);
      await waitFor('the address deletion', () => host.generation > g1);
    } finally {
      await fib.close();
      topo.ns.delete();
      topo.peer.delete();
    }
  });
});
