// Routes of other owners (the kernel's connected routes, static routes, another daemon's) are
// never the FIB's to take: a prefix such a route holds at our table and metric is created
// exclusively and reported `failed: EEXIST (…)`, not replaced; one that replaces ours is not
// written over; our deletes (by table, protocol and metric) leave it alone; routes of our
// protocol at another metric (an older version's, written at the kernel's default) are adopted
// and deleted at their own metric. Checked against `ip -j route show` in scratch namespaces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fib } from '../../src/fib/index.js';
import { parsePrefix, type Prefix } from '../../src/net/prefix.js';
import { deleteAll } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { PROTOCOL, topology, waitFor, type Topology } from './support.js';

const P = (text: string): Prefix => parsePrefix(text)!;
const METRIC = 32;

afterAll(() => deleteAll());

interface Row {
  dst: string;
  protocol: string;
  metric?: number;
  gateway?: string;
  scope?: string;
}

describe('routes of other owners', () => {
  let topo: Topology;
  /** every route of a prefix in the main table: `protocol metric` (metric 0 when ip leaves it out) */
  const rows = (dst: string, family: 4 | 6 = 4): string[] =>
    topo.ns
      .json<Row[]>(`-${family}`, 'route', 'show', 'table', 'main')
      .filter((r) => r.dst === dst)
      .map((r) => `${r.protocol} ${r.metric ?? 0}`)
      .sort();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(() => {
    requireRoot();
    requireCommand('ip', 'iproute2');
    topo = topology('fg');
  });
  afterAll(() => {
    topo?.ns.delete();
    topo?.peer.delete();
  });

  it('never takes the key of a connected or static route: reported, and installed once it goes', async () => {
    const { ns, ifindex } = topo;
    // At metric 0 (the old default) an IPv4 route shares its key with the connected route.
    const fib = await Fib.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: 0, retryInitialMs: 100 });
    ns.ip('route', 'add', '10.65.4.0/26', 'via', '192.0.2.2', 'proto', 'static');
    fib.set(P('192.0.2.0/24'), [{ gateway: '192.0.2.3', ifindex }]);
    fib.set(P('10.65.4.0/26'), [{ gateway: '192.0.2.3', ifindex }]);
    fib.set(P('10.66.0.0/24'), [{ gateway: '192.0.2.3', ifindex }]);
    await fib.settled();
    expect(fib.state(P('10.66.0.0/24'))).toBe('installed');
    await waitFor('the holders named', () => fib.state(P('10.65.4.0/26'))?.includes('static') && fib.state(P('192.0.2.0/24'))?.includes('kernel'));
    expect(fib.state(P('192.0.2.0/24'))).toBe('failed: EEXIST (a route of protocol kernel holds 192.0.2.0/24 at metric 0 in table main: not replaced)');
    expect(fib.state(P('10.65.4.0/26'))).toBe('failed: EEXIST (a route of protocol static holds 10.65.4.0/26 at metric 0 in table main: not replaced)');
    expect(fib.problems()).toEqual(
      expect.arrayContaining([
        'kernel route 192.0.2.0/24 failed: EEXIST (a route of protocol kernel holds 192.0.2.0/24 at metric 0 in table main: not replaced)',
        'kernel route 10.65.4.0/26 failed: EEXIST (a route of protocol static holds 10.65.4.0/26 at metric 0 in table main: not replaced)',
      ]),
    );
    expect(fib.stats()).toMatchObject({ held: 2, failed: 2, installed: 1 });
    // retried with backoff: still not taken
    await sleep(400);
    expect(fib.stats().retries).toBeGreaterThan(0);
    expect(rows('192.0.2.0/24')).toEqual(['kernel 0']);
    expect(ns.json<Row[]>('route', 'show', '192.0.2.0/24')[0]).toMatchObject({ protocol: 'kernel', scope: 'link' });
    expect(rows('10.65.4.0/26')).toEqual(['static 0']);
    expect(ns.ip('route', 'get', '192.0.2.7')).toMatch(/dev \S+ src 192\.0\.2\.1/);

    // the RIB lets go: nothing of theirs is deleted
    fib.remove(P('192.0.2.0/24'));
    expect(await fib.whenSettled(P('192.0.2.0/24'))).toBeUndefined();
    expect(rows('192.0.2.0/24')).toEqual(['kernel 0']);

    // the static route goes: ours is installed at once (the monitor), not only at the retry
    ns.ip('route', 'del', '10.65.4.0/26', 'proto', 'static');
    await waitFor('our route in place of the static one', () => fib.state(P('10.65.4.0/26')) === 'installed' && rows('10.65.4.0/26').join() === `${PROTOCOL} 0`);
    expect(fib.stats().held).toBe(0);
    await fib.close({ removeRoutes: true });
    expect(rows('10.65.4.0/26')).toEqual([]);
    expect(rows('192.0.2.0/24')).toEqual(['kernel 0']);
  });

  it('IPv6: the connected route (metric 256) is not taken at metric 256', async () => {
    const { ns, ifindex } = topo;
    const fib = await Fib.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: 256, retryInitialMs: 100 });
    fib.set(P('fd00::/64'), [{ gateway: 'fd00::3', ifindex }]);
    fib.set(P('fd66::/64'), [{ gateway: 'fd00::3', ifindex }]);
    await fib.settled();
    await waitFor('the holder named', () => fib.state(P('fd00::/64'))?.includes('kernel'));
    expect(fib.state(P('fd00::/64'))).toBe('failed: EEXIST (a route of protocol kernel holds fd00::/64 at metric 256 in table main: not replaced)');
    expect(rows('fd00::/64', 6)).toEqual(['kernel 256']);
    expect(rows('fd66::/64', 6)).toEqual([`${PROTOCOL} 256`]);
    await fib.close({ removeRoutes: true });
    expect(rows('fd00::/64', 6)).toEqual(['kernel 256']);
    expect(rows('fd66::/64', 6)).toEqual([]);
  });

  it('a route of another protocol that replaces ours is not written over; ours comes back when it goes', async () => {
    const { ns, ifindex } = topo;
    const fib = await Fib.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: METRIC, retryInitialMs: 100 });
    fib.set(P('10.70.0.0/24'), [{ gateway: '192.0.2.2', ifindex }]);
    fib.set(P('fd70::/64'), [{ gateway: 'fd00::2', ifindex }]);
    await fib.settled();
    expect(rows('10.70.0.0/24')).toEqual([`${PROTOCOL} ${METRIC}`]);
    ns.ip('route', 'replace', '10.70.0.0/24', 'via', '192.0.2.3', 'proto', 'static', 'metric', String(METRIC));
    ns.ip('-6', 'route', 'replace', 'fd70::/64', 'via', 'fd00::3', 'proto', 'static', 'metric', String(METRIC));
    await waitFor('our routes failed, held by static', () => fib.state(P('10.70.0.0/24'))?.includes('protocol static') && fib.state(P('fd70::/64'))?.includes('protocol static'));
    expect(fib.state(P('10.70.0.0/24'))).toBe(`failed: EEXIST (a route of protocol static holds 10.70.0.0/24 at metric ${METRIC} in table main: not replaced)`);
    // several retry periods later the static routes are still there, as written
    await sleep(600);
    expect(rows('10.70.0.0/24')).toEqual([`static ${METRIC}`]);
    expect(topo.ns.json<Row[]>('route', 'show', '10.70.0.0/24')[0]?.gateway).toBe('192.0.2.3');
    expect(rows('fd70::/64', 6)).toEqual([`static ${METRIC}`]);
    expect(fib.stats().held).toBe(2);
    ns.ip('route', 'del', '10.70.0.0/24', 'proto', 'static');
    ns.ip('-6', 'route', 'del', 'fd70::/64', 'proto', 'static');
    await waitFor('ours back', () => fib.state(P('10.70.0.0/24')) === 'installed' && fib.state(P('fd70::/64')) === 'installed');
    expect(rows('10.70.0.0/24')).toEqual([`${PROTOCOL} ${METRIC}`]);
    expect(rows('fd70::/64', 6)).toEqual([`${PROTOCOL} ${METRIC}`]);
    await fib.close({ removeRoutes: true });
    expect(rows('10.70.0.0/24')).toEqual([]);
  });

  it('deletes by table, protocol and metric: a route of another protocol at our key survives them (IPv4 and IPv6)', async () => {
    const { ns, ifindex } = topo;
    // No monitor: the FIB does not learn of the replacement, and deletes what it believes is its own.
    const fib = await Fib.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: METRIC, monitor: false });
    fib.set(P('10.71.0.0/24'), [{ gateway: '192.0.2.2', ifindex }]);
    fib.set(P('fd71::/64'), [{ gateway: 'fd00::2', ifindex }]);
    fib.set(P('10.72.0.0/24'), [{ gateway: '192.0.2.2', ifindex }]);
    await fib.settled();
    ns.ip('route', 'replace', '10.71.0.0/24', 'via', '192.0.2.3', 'proto', 'static', 'metric', String(METRIC));
    ns.ip('-6', 'route', 'replace', 'fd71::/64', 'via', 'fd00::3', 'proto', 'static', 'metric', String(METRIC));
    fib.remove(P('10.71.0.0/24'));
    fib.remove(P('fd71::/64'));
    await fib.settled();
    expect(rows('10.71.0.0/24')).toEqual([`static ${METRIC}`]);
    expect(rows('fd71::/64', 6)).toEqual([`static ${METRIC}`]);
    // close({ removeRoutes }) likewise: ours go, theirs stay
    ns.ip('route', 'replace', '10.72.0.0/24', 'via', '192.0.2.3', 'proto', 'static', 'metric', String(METRIC));
    await fib.close({ removeRoutes: true });
    expect(rows('10.72.0.0/24')).toEqual([`static ${METRIC}`]);
    for (const d of ['10.71.0.0/24', '10.72.0.0/24']) ns.ip('route', 'del', d, 'proto', 'static');
    ns.ip('-6', 'route', 'del', 'fd71::/64', 'proto', 'static');
  });

  it('resync: a route of ours found replaced by another protocol is reported, not written over', async () => {
    const { ns, ifindex } = topo;
    const fib = await Fib.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: METRIC, monitor: false, retryInitialMs: 100 });
    fib.set(P('10.73.0.0/24'), [{ gateway: '192.0.2.2', ifindex }]);
    await fib.settled();
    ns.ip('route', 'replace', '10.73.0.0/24', 'via', '192.0.2.3', 'proto', 'static', 'metric', String(METRIC));
    await fib.resync();
    await fib.settled();
    await waitFor('the holder named', () => fib.state(P('10.73.0.0/24'))?.includes('protocol static'));
    await sleep(400);
    expect(rows('10.73.0.0/24')).toEqual([`static ${METRIC}`]);
    ns.ip('route', 'del', '10.73.0.0/24', 'proto', 'static');
    await waitFor('ours at its retry', () => fib.state(P('10.73.0.0/24')) === 'installed', 5000);
    expect(rows('10.73.0.0/24')).toEqual([`${PROTOCOL} ${METRIC}`]);
    await fib.close({ removeRoutes: true });
  });

  it('a route of our own protocol at our key that was not adopted is ours: replaced, not reported', async () => {
    const { ns, ifindex } = topo;
    ns.ip('route', 'add', '10.74.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL), 'metric', String(METRIC));
    const fib = await Fib.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: METRIC, monitor: false });
    fib.set(P('10.74.0.0/24'), [{ gateway: '192.0.2.3', ifindex }]);
    await waitFor('ours replaced', () => fib.state(P('10.74.0.0/24')) === 'installed');
    expect(topo.ns.json<Row[]>('route', 'show', '10.74.0.0/24').map((r) => `${r.protocol} ${r.metric} ${r.gateway}`)).toEqual([`${PROTOCOL} ${METRIC} 192.0.2.3`]);
    await fib.close({ removeRoutes: true });
    expect(rows('10.74.0.0/24')).toEqual([]);
  });

  it('routes of our protocol at another metric (an older version’s) are adopted and deleted at their own metric', async () => {
    const { ns, ifindex } = topo;
    // as an earlier version left them: the kernel's default metric (IPv4 0, IPv6 1024)
    ns.ip('route', 'add', '10.80.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL)); // confirmed
    ns.ip('route', 'add', '10.81.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL)); // not confirmed
    ns.ip('route', 'add', '10.83.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL)); // confirmed as found
    ns.ip('-6', 'route', 'add', 'fd80::/64', 'via', 'fd00::2', 'proto', String(PROTOCOL)); // confirmed
    // a prefix with routes of ours at both metrics (a crash mid-recovery)
    ns.ip('route', 'add', '10.82.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL));
    ns.ip('route', 'add', '10.82.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL), 'metric', String(METRIC));
    expect(rows('10.82.0.0/24')).toEqual([`${PROTOCOL} 0`, `${PROTOCOL} ${METRIC}`]);

    const fib = await Fib.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: METRIC });
    const adopted = await fib.adopt();
    expect(adopted.routes).toBeGreaterThanOrEqual(5);
    for (const p of ['10.80.0.0/24', '10.81.0.0/24', 'fd80::/64', '10.82.0.0/24', '10.83.0.0/24']) expect(fib.isStale(P(p)), p).toBe(true);
    expect(fib.confirm(P('10.83.0.0/24'))).toBe(true);
    fib.set(P('10.80.0.0/24'), [{ gateway: '192.0.2.2', ifindex }]);
    fib.set(P('fd80::/64'), [{ gateway: 'fd00::2', ifindex }]);
    fib.set(P('10.82.0.0/24'), [{ gateway: '192.0.2.2', ifindex }]);
    await fib.settled();
    // confirmed: written at our metric; the old one forwards until the sweep
    expect(rows('10.80.0.0/24')).toEqual([`${PROTOCOL} 0`, `${PROTOCOL} ${METRIC}`]);
    expect(rows('fd80::/64', 6)).toEqual([`${PROTOCOL} 1024`, `${PROTOCOL} ${METRIC}`]);
    expect(fib.state(P('10.80.0.0/24'))).toBe('installed');
    const { deleted } = await fib.sweep();
    expect(deleted).toBe(5); // 10.81 unconfirmed; the metric-0 routes of 10.80, 10.82, 10.83; fd80 at 1024
    expect(rows('10.80.0.0/24')).toEqual([`${PROTOCOL} ${METRIC}`]);
    expect(rows('10.81.0.0/24')).toEqual([]);
    expect(rows('10.82.0.0/24')).toEqual([`${PROTOCOL} ${METRIC}`]);
    expect(rows('10.83.0.0/24')).toEqual([`${PROTOCOL} ${METRIC}`]);
    expect(rows('fd80::/64', 6)).toEqual([`${PROTOCOL} ${METRIC}`]);
    expect(fib.stats()).toMatchObject({ stale: 0, installed: 4 });

    // after adoption, a route of our protocol at another metric is deleted at once, at its metric;
    // ours for the same prefix stays
    ns.ip('route', 'add', '10.80.0.0/24', 'via', '192.0.2.3', 'proto', String(PROTOCOL), 'metric', '7');
    await waitFor('the route at metric 7 deleted', () => rows('10.80.0.0/24').join() === `${PROTOCOL} ${METRIC}`);
    expect(fib.state(P('10.80.0.0/24'))).toBe('installed');
    await fib.close({ removeRoutes: true });
    expect(ns.json<Row[]>('route', 'show', 'proto', String(PROTOCOL))).toEqual([]);
    expect(ns.json<Row[]>('-6', 'route', 'show', 'proto', String(PROTOCOL))).toEqual([]);
  });
});
