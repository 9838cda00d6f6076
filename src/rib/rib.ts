// The routing core: Adj-RIB-In per peer (with import guards, stale marks and ADD-PATH
// keys), the Loc-RIB with best path and multipath, and the update groups' Adj-RIB-Out.
// It is pure: no sockets, no timers. The session layer feeds it UPDATEs and session
// events; flush() (which the caller runs soon after the `schedule` event: schedule.ts) hands
// encoded messages to the sessions and forwarding changes to the FIB.
import { sharedInterner, type PathAttributes, type UpdateMessage } from '../bgp/codec/index.js';
import { ipv4ToNumber } from '../net/ip.js';
import { formatPrefix, type Prefix, prefix4, prefix6, prefix6Bytes, type Prefix6 } from '../net/prefix.js';
import { FactsTable, type RibAttrs } from './attrs.js';
import { type CostFn, type DecisionPath } from './decision.js';
import type { ExportContext } from './export.js';
import { groupKey, type OwnPrefixes, UpdateGroup } from './group.js';
import { DIRTY_FIB, DIRTY_OUT, DIRTY_QUEUED, familyOf, LocRib } from './locrib.js';
import { type Dest, RibPeer } from './model.js';
import { AdjRibIn } from './adjin.js';
import { nextHopProblem } from './sanity.js';
import { type KernelState, type RouteQuery, routeViews } from './routeviews.js';
import type { RouteView } from '../api/types.js';
import type { Family, FibChange, GroupRole, NextHop, PeerCounts, PeerHandle, PeerOptions, RibEvents, RibOptions, SessionInfo, UpdateOutcome } from './types.js';

/** Routes one flush sends to the update groups' members, about (Rib.#flushLimit). */
const FLUSH_SENDS = 262_144;
/** A flush takes at least this many changed destinations, however many members. */
const FLUSH_MIN_DESTS = 256;

/** A position in the list of changed destinations (Rib.changeMark), good until the next flush. */
export interface ChangeMark {
  readonly takes: number;
  readonly at: number;
}

export interface FlushStats {
  /** messages encoded (once per group, however many members) */
  readonly encoded: number;
  /** peers that were sent the full table */
  readonly joined: number;
  readonly fibChanges: number;
}

const OK_NONE: UpdateOutcome = Object.freeze({ type: 'ok', rejected: 0 });

export class Rib {
  readonly asn: number;
  readonly routerId: string;
  readonly clusterId: string | undefined;
  readonly ecmpMaxPaths: number;
  readonly #events: RibEvents;
  readonly #facts: FactsTable;
  readonly #loc: LocRib;
  readonly #peers = new Set<RibPeer>();
  readonly #local: RibPeer;
  readonly #localAttrs: RibAttrs;
  readonly #groups = new Map<string, UpdateGroup>();
  /** each peer's update group, from peerUp until it leaves (a joiner is in it before it is a member) */
  readonly #groupOf = new Map<RibPeer, UpdateGroup>();
  readonly #ctx: ExportContext;
  readonly #resolve: RibOptions['resolveNextHop'];
  readonly #costCache = new Map<string, number | undefined>();
  readonly #log: RibOptions['logger'];
  readonly #in: AdjRibIn;

  constructor(opts: RibOptions) {
    const rid = ipv4ToNumber(opts.routerId);
    if (rid === undefined) throw new RangeError(`router ID ${JSON.stringify(opts.routerId)} is not a dotted quad`);
    if (opts.clusterId !== undefined && ipv4ToNumber(opts.clusterId) === undefined) throw new RangeError(`cluster ID ${JSON.stringify(opts.clusterId)} is not a dotted quad`);
    const maxPaths = opts.ecmpMaxPaths ?? 8;
    if (!Number.isInteger(maxPaths) || maxPaths < 1) throw new RangeError(`ecmpMaxPaths ${maxPaths}: expected an integer of at least 1`);
    this.asn = opts.asn;
    this.routerId = opts.routerId;
    this.clusterId = opts.clusterId;
    this.ecmpMaxPaths = maxPaths;
    this.#events = opts.events;
    this.#log = opts.logger;
    this.#resolve = opts.resolveNextHop;
    const defaultLocalPref = opts.defaultLocalPref ?? 100;
    this.#facts = new FactsTable({ asn: opts.asn, routerId: rid, clusterId: opts.clusterId, defaultLocalPref });
    this.#ctx = { asn: opts.asn, clusterId: opts.clusterId, interner: sharedInterner, log: opts.logger };
    this.#loc = new LocRib(this.#makeCost(), maxPaths);
    this.#loc.onDirty = () => this.#events.schedule?.();
    this.#in = new AdjRibIn(this.#loc, this.#facts, this.#log, opts.localAddresses);
    opts.localAddresses?.onChange(() => this.recheckImports());
    this.#local = new RibPeer({ address: 'local', asn: opts.asn }, opts.asn, true);
    this.#local.routerId = opts.routerId;
    this.#local.routerIdNum = rid;
    this.#localAttrs = this.#facts.get(sharedInterner.intern({ origin: 0, asPath: [] }));
  }

  /** events.send, guarded: a callback that throws must not leave a flush half done. */
  readonly #send = (peer: RibPeer, msgs: readonly Buffer[]): void => {
    try {
      this.#events.send(peer, msgs);
    } catch (e) {
      this.#log?.error({ err: e, peer: peer.address }, 'the send callback threw; the RIB goes on');
    }
  };

  #makeCost(): CostFn {
    const resolve = this.#resolve;
    if (!resolve) return () => 0;
    const cache = this.#costCache;
    return (p: DecisionPath) => {
      if (p.peer.local) return 0;
      const nh = p.a.nextHop;
      if (nh === null) return undefined;
      let c = cache.get(nh.address);
      if (c === undefined && !cache.has(nh.address)) {
        c = resolve(nh.address, nh.family);
        cache.set(nh.address, c);
      }
      return c;
    };
  }

  #peer(h: PeerHandle): RibPeer {
    if (!(h instanceof RibPeer) || !this.#peers.has(h)) throw new TypeError(`unknown peer ${(h as PeerHandle | undefined)?.address ?? String(h)}: not added to this RIB, or removed`);
    return h;
  }

  // ------------------------------------------------------------------------------------
  // peers and sessions

  addPeer(opts: PeerOptions): PeerHandle {
    if (!Number.isInteger(opts.asn) || opts.asn < 1 || opts.asn > 0xffffffff) throw new RangeError(`peer ${opts.address}: AS ${opts.asn} out of range`);
    if (opts.maxPrefixes !== undefined && !(Number.isInteger(opts.maxPrefixes) && opts.maxPrefixes >= 0)) throw new RangeError(`peer ${opts.address}: maxPrefixes ${opts.maxPrefixes}`);
    let p: RibPeer;
    try {
      p = new RibPeer(opts, this.asn);
    } catch (e) {
      throw e instanceof RangeError ? new RangeError(`peer ${opts.address}: ${e.message}`) : e;
    }
    this.#peers.add(p);
    return p;
  }

  /** Forget a peer: its session ends and every path it sent is withdrawn. */
  removePeer(h: PeerHandle): void {
    const p = this.#peer(h);
    this.peerDown(p);
    this.#in.insane.clearPeer(p, true);
    for (const g of this.#groups.values()) g.forgetSource(p);
    this.#peers.delete(p);
    p.removed = true;
  }

  /**
   * The session is Established: the peer joins its update group and, at the next flush, is
   * sent the full table, End-of-RIB for each family, then the group's incremental stream.
   */
  peerUp(h: PeerHandle, s: SessionInfo): void {
    const p = this.#peer(h);
    const rid = ipv4ToNumber(s.routerId);
    if (rid === undefined) throw new RangeError(`peer ${p.address}: router ID ${JSON.stringify(s.routerId)} is not a dotted quad`);
    if (s.codec.ebgp !== p.ebgp) throw new RangeError(`peer ${p.address}: codec options say ${s.codec.ebgp ? 'eBGP' : 'iBGP'}, the peer is ${p.ebgp ? 'eBGP' : 'iBGP'}`);
    if (p.session) this.#leaveGroup(p);
    if (p.routerIdNum !== rid) {
      p.routerId = s.routerId;
      p.routerIdNum = rid;
      for (const g of this.#groups.values()) g.forgetSource(p);
    }
    p.session = s;
    p.endOfRib.clear();
    const role: GroupRole = p.ebgp ? 'ebgp' : this.clusterId === undefined ? 'ibgp' : p.routeReflectorClient ? 'client' : 'nonclient';
    const mapped = s.localAddress.startsWith('::ffff:') && s.localAddress.includes('.') ? s.localAddress.slice(7) : s.localAddress;
    const nh4 = s.nextHop4 ?? (mapped.includes(':') ? undefined : mapped);
    const nh6 = s.nextHop6 ?? (mapped.includes(':') ? mapped : undefined);
    const key = groupKey(role, s, nh4, nh6, p.exportPolicy);
    let g = this.#groups.get(key);
    if (!g) {
      g = new UpdateGroup(key, role, s.codec, s.families, nh4, nh6, p.exportPolicy, this.#ctx);
      this.#groups.set(key, g);
      this.#fillGroup(g);
    }
    g.joiners.push(p);
    this.#groupOf.set(p, g);
    this.#loc.poke();
  }

  /**
   * A new group's Adj-RIB-Out from the current Loc-RIB: the destinations as the last flush left
   * them. One changed since waits for the next flush, which sets it in every group, this one
   * included: an entry's source is then always its destination's sentFrom (UpdateGroup.fromPeer).
   */
  #fillGroup(g: UpdateGroup): void {
    if (g.carries(4)) this.#loc.v4.forEach((d, p) => d.best && (d.dirty & DIRTY_OUT) === 0 && g.set4(p, g.exportFor(p, d.best, 4), false, d.best.peer));
    if (g.carries(6)) for (const [p, d] of this.#loc.v6) if (d.best && (d.dirty & DIRTY_OUT) === 0) g.set6(p, g.exportFor(p, d.best, 6), false, d.best.peer);
  }

  #leaveGroup(p: RibPeer): void {
    const g = this.#groupOf.get(p);
    if (!g) return;
    g.members.delete(p);
    g.joiners = g.joiners.filter((x) => x !== p);
    g.refreshes = g.refreshes.filter((r) => r.peer !== p);
    if (g.size === 0) this.#groups.delete(g.key);
    this.#groupOf.delete(p);
  }

  /**
   * The session went down. Without `keepStale`, every path of the peer is withdrawn. With it
   * (graceful restart, helper side), paths of those families stay, marked stale, until the
   * peer re-advertises them or sweepStale() removes them; other families are withdrawn.
   */
  peerDown(h: PeerHandle, opts: { keepStale?: readonly Family[] } = {}): void {
    const p = this.#peer(h);
    this.#leaveGroup(p);
    p.session = null;
    p.endOfRib.clear();
    const keep = opts.keepStale ?? [];
    for (const path of p.paths()) {
      if (keep.includes(familyOf(path.prefix))) {
        if (!path.stale) {
          path.stale = true;
          p.stale++;
        }
      } else this.#in.removePath(path);
    }
    if (!keep.includes(4)) p.rejected4 = null;
    if (!keep.includes(6)) p.rejected6 = null;
    // paths import sanity set aside are not in the decision: nothing to keep for a restart
    this.#in.insane.clearPeer(p);
  }

  // ------------------------------------------------------------------------------------
  // Adj-RIB-In

  /** Apply one decoded UPDATE from a peer (withdrawals, then announcements). */
  update(h: PeerHandle, m: UpdateMessage): UpdateOutcome {
    const p = this.#peer(h);
    if (m.endOfRib !== null) {
      p.endOfRib.add(m.endOfRib);
      this.#events.endOfRib?.(p, m.endOfRib);
      return { type: 'end-of-rib', family: m.endOfRib };
    }
    if (m.withdrawn4.length) this.#in.withdrawList(p, m.withdrawn4, m.withdrawn4PathIds);
    if (m.withdrawn6.length) this.#in.withdrawList(p, m.withdrawn6, m.withdrawn6PathIds);
    let rejected = 0;
    for (const r of m.reach) {
      const o = this.#in.announce(p, r.family, r.prefixes, r.pathIds, r.attrs);
      if (typeof o !== 'number') return o;
      rejected += o;
    }
    return rejected === 0 ? OK_NONE : { type: 'ok', rejected };
  }

  /**
   * Announce prefixes sharing one (interned) attribute set; pathIds with ADD-PATH receive.
   * For callers other than update() (tests, tools): the prefixes are checked first, and a
   * bad one is a RangeError with nothing applied.
   */
  announce(h: PeerHandle, family: Family, prefixes: ArrayLike<number> | readonly Prefix6[], pathIds: ArrayLike<number> | null, attrs: PathAttributes): UpdateOutcome {
    const peer = this.#peer(h);
    checkPrefixes(family, prefixes);
    if (pathIds !== null && pathIds.length < prefixes.length) throw new RangeError(`${prefixes.length} prefixes but ${pathIds.length} path identifiers`);
    if (attrs.nextHop === undefined) throw new RangeError('an announcement needs a next hop');
    const o = this.#in.announce(peer, family, prefixes, pathIds, attrs);
    return typeof o === 'number' ? (o === 0 ? OK_NONE : { type: 'ok', rejected: o }) : o;
  }

  withdraw(h: PeerHandle, prefixes: ArrayLike<number> | readonly Prefix6[], pathIds: ArrayLike<number> | null = null): void {
    const peer = this.#peer(h);
    for (let i = 0; i < prefixes.length; i++) checkPrefix(prefixes[i]!);
    this.#in.withdrawList(peer, prefixes, pathIds);
  }

  /**
   * The node's addresses changed (the LocalAddresses provider calls this): check every path
   * held against import sanity again. An accepted path that now breaks a rule is set aside;
   * a set-aside path that now passes goes through import (policy, guards) again. Returns how
   * many paths moved.
   */
  recheckImports(): number {
    let moved = 0;
    const inn = this.#in;
    for (const peer of this.#peers) {
      for (const x of peer.paths()) {
        const nh = nextHopProblem(x.a.attrs.nextHop, inn.local);
        const why = inn.sanity(peer, x.prefix, nh);
        if (why === null) continue;
        inn.setAside(peer, x.prefix, x.pathId, x.a.attrs, why);
        moved++;
      }
      for (const r of inn.insane.ofPeer(peer)) {
        if (r.rejection.kind !== 'local' && r.rejection.kind !== 'next-hop') continue;
        if (inn.sanity(peer, r.prefix, nextHopProblem(r.attrs.nextHop, inn.local)) !== null) continue;
        inn.insane.remove(peer, r.prefix, r.pathId);
        const p = r.prefix;
        const o = typeof p === 'number' ? inn.announce(peer, 4, [p], r.pathId === 0 ? null : [r.pathId], r.attrs) : inn.announce(peer, 6, [p], r.pathId === 0 ? null : [r.pathId], r.attrs);
        if (typeof o !== 'number') this.#log?.warn({ peer: peer.address }, 'a path accepted again after an address change put the peer over its maximum prefixes; it stays until the peer sends again');
        moved++;
      }
    }
    return moved;
  }

  // ------------------------------------------------------------------------------------
  // graceful restart and route refresh

  /** Mark the peer's paths of these families (all when omitted) stale; returns how many were marked. */
  markStale(h: PeerHandle, families?: readonly Family[]): number {
    const p = this.#peer(h);
    let n = 0;
    for (const path of p.paths()) {
      if (families && !families.includes(familyOf(path.prefix))) continue;
      if (!path.stale) {
        path.stale = true;
        p.stale++;
        n++;
      }
    }
    return n;
  }

  /** Withdraw the peer's paths still stale (of one family, or all); returns how many. */
  sweepStale(h: PeerHandle, family?: Family): number {
    const p = this.#peer(h);
    if (p.stale === 0) return 0;
    let n = 0;
    for (const path of p.paths(family)) {
      if (!path.stale) continue;
      this.#in.removePath(path);
      n++;
    }
    return n;
  }

  /**
   * The peer asked for a route refresh of a family: at the next flush it is sent its
   * Adj-RIB-Out for the family again, between BoRR and EoRR when enhanced route refresh was
   * negotiated (RFC 7313). Inbound refresh (ours) uses markStale at BoRR and sweepStale at EoRR.
   */
  routeRefresh(h: PeerHandle, family: Family): void {
    const p = this.#peer(h);
    const g = this.#groupOf.get(p);
    if (!g || !p.session) return;
    g.refreshes.push({ peer: p, family, enhanced: p.session.enhancedRouteRefresh ?? false });
    this.#loc.poke();
  }

  // ------------------------------------------------------------------------------------
  // origination

  /** The prefixes this node originates (ROUTELET_ADVERTISE): the set replaces the previous one. */
  originate(prefixes: readonly Prefix[]): void {
    for (const p of prefixes) checkPrefix(p);
    const want = new Set<Prefix>(prefixes);
    for (const path of this.#local.paths()) if (!want.has(path.prefix)) this.#in.removePath(path);
    for (const p of want) this.#in.put(this.#local, p, 0, this.#localAttrs);
  }

  /** Next-hop resolution or IGP costs changed: ask the resolver again and re-run every decision. */
  revalidateNextHops(): void {
    this.#costCache.clear();
    this.#loc.redecideAll();
  }

  // ------------------------------------------------------------------------------------
  // output

  #deferEndOfRib = false;
  readonly #owedEndOfRib = new Set<RibPeer>();

  /**
   * Restarting speaker (RFC 4724 §4.1): hold back End-of-RIB from the peers that come up until
   * releaseEndOfRib(), so a helper does not sweep our stale routes before we have heard every
   * peer's table (a route reflector would otherwise reflect a partial table as complete).
   */
  deferEndOfRib(): void {
    this.#deferEndOfRib = true;
  }

  /** Send the End-of-RIB held back since deferEndOfRib() (after a flush) and stop deferring. */
  releaseEndOfRib(): number {
    if (!this.#deferEndOfRib) return 0;
    this.flushAll(); // every route before the End-of-RIB that says the table is complete
    this.#deferEndOfRib = false;
    let n = 0;
    for (const peer of this.#owedEndOfRib) {
      const g = this.#groupOf.get(peer);
      if (!g || !g.members.has(peer)) continue;
      this.#send(peer, g.endOfRibMessages());
      n++;
    }
    this.#owedEndOfRib.clear();
    return n;
  }

  /**
   * The prefixes of the group's Adj-RIB-Out whose best path came from `peer` (split horizon:
   * not sent to it), or null when there are none. O(the peer's Adj-RIB-In).
   */
  #ownPrefixes(g: UpdateGroup, peer: RibPeer): OwnPrefixes | null {
    let v4: Set<number> | null = null;
    let v6: Set<Prefix6> | null = null;
    for (let x = peer.head; x !== null; x = x.next) {
      const d = x.dest;
      if (d.best !== x) continue;
      const p = d.prefix;
      if (!g.has(p)) continue;
      if (typeof p === 'number') (v4 ??= new Set()).add(p);
      else (v6 ??= new Set()).add(p);
    }
    return v4 || v6 ? { v4: v4 ?? new Set(), v6: v6 ?? new Set() } : null;
  }

  /** Destinations changed since the last flush (what the next flush sends and hands the FIB). */
  get changes(): number {
    return this.#loc.dirtyCount;
  }

  /** Where the list of changed destinations ends now (for flushFibSince). */
  get changeMark(): ChangeMark {
    return { takes: this.#loc.takes, at: this.#loc.dirty.length };
  }

  /** Destinations first changed after `mark`, or -1 when a flush has taken the list since. */
  changesSince(mark: ChangeMark): number {
    return mark.takes === this.#loc.takes ? this.#loc.dirty.length - mark.at : -1;
  }

  /** Whether flush() has anything to do. */
  get pending(): boolean {
    if (this.#loc.isDirty) return true;
    for (const g of this.#groups.values()) if (g.joiners.length || g.refreshes.length) return true;
    return false;
  }

  /**
   * How many changed destinations one flush takes: about FLUSH_SENDS routes to all the update
   * groups' members together (the rest go with the next flush, a turn later). 2,000 RR clients
   * announcing at once changed 2,000 destinations in one turn; sent in one flush, every
   * member's copy (split horizon) was packed at once: 232–419 MiB of the reflector's RSS.
   */
  #flushLimit(): number {
    let members = 0;
    for (const g of this.#groups.values()) members += g.members.size;
    return Math.max(FLUSH_MIN_DESTS, Math.floor(FLUSH_SENDS / Math.max(1, members)));
  }

  /**
   * Send what changed: per update group, the changes encoded once and the same messages to
   * every member; then the full table and End-of-RIB to peers that came up; then route
   * refresh answers; then the coalesced FIB changes.
   */
  flush(): FlushStats {
    const loc = this.#loc;
    const { list: dirty, bits } = loc.takeDirty(this.#flushLimit());
    const send = this.#send;
    let encoded = 0;
    let joined = 0;
    for (const g of [...this.#groups.values()]) {
      const record = g.members.size > 0;
      const c4 = g.carries(4);
      const c6 = g.carries(6);
      const members = g.members;
      for (let i = 0; i < dirty.length; i++) {
        if ((bits[i]! & DIRTY_OUT) === 0) continue;
        const d = dirty[i]!;
        const p = d.prefix;
        const best = d.best;
        // split horizon: a member's own best path is left out of its copy (group.ts); a best
        // path that moved to another peer is sent again even with the same exported attributes
        if (typeof p === 'number') {
          if (c4) g.set4(p, g.exportFor(p, best, 4), record, best?.peer ?? null, d.sentFrom);
        } else if (c6) g.set6(p, g.exportFor(p, best, 6), record, best?.peer ?? null, d.sentFrom);
      }
      if (record) {
        const { shared, own } = g.takeBatches();
        encoded += shared.length;
        if (own !== null) {
          // a field on the peer, not a Map lookup per member: 2,000 members per flush
          for (const [peer, msgs] of own) peer.ownBatch = msgs;
          for (const peer of members) {
            const msgs = peer.ownBatch ?? shared;
            if (msgs.length) send(peer, msgs);
          }
          for (const peer of own.keys()) peer.ownBatch = null;
        } else if (shared.length) for (const peer of members) send(peer, shared);
      } else g.discardBatch();
      if (g.joiners.length) {
        let init: Buffer[] | undefined;
        const joiners = g.joiners;
        g.joiners = [];
        for (const peer of joiners) {
          if (this.#groupOf.get(peer) !== g) continue; // went down meanwhile
          g.members.add(peer);
          joined++;
          const own = this.#ownPrefixes(g, peer);
          send(peer, own ? g.initialMessages(!this.#deferEndOfRib, own) : (init ??= g.initialMessages(!this.#deferEndOfRib)));
          if (this.#deferEndOfRib) this.#owedEndOfRib.add(peer);
        }
      }
      if (g.refreshes.length) {
        const rs = g.refreshes;
        g.refreshes = [];
        for (const r of rs) if (this.#groupOf.get(r.peer) === g) send(r.peer, g.refreshMessages(r.family, r.enhanced, this.#ownPrefixes(g, r.peer) ?? undefined));
      }
    }
    let fibChanges = 0;
    const fib = this.#events.fib;
    if (fib) {
      const changes: FibChange[] = [];
      for (let i = 0; i < dirty.length; i++) if (bits[i]! & DIRTY_FIB) changes.push(fibChange(dirty[i]!));
      fibChanges = changes.length;
      if (changes.length) {
        try {
          fib(changes);
        } catch (e) {
          this.#log?.error({ err: e }, 'the FIB callback threw; the RIB goes on');
        }
      }
    }
    loc.settle(dirty);
    return { encoded, joined, fibChanges };
  }

  /**
   * flush() until no change waits, however many flushes the limit makes that (flush() takes a
   * bounded share): for a caller that needs every change out now (End-of-RIB, a sweep).
   */
  flushAll(): FlushStats {
    let encoded = 0;
    let joined = 0;
    let fibChanges = 0;
    do {
      const s = this.flush();
      encoded += s.encoded;
      joined += s.joined;
      fibChanges += s.fibChanges;
    } while (this.#loc.isDirty);
    return { encoded, joined, fibChanges };
  }

  /**
   * Hand the FIB the forwarding changes waiting, ahead of the flush() that follows (which then
   * leaves them out): a lone route goes to the kernel before the update groups' encoding and
   * writes, whose cost grows with the groups and their members. Returns how many changes.
   */
  flushFib(): number {
    return this.#handFib(0);
  }

  /**
   * flushFib() for the destinations first changed after `mark` alone (those of a lone UPDATE
   * while a table load's changes wait): their forwarding changes go now, the rest with the
   * flush. Each destination's best path is decided when it changes, so handing one over early
   * is what the flush would hand over. Returns how many, or -1 (nothing done) when a flush has
   * taken the list since the mark.
   */
  flushFibSince(mark: ChangeMark): number {
    return mark.takes === this.#loc.takes ? this.#handFib(mark.at) : -1;
  }

  #handFib(from: number): number {
    const fib = this.#events.fib;
    if (!fib) return 0;
    const list = this.#loc.dirty;
    let changes: FibChange[] | null = null;
    for (let i = Math.max(from, this.#loc.dirtyHead); i < list.length; i++) {
      const d = list[i]!;
      if ((d.dirty & DIRTY_FIB) === 0) continue;
      (changes ??= []).push(fibChange(d));
      d.dirty = (d.dirty & ~DIRTY_FIB) | DIRTY_QUEUED;
    }
    if (changes === null) return 0;
    try {
      fib(changes);
    } catch (e) {
      this.#log?.error({ err: e }, 'the FIB callback threw; the RIB goes on');
    }
    return changes.length;
  }

  /** The whole desired forwarding state (for a FIB resync): one entry per prefix with a best path. */
  *desired(): Generator<FibChange> {
    const loc = this.#loc;
    for (const p of loc.v4.keys()) {
      const d = loc.v4.get(p);
      if (d?.best) yield fibChange(d);
    }
    for (const p of [...loc.v6.keys()]) {
      const d = loc.v6.get(p);
      if (d?.best) yield fibChange(d);
    }
  }

  // ------------------------------------------------------------------------------------
  // views (snapshots for HTTP, metrics, tests)

  peerCounts(h: PeerHandle): PeerCounts {
    const p = this.#peer(h);
    const g = this.#groupOf.get(p);
    const ins = this.#in.insane.counts(p);
    return {
      received: p.accepted + p.rejectedCount + this.#in.insane.count(p),
      accepted: p.accepted,
      advertised: g !== undefined && g.members.has(p) ? g.advertised - g.fromPeer(p) : 0,
      staleRoutes: p.stale,
      endOfRib: [...p.endOfRib].sort(),
      ...(ins !== null ? { rejected: ins.now, rejectedTotal: ins.total } : {}),
    };
  }

  /** The Adj-RIB-In of a peer: its accepted paths. */
  *adjRibIn(h: PeerHandle, family?: Family): Generator<{ prefix: Prefix; pathId: number; attrs: PathAttributes; stale: boolean }> {
    for (const x of this.#peer(h).paths(family)) yield { prefix: x.prefix, pathId: x.pathId, attrs: x.a.attrs, stale: x.stale };
  }

  /** The Adj-RIB-Out of a peer (its update group's), empty before it was sent the table. */
  *adjRibOut(h: PeerHandle, family?: Family): Generator<[Prefix, PathAttributes]> {
    const p = this.#peer(h);
    const g = this.#groupOf.get(p);
    if (g && g.members.has(p)) yield* g.entries(family, this.#ownPrefixes(g, p) ?? undefined);
  }

  /** The peers sharing this peer's update group (itself included). */
  groupOf(h: PeerHandle): { key: string; role: GroupRole; members: PeerHandle[]; fullTableBuilds: number } | null {
    const g = this.#groupOf.get(this.#peer(h));
    return g ? { key: g.key, role: g.role, members: [...g.members, ...g.joiners], fullTableBuilds: g.fullTableBuilds } : null;
  }

  get stats(): { prefixes: number; paths: number; groups: number; peers: number } {
    let paths = this.#local.accepted;
    for (const p of this.#peers) paths += p.accepted;
    return { prefixes: this.#loc.size, paths, groups: this.#groups.size, peers: this.#peers.size };
  }

  /**
   * /api/v1/routes: every route (or those `query` names), one RouteView at a time, with the
   * kernel state from `kernel` (the FIB's). Safe to interleave with updates while streaming.
   */
  routes(query: RouteQuery = {}, kernel: KernelState = () => 'pending'): Iterable<RouteView> {
    return routeViews(this.#loc, this.#loc.cost, query, kernel, this.#in.insane);
  }
}

function fibChange(d: Dest): FibChange {
  const p = d.prefix;
  const best = d.best;
  if (best === null) return { prefix: p, nextHops: null, local: false };
  if (best.peer.local) return { prefix: p, nextHops: null, local: true };
  let nextHops: readonly NextHop[] | null;
  if (d.mp) nextHops = d.mp.map((x) => x.a.nextHop!);
  else nextHops = best.a.nextHops;
  return { prefix: p, nextHops, local: false };
}

/** A valid compact prefix (host bits zero), or a RangeError naming it. */
function checkPrefix(p: Prefix): void {
  if (typeof p === 'number') {
    const len = p % 64;
    const a = Math.floor(p / 64);
    if (Number.isInteger(p) && p >= 0 && len <= 32 && a < 4294967296 && prefix4(a, len) === p) return;
  } else if (typeof p === 'string' && p.length === 17 && p.charCodeAt(0) <= 128 && prefix6(prefix6Bytes(p), p.charCodeAt(0)) === p) return;
  throw new RangeError(`not a compact prefix (src/net/prefix.ts): ${JSON.stringify(p)}`);
}

function checkPrefixes(family: Family, ps: ArrayLike<number> | readonly Prefix6[]): void {
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    checkPrefix(p);
    if ((typeof p === 'number' ? 4 : 6) !== family) throw new RangeError(`an IPv${family === 4 ? 6 : 4} prefix (${formatPrefix(p)}) in an IPv${family} announcement`);
  }
}
