// Graceful restart on the kernel side: routes of our protocol present at start are adopted as
// stale, stay while confirmed, and are swept on request; an earlier run's kernel next-hop
// objects are taken over so confirmed routes cost no kernel operation.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFib } from '../../src/fib/index.js';
import { parsePrefix, type Prefix } from '../../src/net/prefix.js';
import { deleteAll } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { gateways, ipRoute, ipRoutes, PROTOCOL, topology, waitFor, type Topology } from './support.js';

const P = (text: string): Prefix => parsePrefix(text)!;

afterAll(() => deleteAll());

/** Count route notifications in the namespace while fn runs (the kernel's record of writes). */
async function routeWrites(ns: string, fn: () => Promise<void>): Promise<string[]> {
  const monitor = spawn('ip', ['-n', ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let seen = '';
  monitor.stdout.on('data', (d: Buffer) => (seen += d.toString()));
  await new Promise((r) => setTimeout(r, 200));
  await fn();
  await new Promise((r) => setTimeout(r, 200));
  monitor.kill();
  return seen.split('\n').filter((l) => /^(Deleted )?[\da-f]/.test(l));
}

describe('adoption of stale routes', () => {
  let topo: Topology;
  beforeAll(() => {
    requireRoot();
    requireCommand('ip', 'iproute2');
    topo = topology('ad');
  });
  afterAll(() => {
    topo?.ns.delete();
    topo?.peer.delete();
  });

  it('adopts routes of our protocol as stale, keeps the confirmed ones and sweeps the rest on request', async () => {
    const { ns, dev, ifindex } = topo;
    ns.ip('route', 'add', '10.10.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL));
    ns.ip('route', 'add', '10.11.0.0/24', 'proto', String(PROTOCOL), 'nexthop', 'via', '192.0.2.2', 'nexthop', 'via', '192.0.2.3');
    ns.ip('route', 'add', '10.13.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL));
    ns.ip('-6', 'route', 'add', 'fd20::/64', 'via', 'fd00::2', 'proto', String(PROTOCOL));
    ns.ip('route', 'add', '10.12.0.0/24', 'via', '192.0.2.2', 'proto', '202'); // not ours

    const fib = await openFib({ netns: ns.name, table: 254, protocol: PROTOCOL });
    expect(await fib.adopt()).toMatchObject({ routes: 4 });
    expect(fib.staleCount).toBe(4);
    for (const p of ['10.10.0.0/24', '10.11.0.0/24', '10.13.0.0/24', 'fd20::/64']) {
      expect(fib.state(P(p))).toBe('installed');
      expect(fib.isStale(P(p))).toBe(true);
    }
    expect(fib.state(P('10.12.0.0/24'))).toBeUndefined();

    const writes = await routeWrites(ns.name, async () => {
      // Confirmed as they are: the RIB gives the gateway alone, the kernel knows the device.
      fib.set(P('10.10.0.0/24'), [{ gateway: '192.0.2.2' }]);
      expect(fib.confirm(P('10.11.0.0/24'))).toBe(true);
      // Confirmed with other next hops: rewritten.
      fib.set(P('fd20::/64'), [{ gateway: 'fd00::3', ifindex }]);
      await fib.settled();
    });
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^fd20::\/64 .*via fd00::3/);
    expect(fib.staleCount).toBe(1);
    expect(fib.confirm(P('10.11.0.0/24'))).toBe(false);

    expect(await fib.sweep()).toEqual({ deleted: 1 });
    expect(fib.staleCount).toBe(0);
    expect(ipRoute(ns, '10.13.0.0/24')).toBeUndefined();
    expect(gateways(ipRoute(ns, '10.10.0.0/24'))).toEqual(['192.0.2.2']);
    expect(gateways(ipRoute(ns, '10.11.0.0/24'))).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(gateways(ipRoute(ns, 'fd20::/64', 6))).toEqual(['fd00::3']);
    expect(ns.json<{ dst: string }[]>('route', 'show', 'proto', '202').map((r) => r.dst)).toEqual(['10.12.0.0/24']);
    expect(ipRoute(ns, '10.10.0.0/24')).toMatchObject({ dev });

    // A confirmed adopted route is ours like any other: deleted by someone, it comes back.
    ns.ip('route', 'del', '10.11.0.0/24');
    await waitFor('the confirmed route to come back', () => ipRoute(ns, '10.11.0.0/24'));
    await fib.close({ removeRoutes: true });
    expect(ipRoutes(ns, 4)).toEqual([]);
    expect(ipRoutes(ns, 6)).toEqual([]);
  });

  it('deletes routes of our protocol that it did not write, except while adopting', async () => {
    const { ns } = topo;
    const fib = await openFib({ netns: ns.name, table: 254, protocol: PROTOCOL });
    expect(await fib.adopt()).toMatchObject({ routes: 0 });
    ns.ip('route', 'add', '10.30.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL));
    await waitFor('the route to be adopted', () => fib.isStale(P('10.30.0.0/24')));
    expect(await fib.sweep()).toEqual({ deleted: 1 });
    expect(ipRoute(ns, '10.30.0.0/24')).toBeUndefined();
    ns.ip('route', 'add', '10.31.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL));
    await waitFor('the route to be deleted', () => ipRoute(ns, '10.31.0.0/24') === undefined);
    await fib.close();

    // Without the monitor, a resync finds the same (and what went missing).
    const quiet = await openFib({ netns: ns.name, table: 254, protocol: PROTOCOL, monitor: false });
    quiet.set(P('10.33.0.0/24'), [{ gateway: '192.0.2.2' }]);
    await quiet.settled();
    ns.ip('route', 'add', '10.32.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL));
    ns.ip('route', 'del', '10.33.0.0/24');
    await quiet.resync();
    await quiet.settled();
    expect(ipRoute(ns, '10.32.0.0/24')).toBeUndefined();
    expect(gateways(ipRoute(ns, '10.33.0.0/24'))).toEqual(['192.0.2.2']);
    expect(quiet.stats()).toMatchObject({ routes: 1, installed: 1, restored: 1 });
    await quiet.close({ removeRoutes: true });
    expect(ipRoutes(ns)).toEqual([]);
  });

  it('takes over an earlier run’s next-hop objects: a restart that confirms everything writes nothing', async () => {
    const { ns, ifindex } = topo;
    const single = [{ gateway: '192.0.2.2', ifindex }];
    const ecmp = [{ gateway: '192.0.2.2', ifindex }, { gateway: '192.0.2.3', ifindex }];
    const before = await openFib({ netns: ns.name, table: 254, protocol: PROTOCOL, nexthopObjects: true });
    before.set(P('10.20.0.0/24'), single);
    before.set(P('10.21.0.0/24'), ecmp);
    before.set(P('10.22.0.0/24'), single);
    await before.settled();
    await before.close(); // as at SIGTERM with graceful restart: routes stay
    const nhids = ipRoutes(ns).map((r) => [r.dst, r.nhid]);
    expect(nhids.every(([, id]) => typeof id === 'number')).toBe(true);

    const after = await openFib({ netns: ns.name, table: 254, protocol: PROTOCOL, nexthopObjects: true });
    expect(await after.adopt()).toEqual({ routes: 3, nexthops: 3 });
    const writes = await routeWrites(ns.name, async () => {
      after.set(P('10.20.0.0/24'), single);
      after.set(P('10.21.0.0/24'), ecmp);
      await after.settled();
      expect(await after.sweep()).toEqual({ deleted: 1 });
    });
    expect(writes).toEqual([expect.stringMatching(/^Deleted 10\.22\.0\.0\/24/)]);
    expect(ipRoutes(ns).map((r) => [r.dst, r.nhid])).toEqual(nhids.filter(([dst]) => dst !== '10.22.0.0/24'));
    // A set that needs a new next hop gets an id the earlier run did not use.
    after.set(P('10.23.0.0/24'), [{ gateway: '192.0.2.3', ifindex }]);
    expect(await after.whenSettled(P('10.23.0.0/24'))).toBe('installed');
    const ids = ipRoutes(ns).map((r) => r.nhid);
    expect(new Set(ids).size).toBe(3);
    await after.close({ removeRoutes: true });
    expect(ipRoutes(ns)).toEqual([]);
    expect(ns.ip('nexthop', 'show')).toBe('');
  });
});
