// What the RIB needs to know about one interned attribute set, computed once per set and
// shared by every path carrying it: the decision values (effective LOCAL_PREF, AS_PATH
// length, MED, neighbour AS, ORIGINATOR_ID as a number, CLUSTER_LIST length), the import
// guard findings (own AS in AS_PATH, own ORIGINATOR_ID, own CLUSTER_ID), and the next hop
// as the FIB wants it. The table holds sets weakly: facts live exactly as long as their set.
import { AS_SEQUENCE } from '../bgp/codec/constants.js';
import { asPathLength, type PathAttributes } from '../bgp/codec/index.js';
import { ipv4ToNumber } from '../net/ip.js';
import type { NextHop } from './types.js';

export interface RibAttrs {
  readonly attrs: PathAttributes;
  /** LOCAL_PREF, or the default (eBGP-learned paths carry none) */
  readonly localPref: number;
  readonly asLen: number;
  /** ORIGIN; a missing one counts as INCOMPLETE */
  readonly origin: number;
  /** MED; a missing one is the lowest value, 0 (RFC 4271 9.1.2.2 c) */
  readonly med: number;
  /** the leftmost AS of AS_PATH; 0 for an empty path (a route from inside our AS) */
  readonly neighborAs: number;
  /** ORIGINATOR_ID as an unsigned number, or -1 when absent */
  readonly originator: number;
  readonly clusterLen: number;
  /** how often our own AS appears in AS_PATH (eBGP loop check, allowas-in) */
  readonly ownAs: number;
  /** ORIGINATOR_ID is our router ID (RFC 4456 §8) */
  readonly ownOriginator: boolean;
  /** CLUSTER_LIST holds our cluster ID (RFC 4456 §8) */
  readonly ownCluster: boolean;
  /** the next hop for the FIB, or null without one (locally originated) */
  readonly nextHop: NextHop | null;
  /**
   * [nextHop] (frozen), or null: the list a FIB change of a single-path route carries, one per
   * attribute set rather than one per prefix (the FIB recognises it again: src/fib/feed.ts)
   */
  readonly nextHops: readonly NextHop[] | null;
  /** NO_ADVERTISE: to no peer; NO_EXPORT (or NO_EXPORT_SUBCONFED): to no eBGP peer */
  readonly noAdvertise: boolean;
  readonly noExport: boolean;
}

export interface FactsContext {
  readonly asn: number;
  readonly routerId: number;
  readonly clusterId: string | undefined;
  readonly defaultLocalPref: number;
}

const NO_ADVERTISE = 0xffffff02;
const NO_EXPORT = 0xffffff01;
const NO_EXPORT_SUBCONFED = 0xffffff03;

export function computeFacts(a: PathAttributes, ctx: FactsContext): RibAttrs {
  let ownAs = 0;
  let neighborAs = 0;
  const path = a.asPath;
  if (path) {
    for (const s of path) for (const x of s.asns) if (x === ctx.asn) ownAs++;
    const first = path[0];
    if (first && first.type === AS_SEQUENCE) neighborAs = first.asns[0] ?? 0;
  }
  const originator = a.originatorId === undefined ? -1 : (ipv4ToNumber(a.originatorId) ?? -1);
  const cl = a.clusterList;
  const comms = a.communities;
  let noAdvertise = false;
  let noExport = false;
  if (comms) {
    for (const c of comms) {
      if (c === NO_ADVERTISE) noAdvertise = true;
      else if (c === NO_EXPORT || c === NO_EXPORT_SUBCONFED) noExport = true;
    }
  }
  const nh = a.nextHop;
  const nextHop = nh === undefined ? null : Object.freeze({ address: nh, family: nh.includes(':') ? 6 : 4 } as const);
  return Object.freeze({
    attrs: a,
    localPref: a.localPref ?? ctx.defaultLocalPref,
    asLen: path ? asPathLength(path) : 0,
    origin: a.origin ?? 2,
    med: a.med ?? 0,
    neighborAs,
    originator,
    clusterLen: cl ? cl.length : 0,
    ownAs,
    ownOriginator: originator !== -1 && originator === ctx.routerId,
    ownCluster: ctx.clusterId !== undefined && cl !== undefined && cl.includes(ctx.clusterId),
    nextHop,
    nextHops: nextHop === null ? null : Object.freeze([nextHop]),
    noAdvertise,
    noExport,
  } satisfies RibAttrs);
}

/** Facts per interned set, held weakly, with a one-entry front cache (UPDATEs repeat one set). */
export class FactsTable {
  #map = new WeakMap<PathAttributes, RibAttrs>();
  #lastKey: PathAttributes | undefined;
  #last: RibAttrs | undefined;
  constructor(readonly ctx: FactsContext) {}

  get(a: PathAttributes): RibAttrs {
    if (a === this.#lastKey) return this.#last!;
    let f = this.#map.get(a);
    if (f === undefined) {
      f = computeFacts(a, this.ctx);
      this.#map.set(a, f);
    }
    this.#lastKey = a;
    this.#last = f;
    return f;
  }
}
