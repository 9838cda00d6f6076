// The Adj-RIB-In side: an UPDATE's announcements and withdrawals per peer, through import
// policy and the guards (AS_PATH loop for eBGP with allowas-in, own ORIGINATOR_ID, own
// CLUSTER_ID), into paths keyed by (peer, prefix, path ID) in the Loc-RIB destinations;
// rejected prefixes are remembered only to count them; the maximum-prefix check. Before all
// of that, import sanity (sanity.ts): a path it rejects is kept aside with its reason
// (rejected.ts), visible in the route views and never in the decision.
import type { PathAttributes } from '../bgp/codec/index.js';
import type { Prefix, Prefix6 } from '../net/prefix.js';
import type { Logger } from '../log.js';
import type { FactsTable, RibAttrs } from './attrs.js';
import type { LocRib } from './locrib.js';
import { newPath, type Path, type RibPeer } from './model.js';
import type { Family, UpdateOutcome } from './types.js';
import { RejectedPaths } from './rejected.js';
import { checkPrefix, LocalAddresses, nextHopProblem, type Rejection } from './sanity.js';

/** The peer holds more than `limit` prefixes: the RIB says so; the session sends the Cease. */
export function maxPrefixOutcome(family: Family, limit: number): UpdateOutcome {
  return { type: 'max-prefixes', family, limit };
}

export class AdjRibIn {
  /** the paths import sanity rejected, kept for the views */
  readonly insane = new RejectedPaths();

  constructor(
    private readonly loc: LocRib,
    private readonly facts: FactsTable,
    private readonly log: Logger | undefined,
    readonly local: LocalAddresses = new LocalAddresses(),
  ) {}

  /** Import sanity for one prefix: null, or why it is rejected. `nh` is nextHopProblem() of its set. */
  sanity(peer: RibPeer, p: Prefix, nh: string | null): Rejection | null {
    const r = checkPrefix(p, peer.importRules, this.local);
    if (nh !== null && (r === null || r.kind === 'not-allowed')) return { kind: 'next-hop', reason: nh };
    return r;
  }

  guard(peer: RibPeer, f: RibAttrs): boolean {
    if (peer.ebgp) return f.ownAs <= peer.allowAsIn;
    return !f.ownOriginator && !f.ownCluster;
  }

  /** Returns the number rejected, or the max-prefixes outcome. */
  announce(peer: RibPeer, family: Family, prefixes: ArrayLike<number> | readonly Prefix6[], pathIds: ArrayLike<number> | null, attrs: PathAttributes): number | UpdateOutcome {
    const f = this.facts.get(attrs);
    const ok = this.guard(peer, f);
    const policy = peer.importPolicy;
    const max = peer.maxPrefixes;
    const nh = peer.local ? null : nextHopProblem(attrs.nextHop, this.local);
    let rejected = 0;
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i]!;
      const id = pathIds === null ? 0 : pathIds[i]!;
      // the RFC loop guards first (a looped route is ignored, as before), then import sanity
      const insane = peer.local || !ok ? null : this.sanity(peer, p, nh);
      if (insane !== null) {
        this.setAside(peer, p, id, attrs, insane);
        rejected++;
        continue;
      }
      let ff = f;
      let accept = ok;
      if (accept && policy) {
        const r = policy(p, attrs, peer);
        if (r === null) accept = false;
        else if (r !== attrs) {
          ff = this.facts.get(r);
          accept = this.guard(peer, ff);
        }
      }
      if (!accept) {
        this.reject(peer, p, id);
        rejected++;
        continue;
      }
      if (this.put(peer, p, id, ff) && max !== undefined && peer.accepted > max) {
        this.log?.warn({ peer: peer.address, limit: max, family }, 'peer exceeded its maximum prefixes');
        return maxPrefixOutcome(family, max);
      }
    }
    return rejected;
  }

  /** Add or replace a path; true when a new one was added. */
  put(peer: RibPeer, p: Prefix, id: number, f: RibAttrs): boolean {
    this.insane.remove(peer, p, id);
    if (typeof p === 'number') {
      if (peer.rejected4 !== null) peer.rejected4.delete(id === 0 ? p : `${p}:${id}`);
    } else if (peer.rejected6 !== null) peer.rejected6.delete(id === 0 ? p : `${p}:${id}`);
    const loc = this.loc;
    const d = loc.dest(p);
    if (d.paths !== null) {
      const x = loc.find(d, peer, id);
      if (x !== undefined) {
        if (x.stale) {
          x.stale = false;
          peer.stale--;
        }
        if (x.a !== f) {
          x.a = f;
          loc.changed(x, d);
        }
        return false;
      }
    }
    const path = newPath(peer, d, id, f);
    peer.link(path);
    loc.add(path);
    return true;
  }

  /** Import sanity rejected the path: out of the Adj-RIB-In, kept aside with the reason. */
  setAside(peer: RibPeer, p: Prefix, id: number, attrs: PathAttributes, why: Rejection): void {
    this.withdrawOne(peer, p, id);
    if (typeof p === 'number') peer.rejected4?.delete(id === 0 ? p : `${p}:${id}`);
    else peer.rejected6?.delete(id === 0 ? p : `${p}:${id}`);
    this.insane.add(peer, p, id, attrs, why);
  }

  reject(peer: RibPeer, p: Prefix, id: number): void {
    this.insane.remove(peer, p, id);
    this.withdrawOne(peer, p, id);
    if (typeof p === 'number') (peer.rejected4 ??= new Set()).add(id === 0 ? p : `${p}:${id}`);
    else (peer.rejected6 ??= new Set()).add(id === 0 ? p : `${p}:${id}`);
  }

  withdrawList(peer: RibPeer, prefixes: ArrayLike<number> | readonly Prefix6[], pathIds: ArrayLike<number> | null): void {
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i]!;
      const id = pathIds === null ? 0 : (pathIds[i] ?? 0);
      this.withdrawOne(peer, p, id);
      this.insane.remove(peer, p, id);
      if (typeof p === 'number') {
        if (peer.rejected4 !== null) peer.rejected4.delete(id === 0 ? p : `${p}:${id}`);
      } else if (peer.rejected6 !== null) peer.rejected6.delete(id === 0 ? p : `${p}:${id}`);
    }
  }

  withdrawOne(peer: RibPeer, p: Prefix, id: number): void {
    const d = this.loc.get(p);
    if (d === undefined) return;
    const x = this.loc.find(d, peer, id);
    if (x !== undefined) this.removePath(x);
  }

  removePath(x: Path): void {
    x.peer.unlink(x);
    this.loc.remove(x);
  }
}
