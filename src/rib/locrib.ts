// The Loc-RIB: per family, compact prefix → destination. A destination holds every path
// for the prefix (one per peer and path identifier; a single path is stored bare, without
// an array), the best path and the multipath set. Every change runs the decision for that
// destination only and records what moved on the destination itself — OUT (the advertised
// best changed) and FIB (the forwarding set changed) — and queues it once until the next
// flush. A destination that loses its last path stays in the table until that flush (a
// re-announcement in between reuses it), so a flush sees each prefix exactly once.
import type { Prefix, Prefix6 } from '../net/prefix.js';
import { type CostFn, select } from './decision.js';
import { type Dest, newDest, type Path } from './model.js';
import { PrefixTable4 } from '../net/table4.js';
import type { Family } from './types.js';

export const DIRTY_OUT = 1;
export const DIRTY_FIB = 2;
/** queued, its FIB change handed over already (Rib.flushFib): still once in the list */
export const DIRTY_QUEUED = 4;

export const familyOf = (p: Prefix): Family => (typeof p === 'number' ? 4 : 6);

export class LocRib {
  readonly v4 = new PrefixTable4<Dest>();
  readonly v6 = new Map<Prefix6, Dest>();
  /** destinations with a path */
  live = 0;
  /** destinations changed since the last flush, each once: those from dirtyHead on */
  dirty: Dest[] = [];
  /** where the destinations not taken yet begin in `dirty` (takeDirty with a limit) */
  dirtyHead = 0;
  /** how many times the dirty list was taken (a position in it is good until the next) */
  takes = 0;
  onDirty: () => void = () => {};
  #wasClean = true;

  constructor(
    public cost: CostFn,
    public maxPaths: number,
  ) {}

  get size(): number {
    return this.live;
  }

  /** The destination of a prefix (possibly empty until the next flush). */
  get(p: Prefix): Dest | undefined {
    return typeof p === 'number' ? this.v4.get(p) : this.v6.get(p);
  }

  /** The destination of a prefix if it has paths. */
  getLive(p: Prefix): Dest | undefined {
    const d = this.get(p);
    return d !== undefined && d.paths !== null ? d : undefined;
  }

  /** The path of `peer` with `pathId` for the prefix, if any. */
  find(d: Dest, peer: Path['peer'], pathId: number): Path | undefined {
    const ps = d.paths;
    if (ps === null) return undefined;
    if (!Array.isArray(ps)) return ps.peer === peer && ps.pathId === pathId ? ps : undefined;
    for (let i = 0; i < ps.length; i++) {
      const x = ps[i]!;
      if (x.peer === peer && x.pathId === pathId) return x;
    }
    return undefined;
  }

  #mark(d: Dest, bits: number): void {
    if (d.dirty === 0) {
      this.dirty.push(d);
      if (this.#wasClean) this.poke();
    }
    d.dirty |= bits;
  }

  /** There is work for the next flush (announce it once per dirty period). */
  poke(): void {
    if (!this.#wasClean) return;
    this.#wasClean = false;
    this.onDirty();
  }

  /**
   * Take the changed destinations with their marks (cleared on the destinations, so changes
   * made while the caller processes them queue for the next flush); then call settle(). At most
   * `limit`, the oldest: the rest stay for the next flush, announced again (onDirty).
   */
  takeDirty(limit = Infinity): { list: Dest[]; bits: Uint8Array } {
    const all = this.dirty;
    const head = this.dirtyHead;
    let list: Dest[];
    if (all.length - head <= limit) {
      list = head === 0 ? all : all.slice(head);
      this.dirty = [];
      this.dirtyHead = 0;
    } else {
      list = all.slice(head, head + limit);
      this.dirtyHead = head + limit;
      // the taken part goes once it is most of the array (amortized: no copy per take)
      if (this.dirtyHead >= 4096 && this.dirtyHead * 2 >= all.length) {
        this.dirty = all.slice(this.dirtyHead);
        this.dirtyHead = 0;
      }
    }
    this.takes++;
    this.#wasClean = true;
    const bits = new Uint8Array(list.length);
    for (let i = 0; i < list.length; i++) {
      bits[i] = list[i]!.dirty;
      list[i]!.dirty = 0;
    }
    if (this.isDirty) this.poke();
    return { list, bits };
  }

  /**
   * After a flush: each destination's exported best path is now its best's (Dest.sentFrom, for
   * split horizon at the next change); destinations left without paths are dropped (unless
   * queued again).
   */
  settle(ds: readonly Dest[]): void {
    for (const d of ds) {
      d.sentFrom = d.best?.peer ?? null;
      if (d.paths !== null || d.dirty !== 0) continue;
      const p = d.prefix;
      if (typeof p === 'number') {
        if (this.v4.get(p) === d) this.v4.delete(p);
      } else if (this.v6.get(p) === d) this.v6.delete(p);
    }
  }

  /** changed destinations not taken yet */
  get dirtyCount(): number {
    return this.dirty.length - this.dirtyHead;
  }

  get isDirty(): boolean {
    return this.dirtyCount > 0;
  }

  /** The destination of a prefix, made (empty) when there is none; the caller adds a path. */
  dest(p: Prefix): Dest {
    if (typeof p === 'number') {
      const i = this.v4.probe(p);
      if (i >= 0) return this.v4.at(i);
      const d = newDest(p, null);
      this.v4.insertAt(i, p, d);
      return d;
    }
    let d = this.v6.get(p);
    if (d === undefined) {
      d = newDest(p, null);
      this.v6.set(p, d);
    }
    return d;
  }

  /** A new path (its destination holds no path of the same peer and path ID). */
  add(path: Path): void {
    const d = path.dest;
    if (d.paths !== null) {
      d.paths = Array.isArray(d.paths) ? (d.paths.push(path), d.paths) : [d.paths, path];
      this.decide(d, path, false);
      return;
    }
    d.paths = path;
    this.live++;
    if (this.cost(path) !== undefined) {
      d.best = path;
      this.#mark(d, DIRTY_OUT | DIRTY_FIB);
    }
  }

  /** `path`'s attributes were replaced (the caller already set path.a). */
  changed(path: Path, d: Dest): void {
    this.decide(d, path, true);
  }

  remove(path: Path): void {
    const d = path.dest;
    const ps = d.paths;
    if (ps === null) return;
    if (!Array.isArray(ps)) {
      if (ps !== path) return;
      d.paths = null;
      this.live--;
      if (d.best !== null || d.mp !== null) this.#mark(d, DIRTY_OUT | DIRTY_FIB);
      d.best = null;
      d.mp = null;
      return;
    }
    const i = ps.indexOf(path);
    if (i < 0) return;
    ps[i] = ps[ps.length - 1]!;
    ps.pop();
    if (ps.length === 1) d.paths = ps[0]!;
    this.decide(d, path, false);
  }

  /**
   * Run the decision for a destination and mark what moved. `touched`: the path that was
   * added, changed or removed (null when every decision runs again); with `attrsChanged`, its
   * new attributes count as a change wherever it is (best or multipath) even if the sets stay.
   */
  decide(d: Dest, touched: Path | null, attrsChanged: boolean): void {
    const oldBest = d.best;
    const oldMp = d.mp;
    const ps = d.paths!;
    if (!Array.isArray(ps)) {
      d.best = this.cost(ps) !== undefined ? ps : null;
      d.mp = null;
    } else {
      const s = select(ps, this.cost, this.maxPaths);
      d.best = s.best;
      d.mp = s.multipath;
    }
    let bits = 0;
    if (d.best !== oldBest || (attrsChanged && d.best === touched)) bits = DIRTY_OUT | DIRTY_FIB;
    else if (!sameSet(oldMp, d.mp) || (attrsChanged && touched !== null && ((d.mp !== null && d.mp.includes(touched)) || (oldMp !== null && oldMp.includes(touched))))) bits = DIRTY_FIB;
    if (bits) this.#mark(d, bits);
  }

  /** Run every decision again (next-hop resolution or IGP costs changed). */
  redecideAll(): void {
    const each = (d: Dest) => {
      if (d.paths !== null) this.decide(d, null, false);
    };
    this.v4.forEach(each);
    for (const d of this.v6.values()) each(d);
  }
}

function sameSet(a: Path[] | null, b: Path[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
