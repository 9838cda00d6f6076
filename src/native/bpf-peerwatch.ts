// Facade of native/peerwatch.cc (the BPF loader, peer map, counters, ring buffer) and of the
// test-only socket helper in native/peerwatch_testing.cc. Arguments are checked here before
// native code sees them; the handle stays behind a Symbol.
import { addon, checkInt } from './addon.js';

interface RawHandle {
  updatePeers(keys: Uint8Array, vals: Uint8Array): void;
  deletePeers(keys: Uint8Array): number;
  resetCounters(slot: number, present: boolean): void;
  readCounters(slots: Uint32Array): Float64Array;
  readGlobals(): Float64Array;
  info(): PeerWatchInfo;
  drain(): number;
  ref(): void;
  unref(): void;
  destroy(): void;
}

interface PeerWatchAddon {
  PeerWatchHandle: new (opts: NativePeerWatchOptions & { synRtoMs: number }) => RawHandle;
  peerwatchLayout: { abi: number; eventSize: number; kinds: number; counters: number; globals: number };
  peerwatchTestSocket(netnsPath: string, opts: TestSocketOptions): number;
  peerwatchPreload(opts: Omit<ConstructorParameters<PeerWatchAddon['PeerWatchHandle']>[0], 'onEvents'>): boolean;
}

export interface PeerWatchInfo {
  /** the programs were loaded ahead, on a thread of their own (preloadPeerWatch) */
  preloaded?: boolean;
  abi: number;
  eventSize: number;
  counters: number;
  globals: number;
  /** possible CPUs: the per-CPU counters hold one copy each */
  cpus: number;
  maxPeers: number;
  /** what is attached: "tp_btf/…" and "sockops:<cgroup dir>" */
  attached: string[];
  /** kernel ids of the loaded programs (bpftool prog show id N) */
  programIds: number[];
  /** the kernel's memlock account of each map, bytes */
  maps: { name: string; maxEntries: number; memlock: number }[];
}

export interface NativePeerWatchOptions {
  onEvents: (batch: Uint8Array) => void;
  /** kernel BTF instead of /sys/kernel/btf/vmlinux */
  btfPath?: string;
  /** cgroup v2 directory for the sockops program; none: no sockops */
  cgroupPath?: string;
  /** only sockets and neighbours of this network namespace (inode); 0 = all */
  netnsInode: number;
  /** peer-map entries */
  maxPeers: number;
  /** ring buffer bytes, a power of two ≥ 4096 */
  ringBytes: number;
  /** at most one TCP-MD5 event per peer, kind (mismatch, required, unexpected) and this many milliseconds (all are counted) */
  md5IntervalMs: number;
  /** first SYN retransmission to a watched peer, ms; 0 (default): the kernel's */
  synRtoMs?: number;
}

const handle = Symbol('peerwatch handle');

/**
 * Start loading the programs (open, configure, verify) on a native thread now; the
 * NativePeerWatch made later with the same options takes the result, any other loads anew.
 * False when a preload runs already.
 */
export function preloadPeerWatch(o: Omit<NativePeerWatchOptions, 'onEvents'>): boolean {
  return addon<PeerWatchAddon>().peerwatchPreload(loadOptions(o));
}

type LoadOptions = Parameters<PeerWatchAddon['peerwatchPreload']>[0];

/** The loader's options, checked: one shape for the preload and the handle, so they compare equal. */
function loadOptions(o: Omit<NativePeerWatchOptions, 'onEvents'>): LoadOptions {
  checkInt('netnsInode', o.netnsInode, 0, 0xffffffff);
  checkInt('maxPeers', o.maxPeers, 1, 1 << 24);
  checkInt('ringBytes', o.ringBytes, 4096, 1 << 30);
  if ((o.ringBytes & (o.ringBytes - 1)) !== 0) throw new RangeError(`ringBytes must be a power of two, got ${o.ringBytes}`);
  checkInt('md5IntervalMs', o.md5IntervalMs, 0, 3_600_000);
  checkInt('synRtoMs', o.synRtoMs ?? 0, 0, 60_000);
  for (const k of ['btfPath', 'cgroupPath'] as const)
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) throw new TypeError(`${k} must be a non-empty string`);
  const opts: LoadOptions = { netnsInode: o.netnsInode, maxPeers: o.maxPeers, ringBytes: o.ringBytes, md5IntervalMs: o.md5IntervalMs, synRtoMs: o.synRtoMs ?? 0 };
  if (o.btfPath !== undefined) opts.btfPath = o.btfPath;
  if (o.cgroupPath !== undefined) opts.cgroupPath = o.cgroupPath;
  return opts;
}

export function peerwatchLayout(): PeerWatchAddon['peerwatchLayout'] {
  return addon<PeerWatchAddon>().peerwatchLayout;
}

/** The loaded and attached peerwatch programs. Construction throws a SystemError (errno, code, syscall). */
export class NativePeerWatch {
  readonly [handle]: RawHandle;

  constructor(o: NativePeerWatchOptions) {
    if (typeof o.onEvents !== 'function') throw new TypeError('onEvents must be a function');
    const A = addon<PeerWatchAddon>();
    const opts = { onEvents: o.onEvents, ...loadOptions(o) };
    this[handle] = new A.PeerWatchHandle(opts);
  }

  /** keys: n × 20 bytes (pw_peer_key); vals: n × 32 bytes (pw_peer_val) */
  updatePeers(keys: Uint8Array, vals: Uint8Array): void {
    if (keys.byteLength % 20 !== 0 || vals.byteLength !== (keys.byteLength / 20) * 32)
      throw new RangeError('updatePeers: keys must be n×20 bytes and values n×32 bytes');
    if (keys.byteLength) this[handle].updatePeers(keys, vals);
  }

  /** keys: n × 20 bytes; returns how many were in the map */
  deletePeers(keys: Uint8Array): number {
    if (keys.byteLength % 20 !== 0) throw new RangeError('deletePeers: keys must be n×20 bytes');
    return keys.byteLength ? this[handle].deletePeers(keys) : 0;
  }

  /** present: create the slot's counters at zero; false: delete them */
  resetCounters(slot: number, present: boolean): void {
    checkInt('slot', slot, 0, 0xffffffff);
    this[handle].resetCounters(slot, present);
  }

  /** counters of each slot, summed over CPUs: slots.length × counters values */
  readCounters(slots: Uint32Array): Float64Array {
    return this[handle].readCounters(slots);
  }

  readGlobals(): Float64Array {
    return this[handle].readGlobals();
  }

  info(): PeerWatchInfo {
    return this[handle].info();
  }

  /** deliver what the ring buffer holds now, synchronously; returns the number of events */
  drain(): number {
    return this[handle].drain();
  }

  /** keep the event loop alive while watching (default: not) */
  ref(): void {
    this[handle].ref();
  }

  unref(): void {
    this[handle].unref();
  }

  /** detach every program and free the maps; further calls throw EBADF */
  destroy(): void {
    this[handle].destroy();
  }
}

export interface TestSocketOptions {
  family: 4 | 6;
  bind?: { address: string; port: number };
  /** TCP-MD5 keys (TCP_MD5SIG) per peer address; IPv4 peers of an IPv6 socket as ::ffff:a.b.c.d */
  md5?: { address: string; key: string }[];
}

/**
 * Test-only: a non-blocking TCP socket created inside the network namespace at netnsPath
 * (e.g. /var/run/netns/NAME), with TCP-MD5 keys and an optional bind. Hand the fd to
 * `new net.Socket({ fd })` or `server.listen({ fd })`.
 */
export function testSocketIn(netnsPath: string, opts: TestSocketOptions): number {
  if (typeof netnsPath !== 'string') throw new TypeError('netnsPath must be a string');
  if (opts.family !== 4 && opts.family !== 6) throw new TypeError('family must be 4 or 6');
  if (opts.bind) checkInt('bind.port', opts.bind.port, 0, 65535);
  for (const k of opts.md5 ?? []) if (Buffer.byteLength(k.key) > 80) throw new RangeError('a TCP-MD5 key is at most 80 bytes');
  return addon<PeerWatchAddon>().peerwatchTestSocket(netnsPath, opts);
}
