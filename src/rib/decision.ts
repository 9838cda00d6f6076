// The decision process (RFC 4271 9.1.2 with the RFC 4456 §9 changes), pure and alone.
//
// Order of the steps (the first difference decides):
//   1  locally originated (this node's own prefixes win over anything learned)
//   2  higher LOCAL_PREF (the degree of preference, 9.1.1; default for eBGP-learned paths)
//   3  shorter AS_PATH (an AS_SET counts 1)
//   4  lower ORIGIN (IGP < EGP < INCOMPLETE)
//   5  lower MED — only between paths from the same neighbour AS
//   6  eBGP over iBGP
//   7  lower IGP cost to the next hop (9.1.2.1: unresolvable next hops are not candidates)
//   8  lower BGP identifier, with ORIGINATOR_ID in place of the peer's identifier (RFC 4456 §9)
//   9  shorter CLUSTER_LIST (RFC 4456 §9)
//  10  lower peer address
//  11  lower path identifier (ADD-PATH: several paths from one peer)
//
// MED is deterministic: candidates are grouped by neighbour AS, each group's best is found
// with MED, and the group winners are compared without it. The result does not depend on
// the order the paths arrived in (it equals RFC 4271's elimination of 9.1.2.2 c).
//
// Multipath: paths equal to the best through step 7 (and not beaten on MED inside their
// own neighbour-AS group) form the set, one path per distinct next hop, best first.
import type { RibAttrs } from './attrs.js';
import { numberToIPv4 } from '../net/ip.js';

export interface DecisionPeer {
  readonly local: boolean;
  readonly ebgp: boolean;
  /** BGP identifier as an unsigned number */
  readonly routerIdNum: number;
  /** sortable form of the peer address (family octet + address octets, latin1) */
  readonly addressKey: string;
  readonly address: string;
}

export interface DecisionPath {
  readonly peer: DecisionPeer;
  readonly pathId: number;
  readonly a: RibAttrs;
}

/** IGP cost to a path's next hop, or undefined when the next hop is not resolvable. */
export type CostFn = (p: DecisionPath) => number | undefined;

export const ZERO_COST: CostFn = () => 0;

export const Step = {
  Local: 1,
  LocalPref: 2,
  AsPath: 3,
  Origin: 4,
  Med: 5,
  External: 6,
  IgpCost: 7,
  RouterId: 8,
  ClusterList: 9,
  PeerAddress: 10,
  PathId: 11,
} as const;

/** The multipath cut: paths equal through this step may share forwarding. */
const MULTIPATH_THROUGH = Step.IgpCost;

const bgpId = (p: DecisionPath): number => (p.a.originator >= 0 ? p.a.originator : p.peer.routerIdNum);

/**
 * Compare two candidates: > 0 when `a` is better, < 0 when `b` is, the magnitude being the
 * step that decided; 0 only for the same path. `withMed`: compare MED (same neighbour AS).
 */
export function compare(a: DecisionPath, b: DecisionPath, ca: number, cb: number, withMed: boolean): number {
  if (a.peer.local !== b.peer.local) return a.peer.local ? Step.Local : -Step.Local;
  const x = a.a;
  const y = b.a;
  if (x !== y) {
    if (x.localPref !== y.localPref) return x.localPref > y.localPref ? Step.LocalPref : -Step.LocalPref;
    if (x.asLen !== y.asLen) return x.asLen < y.asLen ? Step.AsPath : -Step.AsPath;
    if (x.origin !== y.origin) return x.origin < y.origin ? Step.Origin : -Step.Origin;
    if (withMed && x.med !== y.med) return x.med < y.med ? Step.Med : -Step.Med;
  }
  if (a.peer.ebgp !== b.peer.ebgp) return a.peer.ebgp ? Step.External : -Step.External;
  if (ca !== cb) return ca < cb ? Step.IgpCost : -Step.IgpCost;
  const ia = bgpId(a);
  const ib = bgpId(b);
  if (ia !== ib) return ia < ib ? Step.RouterId : -Step.RouterId;
  if (x.clusterLen !== y.clusterLen) return x.clusterLen < y.clusterLen ? Step.ClusterList : -Step.ClusterList;
  if (a.peer !== b.peer && a.peer.addressKey !== b.peer.addressKey) return a.peer.addressKey < b.peer.addressKey ? Step.PeerAddress : -Step.PeerAddress;
  if (a.pathId !== b.pathId) return a.pathId < b.pathId ? Step.PathId : -Step.PathId;
  return 0;
}

/** Whether MED is compared between two paths: the same neighbour AS. */
export const sameNeighbor = (a: DecisionPath, b: DecisionPath): boolean => a.a.neighborAs === b.a.neighborAs;

/** Full comparison of two candidates as the decision process orders them. */
export function comparePaths(a: DecisionPath, b: DecisionPath, cost: CostFn = ZERO_COST): number {
  return compare(a, b, cost(a) ?? 0, cost(b) ?? 0, sameNeighbor(a, b));
}

export interface Selection<P extends DecisionPath> {
  best: P | null;
  /** the multipath set (best first) when it has more than one path; else null */
  multipath: P[] | null;
}

const EMPTY: Selection<never> = Object.freeze({ best: null, multipath: null }) as Selection<never>;

/** Select the best path and the multipath set among `paths`. */
export function select<P extends DecisionPath>(paths: readonly P[], cost: CostFn = ZERO_COST, maxPaths = 1): Selection<P> {
  const n = paths.length;
  if (n === 0) return EMPTY;
  const cands: P[] = [];
  const costs: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = paths[i]!;
    const c = cost(p);
    if (c === undefined) continue;
    cands.push(p);
    costs.push(c);
  }
  const m = cands.length;
  if (m === 0) return EMPTY;
  if (m === 1) return { best: cands[0]!, multipath: null };

  // per neighbour AS: the best of the group, MED included
  const groupAs: number[] = [];
  const groupWin: number[] = [];
  const groupOf = new Array<number>(m);
  for (let i = 0; i < m; i++) {
    const na = cands[i]!.a.neighborAs;
    let g = groupAs.indexOf(na);
    if (g < 0) {
      g = groupAs.length;
      groupAs.push(na);
      groupWin.push(i);
    } else {
      const w = groupWin[g]!;
      if (compare(cands[i]!, cands[w]!, costs[i]!, costs[w]!, true) > 0) groupWin[g] = i;
    }
    groupOf[i] = g;
  }
  // the group winners, without MED
  let bi = groupWin[0]!;
  for (let g = 1; g < groupWin.length; g++) {
    const w = groupWin[g]!;
    if (compare(cands[w]!, cands[bi]!, costs[w]!, costs[bi]!, false) > 0) bi = w;
  }
  const best = cands[bi]!;
  if (maxPaths <= 1) return { best, multipath: null };

  // multipath: equal to the best through the IGP cost, and to their own group's winner
  const equal: number[] = [];
  for (let i = 0; i < m; i++) {
    if (i === bi) continue;
    const p = cands[i]!;
    const c = Math.abs(compare(best, p, costs[bi]!, costs[i]!, sameNeighbor(best, p)));
    if (c !== 0 && c <= MULTIPATH_THROUGH) continue;
    const w = groupWin[groupOf[i]!]!;
    if (w !== i) {
      const cw = Math.abs(compare(cands[w]!, p, costs[w]!, costs[i]!, true));
      if (cw !== 0 && cw <= MULTIPATH_THROUGH) continue;
    }
    if (p.a.nextHop === null) continue;
    equal.push(i);
  }
  if (equal.length === 0 || best.a.nextHop === null) return { best, multipath: null };
  // deterministic order: the decision's own order among the equals
  equal.sort((i, j) => -compare(cands[i]!, cands[j]!, costs[i]!, costs[j]!, sameNeighbor(cands[i]!, cands[j]!)));
  const set: P[] = [best];
  const seen = new Set<string>([best.a.nextHop.address]);
  for (const i of equal) {
    if (set.length >= maxPaths) break;
    const p = cands[i]!;
    const addr = p.a.nextHop!.address;
    if (seen.has(addr)) continue;
    seen.add(addr);
    set.push(p);
  }
  return { best, multipath: set.length > 1 ? set : null };
}

const ORIGIN_NAMES = ['IGP', 'EGP', 'INCOMPLETE'];
const originName = (o: number): string => ORIGIN_NAMES[o] ?? String(o);

/** Why `w` beat `l` at `step`, in words. */
export function describeStep(step: number, w: DecisionPath, l: DecisionPath, cw: number, cl: number): string {
  switch (step) {
    case Step.Local:
      return 'locally originated';
    case Step.LocalPref:
      return `higher LOCAL_PREF (${w.a.localPref} vs ${l.a.localPref})`;
    case Step.AsPath:
      return `shorter AS_PATH (${w.a.asLen} vs ${l.a.asLen})`;
    case Step.Origin:
      return `lower ORIGIN (${originName(w.a.origin)} vs ${originName(l.a.origin)})`;
    case Step.Med:
      return `lower MED (${w.a.med} vs ${l.a.med})`;
    case Step.External:
      return 'eBGP over iBGP';
    case Step.IgpCost:
      return `lower IGP cost to the next hop (${cw} vs ${cl})`;
    case Step.RouterId: {
      const what = w.a.originator >= 0 || l.a.originator >= 0 ? 'ORIGINATOR_ID' : 'BGP identifier';
      return `lower ${what} (${numberToIPv4(bgpId(w))} vs ${numberToIPv4(bgpId(l))})`;
    }
    case Step.ClusterList:
      return `shorter CLUSTER_LIST (${w.a.clusterLen} vs ${l.a.clusterLen})`;
    case Step.PeerAddress:
      return `lower peer address (${w.peer.address} vs ${l.peer.address})`;
    case Step.PathId:
      return `lower path identifier (${w.pathId} vs ${l.pathId})`;
    default:
      return 'equal';
  }
}

/**
 * Why `best` won among `paths`: the step at which it beats the runner-up (the path the
 * decision would pick without it), in words. "only path" when nothing else competes.
 */
export function explain<P extends DecisionPath>(paths: readonly P[], best: P, cost: CostFn = ZERO_COST): string {
  const rest = paths.filter((p) => p !== best);
  if (rest.length === 0) return 'only path';
  const runner = select(rest, cost, 1).best;
  if (runner === null) return 'only path with a resolvable next hop';
  const cb = cost(best) ?? 0;
  const cr = cost(runner) ?? 0;
  const step = Math.abs(compare(best, runner, cb, cr, sameNeighbor(best, runner)));
  return describeStep(step, best, runner, cb, cr);
}
