// PeerWatch: socket-level evidence about BGP peers, from the BPF programs when the kernel
// allows (mode 'bpf'), else from the errors the session layer reports (mode 'fallback' with
// the reason, or 'off'). Consumers get typed events in batches and per-peer counters; the
// graceful-restart policy decides what to do with them (see events.ts for what counts as
// "dead").
import { statSync } from 'node:fs';
import type { Logger } from '../log.js';
import { formatIP, parseIP } from '../net/ip.js';
import { NativePeerWatch, preloadPeerWatch, type NativePeerWatchOptions, type PeerWatchInfo } from '../native/bpf-peerwatch.js';
import { ownCgroup2Dir } from '../sys/cgroup.js';
import { PeerHealthBook, md5ProblemLine, zeroCounts, type KindCounts } from './peerstats.js';
import { fromRaw, type PeerHealthEvent } from './events.js';
import { Dedup, eventFromSocketError, type SocketErrorReport } from './fallback.js';
import {
  COUNTER_RETRANSMITS,
  GLOBALS,
  KINDS,
  PW_COUNTERS,
  PW_KEY_SIZE,
  PW_VAL_SIZE,
  decodeEvents,
  encodeKey,
  encodeVal,
  type RawEvent,
} from './bpfrecords.js';
import { WatchList, normalizePeer, parsePeerAddress, type Change, type WatchedPeer } from './watchlist.js';

export type BpfSetting = 'on' | 'auto' | 'off';

/** Our SYNs to peers are retransmitted this soon (ms) when unanswered: on a LAN a SYN-ACK takes well under 1 ms. */
export const SYN_RTO_MS = 100;
export type PeerWatchMode = 'bpf' | 'fallback' | 'off';

export interface PeerWatchOptions {
  /** ROUTELET_BPF: 'on' fails without the programs, 'auto' falls back, 'off' */
  bpf: BpfSetting;
  /** kernel BTF to load against (default /sys/kernel/btf/vmlinux) */
  btfPath?: string;
  /** cgroup v2 directory for sockops; default this process's own (mounted if needed); null: none */
  cgroupPath?: string | null;
  /** which network namespace: 'own' (default), 'any', or an inode number */
  netns?: 'own' | 'any' | number;
  /**
   * peer-map entries (a peer takes one, two with a port; a gateway one); default 16384. The
   * maps allocate per entry in use; their hash buckets cost about 32 bytes per possible entry.
   */
  maxEntries?: number;
  /** ring buffer size, bytes (power of two); default 256 KiB */
  ringBytes?: number;
  /** at most one TCP-MD5 event per peer per this many ms; every segment is counted; default 1000 */
  md5IntervalMs?: number;
  /**
   * first retransmission of our SYN to a watched peer, ms (sockops TIMEOUT_INIT); default 100.
   * The "SYN unanswered" evidence comes this soon instead of after the kernel's 1 s; 0 keeps
   * the kernel's timeout.
   */
  synRtoMs?: number;
  /** a socket report and a kernel event saying the same within this many ms are one; default 2000 */
  dedupMs?: number;
  log?: Logger;
}

/** ROUTELET_BPF=on and the programs could not be loaded or attached. */
export class PeerWatchError extends Error {
  readonly code: string | undefined;
  readonly syscall: string | undefined;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'PeerWatchError';
    this.code = (cause as { code?: string } | undefined)?.code;
    this.syscall = (cause as { syscall?: string } | undefined)?.syscall;
  }
}

export interface PeerCounters {
  /** occurrences by kind: exact kernel counts in BPF mode (plus socket reports), events otherwise */
  readonly kinds: KindCounts;
  /** retransmitted segments to the peer (BPF mode only) */
  readonly retransmits: number;
  /** segments from the peer dropped for TCP-MD5 (mismatch + required + unexpected) */
  readonly md5Failures: number;
}

export interface PeerWatchStatus {
  readonly mode: PeerWatchMode;
  /** why not 'bpf' (fallback or off), or why sockops is missing in 'bpf' mode */
  readonly reason: string | null;
  readonly sockops: boolean;
  readonly attached: readonly string[];
  /** kernel ids of the loaded programs */
  readonly programIds: readonly number[];
  readonly peers: number;
  readonly entries: number;
  /** kernel-side global counters: events, ringbufFull, md5Suppressed, sockopsArmed, rtoMinSet */
  readonly globals: Readonly<Record<(typeof GLOBALS)[number], number>>;
  readonly maps: PeerWatchInfo['maps'];
  readonly cpus: number;
  /** the programs were loaded ahead by PeerWatch.preload */
  readonly preloaded: boolean;
}

export type PeerHealthListener = (batch: readonly PeerHealthEvent[]) => void;

const MD5_KINDS = ['md5-mismatch', 'md5-required', 'md5-unexpected'] as const;

/** The native loader's options for these PeerWatch options: one place, so a preload matches. */
function nativeOptions(o: PeerWatchOptions, maxEntries: number, cgroupPath: string | undefined): Omit<NativePeerWatchOptions, 'onEvents'> {
  return {
    ...(o.btfPath !== undefined ? { btfPath: o.btfPath } : {}),
    ...(cgroupPath !== undefined ? { cgroupPath } : {}),
    netnsInode: netnsInode(o.netns),
    maxPeers: maxEntries,
    ringBytes: o.ringBytes ?? 256 * 1024,
    md5IntervalMs: o.md5IntervalMs ?? 1000,
    synRtoMs: o.synRtoMs ?? SYN_RTO_MS,
  };
}

/** The cgroup v2 directory for sockops (this process's own unless given), or why there is none. */
function sockopsCgroup(o: PeerWatchOptions): { cgroup: string | undefined; sockopsReason: string | null } {
  if (o.cgroupPath === null) return { cgroup: undefined, sockopsReason: null };
  if (o.cgroupPath !== undefined) return { cgroup: o.cgroupPath, sockopsReason: null };
  try {
    return { cgroup: ownCgroup2Dir(), sockopsReason: null };
  } catch (e) {
    return { cgroup: undefined, sockopsReason: `no sockops: ${(e as Error).message}` };
  }
}

function netnsInode(n: PeerWatchOptions['netns']): number {
  if (n === 'any') return 0;
  if (typeof n === 'number') return n;
  return statSync('/proc/self/ns/net').ino;
}

export class PeerWatch {
  readonly mode: PeerWatchMode;
  readonly reason: string | null;
  readonly sockops: boolean;
  #native: NativePeerWatch | undefined;
  #list: WatchList;
  #book = new PeerHealthBook();
  #dedup: Dedup;
  #listeners = new Set<PeerHealthListener>();
  #log: Logger | undefined;
  #stopped = false;

  private constructor(mode: PeerWatchMode, reason: string | null, native: NativePeerWatch | undefined, sockops: boolean, o: PeerWatchOptions, maxEntries: number) {
    this.mode = mode;
    this.reason = reason;
    this.sockops = sockops;
    this.#native = native;
    this.#list = new WatchList(maxEntries);
    this.#dedup = new Dedup(BigInt(o.dedupMs ?? 2000) * 1_000_000n);
    this.#log = o.log;
  }

  /**
   * Start watching. 'on': throws PeerWatchError with the reason when the kernel refuses;
   * 'auto': falls back (mode 'fallback', `reason` says why); 'off': mode 'off'.
   */
  static start(o: PeerWatchOptions): PeerWatch {
    const w = PeerWatch.#start(o);
    const log = o.log;
    if (log) {
      if (w.mode === 'bpf' && w.sockops) log.info({ peerHealth: 'bpf' }, 'peer-health evidence from the BPF programs (tracepoints and sockops)');
      else if (w.mode === 'bpf') log.warn({ peerHealth: 'bpf', reason: w.reason }, 'peer-health evidence from the BPF tracepoints; sockops unavailable');
      else if (w.mode === 'fallback') log.warn({ peerHealth: 'fallback', reason: w.reason }, 'BPF unavailable: peer-health evidence from socket errors only');
      else log.info({ peerHealth: 'off' }, 'BPF off (ROUTELET_BPF=off): peer-health evidence from socket errors only');
    }
    return w;
  }

  /**
   * Start loading the BPF programs on a native thread (the agent does so first thing, so the
   * kernel verifies them while Node loads the rest); PeerWatch.start with the same options
   * then only attaches. Never throws: a failed preload leaves start() to load and report.
   */
  static preload(o: Omit<PeerWatchOptions, 'log'>): boolean {
    if (o.bpf === 'off') return false;
    try {
      const { cgroup } = sockopsCgroup(o);
      return preloadPeerWatch(nativeOptions(o, o.maxEntries ?? 16384, cgroup));
    } catch {
      return false;
    }
  }

  static #start(o: PeerWatchOptions): PeerWatch {
    if (o.bpf !== 'on' && o.bpf !== 'auto' && o.bpf !== 'off') throw new TypeError(`bpf must be on, auto or off, got ${String(o.bpf)}`);
    const maxEntries = o.maxEntries ?? 16384;
    if (o.bpf === 'off') return new PeerWatch('off', 'disabled (ROUTELET_BPF=off)', undefined, false, o, maxEntries);
    let self: PeerWatch | undefined;
    const onEvents = (batch: Uint8Array) => {
      if (self) self.#onKernelBatch(batch);
    };
    const open = (cgroupPath: string | undefined) => new NativePeerWatch({ onEvents, ...nativeOptions(o, maxEntries, cgroupPath) });
    let { cgroup, sockopsReason } = sockopsCgroup(o);
    if (o.bpf === 'on' && sockopsReason) throw new PeerWatchError(`ROUTELET_BPF=on, but ${sockopsReason}`);
    let native: NativePeerWatch;
    try {
      native = open(cgroup);
    } catch (first) {
      const why = describe(first);
      if (o.bpf === 'on') throw new PeerWatchError(`ROUTELET_BPF=on, but the BPF programs cannot run: ${why}`, first);
      if (cgroup === undefined) return new PeerWatch('fallback', `BPF unavailable: ${why}`, undefined, false, o, maxEntries);
      // without sockops, the tracepoints alone may still work
      try {
        native = open(undefined);
        sockopsReason = `no sockops: ${why}`;
        cgroup = undefined;
      } catch (second) {
        return new PeerWatch('fallback', `BPF unavailable: ${describe(second)}`, undefined, false, o, maxEntries);
      }
    }
    self = new PeerWatch('bpf', sockopsReason, native, cgroup !== undefined, o, maxEntries);
    return self;
  }

  // ---- the watched set

  /** Replace the watched peers. Invalid input throws WatchError and changes nothing. */
  setPeers(peers: readonly WatchedPeer[]): void {
    this.#apply(this.#list.set(peers));
  }

  addPeer(peer: WatchedPeer): void {
    this.#apply(this.#list.add(peer));
  }

  removePeer(peer: Pick<WatchedPeer, 'address' | 'port'>): void {
    const n = normalizePeer(peer);
    this.#apply(this.#list.remove(peer));
    if (!this.#list.isPeer(n.address)) this.#book.forget(n.address);
  }

  peers(): WatchedPeer[] {
    return this.#list.peers();
  }

  #apply(c: Change): void {
    const n = this.#native;
    if (!n || this.#stopped) return;
    const keys = (es: Change['upsert']) => {
      const out = new Uint8Array(es.length * PW_KEY_SIZE);
      es.forEach((e, i) => encodeKey(e.address, e.port, out, i * PW_KEY_SIZE));
      return out;
    };
    n.deletePeers(keys(c.remove));
    for (const s of c.freedSlots) {
      this.#countersMissing.delete(s);
      n.resetCounters(s, false);
    }
    for (const s of c.newSlots) this.#createCounters(n, s);
    const vals = new Uint8Array(c.upsert.length * PW_VAL_SIZE);
    c.upsert.forEach((e, i) => encodeVal(e.slot, e.flags, vals, i * PW_VAL_SIZE));
    n.updatePeers(keys(c.upsert), vals);
  }

  /**
   * A slot's per-CPU counters. The kernel may refuse one with ENOMEM when thousands are made in
   * one go (the per-CPU allocator of a map without preallocation refills behind us): the peer is
   * watched all the same (the programs skip a slot without counters) and the slot is tried again
   * shortly, instead of the agent failing to start (issue 12: 6,000 peers did).
   */
  #createCounters(n: NativePeerWatch, slot: number): void {
    try {
      n.resetCounters(slot, true);
      this.#countersMissing.delete(slot);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOMEM') throw e;
      if (!this.#countersMissing.has(slot) && this.#countersMissing.size === 0 && !this.#countersWarned) {
        this.#countersWarned = true;
        this.#log?.warn({ err: (e as Error).message }, 'peer-health counters: the kernel refused some for now (ENOMEM); those peers are watched, their counters are made later');
      }
      this.#countersMissing.add(slot);
      this.#retryCounters();
    }
  }

  #countersMissing = new Set<number>();
  #countersWarned = false;
  #countersRetry: NodeJS.Timeout | undefined;
  #countersTries = 0;

  #retryCounters(): void {
    if (this.#countersRetry || this.#stopped) return;
    this.#countersRetry = setTimeout(() => {
      this.#countersRetry = undefined;
      const n = this.#native;
      if (!n || this.#stopped) return;
      this.#countersTries += 1;
      for (const slot of [...this.#countersMissing]) {
        try {
          n.resetCounters(slot, true);
          this.#countersMissing.delete(slot);
        } catch {
          break;
        }
      }
      if (this.#countersMissing.size === 0) this.#log?.info({ tries: this.#countersTries }, 'peer-health counters: every watched peer has its counters now');
      else this.#retryCounters();
    }, Math.min(1000, 20 * 2 ** Math.min(this.#countersTries, 6))).unref();
  }

  /** slots whose counters the kernel has not given yet */
  get countersMissing(): number {
    return this.#countersMissing.size;
  }

  // ---- events

  /** Receive events in batches; returns the unsubscribe function. */
  onEvents(listener: PeerHealthListener): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The session layer's report of an error Node gave it on a socket to a peer. Every mode
   * turns it into the same event type; in BPF mode a report the kernel programs already
   * made is dropped. Returns the event delivered, or null (not a watched peer, or a duplicate).
   */
  reportSocketError(r: SocketErrorReport): PeerHealthEvent | null {
    const e = eventFromSocketError(r);
    if (this.#stopped || !this.#list.isPeer(e.peer) || !this.#dedup.admit(e)) return null;
    this.#deliver([e]);
    return e;
  }

  /** Deliver the kernel events waiting in the ring buffer now (normally the loop does). */
  drain(): number {
    return this.#native && !this.#stopped ? this.#native.drain() : 0;
  }

  #onKernelBatch(buf: Uint8Array): void {
    if (this.#stopped) return;
    let raws: RawEvent[];
    try {
      raws = decodeEvents(buf);
    } catch (e) {
      this.#log?.error({ err: e }, 'peerwatch: malformed event batch');
      return;
    }
    const out: PeerHealthEvent[] = [];
    for (const r of raws) for (const e of this.#attribute(r)) if (this.#dedup.admit(e)) out.push(e);
    if (out.length) this.#deliver(out);
  }

  /** The watched peers an event is about (a gateway's neighbour failure: every peer behind it). */
  #attribute(r: RawEvent): PeerHealthEvent[] {
    const e = fromRaw(r);
    if (e.kind !== 'neighbour-failed') return this.#list.isPeer(e.peer) ? [e] : [];
    const out: PeerHealthEvent[] = [];
    if (this.#list.isPeer(e.peer)) out.push(e);
    for (const peer of this.#list.behind(e.peer)) {
      const a = parseIP(peer)!;
      out.push(fromRaw(r, { address: peer, family: a.family, bytes: a.bytes }));
    }
    return out;
  }

  #deliver(batch: PeerHealthEvent[]): void {
    for (const e of batch) this.#book.record(e, () => this.peerCounters(e.peer).md5Failures);
    const frozen = Object.freeze(batch);
    for (const l of this.#listeners) {
      try {
        l(frozen);
      } catch (err) {
        if (this.#log) this.#log.error({ err }, 'peer-health listener threw');
        else
          process.nextTick(() => {
            throw err;
          });
      }
    }
  }

  // ---- counters

  /** Per-peer counters (address in any textual form). */
  peerCounters(address: string): PeerCounters {
    const a = canonicalPeer(address);
    const kinds = zeroCounts();
    let retransmits = 0;
    if (!a) return { kinds, retransmits, md5Failures: 0 };
    const rec = this.#book.get(a);
    if (this.#native && !this.#stopped) {
      const entries = this.#list.entriesOf(a);
      const values = this.#native.readCounters(Uint32Array.from(entries.map((e) => e.slot)));
      entries.forEach((_, i) => {
        KINDS.forEach((k, j) => (kinds[k] += values[i * PW_COUNTERS + j]!));
        retransmits += values[i * PW_COUNTERS + COUNTER_RETRANSMITS]!;
      });
      if (rec) for (const k of KINDS) kinds[k] += rec.socketEvents[k];
    } else if (rec) {
      for (const k of KINDS) kinds[k] = rec.events[k];
    }
    return { kinds, retransmits, md5Failures: MD5_KINDS.reduce((s, k) => s + kinds[k], 0) };
  }

  /** Segments from the peer dropped for TCP-MD5 (for /api/v1/peers `md5Failures`). */
  md5Failures(address: string): number {
    return this.peerCounters(address).md5Failures;
  }

  /** The last 'dead' evidence about a peer, if any. */
  lastDead(address: string): PeerHealthEvent | null {
    const a = canonicalPeer(address);
    return a ? (this.#book.get(a)?.lastDead ?? null) : null;
  }

  /** /readyz lines: peers whose segments fail TCP-MD5 since their last established connection. */
  readinessProblems(): string[] {
    const out: string[] = [];
    for (const address of this.#list.peerAddresses()) {
      const since = this.md5Failures(address) - (this.#book.get(address)?.md5Baseline ?? 0);
      if (since > 0) out.push(md5ProblemLine(address, since));
    }
    return out;
  }

  /** The addresses of the watched peers, each once. */
  peerAddresses(): string[] {
    return this.#list.peerAddresses();
  }

  status(): PeerWatchStatus {
    const globals = Object.fromEntries(GLOBALS.map((g) => [g, 0])) as Record<(typeof GLOBALS)[number], number>;
    let info: PeerWatchInfo | undefined;
    if (this.#native && !this.#stopped) {
      const g = this.#native.readGlobals();
      GLOBALS.forEach((name, i) => (globals[name] = g[i]!));
      info = this.#native.info();
    }
    return {
      mode: this.mode,
      reason: this.reason,
      sockops: this.sockops && !this.#stopped,
      attached: info?.attached ?? [],
      programIds: info?.programIds ?? [],
      peers: this.#list.peers().length,
      entries: this.#list.entries().length,
      globals,
      maps: info?.maps ?? [],
      cpus: info?.cpus ?? 0,
      preloaded: info?.preloaded ?? false,
    };
  }

  /** Keep the event loop alive while watching (by default the watch does not). */
  ref(): void {
    this.#native?.ref();
  }

  /** Detach every program and free the maps. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#countersRetry);
    this.#native?.destroy();
    this.#native = undefined;
    this.#listeners.clear();
  }
}

function canonicalPeer(text: string): string | undefined {
  const a = parsePeerAddress(String(text));
  return a && formatIP(a.family, a.bytes);
}

function describe(e: unknown): string {
  const x = e as { code?: string; syscall?: string; message?: string };
  return x?.message ?? String(e);
}
