// A hash table keyed by Prefix4 numbers: open addressing with linear probing over Float64Array
// keys and parallel arrays of values, backward-shift deletion (no tombstones). A V8 Map boxes
// every key above 2^30 (all Prefix4 values of real prefixes) as a heap number and follows a
// chain per bucket; measured on 1,000,000 random prefixes this table looks keys up about 4x
// faster in less memory (16 octets per slot, load ≤ 0.7).
//
// The table is split into 2^shardBits (256) shards by the hash's top bits, each growing on its
// own: a growth rehashes one shard, about 1/256 of the entries, never the whole table. A full
// table loading into one table of 1,000,000 entries otherwise stops the event loop for the
// whole rehash at each doubling (tens to hundreds of ms at that size, in a RIB flush: the
// head-of-line blocking of issue 15); a V8 Map does the same, which is why the FIB's IPv4
// index is one of these too.
const EMPTY = -1;
/** A slot handle (probe()) is the shard << SLOT_BITS | the slot in the shard. */
const SLOT_BITS = 23;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
const MIN_SHARD = 8;

function hash(k: number): number {
  // the low 32 bits (length and the address's low 26) with the high 6, through murmur3's
  // finalizer: every bit of the key reaches the top bits (the shard) and the low ones (the
  // slot) alike; a weaker mix crowds a shard's keys of one prefix length into a few runs
  let h = (k | 0) ^ Math.imul((k / 4294967296) | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class PrefixTable4<V> {
  /** (hash >>> 16) >>> this: the shard (two shifts, so that 0 shard bits give shard 0) */
  readonly #shift: number;
  readonly #keys: Float64Array[] = [];
  readonly #vals: (V | undefined)[][] = [];
  readonly #masks: Int32Array;
  readonly #sizes: Int32Array;
  #size = 0;
  #largestGrowth = 0;

  /** capacity: entries to make room for at once; shardBits: 0–8 (tests use 0: one shard, long probe runs) */
  constructor(capacity = 0, shardBits = 8) {
    if (!Number.isInteger(shardBits) || shardBits < 0 || shardBits > 8) throw new RangeError(`shardBits ${shardBits}: expected an integer from 0 to 8`);
    const shards = 1 << shardBits;
    this.#shift = 16 - shardBits;
    let cap = MIN_SHARD;
    while (cap * 7 < Math.ceil(capacity / shards) * 10) cap *= 2;
    for (let s = 0; s < shards; s++) {
      this.#keys.push(new Float64Array(cap).fill(EMPTY));
      this.#vals.push(new Array<V | undefined>(cap).fill(undefined));
    }
    this.#masks = new Int32Array(shards).fill(cap - 1);
    this.#sizes = new Int32Array(shards);
  }

  get size(): number {
    return this.#size;
  }

  /** Entries rehashed by the largest single growth so far (a shard's, not the table's). */
  get largestGrowth(): number {
    return this.#largestGrowth;
  }

  /** The slot holding `k` (as probe() gives it), or -1. */
  #find(k: number): number {
    const h = hash(k);
    const s = (h >>> 16) >>> this.#shift;
    const keys = this.#keys[s]!;
    const m = this.#masks[s]!;
    for (let i = h & m; ; i = (i + 1) & m) {
      const x = keys[i];
      if (x === k) return (s << SLOT_BITS) | i;
      if (x === EMPTY) return -1;
    }
  }

  get(k: number): V | undefined {
    const e = this.#find(k);
    return e < 0 ? undefined : this.#vals[e >>> SLOT_BITS]![e & SLOT_MASK];
  }

  has(k: number): boolean {
    return this.get(k) !== undefined;
  }

  set(k: number, v: V): this {
    const e = this.probe(k);
    if (e >= 0) this.replaceAt(e, v);
    else this.insertAt(e, k, v);
    return this;
  }

  /**
   * One probe for read-modify-write: the slot holding `k` (>= 0), or the bitwise complement
   * of the empty slot where it would go (room is made first). Valid until the next change.
   */
  probe(k: number): number {
    const h = hash(k);
    const s = (h >>> 16) >>> this.#shift;
    if ((this.#sizes[s]! + 1) * 10 > (this.#masks[s]! + 1) * 7) this.#grow(s);
    const keys = this.#keys[s]!;
    const m = this.#masks[s]!;
    const base = s << SLOT_BITS;
    for (let i = h & m; ; i = (i + 1) & m) {
      const x = keys[i];
      if (x === k) return base | i;
      if (x === EMPTY) return ~(base | i);
    }
  }

  /** The value in a slot from probe() (>= 0). */
  at(e: number): V {
    return this.#vals[e >>> SLOT_BITS]![e & SLOT_MASK] as V;
  }

  /** Replace the value in a slot from probe() (>= 0). */
  replaceAt(e: number, v: V): void {
    this.#vals[e >>> SLOT_BITS]![e & SLOT_MASK] = v;
  }

  /** Insert at the complement from probe() (< 0). */
  insertAt(c: number, k: number, v: V): void {
    const e = ~c;
    const s = e >>> SLOT_BITS;
    this.#keys[s]![e & SLOT_MASK] = k;
    this.#vals[s]![e & SLOT_MASK] = v;
    this.#sizes[s]!++;
    this.#size++;
  }

  delete(k: number): boolean {
    const e = this.#find(k);
    if (e < 0) return false;
    this.removeAt(e);
    return true;
  }

  /** Remove the entry in a slot from probe() (>= 0). */
  removeAt(e: number): void {
    const s = e >>> SLOT_BITS;
    const keys = this.#keys[s]!;
    const vals = this.#vals[s]!;
    const m = this.#masks[s]!;
    // backward shift: move later members of the probe run into the hole when allowed
    let hole = e & SLOT_MASK;
    for (let j = (hole + 1) & m; ; j = (j + 1) & m) {
      const x = keys[j]!;
      if (x === EMPTY) break;
      const home = hash(x) & m;
      // can x move to `hole`? only if its home is not in (hole, j]
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      keys[hole] = x;
      vals[hole] = vals[j];
      hole = j;
    }
    keys[hole] = EMPTY;
    vals[hole] = undefined;
    this.#sizes[s]!--;
    this.#size--;
  }

  #grow(s: number): void {
    const ok = this.#keys[s]!;
    const ov = this.#vals[s]!;
    const cap = ok.length * 2;
    if (cap > SLOT_MASK + 1) throw new RangeError(`PrefixTable4: a shard of more than ${SLOT_MASK + 1} slots`);
    const keys = (this.#keys[s] = new Float64Array(cap).fill(EMPTY));
    const vals = (this.#vals[s] = new Array<V | undefined>(cap).fill(undefined));
    const m = (this.#masks[s] = cap - 1);
    for (let j = 0; j < ok.length; j++) {
      const k = ok[j]!;
      if (k === EMPTY) continue;
      let i = hash(k) & m;
      while (keys[i] !== EMPTY) i = (i + 1) & m;
      keys[i] = k;
      vals[i] = ov[j];
    }
    if (this.#sizes[s]! > this.#largestGrowth) this.#largestGrowth = this.#sizes[s]!;
  }

  /** Visit every entry. The callback must not add or delete entries. */
  forEach(f: (v: V, k: number) => void): void {
    for (let s = 0; s < this.#keys.length; s++) {
      const keys = this.#keys[s]!;
      const vals = this.#vals[s]!;
      for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) f(vals[i] as V, keys[i]!);
    }
  }

  /** A copy of the keys (safe to use while the table changes). */
  keys(): Float64Array {
    const out = new Float64Array(this.#size);
    let n = 0;
    for (const keys of this.#keys) for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) out[n++] = keys[i]!;
    return out;
  }

  /** The values; the table must not change while iterating. */
  *values(): Generator<V> {
    for (let s = 0; s < this.#keys.length; s++) {
      const keys = this.#keys[s]!;
      const vals = this.#vals[s]!;
      for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) yield vals[i] as V;
    }
  }

  /**
   * Entries, of the keys there when iteration began (a copy): entries may be deleted while
   * iterating (a deleted one not yet reached is skipped), as a Map allows; added ones are not visited.
   */
  *entries(): Generator<[number, V]> {
    for (const k of this.keys()) {
      const v = this.get(k);
      if (v !== undefined) yield [k, v];
    }
  }

  [Symbol.iterator](): Generator<[number, V]> {
    return this.entries();
  }
}
