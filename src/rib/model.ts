// The RIB's data model, which the other RIB modules share; it imports only types, and none
// from a module that imports it (attrs, decision, types), and sanity.ts (which imports no RIB
// module) to compile a peer's import limits, so the RIB has no import circle:
// a Path (one peer's route for one prefix and path identifier), a Dest (a Loc-RIB
// destination: the prefix, its paths, best and multipath set), and a RibPeer (its
// Adj-RIB-In as an intrusive list of its paths, which live in the destinations; counters,
// stale marks, End-of-RIB received, and its session). Which update group a peer is in is
// the Rib's to know (rib.ts), not the peer's.
import { parseIP } from '../net/ip.js';
import type { Prefix, Prefix6 } from '../net/prefix.js';
import type { RibAttrs } from './attrs.js';
import type { DecisionPeer } from './decision.js';
import type { ExportPolicy, Family, ImportPolicy, PeerHandle, PeerOptions, SessionInfo } from './types.js';
import { DEFAULT_RULES, importRules, type ImportRules } from './sanity.js';

// Paths and destinations are made by newPath and newDest, as object literals with the class's
// prototype, not with `new`: V8 allocates a literal's objects straight in the old generation
// once most of those from the same site survive (allocation-site pretenuring, which it does not
// do for `new`). A table load's million paths and destinations all survive; made with `new`,
// each was copied by two scavenges on the way to the old generation.

/** One path: at most one per (peer, prefix, path identifier), sharing interned attributes. */
export class Path {
  declare stale: boolean;
  /** the peer's Adj-RIB-In list */
  declare prev: Path | null;
  declare next: Path | null;
  declare readonly peer: RibPeer;
  /** the Loc-RIB destination (which holds the prefix) */
  declare readonly dest: Dest;
  declare readonly pathId: number;
  declare a: RibAttrs;

  /** newPath makes them */
  private constructor() {}

  get prefix(): Prefix {
    return this.dest.prefix;
  }
}

export function newPath(peer: RibPeer, dest: Dest, pathId: number, a: RibAttrs): Path {
  return { __proto__: Path.prototype, stale: false, prev: null, next: null, peer, dest, pathId, a } as unknown as Path;
}

/** A Loc-RIB destination: every path for the prefix (a single path is stored bare, without an array), the best path and the multipath set. */
export class Dest {
  declare best: Path | null;
  /** the multipath set (best first) when it has more than one path */
  declare mp: Path[] | null;
  /** DIRTY_* bits (locrib.ts) since the last flush */
  declare dirty: number;
  /**
   * The peer of the best path the last flush exported (split horizon: when the best moves to
   * another peer with the same exported attributes, the group's entry stays but who may
   * receive it changes).
   */
  declare sentFrom: RibPeer | null;
  // The prefix, kept as small integers: a Prefix4 (up to 2^38) in a field would be a
  // separate heap number per destination. IPv4: hi = address >>> 16, lo = the rest of
  // the Prefix4 value (< 2^22). IPv6: hi = -1, lo = the Prefix6 string. (Plain fields: a
  // literal cannot carry the class's private ones.)
  declare protected readonly hi: number;
  declare protected readonly lo: number | Prefix6;
  declare paths: Path | Path[] | null;

  /** newDest makes them */
  private constructor() {}

  get prefix(): Prefix {
    const hi = this.hi;
    return hi < 0 ? this.lo : hi * 4194304 + (this.lo as number);
  }

  get v4(): boolean {
    return this.hi >= 0;
  }
}

export function newDest(prefix: Prefix, paths: Path | Path[] | null): Dest {
  let hi = -1;
  let lo: number | Prefix6;
  if (typeof prefix === 'number') {
    hi = Math.floor(prefix / 4194304);
    lo = prefix - hi * 4194304;
  } else lo = prefix;
  return { __proto__: Dest.prototype, best: null, mp: null, dirty: 0, sentFrom: null, hi, lo, paths } as unknown as Dest;
}

const NONE: readonly Path[] = Object.freeze([]);

export function pathsOf(d: Dest): readonly Path[] {
  const ps = d.paths;
  return ps === null ? NONE : Array.isArray(ps) ? ps : [ps];
}

export function addressKey(address: string): string {
  const ip = parseIP(address);
  if (!ip) return `\u00ff${address}`;
  return String.fromCharCode(ip.family, ...ip.bytes);
}

let nextPeerId = 1;

export class RibPeer implements PeerHandle, DecisionPeer {
  readonly id = nextPeerId++;
  readonly address: string;
  readonly asn: number;
  readonly ebgp: boolean;
  readonly local: boolean;
  readonly routeReflectorClient: boolean;
  readonly addressKey: string;
  readonly maxPrefixes: number | undefined;
  readonly allowAsIn: number;
  readonly importPolicy: ImportPolicy | undefined;
  readonly exportPolicy: ExportPolicy | undefined;
  /** import sanity limits (allowDefault, allowLinkLocal, importPrefixes), compiled */
  readonly importRules: ImportRules;
  /** BGP identifier: from the session's OPEN; kept after the session goes (stale paths compare with it) */
  routerId = '0.0.0.0';
  routerIdNum = 0;
  session: SessionInfo | null = null;
  /** Adj-RIB-In list */
  head: Path | null = null;
  accepted = 0;
  stale = 0;
  /** prefixes (or prefix:pathId) the peer sent that import policy or a guard rejected */
  rejected4: Set<number | string> | null = null;
  rejected6: Set<string> | null = null;
  readonly endOfRib = new Set<Family>();
  removed = false;
  /** during a flush only: this peer's copy of its group's batch (split horizon, group.ts) */
  ownBatch: readonly Buffer[] | null = null;

  constructor(opts: PeerOptions, localAsn: number, local = false) {
    this.address = opts.address;
    this.asn = opts.asn;
    this.local = local;
    this.ebgp = !local && opts.asn !== localAsn;
    this.routeReflectorClient = !this.ebgp && !local && (opts.routeReflectorClient ?? false);
    this.addressKey = local ? '' : addressKey(opts.address);
    this.maxPrefixes = opts.maxPrefixes;
    this.allowAsIn = opts.allowAsIn ?? 0;
    this.importPolicy = opts.importPolicy;
    this.exportPolicy = opts.exportPolicy;
    this.importRules = local ? DEFAULT_RULES : importRules(opts);
  }

  link(p: Path): void {
    p.next = this.head;
    p.prev = null;
    if (this.head) this.head.prev = p;
    this.head = p;
    this.accepted++;
    if (p.stale) this.stale++;
  }

  unlink(p: Path): void {
    if (p.prev) p.prev.next = p.next;
    else this.head = p.next;
    if (p.next) p.next.prev = p.prev;
    p.prev = p.next = null;
    this.accepted--;
    if (p.stale) this.stale--;
  }

  get rejectedCount(): number {
    return (this.rejected4?.size ?? 0) + (this.rejected6?.size ?? 0);
  }

  /** The paths of the Adj-RIB-In, optionally of one family; safe against removal of the current path. */
  *paths(family?: Family): Generator<Path> {
    for (let p = this.head; p !== null; ) {
      const next = p.next;
      if (family === undefined || (p.dest.v4 ? 4 : 6) === family) yield p;
      p = next;
    }
  }
}
