// Snapshots of the Loc-RIB for /api/v1/routes and `routelet routes`, in the RouteView and
// PathView shapes of src/api/types.ts. Routes are produced one at a time (a million routes
// are never materialised together): only the sorted prefix keys are copied up front, and a
// prefix that disappears while the caller streams is skipped.
import type { PathView, RouteView } from '../api/types.js';
import { formatAsPath, formatCommunity, formatLargeCommunity } from '../bgp/codec/index.js';
import { ipv4ToNumber, parseIP } from '../net/ip.js';
import { formatPrefix, parsePrefix, type Prefix, prefix4, prefix6, type Prefix6 } from '../net/prefix.js';
import { comparePaths, type CostFn, explain } from './decision.js';
import type { LocRib } from './locrib.js';
import { type Dest, type Path, pathsOf } from './model.js';
import type { RejectedPath, RejectedPaths } from './rejected.js';

export interface RouteQuery {
  /** exact prefix (`10.0.0.0/24`), or an address: the longest prefix covering it */
  readonly prefix?: string;
}

/** The kernel state of a prefix as the FIB reports it: `installed`, `pending` or `failed: REASON`. */
export type KernelState = (prefix: Prefix) => string;

const ORIGINS = ['IGP', 'EGP', 'INCOMPLETE'] as const;

function pathView(x: Path, d: Dest, paths: readonly Path[], cost: CostFn): PathView {
  const a = x.a.attrs;
  const v4 = typeof x.prefix === 'number';
  const best = d.best === x;
  return {
    nextHop: a.nextHop ?? (v4 ? '0.0.0.0' : '::'),
    peer: x.peer.local ? 'local' : x.peer.address,
    asPath: a.asPath ? formatAsPath(a.asPath) : '',
    origin: ORIGINS[x.a.origin] ?? 'INCOMPLETE',
    localPref: x.a.localPref,
    med: a.med ?? null,
    communities: a.communities ? a.communities.map(formatCommunity) : [],
    largeCommunities: a.largeCommunities ? a.largeCommunities.map(formatLargeCommunity) : [],
    originatorId: a.originatorId ?? null,
    clusterList: a.clusterList ? [...a.clusterList] : [],
    best,
    stale: x.stale,
    bestReason: best ? explain(paths, x, cost) : null,
    multipath: d.mp !== null && d.mp.includes(x),
  };
}

/** A path import sanity rejected: the PathView shape, never best, with `rejected`. */
function rejectedView(x: RejectedPath): PathView {
  const a = x.attrs;
  const v4 = typeof x.prefix === 'number';
  return {
    nextHop: a.nextHop ?? (v4 ? '0.0.0.0' : '::'),
    peer: x.peer.address,
    asPath: a.asPath ? formatAsPath(a.asPath) : '',
    origin: ORIGINS[a.origin ?? 2] ?? 'INCOMPLETE',
    localPref: a.localPref ?? null,
    med: a.med ?? null,
    communities: a.communities ? a.communities.map(formatCommunity) : [],
    largeCommunities: a.largeCommunities ? a.largeCommunities.map(formatLargeCommunity) : [],
    originatorId: a.originatorId ?? null,
    clusterList: a.clusterList ? [...a.clusterList] : [],
    best: false,
    stale: false,
    bestReason: null,
    multipath: false,
    rejected: x.rejection.reason,
  };
}

/**
 * One route: best first, then the rest of the multipath set, then the others in decision
 * order, then the paths import sanity rejected. Without a destination (only rejected paths)
 * the kernel state is `none`: nothing is to be installed.
 */
export function routeView(p: Prefix, d: Dest | undefined, cost: CostFn, kernel: KernelState, rejected: readonly RejectedPath[] = []): RouteView {
  const paths = d ? pathsOf(d) : [];
  const out: PathView[] = [];
  if (d && paths.length) {
    const rank = (x: Path): number => (x === d.best ? 0 : d.mp?.includes(x) ? 1 : cost(x) === undefined ? 3 : 2);
    const ordered = [...paths].sort((a, b) => rank(a) - rank(b) || -comparePaths(a, b, cost));
    for (const x of ordered) out.push(pathView(x, d, paths, cost));
  }
  for (const x of rejected) out.push(rejectedView(x));
  return { prefix: formatPrefix(p), paths: out, kernel: d && paths.length ? kernel(p) : 'none' };
}

function compare6(a: Prefix6, b: Prefix6): number {
  const x = a.slice(1);
  const y = b.slice(1);
  return x < y ? -1 : x > y ? 1 : a.charCodeAt(0) - b.charCodeAt(0);
}

/** The destination a query names: exact prefix, or the longest match for an address. */
export function lookup(loc: LocRib, q: string): [Prefix, Dest] | undefined {
  const text = q.trim();
  if (text.includes('/')) {
    const p = parsePrefix(text);
    if (p === undefined) throw new RangeError(`invalid prefix ${JSON.stringify(q)}: expected a prefix such as 10.0.0.0/24 (no host bits) or an address`);
    const d = loc.getLive(p);
    return d && [p, d];
  }
  const ip = parseIP(text);
  if (!ip) throw new RangeError(`invalid prefix ${JSON.stringify(q)}: expected a prefix such as 10.0.0.0/24 or an address`);
  if (ip.family === 4) {
    const n = ipv4ToNumber(text)!;
    for (let len = 32; len >= 0; len--) {
      const p = prefix4(n, len);
      const d = loc.v4.get(p);
      if (d && d.paths !== null) return [p, d];
    }
    return undefined;
  }
  for (let len = 128; len >= 0; len--) {
    const p = prefix6(ip.bytes, len);
    const d = loc.v6.get(p);
    if (d && d.paths !== null) return [p, d];
  }
  return undefined;
}

/**
 * Every route (IPv4 then IPv6, in address order), or the one the query names. A query that
 * is not a prefix or an address throws RangeError here, before anything is produced.
 */
export function routeViews(loc: LocRib, cost: CostFn, query: RouteQuery, kernel: KernelState, rejected?: RejectedPaths): Iterable<RouteView> {
  if (query.prefix !== undefined) {
    const hit = lookup(loc, query.prefix);
    if (hit) return [routeView(hit[0], hit[1], cost, kernel, rejected?.at(hit[0]))];
    // an exact prefix that only rejected paths hold
    const p = query.prefix.includes('/') ? parsePrefix(query.prefix.trim()) : undefined;
    const r = p !== undefined ? rejected?.at(p) : undefined;
    return r?.length ? [routeView(p!, undefined, cost, kernel, r)] : [];
  }
  return allRoutes(loc, cost, kernel, rejected);
}

function* allRoutes(loc: LocRib, cost: CostFn, kernel: KernelState, rejected: RejectedPaths | undefined): Generator<RouteView> {
  let keys4 = loc.v4.keys();
  const keys6 = [...loc.v6.keys()];
  if (rejected && rejected.size) {
    const extra4: number[] = [];
    for (const p of rejected.prefixes()) {
      if (typeof p === 'number') {
        if (loc.v4.get(p) === undefined) extra4.push(p);
      } else if (loc.v6.get(p) === undefined) keys6.push(p);
    }
    if (extra4.length) {
      const all = new Float64Array(keys4.length + extra4.length);
      all.set(keys4);
      all.set(extra4, keys4.length);
      keys4 = all;
    }
  }
  keys4.sort();
  keys6.sort(compare6);
  for (const p of keys4) {
    const d = loc.v4.get(p);
    const r = rejected?.at(p) ?? [];
    if ((d && d.paths !== null) || r.length) yield routeView(p, d && d.paths !== null ? d : undefined, cost, kernel, r);
  }
  for (const p of keys6) {
    const d = loc.v6.get(p);
    const r = rejected?.at(p) ?? [];
    if ((d && d.paths !== null) || r.length) yield routeView(p, d && d.paths !== null ? d : undefined, cost, kernel, r);
  }
}
