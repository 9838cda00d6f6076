// An update group: the peers that receive exactly the same bytes — same role (eBGP, RR
// client, RR non-client, plain iBGP), same codec options (4-octet AS, ADD-PATH send,
// extended message, extended next hop), same families, same next-hop-self addresses and the
// same outbound policy. It owns ONE Adj-RIB-Out for all members: prefix → bucket, a bucket
// being one exported (interned) attribute set with its member count and, for the full
// table, its cached encoding.
//
// flush(): the changed prefixes are diffed against the Adj-RIB-Out, packed per attribute
// set and encoded once; the same Buffer array goes to every member. Peers that came up
// since the last flush then get the full table (encoded once for all of them, rebuilt only
// for buckets that changed) and End-of-RIB per family; route-refresh requests likewise.
//
// Split horizon: a member is never sent a route whose best path it sent us itself (RFC 4456
// §8 leaves the originating client to ORIGINATOR_ID; we do not send it at all, and eBGP does
// not send a route back to its source either). The group keeps one Adj-RIB-Out; a member's
// is that minus the prefixes whose exported best path is its own. So the encoding stays
// shared, and a member gets its own copy only in a flush where its own routes changed (the
// shared messages, re-encoded only for the attribute sets holding its prefixes, plus a
// withdrawal where the group had advertised something else for the prefix before), or when
// it is sent the full table while we hold best paths from it (a route refresh; a graceful
// restart's stale paths). With 2,000 RR clients each announcing its own routes, reflected
// routes carry the client's ORIGINATOR_ID, so a client's prefixes are in attribute sets of
// their own: its copy is the shared messages minus those sets, nothing re-encoded; the cost
// is the reference copy, of the order of the sending itself, and only for the clients whose
// routes changed in that flush. The price is an occasional redundant withdrawal (a prefix
// that member never had from us), which BGP allows.
import {
  attributeBytes,
  type CodecOptions,
  encodeAnnouncements,
  encodeEndOfRib,
  encodeRouteRefresh,
  encodeWithdrawals,
  maxMessageLength,
  type PathAttributes,
} from '../bgp/codec/index.js';
import { AFI_IPV4, AFI_IPV6, REFRESH_BORR, REFRESH_EORR, SAFI_UNICAST } from '../bgp/codec/constants.js';
import type { Prefix, Prefix6 } from '../net/prefix.js';
import { type ExportContext, exportAttrs, type GroupTarget } from './export.js';
import type { Path, RibPeer } from './model.js';
import { PrefixTable4 } from '../net/table4.js';
import type { ExportPolicy, Family, GroupRole, SessionInfo } from './types.js';

interface Bucket {
  readonly attrs: PathAttributes;
  count: number;
  /** this bucket's prefixes encoded, for the full table; null when it changed */
  msgs: Buffer[] | null;
}

/** The group a session belongs to, as a string key. */
export function groupKey(role: GroupRole, s: SessionInfo, nh4: string | undefined, nh6: string | undefined, policy: ExportPolicy | undefined): string {
  const o = s.codec;
  const fams = [...new Set(s.families)].sort().join('');
  return [
    role,
    o.as4 ? 'as4' : 'as2',
    o.extendedMessage ? 'xm' : '',
    o.addPath.ipv4.send ? 'ap4' : '',
    o.addPath.ipv6.send ? 'ap6' : '',
    o.extendedNextHopIPv4 ? 'enh' : '',
    fams,
    nh4 ?? '',
    nh6 ?? '',
    policy?.name ?? '',
  ].join('|');
}

let onesCache = new Uint32Array(1024).fill(1);
function ones(n: number): Uint32Array {
  if (onesCache.length < n) onesCache = new Uint32Array(n * 2).fill(1);
  return onesCache.subarray(0, n);
}

type Memo = Map<RibPeer, WeakMap<PathAttributes, PathAttributes | null>>;

/** A member's own routes among one flush's changes: announced (by exported set) and to withdraw at it. */
interface OwnChanges {
  readonly ann4: Map<PathAttributes, number[]>;
  readonly ann6: Map<PathAttributes, Prefix6[]>;
  readonly wd4: number[];
  readonly wd6: Prefix6[];
}

/** A member's own prefixes in the Adj-RIB-Out (split horizon for the full table). */
export interface OwnPrefixes {
  readonly v4: Set<number>;
  readonly v6: Set<Prefix6>;
}

export class UpdateGroup implements GroupTarget {
  readonly families: readonly Family[];
  /** members that have the table and follow the incremental stream */
  readonly members = new Set<RibPeer>();
  /** came up since the last flush: get the full table, then End-of-RIB */
  joiners: RibPeer[] = [];
  refreshes: { peer: RibPeer; family: Family; enhanced: boolean }[] = [];
  readonly out4 = new PrefixTable4<Bucket>();
  readonly out6 = new Map<Prefix6, Bucket>();
  readonly #buckets4 = new Map<PathAttributes, Bucket>();
  readonly #buckets6 = new Map<PathAttributes, Bucket>();
  #full4: Buffer[] | null = null;
  #full6: Buffer[] | null = null;
  readonly #memo4: Memo = new Map();
  readonly #memo6: Memo = new Map();
  #lastPeer: RibPeer | null = null;
  #lastAttrs: PathAttributes | null = null;
  #lastFamily: Family = 4;
  #lastOut: PathAttributes | null = null;
  // changes since the last flush, for the incremental encoding
  #ann4 = new Map<PathAttributes, number[]>();
  #ann6 = new Map<PathAttributes, Prefix6[]>();
  #wd4: number[] = [];
  #wd6: Prefix6[] = [];
  /** members whose own routes are among the changes since the last flush (split horizon) */
  #own: Map<RibPeer, OwnChanges> | null = null;
  /** the Adj-RIB-Out's entries per peer their best path came from (set4/set6's `now`) */
  readonly #sources = new Map<RibPeer, number>();
  #runPeer: RibPeer | null = null;
  #run = 0;
  /** full-table encodings built, for benchmarks and tests */
  fullTableBuilds = 0;

  constructor(
    readonly key: string,
    readonly role: GroupRole,
    readonly codec: CodecOptions,
    families: readonly Family[],
    readonly nextHop4: string | undefined,
    readonly nextHop6: string | undefined,
    readonly policy: ExportPolicy | undefined,
    private readonly ctx: ExportContext,
  ) {
    this.families = [...new Set(families)].sort();
  }

  carries(f: Family): boolean {
    return this.families.includes(f);
  }

  get size(): number {
    return this.members.size + this.joiners.length;
  }

  /** Advertised prefix count (the Adj-RIB-Out of every member). */
  get advertised(): number {
    return this.out4.size + this.out6.size;
  }

  /** Forget memoised exports of a peer's paths (its router ID may have changed). */
  forgetSource(peer: RibPeer): void {
    this.#memo4.delete(peer);
    this.#memo6.delete(peer);
    if (this.#lastPeer === peer) this.#lastPeer = null;
  }

  /** The attributes `best` is advertised with here, or null. */
  exportFor(prefix: Prefix, best: Path | null, family: Family): PathAttributes | null {
    if (best === null) return null;
    const a = best.a.attrs;
    let out: PathAttributes | null;
    if (best.peer === this.#lastPeer && a === this.#lastAttrs && family === this.#lastFamily) out = this.#lastOut;
    else {
      const memo = family === 4 ? this.#memo4 : this.#memo6;
      let m = memo.get(best.peer);
      if (m === undefined) {
        m = new WeakMap();
        memo.set(best.peer, m);
      }
      out = m.get(a) as PathAttributes | null | undefined as PathAttributes | null;
      if (out === undefined) {
        out = exportAttrs(best, family, this, this.ctx);
        if (out !== null && !this.#encodable(out, family)) out = null;
        m.set(a, out);
      }
      this.#lastPeer = best.peer;
      this.#lastAttrs = a;
      this.#lastFamily = family;
      this.#lastOut = out;
    }
    if (out !== null && this.policy) out = this.policy.apply(prefix, out, this.role);
    return out;
  }

  /**
   * Whether routes with this set can be sent to this group at all: a next hop of a usable
   * family (IPv6 for IPv6; IPv4, or IPv6 with extended next hop, for IPv4), and attributes
   * that leave room for NLRI in the group's message size. A set that cannot is not
   * advertised (and said once per set, a rare event).
   */
  #encodable(a: PathAttributes, family: Family): boolean {
    const nh = a.nextHop;
    if (nh === undefined) return false;
    const six = nh.includes(':');
    if (family === 6 ? !six : six && !this.codec.extendedNextHopIPv4) return false;
    const room = maxMessageLength(this.codec) - attributeBytes(a, this.codec).bytes.length;
    if (room < 19 + 4 + 9 + 32 + 21) {
      this.ctx.log?.warn({ group: this.key, attributes: attributeBytes(a, this.codec).bytes.length }, 'attribute set too large for this update group: routes with it are not advertised there');
      return false;
    }
    return true;
  }

  /**
   * Set the Adj-RIB-Out entry of a prefix; records the change for the next incremental
   * encoding when `record`. Returns whether anything changed. `now`: the peer the wanted
   * entry's best path came from; `was`: the one the current entry's came from (the last
   * flush's, Dest.sentFrom). When the source moved between members (or from or to one), the
   * same attributes are recorded again, so that the member that was their source gets them
   * now and the new source a withdrawal (split horizon).
   */
  set4(p: number, want: PathAttributes | null, record: boolean, now: RibPeer | null = null, was: RibPeer | null = null): boolean {
    const out = this.out4;
    const i = out.probe(p);
    const have = i >= 0 ? out.at(i) : undefined;
    this.#countSources(have !== undefined ? was : null, want !== null ? now : null);
    const from = record && now !== null && this.members.has(now) ? now : undefined;
    const moved = record && now !== was && (from !== undefined || (was !== null && this.members.has(was)));
    if ((have?.attrs ?? null) === want && !(moved && want !== null)) return false;
    if (from !== undefined && record && want !== null) {
      const o = this.#ownOf(from);
      const l = o.ann4.get(want);
      if (l) l.push(p);
      else o.ann4.set(want, [p]);
      if (have) o.wd4.push(p);
    }
    if (have) this.#drop(have, this.#buckets4);
    this.#full4 = null;
    if (want === null) {
      out.removeAt(i);
      if (record) this.#wd4.push(p);
      return true;
    }
    const b = this.#take(want, this.#buckets4);
    if (i >= 0) out.replaceAt(i, b);
    else out.insertAt(i, p, b);
    if (record) {
      const l = this.#ann4.get(want);
      if (l) l.push(p);
      else this.#ann4.set(want, [p]);
    }
    return true;
  }

  set6(p: Prefix6, want: PathAttributes | null, record: boolean, now: RibPeer | null = null, was: RibPeer | null = null): boolean {
    const have = this.out6.get(p);
    this.#countSources(have !== undefined ? was : null, want !== null ? now : null);
    const from = record && now !== null && this.members.has(now) ? now : undefined;
    const moved = record && now !== was && (from !== undefined || (was !== null && this.members.has(was)));
    if ((have?.attrs ?? null) === want && !(moved && want !== null)) return false;
    if (from !== undefined && record && want !== null) {
      const o = this.#ownOf(from);
      const l = o.ann6.get(want);
      if (l) l.push(p);
      else o.ann6.set(want, [p]);
      if (have) o.wd6.push(p);
    }
    if (have) this.#drop(have, this.#buckets6);
    this.#full6 = null;
    if (want === null) {
      this.out6.delete(p);
      if (record) this.#wd6.push(p);
      return true;
    }
    this.out6.set(p, this.#take(want, this.#buckets6));
    if (record) {
      const l = this.#ann6.get(want);
      if (l) l.push(p);
      else this.#ann6.set(want, [p]);
    }
    return true;
  }

  #take(a: PathAttributes, buckets: Map<PathAttributes, Bucket>): Bucket {
    let b = buckets.get(a);
    if (b === undefined) {
      b = { attrs: a, count: 0, msgs: null };
      buckets.set(a, b);
    }
    b.count++;
    b.msgs = null;
    return b;
  }

  #drop(b: Bucket, buckets: Map<PathAttributes, Bucket>): void {
    b.msgs = null;
    if (--b.count === 0) buckets.delete(b.attrs);
  }

  /**
   * An entry from `gone` replaced by one from `came` (either null: none): the counts per source.
   * A run of changes from one peer (a table arriving) adds up in a field, not in the Map.
   */
  #countSources(gone: RibPeer | null, came: RibPeer | null): void {
    if (gone === came) return;
    if (gone !== null) this.#countSource(gone, -1);
    if (came !== null) this.#countSource(came, 1);
  }

  #countSource(peer: RibPeer, d: number): void {
    if (peer !== this.#runPeer) {
      this.#endRun();
      this.#runPeer = peer;
    }
    this.#run += d;
  }

  #endRun(): void {
    const peer = this.#runPeer;
    if (peer === null) return;
    const c = (this.#sources.get(peer) ?? 0) + this.#run;
    if (c > 0) this.#sources.set(peer, c);
    else this.#sources.delete(peer);
    this.#runPeer = null;
    this.#run = 0;
  }

  /**
   * How many of the Adj-RIB-Out's entries came from `peer` at the last flush: what split
   * horizon leaves out of that member's copy (advertised = this.advertised − this).
   */
  fromPeer(peer: RibPeer): number {
    this.#endRun();
    return this.#sources.get(peer) ?? 0;
  }

  #ownOf(peer: RibPeer): OwnChanges {
    const own = (this.#own ??= new Map());
    let o = own.get(peer);
    if (o === undefined) {
      o = { ann4: new Map(), ann6: new Map(), wd4: [], wd6: [] };
      own.set(peer, o);
    }
    return o;
  }

  #withdrawals(family: Family, ps: number[] | Prefix6[]): Buffer[] {
    const o = this.codec;
    const ap = family === 4 ? o.addPath.ipv4.send : o.addPath.ipv6.send;
    return family === 4 ? encodeWithdrawals(4, ps as number[], ap ? ones(ps.length) : null, o) : encodeWithdrawals(6, ps as Prefix6[], ap ? ones(ps.length) : null, o);
  }

  #announcements(family: Family, attrs: PathAttributes, ps: number[] | Prefix6[]): Buffer[] {
    const o = this.codec;
    return family === 4
      ? encodeAnnouncements({ family: 4, prefixes: ps as number[], pathIds: o.addPath.ipv4.send ? ones(ps.length) : null, attrs }, o)
      : encodeAnnouncements({ family: 6, prefixes: ps as Prefix6[], pathIds: o.addPath.ipv6.send ? ones(ps.length) : null, attrs }, o);
  }

  /**
   * The messages for the changes since the last call: `shared` for every member, and for a
   * member whose own routes are among the changes, its copy without them (split horizon).
   * When every member has a copy of its own (a peer alone in its group sending us its table),
   * `shared` holds the withdrawals only, and an attribute set is encoded whole only for a copy
   * that takes it whole.
   */
  takeBatches(): { shared: Buffer[]; own: Map<RibPeer, Buffer[]> | null } {
    const shared: Buffer[] = [];
    if (this.#wd4.length) shared.push(...this.#withdrawals(4, this.#wd4));
    if (this.#wd6.length) shared.push(...this.#withdrawals(6, this.#wd6));
    const nwd = shared.length;
    let copies = 0;
    if (this.#own !== null) for (const peer of this.#own.keys()) if (this.members.has(peer)) copies++;
    const whole = copies < this.members.size;
    const segs: { family: Family; attrs: PathAttributes; ps: number[] | Prefix6[]; msgs: Buffer[] | null }[] = [];
    for (const [attrs, ps] of this.#ann4) segs.push({ family: 4, attrs, ps, msgs: whole ? this.#announcements(4, attrs, ps) : null });
    for (const [attrs, ps] of this.#ann6) segs.push({ family: 6, attrs, ps, msgs: whole ? this.#announcements(6, attrs, ps) : null });
    if (whole) for (const sg of segs) for (const m of sg.msgs!) shared.push(m);
    let own: Map<RibPeer, Buffer[]> | null = null;
    if (this.#own !== null) {
      own = new Map();
      for (const [peer, o] of this.#own) {
        if (!this.members.has(peer)) continue;
        const out: Buffer[] = shared.slice(0, nwd);
        if (o.wd4.length) out.push(...this.#withdrawals(4, o.wd4));
        if (o.wd6.length) out.push(...this.#withdrawals(6, o.wd6));
        for (const sg of segs) {
          const mine = sg.family === 4 ? o.ann4.get(sg.attrs) : o.ann6.get(sg.attrs);
          if (mine === undefined) {
            for (const m of (sg.msgs ??= this.#announcements(sg.family, sg.attrs, sg.ps))) out.push(m);
            continue;
          }
          // a prefix is set once a flush, so its own list holds each at most once
          if (mine.length === sg.ps.length) continue; // every prefix of the set is the member's own
          const skip = new Set<number | Prefix6>(mine);
          const rest = (sg.ps as (number | Prefix6)[]).filter((p) => !skip.has(p)) as number[] | Prefix6[];
          for (const m of this.#announcements(sg.family, sg.attrs, rest)) out.push(m);
        }
        own.set(peer, out);
      }
    }
    this.discardBatch();
    return { shared, own };
  }

  discardBatch(): void {
    if (this.#wd4.length) this.#wd4 = [];
    if (this.#wd6.length) this.#wd6 = [];
    if (this.#ann4.size) this.#ann4 = new Map();
    if (this.#ann6.size) this.#ann6 = new Map();
    this.#own = null;
  }

  /** The whole Adj-RIB-Out of a family as UPDATEs, cached while unchanged. */
  fullTable(family: Family): Buffer[] {
    if (family === 4) return (this.#full4 ??= this.#buildFull(this.out4, this.#buckets4, 4));
    return (this.#full6 ??= this.#buildFull(this.out6, this.#buckets6, 6));
  }

  #buildFull<P extends Prefix>(out: { forEach(f: (b: Bucket, p: P) => void): void }, buckets: Map<PathAttributes, Bucket>, family: Family): Buffer[] {
    this.fullTableBuilds++;
    const o = this.codec;
    const addPath = family === 4 ? o.addPath.ipv4.send : o.addPath.ipv6.send;
    let dirty = 0;
    for (const b of buckets.values()) if (b.msgs === null) dirty++;
    if (dirty > 0) {
      // only the buckets that changed are encoded again: find their prefixes
      const lists = new Map<Bucket, P[]>();
      out.forEach((b, p) => {
        if (b.msgs !== null) return;
        const l = lists.get(b);
        if (l) l.push(p);
        else lists.set(b, [p]);
      });
      for (const [b, ps] of lists) {
        b.msgs = encodeAnnouncements(
          family === 4 ? { family: 4, prefixes: ps as number[], pathIds: addPath ? ones(ps.length) : null, attrs: b.attrs } : { family: 6, prefixes: ps as Prefix6[], pathIds: addPath ? ones(ps.length) : null, attrs: b.attrs },
          o,
        );
      }
    }
    const all: Buffer[] = [];
    for (const b of buckets.values()) for (const m of b.msgs!) all.push(m);
    return all;
  }

  /**
   * The full table of a family without a member's own prefixes (split horizon): the cached
   * encoding of every attribute set that holds none of them, nothing for a set that holds
   * only them, and a set holding both encoded again without them.
   */
  #fullTableExcept(family: Family, own: Set<number> | Set<Prefix6>): Buffer[] {
    const full = this.fullTable(family); // every bucket's msgs are current now
    if (own.size === 0) return full;
    const buckets = (family === 4 ? this.#buckets4 : this.#buckets6) as Map<PathAttributes, Bucket>;
    const mine = new Map<Bucket, number>();
    const bucketOf = (p: number | Prefix6): Bucket | undefined => (typeof p === 'number' ? this.out4.get(p) : this.out6.get(p));
    for (const p of own as Set<number | Prefix6>) {
      const b = bucketOf(p);
      if (b) mine.set(b, (mine.get(b) ?? 0) + 1);
    }
    // attribute sets shared with other sources: their other prefixes, found in one scan
    const mixed = new Map<Bucket, (number | Prefix6)[]>();
    for (const [b, n] of mine) if (n < b.count) mixed.set(b, []);
    if (mixed.size) {
      const collect = (b: Bucket, p: number | Prefix6): void => {
        const l = mixed.get(b);
        if (l && !(own as Set<number | Prefix6>).has(p)) l.push(p);
      };
      if (family === 4) this.out4.forEach((b, p) => collect(b, p));
      else for (const [p, b] of this.out6) collect(b, p);
    }
    const out: Buffer[] = [];
    for (const b of buckets.values()) {
      if (!mine.has(b)) {
        for (const m of b.msgs!) out.push(m);
        continue;
      }
      const rest = mixed.get(b);
      if (rest && rest.length) for (const m of this.#announcements(family, b.attrs, rest as number[] | Prefix6[])) out.push(m);
    }
    return out;
  }

  /**
   * What a peer coming up is sent: the full table and (unless deferred) End-of-RIB, per
   * family; without `own` (the peer's own prefixes in the Adj-RIB-Out, split horizon).
   */
  initialMessages(endOfRib = true, own?: OwnPrefixes): Buffer[] {
    const out: Buffer[] = [];
    for (const f of this.families) for (const m of own ? this.#fullTableExcept(f, f === 4 ? own.v4 : own.v6) : this.fullTable(f)) out.push(m);
    if (endOfRib) out.push(...this.endOfRibMessages());
    return out;
  }

  endOfRibMessages(): Buffer[] {
    return this.families.map((f) => encodeEndOfRib(f));
  }

  /** A route-refresh answer: the family's Adj-RIB-Out, inside BoRR/EoRR when enhanced. */
  refreshMessages(family: Family, enhanced: boolean, own?: OwnPrefixes): Buffer[] {
    const afi = family === 4 ? AFI_IPV4 : AFI_IPV6;
    const out: Buffer[] = [];
    if (enhanced) out.push(encodeRouteRefresh({ afi, safi: SAFI_UNICAST, subtype: REFRESH_BORR }));
    if (this.carries(family)) for (const m of own ? this.#fullTableExcept(family, family === 4 ? own.v4 : own.v6) : this.fullTable(family)) out.push(m);
    if (enhanced) out.push(encodeRouteRefresh({ afi, safi: SAFI_UNICAST, subtype: REFRESH_EORR }));
    return out;
  }

  /** Whether the Adj-RIB-Out has the prefix. */
  has(p: Prefix): boolean {
    return typeof p === 'number' ? this.out4.get(p) !== undefined : this.out6.has(p);
  }

  /** Adj-RIB-Out entries (prefix → exported attributes), for views and tests; without `own` (split horizon). */
  *entries(family?: Family, own?: OwnPrefixes): Generator<[Prefix, PathAttributes]> {
    if (family !== 6) for (const p of this.out4.keys()) if (!own?.v4.has(p)) yield [p, this.out4.get(p)!.attrs];
    if (family !== 4) for (const [p, b] of this.out6) if (!own?.v6.has(p)) yield [p, b.attrs];
  }
}
