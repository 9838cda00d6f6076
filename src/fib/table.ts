// The FIB's record of every prefix it owns: what the RIB wants (desired), what the kernel
// has as far as we know (installed), and what is being written (inflight). One small object
// per prefix, in one Map per address family; the fields are next-hop handles (numbers), each
// holding a reference on its handle in the NexthopTable.
import type { Prefix } from '../net/prefix.js';
import type { NexthopTable } from './nexthops.js';

/** inflight: nothing is being written */
export const NONE = -1;
/** installed/desired: a route of ours is in the kernel, in a form we cannot vouch for */
export const UNKNOWN = -2;
/** a handle of 0 in desired/installed/inflight means "no route" (inflight: a delete) */

export const STALE = 1;
export const DIRTY = 2;

export interface Failure {
  errno: number;
  code: string;
  message: string;
  /** `ENETUNREACH (gateway 10.9.9.9 not reachable)` */
  reason: string;
  /** what we tried to write (0 = a delete) */
  handle: number;
  attempts: number;
  retryAt: number;
}

export interface Entry {
  desired: number;
  installed: number;
  inflight: number;
  flags: number;
  failure: Failure | undefined;
}

export type KernelState = 'installed' | 'pending' | `failed: ${string}`;

export function entryState(e: Entry): KernelState {
  if (e.failure && e.failure.handle === e.desired) return `failed: ${e.failure.reason}`;
  if (e.desired === e.installed && e.inflight === NONE) return 'installed';
  return 'pending';
}

/** Does the entry need a kernel operation (ignoring retry timing)? */
export const needsWork = (e: Entry): boolean => e.desired !== e.installed;

/** One address family's entries, with its queue of prefixes to look at. */
export class FamilyTable<P extends Prefix> {
  readonly map = new Map<P, Entry>();
  /** prefixes to look at (and their entries), from dirtyHead on (a flush may stop part way) */
  dirty: P[] = [];
  dirtyEntries: Entry[] = [];
  dirtyHead = 0;
  get dirtyCount(): number {
    return this.dirty.length - this.dirtyHead;
  }

  /** prefixes whose last write failed (retried on a timer) */
  readonly failed = new Set<P>();
}

/** Reference-counted assignments of the three handle fields. */
export class Refs {
  constructor(private readonly nexthops: NexthopTable) {}

  private swap(old: number, now: number): void {
    if (old === now) return;
    if (now > 0) this.nexthops.ref(now);
    if (old > 0) this.nexthops.unref(old);
  }

  desired(e: Entry, h: number): void {
    this.swap(e.desired, h);
    e.desired = h;
  }

  installed(e: Entry, h: number): void {
    this.swap(e.installed, h);
    e.installed = h;
  }

  inflight(e: Entry, h: number): void {
    this.swap(e.inflight, h);
    e.inflight = h;
  }

  /** Drop all references of an entry that is being forgotten. */
  clear(e: Entry): void {
    this.desired(e, 0);
    this.installed(e, 0);
    this.inflight(e, NONE);
  }
}
