// The paths import sanity rejected (sanity.ts): kept with their attributes and the reason so
// /api/v1/routes and `routelet routes` can show them, but never in a Loc-RIB destination, so
// they never enter the decision process. Per peer (to count and to drop with the session)
// and by prefix (for the route views). A withdrawal, an accepted re-announcement or the
// session going down removes one.
import type { PathAttributes } from '../bgp/codec/index.js';
import type { Prefix } from '../net/prefix.js';
import type { RibPeer } from './model.js';
import type { Rejection, RejectKind } from './sanity.js';

export interface RejectedPath {
  readonly peer: RibPeer;
  readonly prefix: Prefix;
  readonly pathId: number;
  attrs: PathAttributes;
  rejection: Rejection;
}

/** A peer's rejected paths, keyed by prefix (path ID 0) or `prefix:id`, one map per family. */
export interface PeerRejected {
  readonly v4: Map<number | string, RejectedPath>;
  readonly v6: Map<string, RejectedPath>;
  /** current paths by kind */
  readonly now: Map<RejectKind, number>;
  /** every rejection since the peer was added, by kind (a Prometheus counter) */
  readonly total: Map<RejectKind, number>;
}

function keyOf(p: Prefix, id: number): number | string {
  return id === 0 ? p : `${p}:${id}`;
}

export class RejectedPaths {
  readonly #byPeer = new Map<RibPeer, PeerRejected>();
  readonly #byPrefix = new Map<Prefix, RejectedPath[]>();

  #of(peer: RibPeer): PeerRejected {
    let r = this.#byPeer.get(peer);
    if (r === undefined) {
      r = { v4: new Map(), v6: new Map(), now: new Map(), total: new Map() };
      this.#byPeer.set(peer, r);
    }
    return r;
  }

  /** Record (or replace) a rejected path; counts the rejection. */
  add(peer: RibPeer, prefix: Prefix, pathId: number, attrs: PathAttributes, rejection: Rejection): void {
    const r = this.#of(peer);
    r.total.set(rejection.kind, (r.total.get(rejection.kind) ?? 0) + 1);
    const k = keyOf(prefix, pathId);
    const m = (typeof prefix === 'number' ? r.v4 : r.v6) as Map<number | string, RejectedPath>;
    const old = m.get(k);
    if (old !== undefined) {
      if (old.rejection.kind !== rejection.kind) {
        dec(r.now, old.rejection.kind);
        r.now.set(rejection.kind, (r.now.get(rejection.kind) ?? 0) + 1);
      }
      old.attrs = attrs;
      old.rejection = rejection;
      return;
    }
    const x: RejectedPath = { peer, prefix, pathId, attrs, rejection };
    m.set(k, x);
    r.now.set(rejection.kind, (r.now.get(rejection.kind) ?? 0) + 1);
    const l = this.#byPrefix.get(prefix);
    if (l) l.push(x);
    else this.#byPrefix.set(prefix, [x]);
  }

  /** Forget one; returns whether there was one. */
  remove(peer: RibPeer, prefix: Prefix, pathId: number): boolean {
    const r = this.#byPeer.get(peer);
    if (r === undefined) return false;
    const k = keyOf(prefix, pathId);
    const m = (typeof prefix === 'number' ? r.v4 : r.v6) as Map<number | string, RejectedPath>;
    const x = m.get(k);
    if (x === undefined) return false;
    m.delete(k);
    dec(r.now, x.rejection.kind);
    this.#unindex(x);
    return true;
  }

  #unindex(x: RejectedPath): void {
    const l = this.#byPrefix.get(x.prefix);
    if (!l) return;
    const i = l.indexOf(x);
    if (i >= 0) l.splice(i, 1);
    if (l.length === 0) this.#byPrefix.delete(x.prefix);
  }

  /** Forget every rejected path of a peer (session down); the totals stay unless `forget`. */
  clearPeer(peer: RibPeer, forget = false): void {
    const r = this.#byPeer.get(peer);
    if (r === undefined) return;
    for (const x of r.v4.values()) this.#unindex(x);
    for (const x of r.v6.values()) this.#unindex(x);
    r.v4.clear();
    r.v6.clear();
    r.now.clear();
    if (forget) this.#byPeer.delete(peer);
  }

  count(peer: RibPeer): number {
    const r = this.#byPeer.get(peer);
    return r === undefined ? 0 : r.v4.size + r.v6.size;
  }

  /** Current and total rejections by kind; null when the peer never had one. */
  counts(peer: RibPeer): { now: Partial<Record<RejectKind, number>>; total: Partial<Record<RejectKind, number>> } | null {
    const r = this.#byPeer.get(peer);
    return r === undefined ? null : { now: Object.fromEntries(r.now), total: Object.fromEntries(r.total) };
  }

  /** Every rejected path of a peer (a copy: safe to change the store while iterating). */
  ofPeer(peer: RibPeer): RejectedPath[] {
    const r = this.#byPeer.get(peer);
    return r === undefined ? [] : [...r.v4.values(), ...r.v6.values()];
  }

  at(prefix: Prefix): readonly RejectedPath[] {
    return this.#byPrefix.get(prefix) ?? [];
  }

  /** The prefixes with rejected paths. */
  prefixes(): IterableIterator<Prefix> {
    return this.#byPrefix.keys();
  }

  get size(): number {
    return this.#byPrefix.size;
  }
}

function dec(m: Map<RejectKind, number>, k: RejectKind): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}
