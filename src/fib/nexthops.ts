// Next-hop sets shared by many routes: each distinct set (one hop, or an ECMP group) gets one
// handle, defined once in the route queue and referenced by number from every route using
// it. Reference counts decide when a handle is defined (first use) and released (no route
// uses it any more; released at the next flush, after the route changes that dropped it).
import { canonicalIP } from '../net/ip.js';
import { MAX_HANDLE, type Family, type Hop, type KernelHop, type KernelNexthop } from '../native/netlink.js';

/** An interned next-hop set; pass it to `Fib.set` for as many prefixes as share it. */
export interface NexthopSet {
  readonly family: Family;
  /** canonical hops: gateways in canonical text, sorted, duplicates merged */
  readonly hops: readonly Hop[];
  readonly key: string;
  /** handle in the route queue; 0 once released (the set is interned again on next use) */
  readonly handle: number;
}

interface Slot extends NexthopSet {
  handle: number;
  refs: number;
  defined: boolean;
  /** group: its member singles (each holds a reference from the group) */
  members: Slot[];
  /** adopted from a kernel next-hop object of an earlier run */
  adopted: boolean;
  /** devices its routes go out of: named by the hops, or learned from the kernel (echo) */
  devices: number[] | undefined;
  /** when we last asked the kernel for the devices (ms), 0 never */
  echoAt: number;
}

/** What the table needs of the route queue. */
export interface NexthopSink {
  defineNexthop(handle: number, family: Family, hop: Hop): void;
  defineGroup(handle: number, family: Family, members: readonly { handle: number; weight?: number }[]): void;
  releaseNexthop(handle: number): void;
}

/** Handles of an earlier run above this are not adopted (their routes are rewritten instead). */
const ADOPTABLE = 1 << 20;

const hopKey = (h: Hop): string => `${h.gateway ?? ''}%${h.ifindex ?? 0}${h.onlink ? '!' : ''}`;

/** Canonical form of hops: gateway text canonical, sorted, merged, at most maxPaths. */
export function canonicalHops(hops: readonly Hop[], maxPaths: number): Hop[] {
  const byKey = new Map<string, Hop>();
  for (const h of hops) {
    const gateway = h.gateway === undefined ? undefined : canonicalIP(h.gateway);
    if (h.gateway !== undefined && gateway === undefined) throw new RangeError(`next-hop gateway must be an IP address, got ${JSON.stringify(h.gateway)}`);
    const c: Hop = {};
    if (gateway !== undefined) c.gateway = gateway;
    if (h.ifindex) c.ifindex = h.ifindex;
    if (h.onlink) c.onlink = true;
    c.weight = h.weight ?? 1;
    const k = hopKey(c);
    if (!byKey.has(k)) byKey.set(k, c);
  }
  const sorted = [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
  return sorted.slice(0, Math.max(1, maxPaths));
}

function setKey(family: Family, hops: readonly Hop[]): string {
  if (hops.length === 1) return `${family}|${hopKey(hops[0]!)}`;
  return `${family}|${hops.map((h) => `${hopKey(h)}*${h.weight ?? 1}`).join(',')}`;
}

/** The devices hops name, or undefined when one leaves its device to the kernel. */
function namedDevices(hops: readonly Hop[]): number[] | undefined {
  return hops.every((h) => h.ifindex) ? [...new Set(hops.map((h) => h.ifindex!))] : undefined;
}

/** Hops of a kernel route as a Hop list (gateway text is already canonical). */
export function kernelHops(hops: readonly KernelHop[]): Hop[] {
  return hops.map((k) => {
    const h: Hop = { weight: k.weight };
    if (k.gateway !== undefined) h.gateway = k.gateway;
    if (k.ifindex) h.ifindex = k.ifindex;
    if (k.onlink) h.onlink = true;
    return h;
  });
}

/**
 * Do a kernel route's hops forward as `set` says? Devices count only where the set names one
 * (the kernel reports the device it resolved a gateway to).
 */
export function hopsMatch(set: NexthopSet, kernel: readonly KernelHop[]): boolean {
  if (kernel.length !== set.hops.length) return false;
  const single = set.hops.length === 1;
  return set.hops.every((h) =>
    kernel.some(
      (k) =>
        (k.gateway ?? undefined) === h.gateway &&
        (!h.ifindex || k.ifindex === h.ifindex) &&
        k.onlink === (h.onlink === true) &&
        (single || k.weight === (h.weight ?? 1)),
    ),
  );
}

export class NexthopTable {
  private readonly byKey = new Map<string, Slot>();
  /** slots by handle (handles are small dense numbers) */
  private readonly byHandle: (Slot | undefined)[] = [undefined];
  private count = 0;
  private readonly unused = new Set<Slot>();
  private nextHandle = 1;
  private readonly freeHandles: number[] = [];

  constructor(
    private readonly sink: NexthopSink,
    private readonly maxPaths: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The set for these hops (not yet referenced: `ref` it for each route that uses it). */
  intern(family: Family, hops: readonly Hop[]): NexthopSet {
    if (hops.length === 0) throw new RangeError('a next-hop set needs at least one hop');
    const canonical = canonicalHops(hops, this.maxPaths);
    for (const h of canonical) {
      if (h.gateway === undefined && !h.ifindex) throw new RangeError('a next hop needs a gateway, a device (ifindex), or both');
      if (family === 6 && h.gateway !== undefined && !h.gateway.includes(':'))
        throw new RangeError(`an IPv6 route cannot use the IPv4 gateway ${h.gateway}`);
      if (h.ifindex !== undefined && (!Number.isInteger(h.ifindex) || h.ifindex < 0 || h.ifindex > 2 ** 31 - 1))
        throw new RangeError(`next-hop ifindex must be an integer 0–${2 ** 31 - 1}, got ${h.ifindex}`);
      if (!Number.isInteger(h.weight) || h.weight! < 1 || h.weight! > 256) throw new RangeError(`next-hop weight must be 1–256, got ${h.weight}`);
    }
    return this.internCanonical(family, canonical);
  }

  /** A set that may have been released since it was handed out, interned again if so. */
  current(set: NexthopSet): NexthopSet {
    if (set.handle !== 0 && this.byHandle[set.handle] === set) return set;
    return this.internCanonical(set.family, set.hops);
  }

  get(handle: number): NexthopSet | undefined {
    return handle > 0 ? this.byHandle[handle] : undefined;
  }

  /** The single handles a group handle is made of (none for a single). */
  memberHandles(handle: number): number[] {
    return this.get(handle) ? this.byHandle[handle]!.members.map((m) => m.handle) : [];
  }

  /**
   * Should the next install through handle ask the kernel for the route back, to learn the
   * devices of gateways given without one? (At most one question in flight per 5 s.)
   */
  wantsEcho(handle: number, now: number): boolean {
    const s = this.byHandle[handle];
    if (!s || s.devices !== undefined || now - s.echoAt < 5000) return false;
    s.echoAt = now;
    return true;
  }

  learnDevices(handle: number, ifindexes: readonly number[]): void {
    const s = this.byHandle[handle];
    if (s && ifindexes.length) s.devices = [...new Set(ifindexes)];
  }

  /**
   * Could routes of ours go out of this device? True when a set in use names or resolved to
   * it, and (to be safe) while a set in use has devices not yet learned.
   */
  usesDevice(ifindex: number): boolean {
    for (const s of this.byHandle) {
      if (!s || s.refs === 0) continue;
      if (s.devices === undefined || s.devices.includes(ifindex)) return true;
    }
    return false;
  }

  /** Was this handle adopted from a kernel next-hop object (routes carry its id)? */
  isAdoptedObject(handle: number): boolean {
    return handle > 0 && this.byHandle[handle]?.adopted === true;
  }

  ref(handle: number): void {
    const s = this.byHandle[handle];
    if (!s) return;
    if (s.refs++ === 0) {
      this.unused.delete(s);
      if (!s.defined) this.define(s);
    }
  }

  unref(handle: number): void {
    const s = this.byHandle[handle];
    if (!s || s.refs === 0) return;
    if (--s.refs === 0) this.unused.add(s);
  }

  /** Release every handle no route uses (after the route changes that dropped them were queued). */
  releaseUnused(): number {
    let n = 0;
    while (this.unused.size > 0) {
      // Groups first: a member goes once no group holds it (releasing a group frees its members).
      const order = [...this.unused].sort((a, b) => b.members.length - a.members.length);
      this.unused.clear();
      for (const s of order) {
        if (s.refs !== 0 || s.handle === 0) continue;
        this.release(s);
        n++;
      }
    }
    return n;
  }

  /** Define again, in the kernel, handles whose objects went missing (a link went down). */
  redefine(handles: Iterable<number>): void {
    const seen = new Set<Slot>();
    const visit = (s: Slot) => {
      if (seen.has(s) || !s.defined) return;
      seen.add(s);
      for (const m of s.members) visit(m);
      this.defineOne(s);
    };
    for (const h of handles) {
      const s = this.byHandle[h];
      if (s) visit(s);
    }
  }

  /** Every handle in use, with its reference count (for tests and statistics). */
  *entries(): Generator<[NexthopSet, number]> {
    for (const s of this.byHandle) if (s) yield [s, s.refs];
  }

  /**
   * Take over kernel next-hop objects of an earlier run (ids base+1 … base+2^20 of our
   * protocol) under their own handles, so that routes still pointing at them keep forwarding
   * exactly as they do and new handles never reuse their ids. Unused ones go at the next
   * `releaseUnused`, i.e. when graceful restart sweeps.
   */
  adoptObjects(objects: readonly KernelNexthop[], base: number, protocol: number): Map<number, NexthopSet> {
    // Ids this run already handed out (adoption should come first) stay this run's.
    const ours = objects.filter(
      (o) => o.protocol === protocol && o.id > base && o.id - base <= ADOPTABLE && !this.byHandle[o.id - base],
    );
    const byId = new Map(ours.map((o) => [o.id, o]));
    const adopted = new Map<number, NexthopSet>();
    const take = (o: KernelNexthop, family: Family, hops: Hop[], members: Slot[]): Slot => {
      const s: Slot = { family, hops, key: setKey(family, hops), handle: o.id - base, refs: 0, defined: true, members, adopted: true, devices: namedDevices(hops), echoAt: 0 };
      this.put(s);
      if (!this.byKey.has(s.key)) this.byKey.set(s.key, s);
      this.unused.add(s);
      adopted.set(o.id, s);
      // The route queue of this run must know the handle: redefining with the same content
      // is a no-op for forwarding.
      this.defineOne(s);
      return s;
    };
    for (const o of ours) {
      if (o.kind !== 'single' || (o.family !== 4 && o.family !== 6)) continue;
      const hop: Hop = { weight: 1 };
      if (o.gateway !== undefined) hop.gateway = o.gateway;
      if (o.ifindex) hop.ifindex = o.ifindex;
      if (o.onlink) hop.onlink = true;
      take(o, o.family, [hop], []);
    }
    for (const o of ours) {
      if (o.kind !== 'group') continue;
      const members = o.members.map((m) => adopted.get(m.id) as Slot | undefined);
      if (members.some((m) => m === undefined) || members.length === 0) continue;
      const family = members[0]!.family;
      const hops = members.map((m, i) => ({ ...m!.hops[0]!, weight: o.members[i]!.weight }));
      const g = take(o, family, hops, members as Slot[]);
      for (const m of g.members) this.ref(m.handle);
    }
    for (const o of byId.values()) this.reserve(o.id - base);
    return adopted;
  }

  private put(s: Slot): void {
    while (this.byHandle.length <= s.handle) this.byHandle.push(undefined);
    this.byHandle[s.handle] = s;
    this.count++;
  }

  private reserve(handle: number): void {
    if (handle >= this.nextHandle) {
      for (let h = this.nextHandle; h < handle; h++) this.freeHandles.push(h);
      this.nextHandle = handle + 1;
    } else {
      const i = this.freeHandles.indexOf(handle);
      if (i >= 0) this.freeHandles.splice(i, 1);
    }
  }

  private allocate(): number {
    const h = this.freeHandles.pop() ?? this.nextHandle++;
    if (h > MAX_HANDLE) throw new RangeError(`more than ${MAX_HANDLE} distinct next-hop sets`);
    return h;
  }

  private internCanonical(family: Family, hops: readonly Hop[]): Slot {
    const key = setKey(family, hops);
    const found = this.byKey.get(key);
    if (found) return found;
    const members = hops.length > 1 ? hops.map((h) => this.internCanonical(family, [{ ...h, weight: 1 }])) : [];
    const s: Slot = { family, hops, key, handle: this.allocate(), refs: 0, defined: false, members, adopted: false, devices: namedDevices(hops), echoAt: 0 };
    this.byKey.set(key, s);
    this.put(s);
    this.unused.add(s);
    return s;
  }

  private define(s: Slot): void {
    for (const m of s.members) this.ref(m.handle);
    s.defined = true;
    this.defineOne(s);
  }

  private defineOne(s: Slot): void {
    if (s.members.length === 0) this.sink.defineNexthop(s.handle, s.family, s.hops[0]!);
    else this.sink.defineGroup(s.handle, s.family, s.members.map((m, i) => ({ handle: m.handle, weight: s.hops[i]!.weight ?? 1 })));
  }

  private release(s: Slot): void {
    if (s.defined) this.sink.releaseNexthop(s.handle);
    this.byHandle[s.handle] = undefined;
    this.count--;
    if (this.byKey.get(s.key) === s) this.byKey.delete(s.key);
    this.freeHandles.push(s.handle);
    s.handle = 0;
    for (const m of s.members) this.unref(m.handle);
  }
}
