// The listening side of BGP: one address and port (dual stack on `::`), TCP-MD5 keys planned
// for thousands of peers, GTSM per peer, a backlog sized for thousands of simultaneous
// connects, and an accept filter that refuses every source that is neither a configured peer
// nor in a listen range before any byte is read (reset at once, and logged). Accepted
// connections are handed on as plain net.Sockets with who the peer is.
//
// Sizing, decided here and documented in docs/TRANSPORT.md: the listen backlog asked for is
// 65535 and the kernel caps it at net.core.somaxconn of the namespace (4096 by default since
// Linux 5.4); routelet never writes host sysctls, it reads somaxconn, tcp_max_syn_backlog and
// tcp_syncookies at start and warns, naming the sysctl, when they are too small for the peers.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from '../../log.js';
import type { SystemError } from '../../native/addon.js';
import { type AcceptWatch, type AcceptedFd, type Endpoint, type SocketFamily, sockets, watchAccept } from '../../native/sockets.js';
import { type Cidr, canonicalIP, formatCidr, parseIP, peerIdentity } from '../../net/ip.js';
import { CBPF_MAX_INSNS, selectorProgram } from './cbpf.js';
import { applyConnectedOptions, applyPeerTtl, wrapFd } from './connector.js';
import { type KeyPlan, keyId, planKeys } from './keyplan.js';
import { type Member, Members } from './members.js';
import { AcceptPolicy, type DynamicPolicy, type TransportPeer, minTtl } from './peers.js';
import { type ShardLayout, layoutShards, shardFor } from './shards.js';

export interface ListenerOptions {
  /** ROUTELET_LISTEN_ADDRESS; `::` is dual stack */
  address: string;
  port: number;
  peers: readonly TransportPeer[];
  dynamic: DynamicPolicy;
  log: Logger;
  /** asked of listen(); the kernel caps it at net.core.somaxconn (default 65535) */
  backlog?: number;
  /** most listening sockets in the SO_REUSEPORT group (default 64; 1 = one socket, keys up to its option memory) */
  maxShards?: number;
  /** share of each socket's key capacity kept free for peers added later (default 0.1) */
  headroom?: number;
  /** keys one socket holds; default: measured in the namespace */
  capacity?: number;
  /** network namespace to listen in (tests, labs) */
  netns?: string;
  /** for sessions: accepted sockets are read through reader.ts (receive()), not 'data' events */
  onread?: boolean;
}

export interface InboundConnection {
  socket: Socket;
  kind: 'configured' | 'dynamic';
  /** the configured peer, or the settings a dynamic neighbour gets */
  peer: TransportPeer;
  /** the peer's address as routelet names it (IPv4 peers of the dual-stack socket as IPv4) */
  remote: Endpoint;
  local: Endpoint;
  /** the listen range a dynamic neighbour came from */
  range?: Cidr;
  /** which listening socket took it */
  shard: number;
}

export interface RefusedConnection {
  address: string;
  port: number;
  reason: string;
}

export type KeyStatus =
  | { state: 'none' }
  | { state: 'installed'; key: string; shard: number }
  | { state: 'failed'; key: string; shard: number; code: string; errno: number; message: string };

export interface ListenerSnapshot {
  address: string;
  port: number;
  backlog: { asked: number; effective: number };
  sysctls: Record<string, number | null>;
  capacity: number | null;
  keys: number;
  naiveKeys: number;
  programInstructions: number;
  shards: { index: number; minTtl: number; keys: number; keysFailed: number; optmem: number | undefined; acceptQueue: number | undefined }[];
}

interface ListenerEvents {
  connection: [InboundConnection];
  refused: [RefusedConnection];
  acceptError: [SystemError];
}

const SYSCTLS = ['net/core/somaxconn', 'net/ipv4/tcp_max_syn_backlog', 'net/ipv4/tcp_syncookies', 'net/core/optmem_max'] as const;

export class Listener extends EventEmitter<ListenerEvents> {
  private readonly log: Logger;
  private readonly family: SocketFamily;
  private readonly members: Members;
  private readonly watches = new Map<number, AcceptWatch>();
  private policy: AcceptPolicy;
  private plan: KeyPlan = { keys: [], keyOf: new Map(), naiveKeys: 0 };
  private layout: ShardLayout = { shards: [], segments: { 4: [], 6: [] }, gtsmOnAcceptOnly: [] };
  private capacity: number | undefined;
  private failing = new Map<string, string>();
  private readonly refusedLog = new Map<string, { at: number; suppressed: number }>();
  private readonly sysctls: Record<string, number | null>;
  private readonly backlog: number;
  private closed = false;

  private constructor(private readonly o: ListenerOptions) {
    super();
    this.log = o.log.child({ component: 'listener' });
    const ip = parseIP(o.address);
    if (!ip) throw new TypeError(`listen address is not an IP address: ${JSON.stringify(o.address)}`);
    this.family = ip.family;
    this.backlog = o.backlog ?? 65535;
    this.policy = new AcceptPolicy(o.peers, o.dynamic);
    this.sysctls = sockets.sysctls(SYSCTLS, o.netns);
    this.members = new Members(
      { family: this.family, dualStack: ip.family === 6 && canonicalIP(o.address) === '::', address: o.address, port: o.port, backlog: this.backlog, netns: o.netns },
      (m) => this.watch(m),
      (m) => {
        this.watches.get(m.index)?.stop();
        this.watches.delete(m.index);
      },
    );
  }

  /** Bind and listen; throws (Node-shaped, e.g. EADDRINUSE) when the address cannot be had. */
  static open(o: ListenerOptions): Listener {
    const l = new Listener(o);
    try {
      l.configure();
    } catch (e) {
      l.close();
      throw e;
    }
    l.checkSizing();
    return l;
  }

  /** Change the peers or listen ranges: keys and sockets follow, established sessions are untouched. */
  update(peers: readonly TransportPeer[], dynamic: DynamicPolicy): void {
    this.policy = new AcceptPolicy(peers, dynamic);
    this.configure();
  }

  private configure(): void {
    const peers = this.policy.peers;
    const dyn = this.policy.dynamicPolicy;
    const family = (a: string) => peerIdentity(a)?.family;
    const usable = peers.filter((p) => this.family === 6 || family(p.address) === 4);
    this.plan = planKeys(
      usable.map((p) => ({ address: peerIdentity(p.address)!.address, password: p.password })),
      dyn.ranges.filter((r) => this.family === 6 || r.family === 4).map((cidr) => ({ cidr, password: dyn.password })),
    );
    if (this.plan.keys.length && this.capacity === undefined)
      this.capacity = this.o.capacity ?? sockets.md5Capacity(this.family, this.o.netns).keys;
    const input = {
      plan: this.plan,
      peers: usable.map((p) => ({ address: peerIdentity(p.address)!.address, minTtl: minTtl(p) })),
      ranges: dyn.ranges,
      capacity: this.capacity ?? Infinity,
      headroom: this.o.headroom ?? 0.1,
      maxShards: this.o.maxShards ?? 64,
    };
    let layout = layoutShards(input);
    if (selectorProgram(layout.segments).length > CBPF_MAX_INSNS) {
      this.log.warn({ peers: peers.length }, 'GTSM classes interleave too finely for one BPF program: minimum TTL checked on accepted connections only');
      layout = layoutShards({ ...input, peers: input.peers.map((p) => ({ ...p, minTtl: 0 })) });
      layout.gtsmOnAcceptOnly = input.peers.filter((p) => p.minTtl).map((p) => p.address);
    }
    this.layout = layout;
    this.members.apply(layout);
    this.log.info(
      { address: this.o.address, port: this.o.port, peers: peers.length, ranges: dyn.ranges.map(formatCidr), keys: this.plan.keys.length, keysOnePerPeer: this.plan.naiveKeys, sockets: layout.shards.length, keysPerSocket: this.capacity ?? null },
      'listening for BGP connections',
    );
    if (layout.gtsmOnAcceptOnly.length)
      this.log.warn({ peers: layout.gtsmOnAcceptOnly.length }, 'some GTSM peers share a listening socket without their minimum TTL: it is set on their accepted connections');
    this.reportKeys();
  }

  private checkSizing(): void {
    const somaxconn = this.sysctls['net/core/somaxconn'] ?? null;
    const synBacklog = this.sysctls['net/ipv4/tcp_max_syn_backlog'] ?? null;
    const cookies = this.sysctls['net/ipv4/tcp_syncookies'];
    const wanted = Math.max(4096, this.policy.peers.length);
    if (somaxconn !== null && somaxconn < wanted)
      this.log.warn({ sysctl: 'net.core.somaxconn', value: somaxconn, wanted }, `listen backlog capped at ${somaxconn}: peers connecting at once beyond it wait for retransmitted SYNs; raise net.core.somaxconn`);
    if (cookies === 0 && synBacklog !== null && synBacklog < wanted)
      this.log.warn({ sysctl: 'net.ipv4.tcp_max_syn_backlog', value: synBacklog, wanted }, 'SYN cookies are off and the SYN queue is small: raise net.ipv4.tcp_max_syn_backlog or enable net.ipv4.tcp_syncookies');
  }

  // ---- keys: per-peer status, logged once per change

  keyStatus(address: string): KeyStatus | undefined {
    const id = peerIdentity(address);
    if (!id || !this.policy.peer(id.address)) return undefined;
    return this.statusOf(id.address);
  }

  private statusOf(address: string): KeyStatus {
    const key = this.plan.keyOf.get(address);
    if (!key) return { state: 'none' };
    const shard = shardFor(this.layout.segments, address);
    const got = this.members.list[shard]?.keys.get(keyId(key));
    const name = keyId(key);
    if (got?.outcome.ok) return { state: 'installed', key: name, shard };
    const o = got?.outcome;
    return { state: 'failed', key: name, shard, code: o?.code ?? 'ENOENT', errno: o?.errno ?? 0, message: o?.message ?? 'key not installed' };
  }

  private reportKeys(): void {
    const now = new Map<string, string>();
    for (const p of this.policy.peers) {
      const address = peerIdentity(p.address)!.address;
      const s = this.statusOf(address);
      if (s.state !== 'failed') continue;
      now.set(address, s.code);
      if (this.failing.get(address) !== s.code)
        this.log.error({ peer: address, key: s.key, shard: s.shard, code: s.code, errno: s.errno, syscall: 'setsockopt(TCP_MD5SIG_EXT)' }, `TCP-MD5 key for ${address} refused by the kernel: ${s.code}`);
    }
    for (const address of this.failing.keys()) if (!now.has(address)) this.log.info({ peer: address }, `TCP-MD5 key for ${address} now set`);
    this.failing = now;
    for (const m of this.members.list)
      for (const k of m.keys.values())
        if (!k.outcome.ok && k.key.prefix)
          this.log.error({ key: keyId(k.key), shard: m.index, code: k.outcome.code, errno: k.outcome.errno }, `TCP-MD5 prefix key ${keyId(k.key)} refused by the kernel: ${k.outcome.code}`);
  }

  /** One line per problem, for /readyz. */
  problems(): string[] {
    const out: string[] = [];
    for (const m of this.members.list)
      for (const k of m.keys.values())
        if (!k.outcome.ok && k.key.prefix)
          out.push(`TCP-MD5 prefix key ${keyId(k.key)} refused by the kernel on listening socket ${m.index}: ${k.outcome.code} (${k.outcome.message}); the peers and dynamic neighbours it covers cannot connect`);
    for (const [address] of this.failing) {
      const s = this.statusOf(address);
      if (s.state === 'failed')
        out.push(`TCP-MD5 key for ${address} refused by the kernel on the listening socket: ${s.code} (${s.message}); its connections to this node are dropped`);
    }
    return out;
  }

  snapshot(): ListenerSnapshot {
    return {
      address: this.o.address,
      port: this.o.port,
      backlog: { asked: this.backlog, effective: Math.min(this.backlog, this.sysctls['net/core/somaxconn'] ?? this.backlog) },
      sysctls: { ...this.sysctls },
      capacity: this.capacity ?? null,
      keys: this.plan.keys.length,
      naiveKeys: this.plan.naiveKeys,
      programInstructions: this.members.programLength,
      shards: this.members.list.map((m) => {
        const info = sockets.info(m.fd);
        const keys = [...m.keys.values()];
        return { index: m.index, minTtl: m.minTtl, keys: keys.filter((k) => k.outcome.ok).length, keysFailed: keys.filter((k) => !k.outcome.ok).length, optmem: info.optmem, acceptQueue: info.tcp?.acceptQueue };
      }),
    };
  }

  /** The listening socket fds, index = member of the SO_REUSEPORT group (for inspection). */
  get fds(): number[] {
    return this.members.list.map((m) => m.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.members.closeAll();
  }

  // ---- accepting

  private watch(m: Member): void {
    const w = watchAccept(m.fd, (err, conns) => {
      // every fd of the batch is handled even when a 'connection' listener throws
      let thrown: unknown;
      for (const c of conns) {
        try {
          this.accepted(c, m.index);
        } catch (e) {
          thrown ??= e;
        }
      }
      if (thrown !== undefined) queueMicrotask(() => {
        throw thrown;
      });
      if (err) {
        this.log.error({ code: err.code, errno: err.errno, shard: m.index }, `accepting connections paused for 1 s: ${err.code}`);
        if (this.listenerCount('acceptError')) this.emit('acceptError', err);
        setTimeout(() => {
          if (this.watches.get(m.index) === w) w.resume();
        }, 1000).unref();
      }
    });
    this.watches.set(m.index, w);
  }

  private accepted(c: AcceptedFd, shard: number): void {
    const k = this.policy.classify(c.address);
    if (k.kind === 'refused') {
      sockets.close(c.fd, true);
      this.refused({ address: k.address, port: c.port, reason: k.reason });
      return;
    }
    let socket: Socket;
    let local: Endpoint;
    try {
      applyPeerTtl(c.fd, k.family, k.peer);
      applyConnectedOptions(c.fd, k.peer);
      const info = sockets.info(c.fd);
      const l = peerIdentity(info.local.address)!;
      local = { address: l.address, family: l.family, port: info.local.port };
      socket = wrapFd(c.fd, this.o.onread);
    } catch (e) {
      sockets.close(c.fd, true);
      const err = e as SystemError;
      this.log.error({ peer: k.address, code: err.code, err }, 'could not set up an accepted connection');
      return;
    }
    const conn: InboundConnection = { socket, kind: k.kind, peer: k.peer, remote: { address: k.address, family: k.family, port: c.port }, local, shard };
    if (k.kind === 'dynamic') conn.range = k.range;
    this.log.debug({ peer: k.address, port: c.port, kind: k.kind, shard }, 'accepted BGP connection');
    if (this.listenerCount('connection') === 0) {
      socket.destroy();
      return;
    }
    this.emit('connection', conn);
  }

  private refused(r: RefusedConnection): void {
    const now = Date.now();
    const seen = this.refusedLog.get(r.address);
    if (!seen || now - seen.at >= 10_000) {
      this.log.warn({ peer: r.address, port: r.port, reason: r.reason, ...(seen?.suppressed ? { alsoRefusedSince: seen.suppressed } : {}) }, `refused connection from ${r.address}: ${r.reason}`);
      if (this.refusedLog.size > 10_000) this.refusedLog.clear();
      this.refusedLog.set(r.address, { at: now, suppressed: 0 });
    } else seen.suppressed++;
    if (this.listenerCount('refused')) this.emit('refused', r);
  }
}
