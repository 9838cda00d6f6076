// The RIB through its public API: import guards, route reflection, next hops and AS paths
// per peer kind, multipath to the FIB, stale marks, origination, maximum prefixes, views.
import { describe, expect, it } from 'vitest';
import { formatPrefix } from '../../src/net/prefix.js';
import { attrs, fibState, harness, P } from './helpers.js';

const NO_EXPORT = 0xffffff01;
const NO_ADVERTISE = 0xffffff02;

describe('import guards', () => {
  it('rejects an eBGP path with our AS in AS_PATH, unless allowas-in permits it', () => {
    const h = harness();
    const e = h.peer({ address: '10.1.0.2', asn: 65010 });
    const o = h.rib.announce(e, 4, [P('10.9.0.0/24')], null, attrs({ path: '65010 65000 65020', nextHop: '10.1.0.2' }));
    expect(o).toEqual({ type: 'ok', rejected: 1 });
    expect(h.rib.stats.prefixes).toBe(0);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 1, accepted: 0 });
    const lenient = h.peer({ address: '10.1.0.3', asn: 65010, allowAsIn: 1 });
    expect(h.rib.announce(lenient, 4, [P('10.9.0.0/24')], null, attrs({ path: '65010 65000 65020', nextHop: '10.1.0.3' })).type).toBe('ok');
    expect(h.rib.peerCounts(lenient)).toMatchObject({ received: 1, accepted: 1 });
    expect(h.rib.announce(lenient, 4, [P('10.9.1.0/24')], null, attrs({ path: '65010 65000 65000', nextHop: '10.1.0.3' }))).toEqual({ type: 'ok', rejected: 1 });
  });

  it('rejects our own ORIGINATOR_ID and our CLUSTER_ID in CLUSTER_LIST (iBGP)', () => {
    const h = harness({ clusterId: '10.0.0.100' });
    const c = h.peer({ address: '10.0.0.2', asn: 65000, routeReflectorClient: true });
    expect(h.rib.announce(c, 4, [P('10.9.0.0/24')], null, attrs({ nextHop: '10.0.0.2', originatorId: '10.0.0.1' })).type).toBe('ok');
    expect(h.rib.announce(c, 4, [P('10.9.1.0/24')], null, attrs({ nextHop: '10.0.0.2', originatorId: '10.0.0.9', clusterList: ['10.0.0.7', '10.0.0.100'] }))).toEqual({
      type: 'ok',
      rejected: 1,
    });
    expect(h.rib.announce(c, 4, [P('10.9.2.0/24')], null, attrs({ nextHop: '10.0.0.2', originatorId: '10.0.0.9', clusterList: ['10.0.0.7'] }))).toEqual({ type: 'ok', rejected: 0 });
    expect(h.rib.peerCounts(c)).toMatchObject({ received: 3, accepted: 1 });
  });

  it('a looped re-announcement withdraws the earlier path; withdrawing a rejected prefix forgets it', () => {
    const h = harness();
    const e = h.peer({ address: '10.1.0.2', asn: 65010 });
    h.rib.announce(e, 4, [P('10.9.0.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.2' }));
    expect(h.rib.stats.prefixes).toBe(1);
    h.rib.announce(e, 4, [P('10.9.0.0/24')], null, attrs({ path: '65010 65000', nextHop: '10.1.0.2' }));
    expect(h.rib.stats.prefixes).toBe(0);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 1, accepted: 0 });
    h.rib.withdraw(e, [P('10.9.0.0/24')]);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 0, accepted: 0 });
  });

  it('import policy can reject or rewrite', () => {
    const h = harness();
    const e = h.peer({
      address: '10.1.0.2',
      asn: 65010,
      importPolicy: (p, a) => (formatPrefix(p).startsWith('10.66.') ? null : attrs({ ...a, path: '65010', localPref: 250 })),
    });
    h.rib.announce(e, 4, [P('10.9.0.0/24'), P('10.66.0.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.2' }));
    const routes = [...h.rib.routes()];
    expect(routes.map((r) => r.prefix)).toEqual(['10.9.0.0/24']);
    expect(routes[0]!.paths[0]!.localPref).toBe(250);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 2, accepted: 1 });
  });
});

describe('maximum prefixes', () => {
  it('reports the family and the limit exceeded and stops applying the UPDATE (the Cease bytes: test/session/cease.test.ts)', () => {
    const h = harness();
    const e = h.peer({ address: '10.1.0.2', asn: 65010, maxPrefixes: 2 });
    const a = attrs({ path: '65010', nextHop: '10.1.0.2' });
    const o = h.rib.announce(e, 4, [P('10.9.0.0/24'), P('10.9.1.0/24'), P('10.9.2.0/24'), P('10.9.3.0/24')], null, a);
    expect(o.type).toBe('max-prefixes');
    if (o.type !== 'max-prefixes') return;
    expect(o.limit).toBe(2);
    expect(o.family).toBe(4);
    expect(h.rib.peerCounts(e).accepted).toBe(3);
    // the session layer drops the session: everything goes
    h.rib.peerDown(e);
    expect(h.rib.stats.prefixes).toBe(0);
    // re-announcing within the limit is fine
    expect(h.rib.announce(e, 4, [P('10.9.0.0/24')], null, a).type).toBe('ok');
  });

  it('counts re-announcements of the same prefix once', () => {
    const h = harness();
    const e = h.peer({ address: '10.1.0.2', asn: 65010, maxPrefixes: 1 });
    for (let i = 0; i < 5; i++) expect(h.rib.announce(e, 4, [P('10.9.0.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.2', med: i })).type).toBe('ok');
  });
});

describe('route reflection (RFC 4456)', () => {
  function rr() {
    const h = harness({ clusterId: '10.0.0.100' });
    const A = h.peer({ address: '10.0.0.2', asn: 65000, routeReflectorClient: true });
    const B = h.peer({ address: '10.0.0.3', asn: 65000, routeReflectorClient: true });
    const N = h.peer({ address: '10.0.0.4', asn: 65000 });
    const N2 = h.peer({ address: '10.0.0.5', asn: 65000 });
    const E = h.peer({ address: '10.1.0.9', asn: 65010 });
    h.up(A, { routerId: '10.255.0.2' });
    h.up(B, { routerId: '10.255.0.3' });
    h.up(N, { routerId: '10.255.0.4' });
    h.up(N2, { routerId: '10.255.0.5' });
    h.up(E, { routerId: '10.255.0.9' });
    h.flush();
    return { h, A, B, N, N2, E };
  }

  it('reflects a client route to clients and non-clients with ORIGINATOR_ID and CLUSTER_LIST, next hop kept', () => {
    const { h, A, B, N, E } = rr();
    h.rib.announce(A, 4, [P('10.65.1.0/26')], null, attrs({ nextHop: '10.0.0.2', localPref: 100, med: 7 }));
    h.flush();
    for (const to of [B, N]) {
      const got = h.rx(to).table.get('10.65.1.0/26')!;
      expect(got).toMatchObject({ nextHop: '10.0.0.2', originatorId: '10.255.0.2', clusterList: ['10.0.0.100'], localPref: 100, med: 7 });
      expect(got.asPath).toEqual([]);
    }
    // split horizon (issue 12): the client does not get its own route back
    expect(h.rx(A).table.get('10.65.1.0/26')).toBeUndefined();
    // to eBGP: next-hop-self, our AS, no LOCAL_PREF, MED, ORIGINATOR_ID or CLUSTER_LIST
    const ext = h.rx(E).table.get('10.65.1.0/26')!;
    expect(ext).toMatchObject({ nextHop: '10.0.0.1', localPref: undefined, med: undefined, originatorId: undefined, clusterList: undefined });
    expect(ext.asPath).toEqual([{ type: 2, asns: [65000] }]);
  });

  it('keeps an existing ORIGINATOR_ID and prepends our CLUSTER_ID to CLUSTER_LIST', () => {
    const { h, A, B } = rr();
    h.rib.announce(A, 4, [P('10.65.2.0/26')], null, attrs({ nextHop: '10.0.0.20', originatorId: '10.255.7.7', clusterList: ['10.0.0.200'] }));
    h.flush();
    expect(h.rx(B).table.get('10.65.2.0/26')).toMatchObject({ originatorId: '10.255.7.7', clusterList: ['10.0.0.100', '10.0.0.200'] });
  });

  it('reflects a non-client route to clients only', () => {
    const { h, A, B, N, N2, E } = rr();
    h.rib.announce(N, 4, [P('10.65.3.0/26')], null, attrs({ nextHop: '10.0.0.4' }));
    h.flush();
    expect(h.rx(A).table.has('10.65.3.0/26')).toBe(true);
    expect(h.rx(B).table.has('10.65.3.0/26')).toBe(true);
    expect(h.rx(N2).table.has('10.65.3.0/26')).toBe(false);
    expect(h.rx(N).table.has('10.65.3.0/26')).toBe(false);
    expect(h.rx(E).table.has('10.65.3.0/26')).toBe(true);
  });

  it('sends an eBGP route to every iBGP peer unreflected, with LOCAL_PREF and the next hop kept', () => {
    const { h, A, N, E } = rr();
    h.rib.announce(E, 4, [P('198.51.100.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.9', med: 20 }));
    h.flush();
    for (const to of [A, N]) {
      expect(h.rx(to).table.get('198.51.100.0/24')).toMatchObject({ nextHop: '10.1.0.9', localPref: 100, med: 20, originatorId: undefined, clusterList: undefined });
    }
  });

  it('withdrawals reach every client', () => {
    const { h, A, B, N } = rr();
    h.rib.announce(A, 4, [P('10.65.1.0/26')], null, attrs({ nextHop: '10.0.0.2' }));
    h.flush();
    h.rib.withdraw(A, [P('10.65.1.0/26')]);
    h.flush();
    for (const to of [A, B, N]) {
      expect(h.rx(to).table.has('10.65.1.0/26')).toBe(false);
      expect(h.rx(to).events.at(-1)).toBe('-10.65.1.0/26');
    }
  });
});

describe('without route reflection', () => {
  it('does not send iBGP-learned routes to iBGP peers; eBGP to eBGP prepends, sets the next hop and drops MED', () => {
    const h = harness();
    const I1 = h.peer({ address: '10.0.0.2', asn: 65000 });
    const I2 = h.peer({ address: '10.0.0.3', asn: 65000, routeReflectorClient: true }); // ignored without a cluster ID
    const E1 = h.peer({ address: '10.1.0.2', asn: 65010 });
    const E2 = h.peer({ address: '10.2.0.2', asn: 65020 });
    for (const p of [I1, I2, E1, E2]) h.up(p);
    h.rib.announce(I1, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.2' }));
    h.rib.announce(E1, 4, [P('198.51.100.0/24')], null, attrs({ path: '65010 65011', nextHop: '10.1.0.2', med: 30 }));
    h.flush();
    expect(h.rx(I2).table.has('10.65.0.0/26')).toBe(false);
    expect(h.rx(E2).table.get('10.65.0.0/26')).toMatchObject({ nextHop: '10.0.0.1' });
    expect(h.rx(I2).table.get('198.51.100.0/24')).toMatchObject({ nextHop: '10.1.0.2', localPref: 100, med: 30 });
    const ext = h.rx(E2).table.get('198.51.100.0/24')!;
    expect(ext).toMatchObject({ nextHop: '10.0.0.1', med: undefined });
    expect(ext.asPath).toEqual([{ type: 2, asns: [65000, 65010, 65011] }]);
  });

  it('honours NO_EXPORT and NO_ADVERTISE', () => {
    const h = harness();
    const E1 = h.peer({ address: '10.1.0.2', asn: 65010 });
    const E2 = h.peer({ address: '10.2.0.2', asn: 65020 });
    const I = h.peer({ address: '10.0.0.2', asn: 65000 });
    for (const p of [E1, E2, I]) h.up(p);
    h.rib.announce(E1, 4, [P('198.51.100.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.2', communities: [NO_EXPORT] }));
    h.rib.announce(E1, 4, [P('198.51.101.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.2', communities: [NO_ADVERTISE] }));
    h.flush();
    expect(h.rx(I).table.has('198.51.100.0/24')).toBe(true);
    expect(h.rx(E2).table.has('198.51.100.0/24')).toBe(false);
    expect(h.rx(I).table.has('198.51.101.0/24')).toBe(false);
    expect(h.rib.stats.prefixes).toBe(2);
  });
});

describe('multipath and the FIB', () => {
  it('single-path changes of one attribute set carry one frozen next-hop list (the FIB knows it again), not one per prefix', () => {
    const h = harness();
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const a = attrs({ nextHop: '10.0.0.2' });
    h.rib.announce(X, 4, [P('10.65.0.0/26'), P('10.65.0.64/26'), P('10.65.0.128/26')], null, a);
    h.rib.announce(X, 4, [P('10.66.0.0/26')], null, attrs({ nextHop: '10.0.0.9' }));
    h.flush();
    const lists = h.fib.flat().map((c) => c.nextHops);
    expect(lists.map((l) => l?.map((n) => n.address))).toEqual([['10.0.0.2'], ['10.0.0.2'], ['10.0.0.2'], ['10.0.0.9']]);
    expect(lists[1]).toBe(lists[0]);
    expect(lists[2]).toBe(lists[0]);
    expect(lists[3]).not.toBe(lists[0]);
    expect(Object.isFrozen(lists[0])).toBe(true);
  });

  it('emits the multipath set, then single paths, then removal', () => {
    const h = harness({ ecmpMaxPaths: 4 });
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const Y = h.peer({ address: '10.0.0.3', asn: 65000 });
    h.rib.announce(X, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.2' }));
    h.rib.announce(Y, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.3' }));
    h.flush();
    expect(h.fib.length).toBe(1);
    expect(h.fib[0]).toEqual([{ prefix: P('10.65.0.0/26'), nextHops: [{ address: '10.0.0.2', family: 4 }, { address: '10.0.0.3', family: 4 }], local: false }]);
    h.rib.withdraw(X, [P('10.65.0.0/26')]);
    h.flush();
    expect(fibState(h).get('10.65.0.0/26')).toBe('10.0.0.3');
    h.rib.withdraw(Y, [P('10.65.0.0/26')]);
    h.flush();
    expect(h.fib.at(-1)).toEqual([{ prefix: P('10.65.0.0/26'), nextHops: null, local: false }]);
  });

  it('a change of a non-best multipath member still reaches the FIB; nothing does for a no-op', () => {
    const h = harness({ ecmpMaxPaths: 4 });
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const Y = h.peer({ address: '10.0.0.3', asn: 65000 });
    h.rib.announce(X, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.2' }));
    h.rib.announce(Y, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.3' }));
    h.flush();
    h.rib.announce(Y, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.33' }));
    h.flush();
    expect(fibState(h).get('10.65.0.0/26')).toBe('10.0.0.2,10.0.0.33');
    const before = h.fib.length;
    h.rib.announce(Y, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.33' }));
    h.flush();
    expect(h.fib.length).toBe(before);
  });

  it('ecmpMaxPaths 1 installs the best path only', () => {
    const h = harness({ ecmpMaxPaths: 1 });
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const Y = h.peer({ address: '10.0.0.3', asn: 65000 });
    h.rib.announce(X, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.2' }));
    h.rib.announce(Y, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.3' }));
    h.flush();
    expect(fibState(h).get('10.65.0.0/26')).toBe('10.0.0.2');
  });

  it('next-hop resolution: unresolvable paths lose; revalidation re-runs the decision', () => {
    const bad = new Set(['10.0.0.2']);
    const h = harness({ resolveNextHop: (a) => (bad.has(a) ? undefined : 1) });
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const Y = h.peer({ address: '10.0.0.3', asn: 65000 });
    h.rib.announce(X, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.2', localPref: 300 }));
    h.rib.announce(Y, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.3' }));
    h.flush();
    expect(fibState(h).get('10.65.0.0/26')).toBe('10.0.0.3');
    bad.clear();
    h.rib.revalidateNextHops();
    h.flush();
    expect(fibState(h).get('10.65.0.0/26')).toBe('10.0.0.2');
    const r = [...h.rib.routes()][0]!;
    expect(r.paths[0]).toMatchObject({ peer: '10.0.0.2', best: true, bestReason: 'higher LOCAL_PREF (300 vs 100)' });
  });

  it('desired() lists the whole forwarding state for a resync', () => {
    const h = harness();
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    h.rib.announce(X, 4, [P('10.65.0.0/26'), P('10.65.0.64/26')], null, attrs({ nextHop: '10.0.0.2' }));
    h.rib.announce(X, 6, [P('fd00:65::/64')], null, attrs({ nextHop: 'fd00::2' }));
    expect([...h.rib.desired()].map((c) => [formatPrefix(c.prefix), c.nextHops![0]!.address, c.nextHops![0]!.family]).sort()).toEqual([
      ['10.65.0.0/26', '10.0.0.2', 4],
      ['10.65.0.64/26', '10.0.0.2', 4],
      ['fd00:65::/64', 'fd00::2', 6],
    ]);
  });
});

describe('ADD-PATH receive', () => {
  it('keys paths by prefix and path identifier', () => {
    const h = harness();
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    h.rib.announce(X, 4, [P('10.65.0.0/26'), P('10.65.0.0/26')], [1, 2], attrs({ nextHop: '10.0.0.2' }));
    h.rib.announce(X, 4, [P('10.65.0.0/26')], [2], attrs({ nextHop: '10.0.0.22' }));
    expect(h.rib.peerCounts(X).accepted).toBe(2);
    expect([...h.rib.routes()][0]!.paths.map((p) => p.nextHop).sort()).toEqual(['10.0.0.2', '10.0.0.22']);
    h.rib.withdraw(X, [P('10.65.0.0/26')], [1]);
    expect([...h.rib.routes()][0]!.paths.map((p) => p.nextHop)).toEqual(['10.0.0.22']);
  });
});

describe('graceful restart support', () => {
  it('marks stale, clears the mark on re-advertisement, sweeps the rest', () => {
    const h = harness();
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const a = attrs({ nextHop: '10.0.0.2' });
    h.rib.announce(X, 4, [P('10.65.0.0/26'), P('10.65.0.64/26')], null, a);
    h.rib.announce(X, 6, [P('fd00:65::/64')], null, attrs({ nextHop: 'fd00::2' }));
    h.flush();
    expect(h.rib.markStale(X, [4])).toBe(2);
    expect(h.rib.peerCounts(X).staleRoutes).toBe(2);
    expect([...h.rib.routes({ prefix: '10.65.0.0/26' })][0]!.paths[0]!.stale).toBe(true);
    const fibBefore = h.fib.length;
    h.rib.announce(X, 4, [P('10.65.0.0/26')], null, a); // same attributes: no output, mark cleared
    h.flush();
    expect(h.fib.length).toBe(fibBefore);
    expect(h.rib.peerCounts(X).staleRoutes).toBe(1);
    expect(h.rib.sweepStale(X, 6)).toBe(0);
    expect(h.rib.sweepStale(X)).toBe(1);
    h.flush();
    expect([...h.rib.routes()].map((r) => r.prefix)).toEqual(['10.65.0.0/26', 'fd00:65::/64']);
    expect(fibState(h).has('10.65.0.64/26')).toBe(false);
  });

  it('peerDown with keepStale keeps those families as stale and withdraws the others; End-of-RIB is reported', () => {
    const eors: string[] = [];
    const h = harness();
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    h.up(X);
    h.rib.announce(X, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.0.2' }));
    h.rib.announce(X, 6, [P('fd00:65::/64')], null, attrs({ nextHop: 'fd00::2' }));
    h.rib.peerDown(X, { keepStale: [4] });
    expect(h.rib.peerCounts(X)).toMatchObject({ accepted: 1, staleRoutes: 1, advertised: 0 });
    h.up(X);
    const eor = h.rib.update(X, { type: 'update', withdrawn4: new Float64Array(0), withdrawn4PathIds: null, withdrawn6: [], withdrawn6PathIds: null, reach: [], endOfRib: 4, errors: [] });
    eors.push(eor.type);
    expect(eor).toEqual({ type: 'end-of-rib', family: 4 });
    expect(h.rib.peerCounts(X).endOfRib).toEqual([4]);
    expect(h.rib.sweepStale(X, 4)).toBe(1);
    expect(h.rib.stats.prefixes).toBe(0);
  });
});

describe('origination', () => {
  it('originates with ORIGIN IGP and next-hop-self to every peer, and wins locally', () => {
    const h = harness({ clusterId: '10.0.0.100' });
    const C = h.peer({ address: '10.0.0.2', asn: 65000, routeReflectorClient: true });
    const E = h.peer({ address: '10.1.0.2', asn: 65010 });
    h.up(C, { localAddress: '10.0.0.1' });
    h.up(E, { localAddress: '10.1.0.1' });
    h.rib.announce(C, 4, [P('10.65.3.0/26')], null, attrs({ nextHop: '10.0.0.2', localPref: 500 }));
    h.rib.originate([P('10.65.3.0/26'), P('fd00:65:3::/64')]);
    h.flush();
    expect(h.rx(C).table.get('10.65.3.0/26')).toMatchObject({ origin: 0, asPath: [], nextHop: '10.0.0.1', localPref: 100, originatorId: undefined });
    expect(h.rx(C).table.get('fd00:65:3::/64')).toMatchObject({ nextHop: 'fd00::1' });
    const e = h.rx(E).table.get('10.65.3.0/26')!;
    expect(e).toMatchObject({ origin: 0, nextHop: '10.1.0.1', localPref: undefined });
    expect(e.asPath).toEqual([{ type: 2, asns: [65000] }]);
    expect(fibState(h).has('10.65.3.0/26')).toBe(false);
    expect(h.fib.flat().find((c) => formatPrefix(c.prefix) === '10.65.3.0/26')).toMatchObject({ nextHops: null, local: true });
    const r = [...h.rib.routes({ prefix: '10.65.3.0/26' })][0]!;
    expect(r.paths[0]).toMatchObject({ peer: 'local', nextHop: '0.0.0.0', best: true, bestReason: 'locally originated' });
    const toE = h.rx(E).events.length;
    h.rib.originate([]);
    h.flush();
    // the client's path is best now; towards eBGP it looks exactly the same, so E hears nothing
    expect(h.rx(E).events.length).toBe(toE + 1);
    expect(h.rx(E).events.at(-1)).toBe('-fd00:65:3::/64');
    // split horizon: the client's own path is best now, so the route it had from us is withdrawn
    expect(h.rx(C).events.at(-1)).toBe('-10.65.3.0/26');
    expect(h.rx(C).table.get('10.65.3.0/26')).toBeUndefined();
    expect(fibState(h).get('10.65.3.0/26')).toBe('10.0.0.2');
  });
});

describe('views', () => {
  it('routes() in the RouteView shape, with a kernel state, exact and longest-match filters', () => {
    const h = harness({ ecmpMaxPaths: 2 });
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const Y = h.peer({ address: '10.0.0.3', asn: 65000 });
    h.up(X, { routerId: '10.255.0.2' });
    h.up(Y, { routerId: '10.255.0.3' });
    h.rib.announce(X, 4, [P('10.65.0.0/16')], null, attrs({ nextHop: '10.0.0.2', path: '65001 65002', communities: [0xfde80064], largeCommunities: [[65000, 1, 2]] }));
    h.rib.announce(Y, 4, [P('10.65.0.0/16')], null, attrs({ nextHop: '10.0.0.3', path: '65001 65003', med: 5 }));
    h.rib.announce(Y, 4, [P('10.65.1.0/24')], null, attrs({ nextHop: '10.0.0.3', path: '65001' }));
    h.flush();
    const kernel = (p: unknown) => (formatPrefix(p as number) === '10.65.1.0/24' ? 'installed' : 'failed: ENETUNREACH');
    const all = [...h.rib.routes({}, kernel)];
    expect(all.map((r) => r.prefix)).toEqual(['10.65.0.0/16', '10.65.1.0/24']);
    expect(all[0]).toEqual({
      prefix: '10.65.0.0/16',
      kernel: 'failed: ENETUNREACH',
      paths: [
        {
          nextHop: '10.0.0.2',
          peer: '10.0.0.2',
          asPath: '65001 65002',
          origin: 'IGP',
          localPref: 100,
          med: null,
          communities: ['65000:100'],
          largeCommunities: ['65000:1:2'],
          originatorId: null,
          clusterList: [],
          best: true,
          stale: false,
          bestReason: 'lower MED (0 vs 5)',
          multipath: false,
        },
        {
          nextHop: '10.0.0.3',
          peer: '10.0.0.3',
          asPath: '65001 65003',
          origin: 'IGP',
          localPref: 100,
          med: 5,
          communities: [],
          largeCommunities: [],
          originatorId: null,
          clusterList: [],
          best: false,
          stale: false,
          bestReason: null,
          multipath: false,
        },
      ],
    });
    expect([...h.rib.routes({ prefix: '10.65.1.0/24' }, kernel)].map((r) => [r.prefix, r.kernel])).toEqual([['10.65.1.0/24', 'installed']]);
    expect([...h.rib.routes({ prefix: '10.65.1.77' })].map((r) => r.prefix)).toEqual(['10.65.1.0/24']);
    expect([...h.rib.routes({ prefix: '10.65.200.1' })].map((r) => r.prefix)).toEqual(['10.65.0.0/16']);
    expect([...h.rib.routes({ prefix: '10.66.0.1' })]).toEqual([]);
    expect([...h.rib.routes({ prefix: '10.65.2.0/24' })]).toEqual([]);
    expect(() => h.rib.routes({ prefix: '10.65.1.1/24' })).toThrow(/invalid prefix/);
    expect(() => h.rib.routes({ prefix: 'nonsense' })).toThrow(/invalid prefix/);
    expect(h.rib.peerCounts(X)).toEqual({ received: 1, accepted: 1, advertised: 0, staleRoutes: 0, endOfRib: [] });
  });

  it('routes() is lazy and tolerates changes while iterating', () => {
    const h = harness();
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const ps = Array.from({ length: 100 }, (_, i) => P(`10.${i}.0.0/16`));
    h.rib.announce(X, 4, ps, null, attrs({ nextHop: '10.0.0.2' }));
    const it = h.rib.routes()[Symbol.iterator]();
    expect(it.next().value?.prefix).toBe('10.0.0.0/16');
    h.rib.withdraw(X, ps.slice(1, 99));
    const rest = [];
    for (let r = it.next(); !r.done; r = it.next()) rest.push(r.value.prefix);
    expect(rest).toEqual(['10.99.0.0/16']);
  });

  it('bad prefixes in announce() are a clear error with nothing applied', () => {
    const h = harness();
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    const a = attrs({ nextHop: '10.0.0.2' });
    expect(() => h.rib.announce(X, 4, [P('10.1.0.0/16'), P('fd00::/64') as never], null, a)).toThrow(/IPv6 prefix \(fd00::\/64\) in an IPv4 announcement/);
    expect(() => h.rib.announce(X, 4, [P('10.1.0.0/16'), 10 * 64 + 40], null, a)).toThrow(/not a compact prefix/);
    expect(() => h.rib.announce(X, 4, [P('10.1.0.0/16') + 64], null, a)).toThrow(/not a compact prefix/); // host bits
    expect(() => h.rib.originate(['nonsense' as never])).toThrow(/not a compact prefix/);
    expect(h.rib.stats.prefixes).toBe(0);
    expect(h.rib.peerCounts(X).received).toBe(0);
  });

  it('rejects handles it does not know', () => {
    const h = harness();
    const other = harness().peer({ address: '10.0.0.9', asn: 65000 });
    expect(() => h.rib.peerCounts(other)).toThrow(/unknown peer/);
    const X = h.peer({ address: '10.0.0.2', asn: 65000 });
    h.rib.removePeer(X);
    expect(() => h.rib.announce(X, 4, [P('10.0.0.0/8')], null, attrs({ nextHop: '10.0.0.2' }))).toThrow(/unknown peer/);
  });
});
