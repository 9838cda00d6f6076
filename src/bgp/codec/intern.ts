// Interning of path attribute sets: equal sets are one frozen object, compared by identity.
//
// Lifetime: the table holds its sets through WeakRefs, so a set lives exactly as long as
// something else holds it — in practice the RIB's routes (and any decoded UPDATE still in
// flight) — and the RIB needs no reference counting. A new entry starts out strong and is
// weakened by the next sweep (making a WeakRef per set while decoding a table would double
// the cost of a miss); a sweep also drops the entries whose sets were collected. Sweeps run
// by themselves once as many entries were added as the table holds (at least 1024), so the
// table pins at most that many unused sets and its dead entries never outnumber live ones. Identity is guaranteed among live sets: decoding the same
// attributes again while any route still uses the set returns that very object; after it
// was collected, a new equal object is made.
//
// Keys are octets: a decoded set is found by the attribute octets as received (without
// MP_REACH_NLRI, MP_UNREACH_NLRI and NEXT_HOP), the AS width, and the next hop, so a table
// load decodes each distinct set once and every later UPDATE carrying the same octets gets
// the same object without decoding values or building strings. A set built by policy
// (intern(), withAttributes()) is keyed by its canonical encoding (4-octet AS, type-code
// order) in the same format, so it meets the decoded set of any peer that encodes
// canonically. Equal sets that arrived in different encodings (a 2-octet AS peer, another
// attribute order) may be distinct objects.
import { parseIP } from '../../net/ip.js';
import { Writer } from './bytes.js';
import { encodeAttributes } from './attribute-list.js';
import type { PathAttributes, PathAttributesInit } from './attributes.js';
import { codecOptions } from './options.js';

const CANONICAL = codecOptions({ as4: true, ebgp: false });

export interface InternStats {
  /** sets in the table (some may be awaiting collection) */
  readonly entries: number;
  readonly hits: number;
  readonly misses: number;
}

interface Entry {
  /** where the key octets lie in the interner's key store, and how many */
  at: number;
  readonly len: number;
  /** set until the next sweep makes `weak` */
  strong: PathAttributes | undefined;
  weak: WeakRef<PathAttributes> | undefined;
}

const live = (e: Entry): PathAttributes | undefined => e.strong ?? e.weak!.deref();

/**
 * A hash of key[0, len), folded to a small integer (a fast Map key): a multiply-xorshift
 * round per 4 octets, then per remaining octet, then a final mix. (Byte-at-a-time FNV-1a
 * cost about 1 ns per key octet, as much as the rest of the lookup.)
 */
export function hashKey(key: Uint8Array, len: number): number {
  let h = len ^ 0x2545f491;
  let i = 0;
  for (const words = len - 3; i < words; i += 4) {
    h = Math.imul(h ^ ((key[i]! << 24) | (key[i + 1]! << 16) | (key[i + 2]! << 8) | key[i + 3]!), 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; i < len; i++) {
    h = Math.imul(h ^ key[i]!, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 2) & 0x3fffffff;
}

/** Room for the key of any UPDATE (its attributes fit in 65,535 octets) plus a next hop. */
export const KEY_SCRATCH = Buffer.alloc(65536 + 64);

// Keys live in one store of octets per interner, outside the JavaScript heap: a key string
// per set cost a call into the runtime to make and ~80 octets that every scavenge had to
// copy along with the set. When the store is full it doubles (one copy, keys keep their
// places), or, when at least half of it belongs to entries a sweep dropped, the keys still
// listed are moved into a new store.
const newStore = (n: number): Buffer => Buffer.allocUnsafeSlow(n);

export class AttributeInterner {
  #buckets = new Map<number, Entry | Entry[]>();
  #keys = newStore(64 * 1024);
  #keysUsed = 0;
  /** octets of the store whose entries a sweep dropped */
  #keysDropped = 0;
  #entries = 0;
  #young = 0;
  #sweepAt = 1024;
  #hits = 0;
  #misses = 0;
  #writer = new Writer(1024);

  #sameKey(e: Entry, key: Uint8Array, len: number): boolean {
    if (e.len !== len) return false;
    const k = this.#keys;
    for (let i = 0, at = e.at; i < len; i++) if (k[at + i] !== key[i]) return false;
    return true;
  }

  /** The live set whose key is key[0, len) with the given hash, if any. */
  find(key: Buffer, len: number, hash: number): PathAttributes | undefined {
    const b = this.#buckets.get(hash);
    if (b !== undefined) {
      if (!Array.isArray(b)) {
        if (this.#sameKey(b, key, len)) {
          const a = live(b);
          if (a) {
            this.#hits++;
            return a;
          }
        }
      } else {
        for (const e of b) {
          if (!this.#sameKey(e, key, len)) continue;
          const a = live(e);
          if (a) {
            this.#hits++;
            return a;
          }
        }
      }
    }
    this.#misses++;
    return undefined;
  }

  /**
   * Store `a` under key[0, len) (the key is copied). The caller has just seen find() miss;
   * an entry whose set was collected may remain and is swept later.
   */
  insert(key: Buffer, len: number, hash: number, a: PathAttributes): PathAttributes {
    if (this.#young >= this.#sweepAt) this.sweep();
    if (this.#keysUsed + len > this.#keys.length) this.#makeRoom(len);
    const at = this.#keysUsed;
    const k = this.#keys;
    // a key is a few dozen octets: a loop is cheaper than the view Buffer#copy makes
    if (len <= 256) for (let i = 0; i < len; i++) k[at + i] = key[i]!;
    else key.copy(k, at, 0, len);
    this.#keysUsed = at + len;
    const e: Entry = { at, len, strong: a, weak: undefined };
    const b = this.#buckets.get(hash);
    if (b === undefined) this.#buckets.set(hash, e);
    else if (Array.isArray(b)) b.push(e);
    else this.#buckets.set(hash, [b, e]);
    this.#entries++;
    this.#young++;
    return a;
  }

  /** A store with room for `need` more octets. */
  #makeRoom(need: number): void {
    const used = this.#keysUsed;
    if (this.#keysDropped * 2 >= used) {
      this.#compact(need);
      return;
    }
    const store = newStore(Math.max(64 * 1024, 2 * (used + need)));
    store.set(this.#keys.subarray(0, used));
    this.#keys = store;
  }

  /** Move the keys of the entries still listed into a new store with room for `need` more octets. */
  #compact(need: number): void {
    let live = 0;
    for (const b of this.#buckets.values()) {
      if (!Array.isArray(b)) live += b.len;
      else for (const e of b) live += e.len;
    }
    const old = this.#keys;
    const store = newStore(Math.max(64 * 1024, 2 * (live + need)));
    let at = 0;
    const move = (e: Entry): void => {
      for (let i = 0; i < e.len; i++) store[at + i] = old[e.at + i]!;
      e.at = at;
      at += e.len;
    };
    for (const b of this.#buckets.values()) {
      if (!Array.isArray(b)) move(b);
      else b.forEach(move);
    }
    this.#keys = store;
    this.#keysUsed = at;
    this.#keysDropped = 0;
  }

  /** Weaken new entries and drop those whose sets were collected. Runs by itself as entries are added. */
  sweep(): void {
    const keep = (e: Entry): boolean => {
      if (e.strong) {
        e.weak = new WeakRef(e.strong);
        e.strong = undefined;
        return true;
      }
      if (e.weak!.deref() !== undefined) return true;
      this.#keysDropped += e.len;
      return false;
    };
    let n = 0;
    for (const [h, b] of this.#buckets) {
      if (!Array.isArray(b)) {
        if (keep(b)) n++;
        else this.#buckets.delete(h);
        continue;
      }
      const kept = b.filter(keep);
      if (kept.length === 0) this.#buckets.delete(h);
      else this.#buckets.set(h, kept.length === 1 ? kept[0]! : kept);
      n += kept.length;
    }
    this.#entries = n;
    this.#young = 0;
    this.#sweepAt = Math.max(1024, n);
  }

  /** A set built by policy or configuration, interned under its canonical key. */
  intern(init: PathAttributesInit): PathAttributes {
    return this.add(makeAttributes(init));
  }

  /** `a` interned under its canonical key: the equal live set if there is one. */
  add(a: PathAttributes): PathAttributes {
    const len = this.canonicalKey(a, KEY_SCRATCH);
    const hash = hashKey(KEY_SCRATCH, len);
    return this.find(KEY_SCRATCH, len, hash) ?? this.insert(KEY_SCRATCH, len, hash, a);
  }

  /** Write 'W', the attributes as a canonical 4-octet iBGP encoding, then the next hop; returns the length. */
  canonicalKey(a: PathAttributes, out: Buffer): number {
    const w = this.#writer;
    w.pos = 0;
    w.u8(KEY_AS4);
    encodeAttributes(a, CANONICAL, w);
    out.set(w.buf.subarray(0, w.pos));
    let n = w.pos;
    n = writeNextHopKey(out, n, a.nextHop, a.linkLocalNextHop);
    return n;
  }

  get stats(): InternStats {
    return { entries: this.#entries, hits: this.#hits, misses: this.#misses };
  }
}

/** First key octet: the AS width the attribute octets were encoded with. */
export const KEY_AS4 = 0x57;
export const KEY_AS2 = 0x4e;

/** Append the next hop (family tag, 4 or 16 octets, 16 more for a link-local) from text. */
function writeNextHopKey(out: Uint8Array, n: number, nextHop: string | undefined, linkLocal: string | undefined): number {
  if (nextHop === undefined) {
    out[n++] = 0;
    return n;
  }
  const a = parseIP(nextHop);
  if (!a) throw new RangeError(`bad next hop ${JSON.stringify(nextHop)}`);
  out[n++] = a.family;
  out.set(a.bytes, n);
  n += a.bytes.length;
  if (linkLocal !== undefined) {
    const l = parseIP(linkLocal);
    if (!l || l.family !== 6) throw new RangeError(`bad link-local next hop ${JSON.stringify(linkLocal)}`);
    out.set(l.bytes, n);
    n += 16;
  }
  return n;
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
    asPath:
      init.asPath === undefined
        ? undefined
        : Object.isFrozen(init.asPath)
          ? init.asPath
          : Object.freeze(init.asPath.map((s) => Object.freeze({ type: s.type, asns: Object.freeze([...s.asns]) }))),
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
    largeCommunities:
      init.largeCommunities === undefined || init.largeCommunities.length === 0
        ? undefined
        : Object.freeze(init.largeCommunities.map((c) => (Object.isFrozen(c) ? c : (Object.freeze([...c]) as unknown as typeof c)))),
    otc: init.otc,
    tunnelEncapsulation: init.tunnelEncapsulation,
    unknown:
      init.unknown === undefined || init.unknown.length === 0
        ? undefined
        : Object.freeze([...init.unknown].sort((a, b) => a.code - b.code).map((u) => Object.freeze({ ...u }))),
  });
}

/** A copy of `a` with some fields replaced, interned (policy: prepend, next-hop-self, …). */
export function withAttributes(a: PathAttributes, patch: PathAttributesInit, interner: AttributeInterner = sharedInterner): PathAttributes {
  return interner.intern({ ...a, ...patch });
}
