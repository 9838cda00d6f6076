// Random announcements and withdrawals from several peers of every kind: after each flush
// the Loc-RIB best path and multipath set equal a brute-force RFC 4271 9.1.2.2 elimination
// written here independently, and what every peer decoded from its stream equals what it
// should have been advertised, as many routes as its advertised count says. Withdrawing
// everything empties the Loc-RIB and every Adj-RIB-Out.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PathAttributes } from '../../src/bgp/codec/index.js';
import { ipv4ToNumber } from '../../src/net/ip.js';
import { formatPrefix } from '../../src/net/prefix.js';
import type { PeerHandle } from '../../src/rib/index.js';
import { attrs, fibState, harness, P } from './helpers.js';

interface PeerSpec {
  address: string;
  asn: number;
  client: boolean;
  routerId: string;
}

const PEERS: PeerSpec[] = [
  { address: '10.0.0.11', asn: 65000, client: true, routerId: '10.255.0.11' },
  { address: '10.0.0.12', asn: 65000, client: true, routerId: '10.255.0.12' },
  { address: '10.0.0.13', asn: 65000, client: true, routerId: '10.255.0.13' },
  { address: '10.0.0.14', asn: 65000, client: false, routerId: '10.255.0.14' },
  { address: '10.1.0.15', asn: 65010, client: false, routerId: '10.255.0.15' },
  { address: '10.1.0.16', asn: 65020, client: false, routerId: '10.255.0.16' },
];
// IPv4 and IPv6 prefixes; an IPv6 path uses the IPv6 twin of the chosen next hop
const PREFIXES = [...Array.from({ length: 4 }, (_, i) => P(`10.65.${i}.0/24`)), P('fd00:65::/64'), P('fd00:66::/64')];
const isV6 = (k: number) => typeof PREFIXES[k] === 'string';
const nh6 = (v4: string) => `fd00:2::${v4.split('.')[3]}`;
const MAX_PATHS = 3;
const CLUSTER = '10.0.0.100';
const SELF = '10.0.0.1';
const SELF6 = 'fd00::1';

const attrArb = fc.record({
  localPref: fc.constantFrom(undefined, 100, 200),
  path: fc.constantFrom('', '65001', '65002', '65001 65002', '65003 65001', '65002 65009'),
  med: fc.constantFrom(undefined, 0, 10, 20),
  origin: fc.constantFrom(0, 0, 1, 2),
  nextHop: fc.constantFrom('192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'),
  originatorId: fc.constantFrom(undefined, undefined, '10.255.9.9', '10.255.0.1'),
  clusterList: fc.constantFrom(undefined, undefined, ['10.0.0.200']),
});

/** Few distinct values: the late tie-breaks (ORIGINATOR_ID, CLUSTER_LIST, address) decide often. */
const tieArb = fc.record({
  localPref: fc.constant(undefined),
  path: fc.constantFrom('', '65001'),
  med: fc.constantFrom(undefined, 0),
  origin: fc.constant(0),
  nextHop: fc.constantFrom('192.0.2.1', '192.0.2.2', '192.0.2.3'),
  originatorId: fc.constantFrom(undefined, '10.255.9.9', '10.255.0.1'),
  clusterList: fc.constantFrom(undefined, ['10.0.0.200'], ['10.0.0.200', '10.0.0.201']),
});

type AttrChoice = typeof attrArb extends fc.Arbitrary<infer T> ? T : never;

type Op =
  | { kind: 'announce'; peer: number; prefix: number; a: AttrChoice }
  | { kind: 'withdraw'; peer: number; prefix: number }
  | { kind: 'flush' }
  | { kind: 'bounce'; peer: number };

const opsOf = (a: fc.Arbitrary<AttrChoice>): fc.Arbitrary<Op> => fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('announce' as const), peer: fc.nat(PEERS.length - 1), prefix: fc.nat(PREFIXES.length - 1), a }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), peer: fc.nat(PEERS.length - 1), prefix: fc.nat(PREFIXES.length - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bounce' as const), peer: fc.nat(PEERS.length - 1) }) },
);

interface Cand {
  peer: number;
  a: PathAttributes;
}

const ebgp = (i: number) => PEERS[i]!.asn !== 65000;
const asLen = (a: PathAttributes) => (a.asPath ?? []).reduce((n, s) => n + s.asns.length, 0);
const neighbour = (a: PathAttributes) => a.asPath?.[0]?.asns[0] ?? 0;
const bgpId = (c: Cand) => ipv4ToNumber(c.a.originatorId ?? PEERS[c.peer]!.routerId)!;
const addr = (c: Cand) => ipv4ToNumber(PEERS[c.peer]!.address)!;

/** RFC 4271 9.1.2.2 by elimination, with RFC 4456 §9; returns the survivors before the tie-breaks, best first. */
function bruteForce(cands: Cand[]): Cand[] {
  let s = cands;
  const keepMax = (f: (c: Cand) => number) => {
    const m = Math.max(...s.map(f));
    s = s.filter((c) => f(c) === m);
  };
  keepMax((c) => c.a.localPref ?? 100);
  keepMax((c) => -asLen(c.a));
  keepMax((c) => -(c.a.origin ?? 2));
  s = s.filter((c) => !s.some((d) => neighbour(d.a) === neighbour(c.a) && (d.a.med ?? 0) < (c.a.med ?? 0)));
  if (s.some((c) => ebgp(c.peer))) s = s.filter((c) => ebgp(c.peer));
  return [...s].sort((x, y) => bgpId(x) - bgpId(y) || (x.a.clusterList?.length ?? 0) - (y.a.clusterList?.length ?? 0) || addr(x) - addr(y));
}

/** Whether a path from peer `from` goes to peer `to` (reflector mode; split horizon: never back to `from`). */
function advertised(from: number, to: number): boolean {
  if (from === to) return false;
  if (ebgp(from) || ebgp(to)) return true;
  return PEERS[from]!.client || PEERS[to]!.client;
}

function run(ops: Op[]): void {
  const h = harness({ clusterId: CLUSTER, ecmpMaxPaths: MAX_PATHS });
  const handles: PeerHandle[] = PEERS.map((p) => h.peer({ address: p.address, asn: p.asn, routeReflectorClient: p.client }));
  const up = (i: number) => h.up(handles[i]!, { routerId: PEERS[i]!.routerId, families: [4, 6], localAddress: SELF, nextHop6: SELF6 });
  PEERS.forEach((_, i) => up(i));
  // the model: peer → prefix → attributes (what the RIB should hold after the guards)
  const model = PEERS.map(() => new Map<number, PathAttributes>());

  const check = () => {
    h.flush();
    const fib = fibState(h);
    for (let k = 0; k < PREFIXES.length; k++) {
      const p = PREFIXES[k]!;
      const cands: Cand[] = [];
      model.forEach((m, peer) => {
        const a = m.get(k);
        if (a) cands.push({ peer, a });
      });
      const route = [...h.rib.routes({ prefix: formatPrefix(p) })][0];
      if (cands.length === 0) {
        expect(route).toBeUndefined();
        expect(fib.has(formatPrefix(p))).toBe(false);
        for (const r of h.receivers.values()) expect(r.table.has(formatPrefix(p))).toBe(false);
        continue;
      }
      const ranked = bruteForce(cands);
      const best = ranked[0]!;
      const ribBest = route!.paths.find((x) => x.best)!;
      expect(ribBest.peer).toBe(PEERS[best.peer]!.address);
      // multipath: the survivors, one per next hop, at most MAX_PATHS
      const hops: string[] = [];
      for (const c of ranked) if (!hops.includes(c.a.nextHop!) && hops.length < MAX_PATHS) hops.push(c.a.nextHop!);
      expect(fib.get(formatPrefix(p))).toBe(hops.join(','));
      // every peer's decoded table
      PEERS.forEach((_, to) => {
        const got = h.rx(handles[to]!).table.get(formatPrefix(p));
        if (!advertised(best.peer, to)) return expect(got).toBeUndefined();
        expect(got).toBeDefined();
        if (ebgp(to)) expect(got!.nextHop).toBe(isV6(k) ? SELF6 : SELF);
        else {
          expect(got!.nextHop).toBe(best.a.nextHop);
          if (!ebgp(best.peer)) {
            expect(got!.originatorId).toBe(best.a.originatorId ?? PEERS[best.peer]!.routerId);
            expect(got!.clusterList).toEqual([CLUSTER, ...(best.a.clusterList ?? [])]);
          }
        }
      });
    }
    // the decoded tables hold nothing else, and match the Adj-RIB-Out
    PEERS.forEach((_, to) => {
      const out = [...h.rib.adjRibOut(handles[to]!)].map(([p, a]) => `${formatPrefix(p)} ${a.nextHop}`).sort();
      const rx = [...h.rx(handles[to]!).table].map(([p, a]) => `${p} ${a.nextHop}`).sort();
      expect(rx).toEqual(out);
      // the count of what it was advertised, kept as the flushes go (UpdateGroup.fromPeer)
      expect(h.rib.peerCounts(handles[to]!).advertised).toBe(out.length);
    });
  };

  for (const op of ops) {
    if (op.kind === 'flush') check();
    else if (op.kind === 'bounce') {
      h.rib.peerDown(handles[op.peer]!);
      model[op.peer]!.clear();
      up(op.peer);
    } else if (op.kind === 'withdraw') {
      h.rib.withdraw(handles[op.peer]!, [PREFIXES[op.prefix]!]);
      model[op.peer]!.delete(op.prefix);
    } else {
      const e = ebgp(op.peer);
      // what a session of this kind can carry: eBGP drops LOCAL_PREF and the RR attributes
      const a = attrs({
        ...op.a,
        nextHop: isV6(op.prefix) ? nh6(op.a.nextHop) : op.a.nextHop,
        path: e ? `${PEERS[op.peer]!.asn} ${op.a.path}`.trim() : op.a.path,
        localPref: e ? undefined : op.a.localPref,
        originatorId: e ? undefined : op.a.originatorId,
        clusterList: e ? undefined : op.a.clusterList,
      });
      h.rib.announce(handles[op.peer]!, isV6(op.prefix) ? 6 : 4, [PREFIXES[op.prefix] as never], null, a);
      model[op.peer]!.set(op.prefix, a);
    }
  }
  check();
  // withdraw everything: the Loc-RIB and every Adj-RIB-Out empty out
  handles.forEach((p) => {
    h.rib.withdraw(p, PREFIXES.filter((x) => typeof x === 'number') as number[]);
    h.rib.withdraw(p, PREFIXES.filter((x) => typeof x === 'string') as string[]);
  });
  h.flush();
  expect(h.rib.stats.prefixes).toBe(0);
  expect(h.rib.stats.paths).toBe(0);
  for (const p of handles) {
    expect([...h.rib.adjRibOut(p)]).toEqual([]);
    expect(h.rx(p).table.size).toBe(0);
    expect(h.rib.peerCounts(p)).toMatchObject({ received: 0, accepted: 0, advertised: 0 });
  }
  expect(fibState(h).size).toBe(0);
}

describe('RIB against a brute-force model', () => {
  it('random announcements and withdrawals from several peers', () => {
    fc.assert(
      fc.property(fc.array(opsOf(attrArb), { minLength: 1, maxLength: 80 }), (ops) => run(ops)),
      { numRuns: 150 },
    );
  });

  it('the same with many ties, so the late tie-breaks decide', () => {
    fc.assert(
      fc.property(fc.array(opsOf(tieArb as fc.Arbitrary<AttrChoice>), { minLength: 1, maxLength: 60 }), (ops) => run(ops)),
      { numRuns: 150 },
    );
  });
});
