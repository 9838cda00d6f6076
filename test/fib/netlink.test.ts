// The netlink facade and the native route queue and monitor underneath the FIB: the batch
// encoding, per-route results of a mixed batch, dumps, and which notifications the monitor
// passes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrefix, prefix4, type Prefix } from '../../src/net/prefix.js';
import { NetlinkMonitor, netnsPath, RouteBatch, RouteQueue, type MonitorEvent } from '../../src/native/netlink.js';
import { deleteAll } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { gateways, ipRoute, PROTOCOL, topology, waitFor, type Topology } from './support.js';

const P = (text: string): Prefix => parsePrefix(text)!;

afterAll(() => deleteAll());

describe('route batch encoding', () => {
  it('encodes 32 bytes per operation: op, family, length, handle, destination', () => {
    const b = new RouteBatch(1).replace(P('10.1.2.0/24'), 7).delete(P('fd00:1::/32'));
    const bytes = b.bytes();
    expect(bytes.length).toBe(64);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect([bytes[0], bytes[1], bytes[2]]).toEqual([1, 4, 24]);
    expect(dv.getUint32(4, true)).toBe(7);
    expect(dv.getUint32(16, true)).toBe(0x0a010200);
    expect([bytes[32], bytes[33], bytes[34]]).toEqual([2, 6, 32]);
    expect([...bytes.subarray(48, 52)]).toEqual([0xfd, 0x00, 0x00, 0x01]);
    expect([b.prefixAt(0), b.prefixAt(1)]).toEqual([P('10.1.2.0/24'), P('fd00:1::/32')]);
    expect([b.handleAt(0), b.handleAt(1)]).toEqual([7, 0]);
  });

  it('grows past its capacity and keeps each operation\'s prefix and handle; the buffer holds length × 32 bytes of operations', () => {
    const b = new RouteBatch(2);
    for (let k = 0; k < 100; k++) b.replace(prefix4((0x0a000000 + k * 256) >>> 0, 24), k + 1);
    b.delete(P('fd00:1::/32'));
    expect(b.length).toBe(101);
    expect(b.buffer.length).toBeGreaterThanOrEqual(101 * 32);
    expect(b.bytes().length).toBe(101 * 32);
    for (let k = 0; k < 100; k++) {
      expect(b.prefixAt(k)).toBe(prefix4((0x0a000000 + k * 256) >>> 0, 24));
      expect(b.handleAt(k)).toBe(k + 1);
    }
    expect([b.prefixAt(100), b.handleAt(100)]).toEqual([P('fd00:1::/32'), 0]);
    const big = new RouteBatch(1024).replace(P('10.9.0.0/16'), 3);
    expect([big.length, big.buffer.length, big.bytes().length]).toEqual([1, 1024 * 32, 32]);
  });

  it('refuses what is not a prefix or a handle before native code sees it', () => {
    const b = new RouteBatch();
    expect(() => b.replace(P('10.0.0.0/8'), 0)).toThrow(/handle must be/);
    expect(() => b.replace(2 ** 40, 1)).toThrow(/not an IPv4 prefix/);
    expect(() => b.delete('x')).toThrow(/not an IPv6 prefix/);
    expect(b.length).toBe(0);
    expect(() => netnsPath('../etc')).toThrow(/network namespace/);
    expect(netnsPath('/proc/1/ns/net')).toBe('/proc/1/ns/net');
  });
});

describe('route queue and monitor in a namespace', () => {
  let topo: Topology;
  beforeAll(() => {
    requireRoot();
    requireCommand('ip', 'iproute2');
    topo = topology('nl');
  });
  afterAll(() => {
    topo?.ns.delete();
    topo?.peer.delete();
  });

  it('answers every operation of a mixed batch on its own', async () => {
    const { ns, ifindex } = topo;
    const results: { start: number; count: number }[] = [];
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL, onResults: (r) => results.push({ start: r.start, count: r.count }) });
    q.defineNexthop(1, 4, { gateway: '192.0.2.2', ifindex });
    q.defineNexthop(2, 4, { gateway: '10.9.9.9' });
    q.defineNexthop(3, 6, { gateway: 'fd00::2', ifindex });
    const b = new RouteBatch()
      .replace(P('10.30.0.0/24'), 1)
      .replace(P('10.31.0.0/24'), 2) // gateway not reachable
      .replace(P('10.32.0.0/24'), 9) // handle never defined
      .delete(P('10.33.0.0/24')) // no such route
      .replace(P('10.34.0.0/24'), 3) // IPv6 next hop for an IPv4 route
      .replace(P('fd30::/64'), 3);
    const failures = await q.submit(b);
    expect(failures.map((f) => [f.index, f.code])).toEqual([
      [1, 'ENETUNREACH'],
      [2, 'EINVAL'],
      [3, 'ESRCH'],
      [4, 'EINVAL'],
    ]);
    expect(failures[0]!.message).toMatch(/gateway/i);
    expect(failures[1]!.message).toBe('next-hop handle 9 is not defined');
    expect(results.reduce((n, r) => n + r.count, 0)).toBe(6);
    expect(gateways(ipRoute(ns, '10.30.0.0/24'))).toEqual(['192.0.2.2']);
    expect(gateways(ipRoute(ns, 'fd30::/64', 6))).toEqual(['fd00::2']);

    const dumped = await q.dumpRoutes(4);
    expect(dumped.map((r) => r.prefix)).toEqual([P('10.30.0.0/24')]);
    expect(dumped[0]).toMatchObject({ protocol: PROTOCOL, table: 254, nhid: 0, hops: [{ gateway: '192.0.2.2', ifindex, weight: 1 }] });
    expect((await q.dumpRoutes(6)).map((r) => r.prefix)).toEqual([P('fd30::/64')]);
    await q.submit(new RouteBatch().delete(P('10.30.0.0/24')).delete(P('fd30::/64')));
    expect(await q.ping()).toBeGreaterThanOrEqual(0);
    await q.close();
    await expect(q.submit(new RouteBatch().delete(P('10.30.0.0/24')))).rejects.toThrow(/route queue is closed/);
  });

  it('programs 10,000 routes in a few system calls and deletes them again', async () => {
    const { ns, ifindex } = topo;
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL, nexthopObjects: true });
    q.defineNexthop(5, 4, { gateway: '192.0.2.2', ifindex });
    const add = new RouteBatch(10_000);
    const del = new RouteBatch(10_000);
    for (let i = 0; i < 10_000; i++) {
      add.replace(prefix4((0x0b000000 + i * 256) >>> 0, 24), 5);
      del.delete(prefix4((0x0b000000 + i * 256) >>> 0, 24));
    }
    expect(await q.submit(add)).toEqual([]);
    const routes = await q.dumpRoutes(4);
    expect(routes).toHaveLength(10_000);
    expect(routes.every((r) => r.nhid === q.nexthopIdBase + 5)).toBe(true);
    expect((await q.dumpNexthops()).map((o) => o.id)).toContain(q.nexthopIdBase + 5);
    expect(await q.submit(del)).toEqual([]);
    q.releaseNexthop(5);
    expect(await q.dumpRoutes(4)).toEqual([]);
    expect((await q.dumpNexthops()).map((o) => o.id)).not.toContain(q.nexthopIdBase + 5);
    await q.close();
  });

  it('lane: a few operations on an idle queue are sent from this thread and answered per route', async () => {
    const { ns, ifindex } = topo;
    const results: { start: number; count: number }[] = [];
    const events: MonitorEvent[] = [];
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL, onResults: (r) => results.push({ start: r.start, count: r.count }) });
    const m = NetlinkMonitor.open({ netns: ns.name, table: 254, ignorePortId: q.portId }, (e) => events.push(...e));
    q.defineNexthop(1, 4, { gateway: '192.0.2.2', ifindex });
    q.defineNexthop(2, 4, { gateway: '10.9.9.9' });
    await q.ping(); // the thread has sent everything: the queue is idle
    const b = new RouteBatch()
      .replace(P('10.50.0.0/24'), 1)
      .replace(P('10.51.0.0/24'), 2) // gateway not reachable
      .delete(P('10.52.0.0/24')); // no such route
    let settled = false;
    const answer = q.submit(b).then((f) => ((settled = true), f));
    expect(settled).toBe(false); // answered in a microtask, never inside submit
    const failures = await answer;
    expect(q.laneBatches).toBe(1);
    expect(failures.map((f) => [f.index, f.code])).toEqual([
      [1, 'ENETUNREACH'],
      [2, 'ESRCH'],
    ]);
    expect(results).toEqual([{ start: 0, count: 3 }]);
    expect(gateways(ipRoute(ns, '10.50.0.0/24'))).toEqual(['192.0.2.2']);
    // a handle the lane does not know goes through the thread, which reports it
    const unknown = await q.submit(new RouteBatch().replace(P('10.53.0.0/24'), 9));
    expect(unknown.map((f) => f.message)).toEqual(['next-hop handle 9 is not defined']);
    expect(q.laneBatches).toBe(1);
    // the lane's own writes are ours for the monitor too; another writer's are reported
    ns.ip('route', 'add', '10.54.0.0/24', 'via', '192.0.2.2', 'proto', '202');
    await waitFor('the monitor event', () => events.some((e) => e.type === 'route' && e.route.prefix === P('10.54.0.0/24')));
    expect(events.find((e) => e.type === 'route' && e.route.prefix === P('10.50.0.0/24'))).toBeUndefined();
    await q.submit(new RouteBatch().delete(P('10.50.0.0/24')));
    ns.ip('route', 'del', '10.54.0.0/24');
    m.close();
    await q.close();
  });

  it('urgent: a route goes in while the thread is inside one sendmsg of bulk work, not after it', async () => {
    const { ns, ifindex } = topo;
    // one sendmsg of 150,000 routes (16 MB batches): the thread does not come back between them
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL, nexthopObjects: true, batchBytes: 16 << 20 });
    let seen = 0;
    const m = NetlinkMonitor.open({ netns: ns.name, table: 254 }, (e) => (seen += e.filter((x) => x.type === 'route').length));
    q.defineNexthop(5, 4, { gateway: '192.0.2.2', ifindex });
    await q.ping();
    const N = 150_000;
    const bulk = new RouteBatch(N);
    for (let i = 0; i < N; i++) bulk.replace(prefix4((0x0c000000 + i * 256) >>> 0, 24), 5);
    const order: string[] = [];
    const bulkDone = q.submit(bulk).then((f) => (order.push('bulk'), f));
    await waitFor('the bulk sendmsg under way', () => seen >= 2000);
    const urgent = q.submit(new RouteBatch().replace(P('10.61.0.0/24'), 5), true).then((f) => (order.push('urgent'), f));
    expect(await urgent).toEqual([]);
    const inKernelThen = seen;
    expect(await bulkDone).toEqual([]);
    expect(order).toEqual(['urgent', 'bulk']);
    expect(inKernelThen).toBeLessThan(N);
    expect(q.aheadBatches).toBe(1);
    expect(q.laneBatches).toBe(0);
    expect(gateways(ipRoute(ns, '10.61.0.0/24'))).toEqual(['192.0.2.2']);
    const del = new RouteBatch(N + 1);
    for (let i = 0; i < N; i++) del.delete(prefix4((0x0c000000 + i * 256) >>> 0, 24));
    del.delete(P('10.61.0.0/24'));
    expect(await q.submit(del)).toEqual([]);
    q.releaseNexthop(5);
    m.close();
    await q.close();
  });

  it('urgent: a route submitted behind bulk work goes ahead of it (the urgent writer), never on this thread (the lane waits for an idle queue)', async () => {
    const { ns, ifindex } = topo;
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL, nexthopObjects: true });
    q.defineNexthop(5, 4, { gateway: '192.0.2.2', ifindex });
    await q.ping();
    const bulk = new RouteBatch(50_000);
    for (let i = 0; i < 50_000; i++) bulk.replace(prefix4((0x0c000000 + i * 256) >>> 0, 24), 5);
    const order: string[] = [];
    const bulkDone = q.submit(bulk).then((f) => (order.push('bulk'), f));
    // not urgent: waits for the thread, behind the bulk batch
    const plain = q.submit(new RouteBatch().replace(P('10.60.0.0/24'), 5)).then((f) => (order.push('plain'), f));
    const urgent = q.submit(new RouteBatch().replace(P('10.61.0.0/24'), 5), true).then((f) => (order.push('urgent'), f));
    expect(await urgent).toEqual([]);
    expect(await bulkDone).toEqual([]);
    expect(await plain).toEqual([]);
    expect(order).toEqual(['urgent', 'bulk', 'plain']);
    expect(q.aheadBatches).toBe(1);
    expect(q.laneBatches).toBe(0);
    expect((await q.dumpRoutes(4)).length).toBe(50_002);
    // a handle defined behind bulk work: its kernel object does not exist yet, so not ahead
    const del = new RouteBatch(50_000);
    for (let i = 0; i < 50_000; i++) del.delete(prefix4((0x0c000000 + i * 256) >>> 0, 24));
    const delDone = q.submit(del).then((f) => (order.push('delete'), f));
    q.defineNexthop(6, 4, { gateway: '192.0.2.3', ifindex });
    const newHandle = q.submit(new RouteBatch().replace(P('10.62.0.0/24'), 6), true).then((f) => (order.push('new handle'), f));
    expect(await newHandle).toEqual([]);
    expect(await delDone).toEqual([]);
    expect(order.slice(3)).toEqual(['delete', 'new handle']);
    expect(q.aheadBatches).toBe(1);
    expect(q.laneBatches).toBe(0);
    expect(gateways(ipRoute(ns, '10.62.0.0/24'))).toEqual(['192.0.2.3']);
    // idle again: the lane takes a plain submission
    expect(await q.submit(new RouteBatch().delete(P('10.60.0.0/24')).delete(P('10.61.0.0/24')).delete(P('10.62.0.0/24')))).toEqual([]);
    expect(q.laneBatches).toBe(1);
    expect(await q.dumpRoutes(4)).toEqual([]);
    q.releaseNexthop(5);
    q.releaseNexthop(6);
    await q.close();
  });

  it('metric: routes carry the queue\'s metric; create never replaces a route of another owner; delete takes a metric', async () => {
    const { ns, ifindex } = topo;
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL, metric: 77 });
    q.defineNexthop(1, 4, { gateway: '192.0.2.2', ifindex });
    q.defineNexthop(2, 6, { gateway: 'fd00::2', ifindex });
    // a connected route (metric 0) and a static route at our metric hold prefixes we are told to install
    ns.ip('route', 'add', '10.50.0.0/24', 'via', '192.0.2.2', 'proto', 'static');
    ns.ip('route', 'add', '10.51.0.0/24', 'via', '192.0.2.2', 'proto', 'static', 'metric', '77');
    ns.ip('-6', 'route', 'add', 'fd51::/64', 'via', 'fd00::2', 'proto', 'static', 'metric', '77');
    const failures = await q.submit(
      new RouteBatch().create(P('10.50.0.0/24'), 1).create(P('10.51.0.0/24'), 1).create(P('fd51::/64'), 2).create(P('10.52.0.0/24'), 1),
    );
    expect(failures.map((f) => [f.index, f.code])).toEqual([
      [1, 'EEXIST'],
      [2, 'EEXIST'],
    ]);
    const all = ns.json<{ dst: string; protocol: string; metric?: number }[]>('-4', 'route', 'show', 'table', 'main');
    expect(all.filter((r) => r.dst === '10.50.0.0/24').map((r) => [r.protocol, r.metric ?? 0]).sort()).toEqual([
      [String(PROTOCOL), 77],
      ['static', 0],
    ]);
    expect(all.filter((r) => r.dst === '10.51.0.0/24').map((r) => [r.protocol, r.metric])).toEqual([['static', 77]]);
    expect(ns.json<{ protocol: string }[]>('-6', 'route', 'show', 'fd51::/64').map((r) => r.protocol)).toEqual(['static']);
    // replace of our own route at our metric keeps the static one at metric 0
    expect(await q.submit(new RouteBatch().replace(P('10.50.0.0/24'), 1))).toEqual([]);
    // a delete at our metric removes only ours; the static routes stay
    expect(await q.submit(new RouteBatch().delete(P('10.50.0.0/24')).delete(P('10.51.0.0/24')))).toEqual([
      expect.objectContaining({ index: 1, code: 'ESRCH' }),
    ]);
    const after = ns.json<{ dst: string; protocol: string }[]>('-4', 'route', 'show', 'table', 'main');
    expect(after.filter((r) => r.dst.startsWith('10.5')).map((r) => `${r.dst} ${r.protocol}`).sort()).toEqual([
      '10.50.0.0/24 static',
      '10.51.0.0/24 static',
      `10.52.0.0/24 ${PROTOCOL}`,
    ]);
    // a route of ours written at another metric (an older version's) is deleted with that metric
    ns.ip('route', 'add', '10.53.0.0/24', 'via', '192.0.2.2', 'proto', String(PROTOCOL));
    expect(await q.submit(new RouteBatch().delete(P('10.53.0.0/24')))).toEqual([expect.objectContaining({ code: 'ESRCH' })]);
    expect(await q.submit(new RouteBatch().delete(P('10.53.0.0/24'), 0).delete(P('10.52.0.0/24')))).toEqual([]);
    for (const d of ['10.50.0.0/24', '10.51.0.0/24']) ns.ip('route', 'del', d, 'proto', 'static');
    ns.ip('-6', 'route', 'del', 'fd51::/64', 'proto', 'static');
    await q.close();
  });

  it('monitor: reports others’ route changes and link state, not the queue’s own writes', async () => {
    const { ns, ifindex, dev } = topo;
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL });
    const events: MonitorEvent[] = [];
    const m = NetlinkMonitor.open({ netns: ns.name, table: 254, ignorePortId: q.portId }, (e) => events.push(...e));
    q.defineNexthop(1, 4, { gateway: '192.0.2.2', ifindex });
    await q.submit(new RouteBatch().replace(P('10.40.0.0/24'), 1));
    ns.ip('route', 'del', '10.40.0.0/24');
    ns.ip('route', 'add', '10.41.0.0/24', 'via', '192.0.2.2', 'proto', '202');
    ns.ip('route', 'add', '10.42.0.0/24', 'via', '192.0.2.2', 'table', '100');
    ns.ip('link', 'set', dev, 'down');
    await waitFor('the monitor events', () => events.some((e) => e.type === 'link' && !e.up));
    const routes = events.flatMap((e) => (e.type === 'route' ? [e.route] : []));
    expect(routes.find((r) => r.prefix === P('10.40.0.0/24') && r.action === 'new')).toBeUndefined();
    expect(routes.find((r) => r.prefix === P('10.40.0.0/24'))).toMatchObject({ action: 'delete', protocol: PROTOCOL });
    expect(routes.find((r) => r.prefix === P('10.41.0.0/24'))).toMatchObject({ action: 'new', protocol: 202 });
    expect(routes.find((r) => r.prefix === P('10.42.0.0/24'))).toBeUndefined(); // another table
    expect(events.find((e) => e.type === 'link' && !e.up)).toMatchObject({ ifindex, name: dev, running: false });
    ns.ip('link', 'set', dev, 'up');
    m.close();
    await q.close();
  });

  it('monitor with routeLength: only route notifications of that length (filtered in the kernel), with our own still dropped and link events kept', async () => {
    const { ns, ifindex, dev } = topo;
    const q = RouteQueue.open({ netns: ns.name, table: 254, protocol: PROTOCOL });
    const events: MonitorEvent[] = [];
    const m = NetlinkMonitor.open({ netns: ns.name, table: 254, ignorePortId: q.portId, routeLength: 32 }, (e) => events.push(...e));
    q.defineNexthop(1, 4, { gateway: '192.0.2.2', ifindex });
    await q.submit(new RouteBatch().replace(P('10.43.0.1/32'), 1)); // ours: dropped
    ns.ip('route', 'add', '10.43.0.0/24', 'via', '192.0.2.2', 'proto', '202'); // another length: dropped
    ns.ip('route', 'add', '10.43.0.2/32', 'via', '192.0.2.2', 'proto', '202');
    ns.ip('route', 'del', '10.43.0.2/32');
    ns.ip('link', 'set', dev, 'down');
    await waitFor('the monitor events', () => events.some((e) => e.type === 'link' && !e.up));
    const routes = events.flatMap((e) => (e.type === 'route' ? [`${e.route.action} ${e.route.prefix === P('10.43.0.2/32') ? '10.43.0.2/32' : 'other'}`] : []));
    // (the link going down takes the /24 and our /32 along without a notification: IPv4)
    expect(routes).toEqual(['new 10.43.0.2/32', 'delete 10.43.0.2/32']);
    ns.ip('link', 'set', dev, 'up');
    expect(() => NetlinkMonitor.open({ netns: ns.name, table: 254, routeLength: 129 }, () => {})).toThrow(/routeLength/);
    m.close();
    await q.submit(new RouteBatch().delete(P('10.43.0.1/32')));
    await q.close();
  });
});
