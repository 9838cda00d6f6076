// Facade of the netlink part of the addon (native/route_queue.cc, native/netlink_monitor.cc,
// layouts in native/route_wire.h): the route queue that a thread of the addon runs, kernel
// route and next-hop dumps, and the netlink monitor. Arguments are validated here, before
// native code sees them; kernel refusals come back per route, never thrown.
import { getSystemErrorName } from 'node:util';
import { formatIPv4, formatIPv6, parseIP } from '../net/ip.js';
import { prefix4, prefix6, prefix4Address, prefix4Length, prefix6Length, type Prefix } from '../net/prefix.js';
import { Mark, mark } from '../sys/hops.js';
import { microtask } from '../sys/microtask.js';
import { addon, checkInt } from './addon.js';

// ---------------------------------------------------------------- raw slice of the addon

interface RawResult {
  kind: 'routes' | 'nexthop' | 'dump' | 'echo' | 'closed';
  batch?: number;
  start?: number;
  count?: number;
  failures?: Int32Array;
  messages?: string[];
  handle?: number;
  release?: boolean;
  request?: number;
  errno?: number;
  message?: string;
  data?: Buffer;
}

interface RawQueue {
  /** urgent: ahead of the queue when its handles allow (returns whether it went ahead) */
  submit(batch: number, ops: Uint8Array, count: number, urgent?: boolean): boolean;
  /** true: sent, all succeeded, nothing echoed; results: sent; undefined: not taken */
  submitNow(batch: number, ops: Uint8Array, count: number): RawResult[] | true | undefined;
  defineNexthop(handle: number, family: number, gwFamily: number, gw: Uint8Array | null, ifindex: number, onlink: boolean): void;
  defineGroup(handle: number, family: number, members: Uint32Array, weights: Uint16Array): void;
  releaseNexthop(handle: number): void;
  dump(request: number, what: number): void;
  close(): void;
  ref(): void;
  unref(): void;
  readonly portId: number;
}

interface RawMonitorEvent {
  type: 'link' | 'address' | 'nexthop' | 'overflow';
  [k: string]: unknown;
}

interface NetlinkAddon {
  RouteQueue: new (
    options: { netns?: string; table: number; protocol: number; metric?: number; nexthopObjects: boolean; nexthopIdBase: number; batchBytes?: number },
    onResults: (items: RawResult[]) => void,
  ) => RawQueue;
  NetlinkMonitor: new (
    options: { netns?: string; table: number; ignorePortId?: number; routeLength?: number },
    onEvents: (routes: Buffer, events: RawMonitorEvent[]) => void,
  ) => { close(): void; ref(): void; unref(): void };
}

const native = () => addon<NetlinkAddon>();

// ---------------------------------------------------------------- names and numbers

export type Family = 4 | 6;

/** `/var/run/netns/NAME` for a name made by `ip netns add`, or an absolute path as given. */
export function netnsPath(nameOrPath: string): string {
  if (nameOrPath.startsWith('/')) return nameOrPath;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(nameOrPath) || nameOrPath === '.' || nameOrPath === '..')
    throw new RangeError(`network namespace must be a name made by "ip netns add" or an absolute path, got ${JSON.stringify(nameOrPath)}`);
  return `/var/run/netns/${nameOrPath}`;
}

/** The errno name of a positive errno number ('ENETUNREACH'). */
export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}

export const MAX_HANDLE = 2 ** 24 - 1;

// ---------------------------------------------------------------- next hops

/** One next hop: a gateway (with or without its device), or a device alone. */
export interface Hop {
  /** gateway address as text; absent for a route straight onto the device */
  gateway?: string;
  /** output interface index; required for a device route */
  ifindex?: number;
  /** treat the gateway as on-link even when no address of ours covers it */
  onlink?: boolean;
  /** ECMP weight 1–256 (in a group) */
  weight?: number;
}

function checkHop(h: Hop, family: Family): { gwFamily: number; gw: Uint8Array | null; ifindex: number } {
  let gwFamily = 0;
  let gw: Uint8Array | null = null;
  if (h.gateway !== undefined) {
    const a = parseIP(h.gateway);
    if (!a) throw new RangeError(`next-hop gateway must be an IP address, got ${JSON.stringify(h.gateway)}`);
    gwFamily = a.family;
    gw = a.bytes;
    if (family === 6 && gwFamily === 4) throw new RangeError(`an IPv6 route cannot use the IPv4 gateway ${h.gateway}`);
  }
  const ifindex = h.ifindex ?? 0;
  checkInt('next-hop ifindex', ifindex, 0, 2 ** 31 - 1);
  if (!gw && ifindex === 0) throw new RangeError('a next hop needs a gateway, a device (ifindex), or both');
  if (h.weight !== undefined) checkInt('next-hop weight', h.weight, 1, 256);
  return { gwFamily, gw, ifindex };
}

// ---------------------------------------------------------------- route batches

const OP_REPLACE = 1;
const OP_DELETE = 2;
const OP_BYTES = 32;
const FLAG_ECHO = 1;
const FLAG_EXCLUSIVE = 2;
const FLAG_METRIC = 4;
/** a batch's per-operation arrays are made this long at most before its first operation */
const PRESIZE_MAX = 65536;

/**
 * An array for a batch's per-operation values, sized as asked (up to PRESIZE_MAX; it grows past
 * that as a push would): a push onto an empty array reserves 17 elements, 152 bytes, most of
 * them garbage in a lone change's batch.
 */
export function batchArray<T>(capacity: number): T[] {
  return new Array<T>(Math.min(Math.max(1, capacity), PRESIZE_MAX));
}

/**
 * Route operations encoded for the queue: 32 bytes each (layout in native/route_wire.h), so a
 * million routes cross into native code in a few calls, not a million.
 */
export class RouteBatch {
  private u8: Uint8Array;
  private u32: Uint32Array;
  private count = 0;
  private readonly prefixes: Prefix[];

  constructor(capacity = 1024) {
    const n = Math.max(1, capacity);
    // one buffer for both views (a small Uint8Array lives on the heap, and asking for its
    // .buffer moves it off: an allocation and a copy more per batch)
    const buf = new ArrayBuffer(n * OP_BYTES);
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
    this.prefixes = batchArray<Prefix>(n);
  }

  get length(): number {
    return this.count;
  }

  /** The prefix of operation k, for the caller to match results. */
  prefixAt(k: number): Prefix {
    return this.prefixes[k]!;
  }

  /** The next-hop handle of operation k (0 for a delete). */
  handleAt(k: number): number {
    return this.u32[k * (OP_BYTES / 4) + 1]!;
  }

  /**
   * Install or replace the route to prefix with the next hops of handle. echo: the kernel
   * sends the route back as installed (to learn the device it resolved a gateway to).
   */
  replace(prefix: Prefix, handle: number, echo = false): this {
    if (!Number.isInteger(handle) || handle < 1 || handle > MAX_HANDLE) throw new RangeError(`next-hop handle must be 1–${MAX_HANDLE}, got ${handle}`);
    this.put(OP_REPLACE, prefix, handle);
    if (echo) this.u8[(this.length - 1) * OP_BYTES + 3] = FLAG_ECHO;
    return this;
  }

  /**
   * Install the route to prefix only if no route holds its key (table, prefix, metric):
   * NLM_F_EXCL, so a route of another owner fails with EEXIST instead of being replaced.
   */
  create(prefix: Prefix, handle: number, echo = false): this {
    this.replace(prefix, handle, echo);
    const o = (this.length - 1) * OP_BYTES + 3;
    this.u8[o] = this.u8[o]! | FLAG_EXCLUSIVE;
    return this;
  }

  /**
   * Delete our route to prefix (our table and protocol, at the queue's metric, or at
   * `metric` when given: an adopted route written at another metric).
   */
  delete(prefix: Prefix, metric?: number): this {
    this.put(OP_DELETE, prefix, 0);
    if (metric !== undefined) {
      checkInt('metric', metric, 0, 2 ** 32 - 1);
      const o = (this.length - 1) * OP_BYTES;
      this.u8[o + 3] = FLAG_METRIC;
      this.u32[(o >> 2) + 2] = metric;
    }
    return this;
  }

  /** The encoded operations (a view; valid until the next change). */
  bytes(): Uint8Array {
    return this.u8.subarray(0, this.length * OP_BYTES);
  }

  /** The buffer the operations are encoded in: its first `length` × 32 bytes (for the queue, without a view's garbage). */
  get buffer(): Uint8Array {
    return this.u8;
  }

  private put(op: number, prefix: Prefix, handle: number): void {
    const i = this.count;
    if ((i + 1) * OP_BYTES > this.u8.length) {
      const buf = new ArrayBuffer(this.u8.length * 2);
      const grown = new Uint8Array(buf);
      grown.set(this.u8);
      this.u8 = grown;
      this.u32 = new Uint32Array(buf);
    }
    const o = i * OP_BYTES;
    const u8 = this.u8;
    u8[o] = op;
    u8[o + 3] = 0;
    this.u32[(o >> 2) + 1] = handle;
    if (typeof prefix === 'number') {
      if (!Number.isInteger(prefix) || prefix < 0 || prefix >= 2 ** 38 || prefix4Length(prefix) > 32)
        throw new RangeError(`not an IPv4 prefix: ${prefix}`);
      u8[o + 1] = 4;
      u8[o + 2] = prefix4Length(prefix);
      this.u32[(o >> 2) + 4] = prefix4Address(prefix);
    } else {
      if (prefix.length !== 17 || prefix6Length(prefix) > 128) throw new RangeError('not an IPv6 prefix (17-character form)');
      u8[o + 1] = 6;
      u8[o + 2] = prefix6Length(prefix);
      for (let k = 0; k < 16; k++) u8[o + 16 + k] = prefix.charCodeAt(k + 1);
    }
    this.prefixes[i] = prefix;
    this.count = i + 1;
  }
}

// ---------------------------------------------------------------- results

/** A route the kernel (or the queue) refused: never thrown, reported per route. */
export interface RouteFailure {
  /** operation index in its batch */
  index: number;
  prefix: Prefix;
  /** positive errno */
  errno: number;
  code: string;
  /** the kernel's own words (extended ack), when it gave any */
  message: string;
}

/** Progress of a batch: operations [start, start + count) are answered; all but `failures` succeeded. */
export interface RouteResults {
  batch: RouteBatch;
  start: number;
  count: number;
  failures: readonly RouteFailure[];
}

/** the failures of a batch that had none (shared: a lone route's answer makes no array) */
const NO_FAILURES: readonly RouteFailure[] = Object.freeze([]);

export interface NexthopResult {
  handle: number;
  release: boolean;
  errno: number;
  code: string;
  message: string;
}

// ---------------------------------------------------------------- kernel routes (dump, monitor)

export interface KernelHop {
  gateway?: string;
  gatewayFamily?: Family;
  ifindex: number;
  onlink: boolean;
  weight: number;
}

export interface KernelRoute {
  action: 'new' | 'delete';
  family: Family;
  prefix: Prefix;
  protocol: number;
  /** rtm_type: 1 unicast, 6 blackhole, 7 unreachable … */
  type: number;
  table: number;
  metric: number;
  /** kernel next-hop object id, 0 when the hops are inline */
  nhid: number;
  /** netlink port id of the writer (0 for the kernel itself or a dump) */
  portId: number;
  /** the change replaced a route (NLM_F_REPLACE) */
  replace: boolean;
  hops: KernelHop[];
}

export interface KernelNexthop {
  id: number;
  family: Family | 0;
  protocol: number;
  kind: 'single' | 'group' | 'blackhole';
  gateway?: string;
  ifindex: number;
  onlink: boolean;
  members: { id: number; weight: number }[];
}

const RTNH_F_ONLINK = 4;
const NLM_F_REPLACE = 0x100;

function gatewayText(b: Buffer, off: number, family: number): string {
  return family === 4 ? formatIPv4(b, off) : formatIPv6(b, off);
}

/** How many route records a dump holds, without decoding them. */
export function countRecords(b: Buffer): number {
  let n = 0;
  for (let off = 0; off + 44 <= b.length; n++) {
    const len = b.readUInt16LE(off);
    if (len < 44) break;
    off += len;
  }
  return n;
}

/** Decode route records (layout in native/route_wire.h). */
export function* decodeRoutes(b: Buffer): Generator<KernelRoute> {
  let off = 0;
  while (off + 44 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 44 || off + len > b.length) return;
    const family = b[off + 3] as Family;
    const dstLen = b[off + 4]!;
    const prefix =
      family === 4 ? prefix4(b.readUInt32BE(off + 28), dstLen) : prefix6(b.subarray(off + 28, off + 44), dstLen);
    const hopCount = b[off + 7]!;
    const hops: KernelHop[] = [];
    for (let k = 0; k < hopCount; k++) {
      const h = off + 44 + k * 24;
      const gwFamily = b[h + 4]!;
      const hop: KernelHop = { ifindex: b.readUInt32LE(h), onlink: (b[h + 5]! & RTNH_F_ONLINK) !== 0, weight: b.readUInt16LE(h + 6) };
      if (gwFamily === 4 || gwFamily === 6) {
        hop.gateway = gatewayText(b, h + 8, gwFamily);
        hop.gatewayFamily = gwFamily;
      }
      hops.push(hop);
    }
    yield {
      action: b[off + 2] === 2 ? 'delete' : 'new',
      family,
      prefix,
      protocol: b[off + 5]!,
      type: b[off + 6]!,
      table: b.readUInt32LE(off + 8),
      metric: b.readUInt32LE(off + 12),
      nhid: b.readUInt32LE(off + 16),
      portId: b.readUInt32LE(off + 20),
      replace: (b.readUInt16LE(off + 24) & NLM_F_REPLACE) !== 0,
      hops,
    };
    off += len;
  }
}

export function decodeNexthops(b: Buffer): KernelNexthop[] {
  const out: KernelNexthop[] = [];
  let off = 0;
  while (off + 36 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 36 || off + len > b.length) break;
    const gwFamily = b[off + 13]!;
    const kind = b[off + 14]!;
    const members: { id: number; weight: number }[] = [];
    const size = b.readUInt16LE(off + 32);
    for (let k = 0; k < size; k++) members.push({ id: b.readUInt32LE(off + 36 + k * 8), weight: b.readUInt16LE(off + 40 + k * 8) });
    const nh: KernelNexthop = {
      id: b.readUInt32LE(off + 4),
      family: (b[off + 2] ?? 0) as Family | 0,
      protocol: b[off + 3]!,
      kind: kind === 1 ? 'group' : kind === 2 ? 'blackhole' : 'single',
      ifindex: b.readUInt32LE(off + 8),
      onlink: (b[off + 12]! & RTNH_F_ONLINK) !== 0,
      members,
    };
    if (gwFamily === 4 || gwFamily === 6) nh.gateway = gatewayText(b, off + 16, gwFamily);
    out.push(nh);
    off += len;
  }
  return out;
}

// ---------------------------------------------------------------- the route queue

export interface RouteQueueOptions {
  /** network namespace name (`ip netns add`) or path; default: the caller's own */
  netns?: string;
  /** routing table number (main = 254) */
  table: number;
  /** rtm_protocol marking our routes */
  protocol: number;
  /** RTA_PRIORITY of every route written and deleted; default: none (the kernel's default) */
  metric?: number;
  /** program next hops as kernel next-hop objects (RTA_NH_ID) rather than inline */
  nexthopObjects?: boolean;
  /** kernel next-hop object id = base + handle; default protocol × 2^24 */
  nexthopIdBase?: number;
  /** bytes of messages per sendmsg (default 256 KiB, as the reference loader) */
  batchBytes?: number;
  /** per-chunk results of every batch, as they arrive */
  onResults?: (r: RouteResults) => void;
  /** answers to next-hop object definitions and releases (next-hop object mode) */
  onNexthop?: (r: NexthopResult) => void;
  /** routes as the kernel installed them, for operations submitted with echo */
  onEcho?: (routes: KernelRoute[]) => void;
}

interface Pending {
  batch: RouteBatch;
  answered: number;
  failures: RouteFailure[];
  /** absent for send(): the caller reads the results through onResults alone */
  resolve: ((failures: RouteFailure[]) => void) | undefined;
  /** sent by the lane: answered already, no hold on the event loop */
  lane?: boolean;
}

/** The most operations the lane sends from the JavaScript thread (kLaneMaxOps in native/route_queue.cc). */
export const LANE_MAX_OPS = 64;

export class RouteQueue {
  readonly portId: number;
  readonly nexthopObjects: boolean;
  readonly nexthopIdBase: number;
  readonly table: number;
  readonly protocol: number;
  private readonly raw: RawQueue;
  private readonly batches = new Map<number, Pending>();
  private readonly dumps = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private outstanding = 0;
  private laneCount = 0;
  private aheadCount = 0;
  private closed?: Promise<void>;
  private closedResolve?: () => void;

  private constructor(private readonly options: RouteQueueOptions) {
    checkInt('table', options.table, 1, 2 ** 32 - 1);
    checkInt('protocol', options.protocol, 1, 255);
    const base = options.nexthopIdBase ?? options.protocol * 2 ** 24;
    checkInt('nexthopIdBase', base, 1, 2 ** 32 - 1 - MAX_HANDLE);
    if (options.batchBytes !== undefined) checkInt('batchBytes', options.batchBytes, 4096, 16 << 20);
    if (options.metric !== undefined) checkInt('metric', options.metric, 0, 2 ** 32 - 1);
    this.table = options.table;
    this.protocol = options.protocol;
    this.nexthopIdBase = base;
    this.nexthopObjects = options.nexthopObjects ?? false;
    const raw: ConstructorParameters<NetlinkAddon['RouteQueue']>[0] = {
      table: options.table,
      protocol: options.protocol,
      nexthopObjects: this.nexthopObjects,
      nexthopIdBase: base,
    };
    if (options.netns !== undefined) raw.netns = netnsPath(options.netns);
    if (options.batchBytes !== undefined) raw.batchBytes = options.batchBytes;
    if (options.metric !== undefined) raw.metric = options.metric;
    this.raw = new (native().RouteQueue)(raw, (items) => this.deliver(items));
    this.raw.unref();
    this.portId = this.raw.portId;
  }

  /** Open a queue; throws an Error in Node's shape (code ENOENT for a missing namespace, EPERM …). */
  static open(options: RouteQueueOptions): RouteQueue {
    return new RouteQueue(options);
  }

  /** Define (or redefine) next-hop handle as one hop, for routes of `family`. */
  defineNexthop(handle: number, family: Family, hop: Hop): void {
    checkInt('next-hop handle', handle, 1, MAX_HANDLE);
    const h = checkHop(hop, family);
    this.raw.defineNexthop(handle, family, h.gwFamily, h.gw, h.ifindex, hop.onlink === true);
  }

  /** Define handle as an ECMP group of defined single handles with weights (1–256). */
  defineGroup(handle: number, family: Family, members: readonly { handle: number; weight?: number }[]): void {
    checkInt('next-hop handle', handle, 1, MAX_HANDLE);
    if (members.length < 1 || members.length > 256) throw new RangeError(`a next-hop group has 1–256 members, got ${members.length}`);
    const ids = new Uint32Array(members.length);
    const weights = new Uint16Array(members.length);
    members.forEach((m, i) => {
      checkInt('group member handle', m.handle, 1, MAX_HANDLE);
      if (m.weight !== undefined) checkInt('group member weight', m.weight, 1, 256);
      ids[i] = m.handle;
      weights[i] = m.weight ?? 1;
    });
    this.raw.defineGroup(handle, family, ids, weights);
  }

  /** Forget a handle (and delete its kernel object, which takes any route still using it along). */
  releaseNexthop(handle: number): void {
    checkInt('next-hop handle', handle, 1, MAX_HANDLE);
    this.raw.releaseNexthop(handle);
  }

  /**
   * Queue a batch; resolves with its failures once every operation is answered. A batch of a
   * few operations (LANE_MAX_OPS) is sent at once from this thread when the queue's thread has
   * finished everything before it (its results are delivered in a microtask, never inside this
   * call); while the thread works, an `urgent` one goes ahead of the queued work, sent at once
   * by the queue's urgent writer, a thread of its own (the caller must not have the same prefix
   * in another unanswered batch). This thread never writes routes while the queue's thread
   * does: it would wait for the kernel's RTNL lock, and a bulk load held it for up to a second
   * (native/route_queue.h).
   */
  submit(batch: RouteBatch, urgent = false): Promise<RouteFailure[]> {
    return new Promise((resolve, reject) => {
      if (batch.length === 0) {
        resolve([]);
        return;
      }
      try {
        this.enqueue(batch, urgent, resolve);
      } catch (e) {
        reject(e as Error);
      }
    });
  }

  /**
   * submit() for a caller that reads the results through onResults alone (the FIB): no
   * promise. Throws where submit() rejects (a closed queue).
   */
  send(batch: RouteBatch, urgent = false): void {
    if (batch.length > 0) this.enqueue(batch, urgent, undefined);
  }

  private enqueue(batch: RouteBatch, urgent: boolean, resolve: Pending['resolve']): void {
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    if (batch.length <= LANE_MAX_OPS) {
      mark(Mark.submit, batch.length);
      const answered = this.raw.submitNow(id, batch.buffer, batch.length);
      mark(Mark.submitted, answered ? 1 : 0);
      if (answered === true) {
        // every operation succeeded, nothing echoed: no results to match, no entry to keep
        this.laneCount++;
        microtask(() => {
          this.options.onResults?.({ batch, start: 0, count: batch.length, failures: NO_FAILURES });
          resolve?.([]);
        });
        return;
      }
      if (answered) {
        this.batches.set(id, { batch, answered: 0, failures: [], resolve, lane: true });
        this.laneCount++;
        microtask(() => this.deliver(answered));
        return;
      }
    }
    this.batches.set(id, { batch, answered: 0, failures: [], resolve });
    this.hold(1);
    try {
      if (this.raw.submit(id, batch.buffer, batch.length, urgent)) this.aheadCount++;
    } catch (e) {
      this.batches.delete(id);
      this.hold(-1);
      throw e;
    }
  }

  /** Our routes of one family in the kernel (our table and protocol), in order with queued changes. */
  async dumpRoutes(family: Family): Promise<KernelRoute[]> {
    return [...decodeRoutes(await this.dump(family))];
  }

  /** Raw route records of a dump, for callers that decode lazily (decodeRoutes). */
  dumpRouteRecords(family: Family): Promise<Buffer> {
    return this.dump(family);
  }

  /** Every kernel next-hop object of the namespace (callers filter by protocol / id range). */
  async dumpNexthops(): Promise<KernelNexthop[]> {
    return decodeNexthops(await this.dump(0));
  }

  /** Round trip through the queue's thread, behind whatever is queued (for /livez). Resolves with ms. */
  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.dump(255);
    return performance.now() - t0;
  }

  /** How many batches the lane sent from this thread (submit), for tests and statistics. */
  get laneBatches(): number {
    return this.laneCount;
  }

  /** How many urgent batches went ahead of queued work on the queue's thread, for tests and statistics. */
  get aheadBatches(): number {
    return this.aheadCount;
  }

  /** Finish what is queued, then stop the thread. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = new Promise((resolve) => {
        this.closedResolve = resolve;
      });
      this.hold(1);
      this.raw.close();
    }
    return this.closed;
  }

  private dump(what: number): Promise<Buffer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.dumps.set(id, { resolve, reject });
      this.hold(1);
      try {
        this.raw.dump(id, what);
      } catch (e) {
        this.dumps.delete(id);
        this.hold(-1);
        reject(e as Error);
      }
    });
  }

  /** Keep the event loop alive while answers are due, and only then. */
  private hold(delta: number): void {
    const before = this.outstanding;
    this.outstanding += delta;
    if (before === 0 && this.outstanding > 0) this.raw.ref();
    else if (before > 0 && this.outstanding === 0) this.raw.unref();
  }

  private deliver(items: RawResult[]): void {
    for (const r of items) {
      if (r.kind === 'routes') this.deliverRoutes(r);
      else if (r.kind === 'nexthop') {
        this.options.onNexthop?.({
          handle: r.handle!,
          release: r.release === true,
          errno: r.errno ?? 0,
          code: r.errno ? errnoName(r.errno) : 'OK',
          message: r.message ?? '',
        });
      } else if (r.kind === 'dump') {
        const d = this.dumps.get(r.request!);
        if (!d) continue;
        this.dumps.delete(r.request!);
        this.hold(-1);
        if (r.errno) {
          const e = Object.assign(new Error(`netlink dump ${errnoName(r.errno)}${r.message ? `: ${r.message}` : ''}`), {
            errno: -r.errno,
            code: errnoName(r.errno),
            syscall: 'recv',
          });
          d.reject(e);
        } else d.resolve(r.data!);
      } else if (r.kind === 'echo') {
        this.options.onEcho?.([...decodeRoutes(r.data!)]);
      } else if (r.kind === 'closed') {
        this.hold(-this.outstanding);
        this.closedResolve?.();
      }
    }
  }

  private deliverRoutes(r: RawResult): void {
    const p = this.batches.get(r.batch!);
    if (!p) return;
    const failures: RouteFailure[] = [];
    const f = r.failures;
    if (f) {
      for (let k = 0; k < f.length; k += 2) {
        const index = f[k]!;
        const errno = f[k + 1]!;
        failures.push({ index, prefix: p.batch.prefixAt(index), errno, code: errnoName(errno), message: r.messages?.[k / 2] ?? '' });
      }
    }
    const start = r.start!;
    const count = r.count!;
    this.options.onResults?.({ batch: p.batch, start, count, failures });
    for (const x of failures) p.failures.push(x);
    p.answered += count;
    if (p.answered >= p.batch.length) {
      this.batches.delete(r.batch!);
      if (!p.lane) this.hold(-1);
      p.resolve?.(p.failures);
    }
  }
}

// ---------------------------------------------------------------- the monitor

export type MonitorEvent =
  | { type: 'route'; route: KernelRoute }
  | { type: 'link'; action: 'new' | 'delete'; ifindex: number; name: string; up: boolean; running: boolean }
  | { type: 'address'; action: 'new' | 'delete'; family: Family; ifindex: number; address: string; prefixLength: number }
  | { type: 'nexthop'; action: 'new' | 'delete'; id: number; protocol: number }
  | { type: 'overflow' };

export interface MonitorOptions {
  netns?: string;
  /** only route changes of this table are reported */
  table: number;
  /** drop notifications our own route queue caused (its portId) */
  ignorePortId?: number;
  /** only route notifications of this prefix length (0–128), filtered in the kernel: a tool watching a few routes among a bulk load */
  routeLength?: number;
}

/** Route, link, address and next-hop changes of a namespace, delivered on the event loop. */
export class NetlinkMonitor {
  private raw: { close(): void; ref(): void; unref(): void } | undefined;

  private constructor(options: MonitorOptions, onEvents: (events: MonitorEvent[]) => void) {
    checkInt('table', options.table, 1, 2 ** 32 - 1);
    if (options.ignorePortId !== undefined) checkInt('ignorePortId', options.ignorePortId, 0, 2 ** 32 - 1);
    const raw: ConstructorParameters<NetlinkAddon['NetlinkMonitor']>[0] = { table: options.table };
    if (options.netns !== undefined) raw.netns = netnsPath(options.netns);
    if (options.ignorePortId !== undefined) raw.ignorePortId = options.ignorePortId;
    if (options.routeLength !== undefined) {
      checkInt('routeLength', options.routeLength, 0, 128);
      raw.routeLength = options.routeLength;
    }
    this.raw = new (native().NetlinkMonitor)(raw, (routes, events) => {
      const out: MonitorEvent[] = [];
      for (const route of decodeRoutes(routes)) out.push({ type: 'route', route });
      for (const e of events) out.push(e as unknown as MonitorEvent);
      if (out.length) onEvents(out);
    });
  }

  static open(options: MonitorOptions, onEvents: (events: MonitorEvent[]) => void): NetlinkMonitor {
    return new NetlinkMonitor(options, onEvents);
  }

  /** Let the process exit while only the monitor is left. */
  unref(): void {
    this.raw?.unref();
  }

  close(): void {
    this.raw?.close();
    this.raw = undefined;
  }
}
