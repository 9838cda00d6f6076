// What a best path becomes when advertised to one kind of peer (RFC 4271 §5, RFC 4456):
//
//   to eBGP   next-hop-self, our AS prepended, no LOCAL_PREF, no MED (a MED learned from
//             another AS is not passed on, RFC 4271 5.1.4; we set none ourselves), no
//             ORIGINATOR_ID or CLUSTER_LIST; NO_EXPORT and NO_ADVERTISE routes are not sent.
//   to iBGP   the next hop is kept (as Calico does) and LOCAL_PREF is set; iBGP-learned paths
//             go only to RR clients (from non-clients) or to everyone (from clients), and
//             only in reflector mode, with ORIGINATOR_ID set when absent and our CLUSTER_ID
//             prepended. Without a cluster ID, iBGP-learned paths go to no iBGP peer.
//   originated  ORIGIN IGP, next hop = the session's address, to every peer.
//
// Results are interned, so equal outputs are one object that the update group buckets by
// identity, and memoised per (source peer, source attribute set) in each group.
import { AS_SEQUENCE } from '../bgp/codec/constants.js';
import { type AsPath, type AsPathSegment, type AttributeInterner, type PathAttributes } from '../bgp/codec/index.js';
import type { Family, GroupRole } from './types.js';
import type { Path, RibPeer } from './model.js';
import type { Logger } from '../log.js';

export interface ExportContext {
  readonly asn: number;
  readonly clusterId: string | undefined;
  readonly interner: AttributeInterner;
  /** for rare events only */
  readonly log?: Logger | undefined;
}

export interface GroupTarget {
  readonly role: GroupRole;
  /** next-hop-self per family; undefined: this group cannot carry that family with next-hop-self */
  readonly nextHop4: string | undefined;
  readonly nextHop6: string | undefined;
}

/** Whether a path from `src` may go to a group of this role at all (before attributes). */
export function eligible(src: RibPeer, role: GroupRole, reflector: boolean): boolean {
  if (src.local || src.ebgp) return true;
  if (role === 'ebgp') return true;
  if (!reflector) return false;
  // iBGP-learned, reflector: from a client to all iBGP peers; from a non-client to clients
  return src.routeReflectorClient || role === 'client';
}

export function prependAs(path: AsPath | undefined, asn: number): AsPath {
  const first = path?.[0];
  const rest = path ?? [];
  if (first && first.type === AS_SEQUENCE && first.asns.length < 255) {
    const seg: AsPathSegment = Object.freeze({ type: AS_SEQUENCE, asns: Object.freeze([asn, ...first.asns]) });
    return Object.freeze([seg, ...rest.slice(1)]);
  }
  return Object.freeze([Object.freeze({ type: AS_SEQUENCE, asns: Object.freeze([asn]) }) as AsPathSegment, ...rest]);
}

/** The attributes `p` is advertised with to a group, or null when it is not advertised. */
export function exportAttrs(p: Path, family: Family, g: GroupTarget, ctx: ExportContext): PathAttributes | null {
  const src = p.peer;
  const f = p.a;
  const a = f.attrs;
  if (f.noAdvertise) return null;
  const reflector = ctx.clusterId !== undefined;
  if (!eligible(src, g.role, reflector)) return null;
  const self = family === 4 ? g.nextHop4 : g.nextHop6;
  if (g.role === 'ebgp') {
    if (f.noExport || self === undefined) return null;
    return ctx.interner.intern({
      ...a,
      asPath: prependAs(a.asPath, ctx.asn),
      nextHop: self,
      linkLocalNextHop: undefined,
      localPref: undefined,
      med: undefined,
      originatorId: undefined,
      clusterList: undefined,
    });
  }
  if (src.local) {
    if (self === undefined) return null;
    return ctx.interner.intern({ ...a, nextHop: self, linkLocalNextHop: undefined, localPref: f.localPref });
  }
  if (src.ebgp) {
    // the next hop stays; a link-local second address is only good on the eBGP link
    if (a.localPref === f.localPref && a.linkLocalNextHop === undefined) return a;
    return ctx.interner.intern({ ...a, localPref: f.localPref, linkLocalNextHop: undefined });
  }
  // reflection (RFC 4456 §8)
  return ctx.interner.intern({
    ...a,
    localPref: f.localPref,
    originatorId: a.originatorId ?? src.routerId,
    clusterList: [ctx.clusterId!, ...(a.clusterList ?? [])],
  });
}
