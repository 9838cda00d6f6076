// The FIB's record of every prefix it owns: what the RIB wants (desired), what the kernel has
// as far as we know (installed), and what is being written (inflight). Kept in columns
// (typed arrays) indexed by a slot number, one Map per address family from prefix to slot,
// so a million prefixes are a million Map entries and a few bytes each, not a million
// objects. The columns hold next-hop handles; each non-zero one holds a reference on its
// handle in the NexthopTable.
import type { Prefix } from '../net/prefix.js';
import type { NexthopTable } from './nexthops.js';

/** inflight: nothing is being written */
export const NONE = -1;
/** installed/desired: a route of ours is in the kernel, in a form we cannot vouch for */
export const UNKNOWN = -2;
// A handle of 0 means "no route" (in inflight: a delete is being written).

export const STALE = 1;
export const DIRTY = 2;
/** scratch mark of a resync pass */
export const SEEN = 4;

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
  /**
   * A route of another owner holds the key (table, prefix, metric): we did not write over it.
   * The holder's rtm_protocol once known (the monitor's event, or a dump), else undefined.
   */
  held?: { protocol: number | undefined };
}

export type KernelState = 'installed' | 'pending' | `failed: ${string}`;

export class Slots {
  desired = new Int32Array(1024);
  installed = new Int32Array(1024);
  inflight = new Int32Array(1024);
  flags = new Uint8Array(1024);
  /** the last refusal of a slot's route, while it lasts */
  readonly failures = new Map<number, Failure>();
  private next = 0;
  private free: number[] = [];
  /** freed slots that a dirty queue may still name: reused once the queues are drained */
  private limbo: number[] = [];

  constructor(private readonly nexthops: NexthopTable) {}

  alloc(): number {
    const i = this.free.pop() ?? this.next++;
    if (i >= this.desired.length) this.grow();
    this.desired[i] = 0;
    this.installed[i] = 0;
    this.inflight[i] = NONE;
    this.flags[i] = 0;
    return i;
  }

  /** The slot's prefix is forgotten: drop its references; the number is reused later. */
  retire(i: number): void {
    this.setDesired(i, 0);
    this.setInstalled(i, 0);
    this.setInflight(i, NONE);
    this.flags[i] = 0;
    this.failures.delete(i);
    this.limbo.push(i);
  }

  /** No queue names a retired slot any more. */
  recycle(): void {
    if (this.limbo.length === 0) return;
    for (const i of this.limbo) this.free.push(i);
    this.limbo = [];
  }

  setDesired(i: number, h: number): void {
    this.swap(this.desired[i]!, h);
    this.desired[i] = h;
  }

  setInstalled(i: number, h: number): void {
    this.swap(this.installed[i]!, h);
    this.installed[i] = h;
  }

  setInflight(i: number, h: number): void {
    this.swap(this.inflight[i]!, h);
    this.inflight[i] = h;
  }

  state(i: number): KernelState {
    const d = this.desired[i]!;
    const f = this.failures.get(i);
    if (f && f.handle === d) return `failed: ${f.reason}`;
    if (d === this.installed[i] && this.inflight[i] === NONE) return 'installed';
    return 'pending';
  }

  /** A failure that holds the slot back until its retry time. */
  waiting(i: number, now: number): boolean {
    const f = this.failures.get(i);
    return f !== undefined && f.handle === this.desired[i] && f.retryAt > now;
  }

  private swap(old: number, now: number): void {
    if (old === now) return;
    if (now > 0) this.nexthops.ref(now);
    if (old > 0) this.nexthops.unref(old);
  }

  private grow(): void {
    const n = this.desired.length * 2;
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.desired = g32(this.desired);
    this.installed = g32(this.installed);
    this.inflight = g32(this.inflight);
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.flags = f;
  }
}

/**
 * A family's prefix → slot index: a PrefixTable4 for IPv4 (src/net/table4.ts: it grows a
 * shard at a time, so a full table loading never waits for one rehash of the whole index), a
 * Map for IPv6. Entries may be deleted while iterating, as a Map allows.
 */
export interface PrefixIndex<P extends Prefix> {
  readonly size: number;
  get(p: P): number | undefined;
  set(p: P, slot: number): unknown;
  delete(p: P): boolean;
  keys(): Iterable<P>;
  values(): Iterable<number>;
  [Symbol.iterator](): Iterator<[P, number]>;
}

/**
 * Prefixes with their slots, in the order pushed, taken from `head` on (a flush may stop part
 * way). Emptied, it keeps its arrays unless they held more than KEEP_ENTRIES: a push onto a
 * fresh array reserves 17 elements (152 bytes), and a lone route change would otherwise leave
 * that garbage twice over at each flush (src/fib/README.md, "Garbage of a lone change").
 */
export class SlotQueue<P extends Prefix> {
  /** entries [0, length) are the queue's; the arrays may be longer (left from earlier use) */
  prefixes: P[] = [];
  slots: number[] = [];
  length = 0;
  head = 0;

  push(p: P, slot: number): void {
    this.prefixes[this.length] = p;
    this.slots[this.length++] = slot;
  }

  /** entries not taken yet */
  get waiting(): number {
    return this.length - this.head;
  }

  clear(): void {
    if (this.prefixes.length > KEEP_ENTRIES) {
      this.prefixes = [];
      this.slots = [];
    }
    this.length = 0;
    this.head = 0;
  }
}

/** A SlotQueue emptied keeps arrays of up to this many entries (16 KiB each). */
const KEEP_ENTRIES = 2048;

/** One address family's prefixes, with its queue of prefixes to look at. */
export class FamilyTable<P extends Prefix> {
  constructor(readonly index: PrefixIndex<P>) {}
  /** prefixes to look at, with their slots */
  readonly dirty = new SlotQueue<P>();
  /** prefixes whose last write failed (retried on a timer) */
  readonly failed = new Set<P>();

  get dirtyCount(): number {
    return this.dirty.waiting;
  }
}
