// The Loc-RIB: per family, compact prefix → destination. A destination holds every path
// for the prefix (one per peer and path identifier; a single path is stored bare, without
// an array), the best path and the multipath set. Every change runs the decision for that
// destination only and records what moved: OUT (the advertised best changed) and FIB (the
// forwarding set changed), coalesced per prefix until the next flush.
import type { Prefix, Prefix6 } from '../net/prefix.js';
import { type CostFn, select } from './decision.js';
import type { Path } from './peer.js';
import type { Family } from './types.js';

export class Dest {
  best: Path | null = null;
  /** the multipath set (best first) when it has more than one path */
  mp: Path[] | null = null;
  constructor(public paths: Path | Path[]) {}
}

export const DIRTY_OUT = 1;
export const DIRTY_FIB = 2;

export const familyOf = (p: Prefix): Family => (typeof p === 'number' ? 4 : 6);

export function pathsOf(d: Dest): readonly Path[] {
  return Array.isArray(d.paths) ? d.paths : [d.paths];
}

export class LocRib {
  readonly v4 = new Map<number, Dest>();
  readonly v6 = new Map<Prefix6, Dest>();
  /** prefix → DIRTY_* bits since the last flush */
  dirty4 = new Map<number, number>();
  dirty6 = new Map<Prefix6, number>();
  onDirty: () => void = () => {};
  #wasClean = true;

  constructor(
    public cost: CostFn,
    public maxPaths: number,
  ) {}

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  get(p: Prefix): Dest | undefined {
    return typeof p === 'number' ? this.v4.get(p) : this.v6.get(p);
  }

  /** The path of `peer` with `pathId` for the prefix, if any. */
  find(d: Dest, peer: Path['peer'], pathId: number): Path | undefined {
    const ps = d.paths;
    if (!Array.isArray(ps)) return ps.peer === peer && ps.pathId === pathId ? ps : undefined;
    for (let i = 0; i < ps.length; i++) {
      const x = ps[i]!;
      if (x.peer === peer && x.pathId === pathId) return x;
    }
    return undefined;
  }

  mark(p: Prefix, bits: number): void {
    if (typeof p === 'number') this.dirty4.set(p, (this.dirty4.get(p) ?? 0) | bits);
    else this.dirty6.set(p, (this.dirty6.get(p) ?? 0) | bits);
    if (this.#wasClean) this.poke();
  }

  /** There is work for the next flush (announce it once per dirty period). */
  poke(): void {
    if (!this.#wasClean) return;
    this.#wasClean = false;
    this.onDirty();
  }

  /** Take the dirty sets (the caller processes them). */
  takeDirty(): { v4: Map<number, number>; v6: Map<Prefix6, number> } {
    const out = { v4: this.dirty4, v6: this.dirty6 };
    this.dirty4 = new Map();
    this.dirty6 = new Map();
    this.#wasClean = true;
    return out;
  }

  get isDirty(): boolean {
    return this.dirty4.size > 0 || this.dirty6.size > 0;
  }

  /** A new path for a prefix (no path of this peer and path ID exists). */
  add(path: Path): void {
    const p = path.prefix;
    const d = this.get(p);
    if (d === undefined) {
      const nd = new Dest(path);
      if (typeof p === 'number') this.v4.set(p, nd);
      else this.v6.set(p, nd);
      if (this.cost(path) !== undefined) {
        nd.best = path;
        this.mark(p, DIRTY_OUT | DIRTY_FIB);
      }
      return;
    }
    d.paths = Array.isArray(d.paths) ? (d.paths.push(path), d.paths) : [d.paths, path];
    this.decide(d, p, path, false);
  }

  /** `path`'s attributes were replaced (the caller already set path.a). */
  changed(path: Path): void {
    const d = this.get(path.prefix)!;
    this.decide(d, path.prefix, path, true);
  }

  remove(path: Path): void {
    const p = path.prefix;
    const d = this.get(p);
    if (d === undefined) return;
    const ps = d.paths;
    if (!Array.isArray(ps)) {
      if (ps !== path) return;
      if (typeof p === 'number') this.v4.delete(p);
      else this.v6.delete(p);
      if (d.best !== null) this.mark(p, DIRTY_OUT | DIRTY_FIB);
      d.best = null;
      return;
    }
    const i = ps.indexOf(path);
    if (i < 0) return;
    ps[i] = ps[ps.length - 1]!;
    ps.pop();
    if (ps.length === 1) d.paths = ps[0]!;
    this.decide(d, p, path, false);
  }

  /** Run the decision for a destination after `touched` was added, changed or removed. */
  decide(d: Dest, p: Prefix, touched: Path, attrsChanged: boolean): void {
    const oldBest = d.best;
    const oldMp = d.mp;
    const ps = d.paths;
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
    else if (!sameSet(oldMp, d.mp) || (attrsChanged && d.mp !== null && d.mp.includes(touched)) || (attrsChanged && oldMp !== null && oldMp.includes(touched))) bits = DIRTY_FIB;
    if (bits) this.mark(p, bits);
  }

  /** Run every decision again (next-hop resolution or IGP costs changed). */
  redecideAll(): void {
    for (const [p, d] of this.v4) this.#redecide(d, p);
    for (const [p, d] of this.v6) this.#redecide(d, p);
  }

  #redecide(d: Dest, p: Prefix): void {
    const oldBest = d.best;
    const oldMp = d.mp;
    const ps = d.paths;
    if (!Array.isArray(ps)) {
      d.best = this.cost(ps) !== undefined ? ps : null;
      d.mp = null;
    } else {
      const s = select(ps, this.cost, this.maxPaths);
      d.best = s.best;
      d.mp = s.multipath;
    }
    if (d.best !== oldBest) this.mark(p, DIRTY_OUT | DIRTY_FIB);
    else if (!sameSet(oldMp, d.mp)) this.mark(p, DIRTY_FIB);
  }
}

function sameSet(a: Path[] | null, b: Path[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
