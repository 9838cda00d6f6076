// Interning of path attribute sets: equal sets are one frozen object, compared by identity.
//
// Lifetime: the table holds its sets through WeakRefs. A set lives exactly as long as
// something else holds it — in practice the RIB's routes (and any decoded UPDATE still in
// flight). When the last route using a set goes away, the garbage collector reclaims it and
// a FinalizationRegistry callback removes its keys from the table, so the table never pins
// memory and the RIB needs no reference counting. Identity is guaranteed among live sets:
// decoding the same attributes again while any route still uses the set returns that very
// object; after it was collected a new, equal object is made.
//
// Keys: a set is found by its canonical key (its attributes encoded for a 4-octet iBGP
// session, plus its next hop), so sets decoded from any peer and sets built by policy meet.
// Decoding also records a raw key (the received attribute bytes and AS width) that maps to
// the same object, so a repeated UPDATE skips value decoding entirely.
import { Writer } from './bytes.js';
import { encodeAttributes, type PathAttributes, type PathAttributesInit } from './attributes.js';
import { codecOptions } from './options.js';

const CANONICAL = codecOptions({ as4: true, ebgp: false });

export interface InternStats {
  /** keys in the table (canonical and raw; some may point at sets awaiting collection) */
  readonly keys: number;
  readonly hits: number;
  readonly misses: number;
}

export class AttributeInterner {
  #table = new Map<string, WeakRef<PathAttributes>>();
  #keysOf = new WeakMap<PathAttributes, string[]>();
  #registry = new FinalizationRegistry<string[]>((keys) => {
    for (const k of keys) {
      const r = this.#table.get(k);
      if (r && r.deref() === undefined) this.#table.delete(k);
    }
  });
  #hits = 0;
  #misses = 0;
  #writer = new Writer(1024);

  /** The live set under a key, if any. */
  get(key: string): PathAttributes | undefined {
    const r = this.#table.get(key);
    const a = r?.deref();
    if (a) this.#hits++;
    else this.#misses++;
    return a;
  }

  /**
   * The live set equal to `a` (by canonical key), or `a` itself after adding it.
   * Extra keys (raw wire keys) are recorded for the returned set.
   */
  add(a: PathAttributes, ...aliases: string[]): PathAttributes {
    const key = this.canonicalKey(a);
    const existing = this.#table.get(key)?.deref();
    const set = existing ?? a;
    let keys = this.#keysOf.get(set);
    if (!keys) {
      keys = [];
      this.#keysOf.set(set, keys);
      this.#registry.register(set, keys);
    }
    const ref = existing ? this.#table.get(key)! : new WeakRef(set);
    for (const k of [key, ...aliases]) {
      if (this.#table.get(k)?.deref() === set) continue;
      this.#table.set(k, ref);
      keys.push(k);
    }
    return set;
  }

  /** A set built by policy or configuration, interned. */
  intern(init: PathAttributesInit): PathAttributes {
    return this.add(makeAttributes(init));
  }

  canonicalKey(a: PathAttributes): string {
    const w = this.#writer;
    w.pos = 0;
    encodeAttributes(a, CANONICAL, w);
    return `${w.buf.toString('latin1', 0, w.pos)}\u0000${a.nextHop ?? ''}\u0000${a.linkLocalNextHop ?? ''}`;
  }

  get stats(): InternStats {
    return { keys: this.#table.size, hits: this.#hits, misses: this.#misses };
  }

  /** Forget every key (sets in use stay valid; equal sets decoded later are new objects). */
  clear(): void {
    this.#table.clear();
  }
}

/** The interner decoders use unless given another: one per process, shared by all sessions. */
export const sharedInterner = new AttributeInterner();

// empty lists mean "absent": the encoder writes nothing for them
const frozen = <T>(xs: readonly T[] | undefined): readonly T[] | undefined =>
  xs === undefined || xs.length === 0 ? undefined : Object.isFrozen(xs) ? xs : Object.freeze([...xs]);

/** A frozen (not interned) set from plain values; absent fields are undefined. */
export function makeAttributes(init: PathAttributesInit): PathAttributes {
  return Object.freeze({
    origin: init.origin,
    asPath: init.asPath === undefined ? undefined : Object.isFrozen(init.asPath) ? init.asPath : Object.freeze(init.asPath.map((s) => Object.freeze({ type: s.type, asns: Object.freeze([...s.asns]) }))),
    nextHop: init.nextHop,
    linkLocalNextHop: init.linkLocalNextHop,
    med: init.med,
    localPref: init.localPref,
    atomicAggregate: init.atomicAggregate ?? false,
    aggregator: init.aggregator === undefined ? undefined : Object.freeze({ ...init.aggregator }),
    communities: frozen(init.communities),
    originatorId: init.originatorId,
    clusterList: frozen(init.clusterList),
    extendedCommunities: frozen(init.extendedCommunities),
    largeCommunities: init.largeCommunities === undefined || init.largeCommunities.length === 0 ? undefined : Object.freeze(init.largeCommunities.map((c) => (Object.isFrozen(c) ? c : Object.freeze([...c] as unknown as typeof c)))),
    otc: init.otc,
    tunnelEncapsulation: init.tunnelEncapsulation,
    unknown: init.unknown === undefined || init.unknown.length === 0 ? undefined : Object.freeze([...init.unknown].sort((a, b) => a.code - b.code).map((u) => Object.freeze({ ...u }))),
  });
}

/** A copy of `a` with some fields replaced, interned (policy: prepend, next-hop-self, …). */
export function withAttributes(a: PathAttributes, patch: PathAttributesInit, interner: AttributeInterner = sharedInterner): PathAttributes {
  return interner.intern({ ...a, ...patch });
}
