// The decision process alone, case by case: no RIB, no sockets.
import { describe, expect, it } from 'vitest';
import { ipv4ToNumber } from '../../src/net/ip.js';
import { computeFacts, type DecisionPath, explain, select, Step, compare, comparePaths, type CostFn } from '../../src/rib/index.js';
import { addressKey } from '../../src/rib/model.js';
import { attrs } from './helpers.js';

const CTX = { asn: 65000, routerId: ipv4ToNumber('10.0.0.1')!, clusterId: '10.0.0.1', defaultLocalPref: 100 };

function peer(address: string, o: { ebgp?: boolean; routerId?: string; local?: boolean } = {}) {
  return {
    address,
    addressKey: addressKey(address),
    ebgp: o.ebgp ?? false,
    local: o.local ?? false,
    routerIdNum: ipv4ToNumber(o.routerId ?? address)!,
  };
}

function path(p: ReturnType<typeof peer>, a: Parameters<typeof attrs>[0], pathId = 0): DecisionPath {
  return { peer: p, pathId, a: computeFacts(attrs({ nextHop: p.address.includes('.') ? p.address : '192.0.2.99', ...a }), CTX) };
}

const A = peer('10.0.0.2');
const B = peer('10.0.0.3');
const E1 = peer('10.1.0.1', { ebgp: true });
const E2 = peer('10.1.0.2', { ebgp: true });

function winner(paths: DecisionPath[], cost?: CostFn) {
  const s = select(paths, cost, 1);
  // the result does not depend on the order of the candidates
  const r = select([...paths].reverse(), cost, 1);
  expect(r.best).toBe(s.best);
  return { best: s.best, reason: s.best ? explain(paths, s.best, cost) : null };
}

describe('decision process, step by step', () => {
  it('a single path wins as "only path"', () => {
    const x = path(A, {});
    expect(winner([x])).toEqual({ best: x, reason: 'only path' });
  });

  it('no candidates: no best', () => {
    expect(select([]).best).toBeNull();
  });

  it('locally originated beats any learned path, even with a higher LOCAL_PREF', () => {
    const local = path(peer('local', { local: true, routerId: '10.0.0.1' }), {});
    const x = path(A, { localPref: 500 });
    expect(winner([x, local])).toEqual({ best: local, reason: 'locally originated' });
  });

  it('higher LOCAL_PREF', () => {
    const x = path(A, { localPref: 200, path: '65001 65002 65003' });
    const y = path(B, { localPref: 100, path: '65001' });
    expect(winner([x, y])).toEqual({ best: x, reason: 'higher LOCAL_PREF (200 vs 100)' });
  });

  it('missing LOCAL_PREF counts as the default 100', () => {
    const x = path(E1, { path: '65001' });
    const y = path(A, { localPref: 150, path: '65001 65002' });
    expect(winner([x, y])).toEqual({ best: y, reason: 'higher LOCAL_PREF (150 vs 100)' });
  });

  it('shorter AS_PATH; an AS_SET counts as one', () => {
    const x = path(A, { path: '65001' });
    const y = path(B, { path: '65001 65002' });
    expect(winner([x, y])).toEqual({ best: x, reason: 'shorter AS_PATH (1 vs 2)' });
    const s = path(A, { path: '65001 {65002,65003,65004}' });
    const t = path(B, { path: '65001 65005 65006' });
    expect(winner([s, t])).toEqual({ best: s, reason: 'shorter AS_PATH (2 vs 3)' });
  });

  it('lower ORIGIN', () => {
    const x = path(A, { origin: 2, path: '65001' });
    const y = path(B, { origin: 0, path: '65002' });
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower ORIGIN (IGP vs INCOMPLETE)' });
  });

  it('lower MED between paths from the same neighbour AS', () => {
    const x = path(A, { path: '65001 65010', med: 50 });
    const y = path(B, { path: '65001 65020', med: 10 });
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower MED (10 vs 50)' });
  });

  it('a missing MED is the lowest value', () => {
    const x = path(A, { path: '65001', med: 5 });
    const y = path(B, { path: '65001' });
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower MED (0 vs 5)' });
  });

  it('MED is not compared between different neighbour ASes', () => {
    // A has the higher MED but a lower router ID; with a different neighbour AS MED is skipped
    const x = path(A, { path: '65001', med: 100 });
    const y = path(B, { path: '65002', med: 1 });
    expect(winner([x, y])).toEqual({ best: x, reason: 'lower BGP identifier (10.0.0.2 vs 10.0.0.3)' });
  });

  it('deterministic MED: the result does not depend on arrival order (the classic intransitive triple)', () => {
    // p1 (AS 65001, MED 10, id .4) p2 (AS 65002, MED 0, id .3) p3 (AS 65001, MED 5, id .5)
    // pairwise: p2 beats p1 (ids), p3 beats p1 (MED), p2 beats p3 (ids)… deterministic grouping:
    // AS 65001 → p3 (MED 5); then p3 vs p2 without MED → p2 (lower id)
    const p1 = path(peer('10.0.0.4'), { path: '65001', med: 10 });
    const p2 = path(peer('10.0.0.3'), { path: '65002', med: 0 });
    const p3 = path(peer('10.0.0.5'), { path: '65001', med: 5 });
    const orders = [[p1, p2, p3], [p1, p3, p2], [p2, p1, p3], [p2, p3, p1], [p3, p1, p2], [p3, p2, p1]];
    for (const o of orders) expect(select(o).best).toBe(p2);
    // and a variant where the MED loser would otherwise win on router ID
    const q1 = path(peer('10.0.0.2'), { path: '65001', med: 10 });
    const q2 = path(peer('10.0.0.4'), { path: '65002' });
    const q3 = path(peer('10.0.0.3'), { path: '65001', med: 5 });
    for (const o of [[q1, q2, q3], [q3, q2, q1], [q2, q1, q3]]) expect(select(o).best).toBe(q3);
    // without q3, q1 would win (it beats q2 on router ID): q3 beat q1 on MED
    expect(explain([q1, q2, q3], q3)).toBe('lower MED (5 vs 10)');
  });

  it('eBGP over iBGP', () => {
    const x = path(A, { path: '65001' });
    const y = path(E1, { path: '65001' });
    expect(winner([x, y])).toEqual({ best: y, reason: 'eBGP over iBGP' });
  });

  it('lower IGP cost to the next hop', () => {
    const x = path(A, { path: '65001', nextHop: '192.0.2.1' });
    const y = path(B, { path: '65001', nextHop: '192.0.2.2' });
    const cost: CostFn = (p) => (p.a.nextHop!.address === '192.0.2.1' ? 20 : 10);
    expect(winner([x, y], cost)).toEqual({ best: y, reason: 'lower IGP cost to the next hop (10 vs 20)' });
  });

  it('an unresolvable next hop is not a candidate (9.1.2.1)', () => {
    const x = path(A, { localPref: 300, nextHop: '192.0.2.1' });
    const y = path(B, { nextHop: '192.0.2.2' });
    const cost: CostFn = (p) => (p.a.nextHop!.address === '192.0.2.1' ? undefined : 0);
    expect(winner([x, y], cost)).toEqual({ best: y, reason: 'only path with a resolvable next hop' });
    expect(select([x], cost).best).toBeNull();
  });

  it('lower BGP identifier', () => {
    const x = path(peer('10.0.0.9', { routerId: '1.1.1.1' }), {});
    const y = path(peer('10.0.0.8', { routerId: '2.2.2.2' }), {});
    expect(winner([x, y])).toEqual({ best: x, reason: 'lower BGP identifier (1.1.1.1 vs 2.2.2.2)' });
  });

  it('ORIGINATOR_ID stands in for the BGP identifier (RFC 4456 §9)', () => {
    const x = path(peer('10.0.0.2', { routerId: '1.1.1.1' }), { originatorId: '9.9.9.9', clusterList: ['10.9.9.9'] });
    const y = path(peer('10.0.0.3', { routerId: '5.5.5.5' }), { originatorId: '3.3.3.3', clusterList: ['10.9.9.9'] });
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower ORIGINATOR_ID (3.3.3.3 vs 9.9.9.9)' });
  });

  it('shorter CLUSTER_LIST', () => {
    const x = path(A, { originatorId: '3.3.3.3', clusterList: ['10.9.9.9', '10.8.8.8'] });
    const y = path(B, { originatorId: '3.3.3.3', clusterList: ['10.9.9.9'] });
    expect(winner([x, y])).toEqual({ best: y, reason: 'shorter CLUSTER_LIST (1 vs 2)' });
  });

  it('lower peer address as the final tie-break', () => {
    const x = path(peer('10.0.0.7', { routerId: '1.1.1.1' }), {});
    const y = path(peer('10.0.0.5', { routerId: '1.1.1.1' }), {});
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower peer address (10.0.0.5 vs 10.0.0.7)' });
  });

  it('lower path identifier between ADD-PATH paths of one peer', () => {
    const x = path(A, {}, 7);
    const y = path(A, {}, 3);
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower path identifier (3 vs 7)' });
  });

  it('a path without ORIGINATOR_ID competes with its peer\'s BGP identifier against one with it', () => {
    const plain = path(peer('10.0.0.2', { routerId: '5.5.5.5' }), {});
    const reflected = path(peer('10.0.0.3', { routerId: '1.1.1.1' }), { originatorId: '3.3.3.3', clusterList: ['10.9.9.9'] });
    expect(winner([plain, reflected])).toEqual({ best: reflected, reason: 'lower ORIGINATOR_ID (3.3.3.3 vs 5.5.5.5)' });
    const reflected2 = path(peer('10.0.0.4', { routerId: '1.1.1.1' }), { originatorId: '7.7.7.7', clusterList: ['10.9.9.9'] });
    // the peer's own identifier (1.1.1.1) does not count once ORIGINATOR_ID is there
    expect(winner([plain, reflected2])).toEqual({ best: plain, reason: 'lower ORIGINATOR_ID (5.5.5.5 vs 7.7.7.7)' });
  });

  it('routes from inside the AS (empty AS_PATH) compare MED among themselves', () => {
    const x = path(A, { med: 5 });
    const y = path(B, { med: 1 });
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower MED (1 vs 5)' });
  });

  it('lower ORIGIN: EGP beats INCOMPLETE', () => {
    const x = path(A, { origin: 2, path: '65001' });
    const y = path(B, { origin: 1, path: '65002' });
    expect(winner([x, y])).toEqual({ best: y, reason: 'lower ORIGIN (EGP vs INCOMPLETE)' });
  });

  // Each step outranks every later one: the winner at step k loses on all the steps after it.
  describe('each step outranks the later ones', () => {
    const hi = peer('10.0.0.200', { routerId: '10.0.0.200' });
    const hiE = peer('10.1.0.200', { ebgp: true, routerId: '10.1.0.200' });
    const loE = peer('10.1.0.1', { ebgp: true, routerId: '10.0.0.1' });
    const lo = peer('10.0.0.1', { routerId: '10.0.0.1' });
    const cost: CostFn = (p) => (p.a.nextHop!.address === '192.0.2.10' ? 10 : 1);
    const cases: [string, DecisionPath, DecisionPath, string][] = [
      [
        'LOCAL_PREF over AS_PATH, ORIGIN, MED, eBGP, cost, identifier',
        path(hi, { localPref: 200, path: '65001 65002 65003', origin: 2, med: 99, nextHop: '192.0.2.10' }),
        path(loE, { path: '65001', origin: 0, med: 0, nextHop: '192.0.2.1' }),
        'higher LOCAL_PREF (200 vs 100)',
      ],
      [
        'AS_PATH over ORIGIN, MED, eBGP, cost, identifier',
        path(hi, { path: '65001', origin: 2, med: 99, nextHop: '192.0.2.10' }),
        path(loE, { path: '65001 65002', origin: 0, med: 0, nextHop: '192.0.2.1' }),
        'shorter AS_PATH (1 vs 2)',
      ],
      [
        'ORIGIN over MED, eBGP, cost, identifier',
        path(hi, { path: '65001', origin: 0, med: 99, nextHop: '192.0.2.10' }),
        path(loE, { path: '65001', origin: 1, med: 0, nextHop: '192.0.2.1' }),
        'lower ORIGIN (IGP vs EGP)',
      ],
      [
        'MED over eBGP, cost, identifier',
        path(hi, { path: '65001', med: 1, nextHop: '192.0.2.10' }),
        path(loE, { path: '65001', med: 2, nextHop: '192.0.2.1' }),
        'lower MED (1 vs 2)',
      ],
      ['eBGP over cost, identifier', path(hiE, { path: '65001', nextHop: '192.0.2.10' }), path(lo, { path: '65001', nextHop: '192.0.2.1' }), 'eBGP over iBGP'],
      [
        'cost over identifier, CLUSTER_LIST, address',
        path(hi, { originatorId: '10.9.0.9', clusterList: ['10.8.0.1', '10.8.0.2'], nextHop: '192.0.2.1' }),
        path(lo, { originatorId: '10.9.0.1', clusterList: ['10.8.0.1'], nextHop: '192.0.2.10' }),
        'lower IGP cost to the next hop (1 vs 10)',
      ],
      [
        'identifier over CLUSTER_LIST, address',
        path(hi, { originatorId: '10.9.0.1', clusterList: ['10.8.0.1', '10.8.0.2'], nextHop: '192.0.2.1' }),
        path(lo, { originatorId: '10.9.0.9', clusterList: ['10.8.0.1'], nextHop: '192.0.2.1' }),
        'lower ORIGINATOR_ID (10.9.0.1 vs 10.9.0.9)',
      ],
      [
        'CLUSTER_LIST over address',
        path(hi, { originatorId: '10.9.0.1', clusterList: ['10.8.0.1'], nextHop: '192.0.2.1' }),
        path(lo, { originatorId: '10.9.0.1', clusterList: ['10.8.0.1', '10.8.0.2'], nextHop: '192.0.2.1' }),
        'shorter CLUSTER_LIST (1 vs 2)',
      ],
      [
        'address over path identifier',
        path(peer('10.0.0.5', { routerId: '1.1.1.1' }), { nextHop: '192.0.2.1' }, 9),
        path(peer('10.0.0.6', { routerId: '1.1.1.1' }), { nextHop: '192.0.2.1' }, 1),
        'lower peer address (10.0.0.5 vs 10.0.0.6)',
      ],
    ];
    for (const [name, w, l, reason] of cases)
      it(name, () => {
        expect(winner([l, w], cost)).toEqual({ best: w, reason });
      });
  });

  it('compare reports the deciding step with its sign', () => {
    const x = path(A, { localPref: 200 });
    const y = path(B, {});
    expect(compare(x, y, 0, 0, true)).toBe(Step.LocalPref);
    expect(compare(y, x, 0, 0, true)).toBe(-Step.LocalPref);
    expect(comparePaths(x, x)).toBe(0);
  });
});

describe('multipath', () => {
  it('paths equal through the IGP cost form one set with distinct next hops, best first', () => {
    const x = path(peer('10.0.0.2'), { path: '65001' });
    const y = path(peer('10.0.0.3'), { path: '65001' });
    const z = path(peer('10.0.0.4'), { path: '65001' });
    const s = select([z, y, x], undefined, 8);
    expect(s.best).toBe(x);
    expect(s.multipath).toEqual([x, y, z]);
  });

  it('respects the maximum and 1 disables it', () => {
    const ps = ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map((a) => path(peer(a), {}));
    expect(select(ps, undefined, 2).multipath).toEqual([ps[0], ps[1]]);
    expect(select(ps, undefined, 1).multipath).toBeNull();
  });

  it('excludes paths worse before the IGP cost step, and duplicates of a next hop', () => {
    const x = path(peer('10.0.0.2'), { path: '65001', nextHop: '192.0.2.1' });
    const longer = path(peer('10.0.0.3'), { path: '65001 65002', nextHop: '192.0.2.2' });
    const ext = path(peer('10.1.0.4', { ebgp: true }), { path: '65001', nextHop: '192.0.2.3' });
    const sameNh = path(peer('10.0.0.5'), { path: '65001', nextHop: '192.0.2.1' });
    const costly = path(peer('10.0.0.6'), { path: '65001', nextHop: '192.0.2.6' });
    const cost: CostFn = (p) => (p.a.nextHop!.address === '192.0.2.6' ? 5 : 1);
    const s = select([x, longer, sameNh, costly], cost, 8);
    expect(s.best).toBe(x);
    expect(s.multipath).toBeNull();
    // eBGP beats iBGP, so iBGP paths are not in the eBGP best's set
    expect(select([x, ext], cost, 8).multipath).toBeNull();
  });

  it('paths from different neighbour ASes may share forwarding (MED not compared); a MED loser in its own AS may not', () => {
    const x = path(E1, { path: '65001', med: 10 });
    const y = path(E2, { path: '65002', med: 99 });
    expect(select([x, y], undefined, 8).multipath).toEqual([x, y]);
    const loser = path(peer('10.1.0.3', { ebgp: true }), { path: '65001', med: 50 });
    expect(select([x, y, loser], undefined, 8).multipath).toEqual([x, y]);
  });
});
