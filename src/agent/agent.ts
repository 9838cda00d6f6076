// The running agent: the one owner of mutable state. It wires configuration → PeerWatch,
// FIB, RIB, graceful restart, Listener, sessions and HTTP; every event reaches it on the one
// event loop, and HTTP, metrics and the CLI read snapshots (view.ts).
//
//   Listener ─► Sessions ─► (established / update / down) ─► Rib ─► send ─► Sessions
//                                    │                        └──► fib ─► Fib (kernel)
//                                    └─► GracefulRestart (src/gr) ◄── PeerWatch evidence
import { hostname } from 'node:os';
import type { Config, PeerConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import { formatCidr } from '../net/ip.js';
import { parsePrefix, prefixFamily, type Prefix } from '../net/prefix.js';
import type { UpdateMessage } from '../bgp/codec/index.js';
import { connect as transportConnect, Listener, socketErrorText, transportPolicy, type InboundConnection } from '../bgp/transport/index.js';
import { cease, type Negotiated, type PeerSettings, plainError, type Session, type SessionDown, Sessions, type StopNotification } from '../bgp/session/index.js';
import { Fib, type NexthopSet } from '../fib/index.js';
import { ConnectedDevices } from '../fib/devices.js';
import { PeerWatch } from '../health/index.js';
import type { Family } from '../net/ip.js';
import { type FibChange, type PeerHandle, Rib } from '../rib/index.js';
import { createGracefulRestart, type GracefulRestart, type GrPeer } from '../gr/index.js';
import type { HttpServer } from '../http/server.js';
import type { Registry } from 'prom-client';
import { Packer } from './pack.js';
import { KubeAgent } from './kubernetes.js';
import { AgentSnapshots } from './view.js';

/** A peer the agent knows: its session, its RIB handle, whether it is configured. */
export interface PeerEntry extends GrPeer {
  /** RFC 7606 outcomes seen on its UPDATEs, by action */
  readonly updateErrors: Record<string, number>;
  /** codes of malformations already logged (once per code and session) */
  logged: Set<string>;
}

const STOP_BOUND_MS = 1500;

export class Agent {
  readonly log: Logger;
  config: Config;
  /** made once the sessions have started: prom-client and HTTP are off the start-up path */
  registry!: Registry;
  watch!: PeerWatch;
  fib: Fib | null = null;
  rib!: Rib;
  gr!: GracefulRestart;
  listener!: Listener;
  sessions!: Sessions;
  http: HttpServer | null = null;
  /** the Kubernetes mode (ROUTELET_KUBERNETES), or null */
  kube: KubeAgent | null = null;
  readonly view: AgentSnapshots;
  readonly entries = new Map<Session, PeerEntry>();
  readonly #byHandle = new Map<PeerHandle, Session>();
  readonly #hopSets = new Map<string, NexthopSet>();
  #flushScheduled = false;
  #stopping = false;
  #fibErrors = new Set<string>();
  /** the RIB's message arrays packed into few Buffers, once per array (shared by a group) */
  readonly #packer = new Packer();
  readonly #devices = new ConnectedDevices();

  private constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    this.view = new AgentSnapshots(this);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  static async start(config: Config, log: Logger): Promise<Agent> {
    const a = new Agent(config, log);
    try {
      await a.#start();
    } catch (e) {
      await a.stop('startup failed').catch(() => undefined);
      throw e;
    }
    return a;
  }

  async #start(): Promise<void> {
    const { config, log } = this;
    log.info({ asn: config.asn, routerId: config.routerId, peers: config.peers.length, listenRange: config.listenRange.map(formatCidr), gr: config.gr.enabled, kernel: config.kernel.enabled }, 'routelet agent starting');

    // the Kubernetes mode: the last known peers from the state file now; the API after the sessions started
    if (config.kubernetes.enabled) {
      log.info({ node: config.kubernetes.nodeName, because: config.kubernetes.because, reflectors: config.kubernetes.reflectors.mode }, `kubernetes mode on (${config.kubernetes.because})`);
      this.kube = new KubeAgent(this);
      this.kube.loadCache();
      this.config = { ...config, peers: this.kube.peersFor(config) };
    }

    // peer-health evidence: every configured peer is watched
    this.watch = PeerWatch.start({ bpf: config.bpf, log });
    const fast = config.gr.enabled && config.gr.fastUnlock;
    log.info(
      { detection: this.watch.mode, fastUnlock: fast },
      `peer-health detection: ${this.watch.mode === 'bpf' ? 'BPF programs in the kernel' : this.watch.mode === 'fallback' ? "the errors Node sees on the agent's own sockets (no BPF)" : 'off'}; graceful-restart fast unlock ${fast ? 'on' : 'off'}`,
    );
    this.watch.setPeers(this.config.peers.map((p) => ({ address: p.address })));

    if (config.kernel.enabled)
      this.fib = await Fib.open({ table: config.kernel.table, protocol: config.kernel.protocol, ecmpMaxPaths: config.ecmpMaxPaths, log: log.child({ component: 'fib' }) });

    this.rib = new Rib({
      asn: config.asn,
      routerId: config.routerId,
      ...(config.rrClusterId !== undefined ? { clusterId: config.rrClusterId } : {}),
      ecmpMaxPaths: config.ecmpMaxPaths,
      logger: log.child({ component: 'rib' }),
      events: {
        send: (peer, msgs) => this.#byHandle.get(peer)?.current?.send(this.#packer.pack(msgs)),
        fib: (changes) => this.#toFib(changes),
        schedule: () => this.#scheduleFlush(),
        endOfRib: (peer, family) => {
          const s = this.#byHandle.get(peer);
          const e = s && this.entries.get(s);
          if (e) this.gr.endOfRib(e, family);
        },
      },
    });

    this.gr = createGracefulRestart({
      config,
      rib: this.rib,
      fib: this.fib,
      peers: () => this.entries.values(),
      log: log.child({ component: 'gr' }),
      swept: (p) => this.#maybeForget(p.session),
      flush: () => this.rib.flush(),
      probe: (p, timeoutMs) => this.#probe(p.session, timeoutMs),
    });
    await this.gr.start();
    this.watch.onEvents((batch) => this.gr.peerHealth(batch));

    this.originatePodCIDRs();

    const listen = config.listen.address;
    const bindAddress: { 4?: string; 6?: string } = {};
    if (listen !== '::' && listen !== '0.0.0.0') bindAddress[listen.includes(':') ? 6 : 4] = listen;
    this.sessions = new Sessions({
      local: { asn: config.asn, routerId: config.routerId, hostname: hostname() },
      connectRetry: config.connectRetry,
      connectRetryMax: config.connectRetryMax,
      initialHold: 240,
      bindAddress,
      gracefulRestart: (s) => {
        const e = this.entries.get(s);
        return e ? this.gr.capability(e) : null;
      },
      log: log.child({ component: 'bgp' }),
      dynamicSettings: (c) => this.#dynamicSettings(c),
      events: {
        created: (s) => this.#created(s),
        removed: (s) => this.#removed(s),
        established: (s, n, local) => this.#established(s, n, local.address),
        update: (s, m) => this.#update(s, m),
        routeRefresh: (s, family, subtype) => this.#routeRefresh(s, family, subtype),
        down: (s, d) => this.#down(s, d),
        idle: (s) => this.#maybeForget(s),
        socketError: (s, e, phase, ports) => {
          try {
            this.watch.reportSocketError({ address: s.address, port: ports.port, localPort: ports.localPort, error: e, phase });
          } catch {
            // not an errno-shaped error: nothing for peer health
          }
        },
      },
    });

    const { peers, dynamic } = transportPolicy(this.config);
    this.listener = Listener.open({ address: listen, port: config.listen.port, peers, dynamic, log });
    this.listener.on('connection', (c) => this.sessions.accept(c));
    for (const p of this.config.peers) this.sessions.add(settingsOf(p));
    this.#noteKeyRefusals();

    // metrics and HTTP load after the sessions started: a restarting node's peers are
    // connected to while these modules load (they cost about 60 ms of start-up)
    const [{ createRegistry }, { registerAgentMetrics }, { startHttp }] = await Promise.all([import('../http/metrics.js'), import('./metrics.js'), import('../http/server.js')]);
    this.registry = createRegistry();
    registerAgentMetrics(this.registry, this);
    this.http = await startHttp(config.http, this.view, log.child({ component: 'http' }));

    // the client library loads now, off the restart-recovery path
    if (this.kube) this.kube.start().catch((e: unknown) => log.error({ err: e }, `kubernetes: the watcher could not start: ${(e as Error).message}`));
  }

  /** ROUTELET_ADVERTISE, plus this node's pod CIDRs in the Kubernetes mode: the set replaces the previous one. */
  originatePodCIDRs(): void {
    const texts = new Set([...this.config.advertise.map(formatCidr), ...(this.kube?.podCIDRs ?? [])]);
    this.rib.originate([...texts].map((t) => parsePrefix(t)!).filter((p) => p !== undefined));
  }

  /** The session with this configured peer is Established. */
  established(address: string): boolean {
    return this.sessions.get(address)?.isEstablished ?? false;
  }

  /** The RIB holds a path to `prefix` from a peer other than `notFrom`, not stale (make-before-break). */
  reachableElsewhere(prefix: string, notFrom: string): boolean {
    for (const r of this.rib.routes({ prefix })) {
      if (r.prefix !== prefix) continue;
      if (r.paths.some((p) => p.peer !== notFrom && p.peer !== 'local' && !p.stale)) return true;
    }
    return false;
  }

  /** Kubernetes node health: the node of this peer is dead (graceful-restart evidence while its session is down). */
  nodeDead(address: string, evidence: string): void {
    const s = this.sessions.get(address);
    const e = s && this.entries.get(s);
    if (e) this.gr.nodeDead(e, evidence);
  }

  /** A TCP-MD5 key the kernel refused on the listening socket is the peer's lastError until it is up. */
  #noteKeyRefusals(): void {
    for (const s of this.sessions.list()) {
      const k = this.listener.keyStatus(s.address);
      if (k?.state !== 'failed' || s.isEstablished) continue;
      s.noteError(plainError(`TCP-MD5 key refused by the kernel on the listening socket: ${socketErrorText(k)}`, `TCP-MD5 key refused: ${k.code}`));
    }
  }

  // ------------------------------------------------------------------ sessions → RIB

  #dynamicSettings(c: InboundConnection): PeerSettings {
    const cfg = this.config;
    const ibgp = cfg.listenAsn === cfg.asn;
    return {
      address: c.remote.address,
      family: c.remote.family,
      port: cfg.listen.port,
      asn: cfg.listenAsn,
      ibgp,
      password: cfg.password,
      holdTime: cfg.holdTime,
      keepaliveTime: cfg.keepaliveTime,
      tcpUserTimeout: cfg.tcpUserTimeout,
      passive: true,
      ttlSecurity: 0,
      multihop: 0,
      gracefulRestart: cfg.gr.enabled,
      routeReflectorClient: cfg.rrClusterId !== undefined && ibgp,
      maxPrefixes: undefined,
      description: undefined,
    };
  }

  #created(s: Session): void {
    const st = s.settings;
    const rib = this.rib.addPeer({ address: s.address, asn: st.asn, routeReflectorClient: st.routeReflectorClient, ...(st.maxPrefixes !== undefined ? { maxPrefixes: st.maxPrefixes } : {}) });
    this.#byHandle.set(rib, s);
    this.entries.set(s, { session: s, rib, configured: !s.dynamic, updateErrors: {}, logged: new Set() });
    if (s.dynamic) this.#watchPeer(s.address, true);
  }

  #removed(s: Session): void {
    const e = this.entries.get(s);
    if (!e) return;
    this.entries.delete(s);
    this.#byHandle.delete(e.rib);
    this.gr.peerRemoved(e);
    if (!this.#stopping) this.rib.removePeer(e.rib);
    if (s.dynamic) this.#watchPeer(s.address, false);
    if (s.dynamic) this.log.info({ peer: s.address }, `dynamic neighbour ${s.address} removed`);
  }

  readonly #dynamicWatched = new Set<string>();
  #watchScheduled = false;

  /**
   * Dynamic neighbours join and leave the peer-health watch list in batches, once per turn of
   * the event loop: a thousand neighbours connecting at once cost one update, not a thousand
   * (each replaces the whole list).
   */
  #watchPeer(address: string, on: boolean): void {
    if (on) this.#dynamicWatched.add(address);
    else this.#dynamicWatched.delete(address);
    this.#syncWatch();
  }

  #syncWatch(): void {
    if (this.#watchScheduled) return;
    this.#watchScheduled = true;
    setImmediate(() => {
      this.#watchScheduled = false;
      if (this.#stopping) return;
      const configured = new Set(this.config.peers.map((p) => p.address));
      const all = [...configured, ...[...this.#dynamicWatched].filter((a) => !configured.has(a))];
      try {
        this.watch.setPeers(all.map((address) => ({ address })));
      } catch (e) {
        this.log.warn({ err: e }, 'peer-health watch list not updated');
      }
    });
  }

  #established(s: Session, n: Negotiated, localAddress: string): void {
    const e = this.entries.get(s);
    if (!e || this.#stopping) return;
    e.logged.clear();
    this.rib.peerUp(e.rib, { routerId: n.routerId, codec: n.codec, families: n.families, localAddress, enhancedRouteRefresh: n.enhancedRouteRefresh });
    this.gr.sessionUp(e, n);
  }

  #update(s: Session, m: UpdateMessage): void {
    const e = this.entries.get(s);
    if (!e || this.#stopping) return;
    if (m.errors.length) this.#noteUpdateErrors(e, m);
    const o = this.rib.update(e.rib, m);
    if (o.type !== 'max-prefixes') return;
    this.log.warn({ peer: s.address, family: o.family, limit: o.limit }, `${s.address} sent more than ${o.limit} prefixes: session reset (Cease/Maximum Number of Prefixes Reached)`);
    s.reset(cease.maxPrefixes(o.family, o.limit), `more than ${o.limit} prefixes`);
  }

  #noteUpdateErrors(e: PeerEntry, m: UpdateMessage): void {
    for (const err of m.errors) {
      e.updateErrors[err.action] = (e.updateErrors[err.action] ?? 0) + 1;
      if (e.logged.has(err.code)) continue;
      e.logged.add(err.code);
      // once per malformation and session: a peer repeating it must not flood the log
      this.log.warn({ peer: e.session.address, code: err.code, action: err.action, rfc: err.rfc }, `malformed UPDATE from ${e.session.address}: ${err.message}`);
    }
  }

  #routeRefresh(s: Session, family: Family, subtype: number): void {
    const e = this.entries.get(s);
    if (!e || this.#stopping) return;
    if (subtype === 0) this.rib.routeRefresh(e.rib, family);
    else if (subtype === 1) this.rib.markStale(e.rib, [family]);
    else this.rib.sweepStale(e.rib, family);
  }

  #down(s: Session, d: SessionDown): void {
    const e = this.entries.get(s);
    // stopping the agent: the RIB stays as it is (no withdrawals to anyone, nothing leaves the kernel)
    if (!e || this.#stopping) return;
    const keep = this.gr.sessionDown(e, d);
    this.rib.peerDown(e.rib, { keepStale: keep });
    this.kube?.sessionDown(s.address);
    setImmediate(() => this.#maybeForget(s));
  }

  /** A dynamic neighbour with no connection and no routes kept for it is removed. */
  #maybeForget(s: Session): void {
    if (!s.dynamic || this.#stopping || s.isEstablished || s.connections().length > 0) return;
    const e = this.entries.get(s);
    if (!e) return;
    if (this.rib.peerCounts(e.rib).staleRoutes > 0) return;
    this.sessions.forget(s);
  }

  /** GR fast unlock: is a passive peer there? A TCP connection, closed at once; null when it answered. */
  async #probe(s: Session, timeoutMs: number): Promise<string | null> {
    const bind = this.config.listen.address;
    const family = s.settings.family;
    const localAddress = bind !== '::' && bind !== '0.0.0.0' && (bind.includes(':') ? 6 : 4) === family ? bind : undefined;
    try {
      const { socket } = await transportConnect({ peer: s.settings, port: s.settings.port, timeoutMs, ...(localAddress ? { localAddress } : {}) });
      socket.destroy();
      return null;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    }
  }

  // ------------------------------------------------------------------ RIB → kernel

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (!this.#stopping) this.rib.flush();
    });
  }

  #toFib(changes: readonly FibChange[]): void {
    const fib = this.fib;
    if (!fib || this.#stopping) return;
    for (const c of changes) {
      try {
        if (c.nextHops === null || c.nextHops.length === 0) {
          fib.remove(c.prefix);
          continue;
        }
        fib.set(c.prefix, this.#hopSet(fib, c.prefix, c.nextHops));
      } catch (e) {
        const key = (e as Error).message;
        if (!this.#fibErrors.has(key)) {
          this.#fibErrors.add(key);
          this.log.error({ err: e }, `a route could not be given to the kernel: ${key}`);
        }
      }
    }
  }

  /** Next hops for the kernel: the BGP next hop is the gateway; sets interned once. */
  #hopSet(fib: Fib, prefix: Prefix, hops: FibChange['nextHops'] & object): NexthopSet {
    const family = prefixFamily(prefix);
    let key = `${family}`;
    // a next hop on a connected subnet names its device: the FIB can use a kernel next-hop object
    for (const h of hops) key += `|${h.address}%${this.#devices.deviceFor(h.address)}`;
    let set = this.#hopSets.get(key);
    if (!set) {
      set = fib.nexthopSet(
        family,
        hops.map((h) => {
          const ifindex = this.#devices.deviceFor(h.address);
          return ifindex ? { gateway: h.address, ifindex } : { gateway: h.address };
        }),
      );
      if (this.#hopSets.size > 100_000) this.#hopSets.clear();
      this.#hopSets.set(key, set);
    }
    return set;
  }

  // ------------------------------------------------------------------ configuration changes

  /**
   * SIGHUP: read the configuration again (ROUTELET_PEERS_FILE in particular). Peers added are
   * started; peers removed get Cease/Peer De-configured; peers whose options changed are
   * restarted with Cease/Other Configuration Change. Other settings need a restart (logged).
   */
  async reload(env: NodeJS.ProcessEnv = process.env): Promise<void> {
    let next: Config;
    try {
      next = loadConfig(env).config;
    } catch (e) {
      this.log.error({ err: (e as Error).message }, `configuration not reloaded: ${(e as Error).message}`);
      return;
    }
    const old = this.config;
    const changedOther = (['asn', 'routerId', 'listen', 'listenRange', 'listenAsn', 'rrClusterId', 'password', 'holdTime', 'keepaliveTime', 'tcpUserTimeout', 'gr', 'advertise', 'kernel', 'ecmpMaxPaths', 'bpf', 'http'] as const).filter(
      (k) => JSON.stringify(old[k]) !== JSON.stringify(next[k]),
    );
    if (changedOther.length) this.log.warn({ settings: changedOther }, `reload: these settings take effect at the next start: ${changedOther.join(', ')}`);
    const peers = this.kube ? this.kube.reloaded(next) : next.peers;
    this.config = { ...this.config, selectedPeers: next.selectedPeers };
    await this.applyPeers(peers, 'reload');
  }

  /**
   * Replace the configured peers: added ones start, removed ones get Cease/Peer De-configured
   * (their routes withdrawn), ones whose options changed restart with Cease/Other Configuration
   * Change. SIGHUP and the Kubernetes mode both come through here.
   */
  async applyPeers(nextPeers: readonly PeerConfig[], why: string): Promise<void> {
    const old = this.config;
    const before = new Map(old.peers.map((p) => [p.address, p]));
    const after = new Map(nextPeers.map((p) => [p.address, p]));
    this.config = { ...old, peers: [...nextPeers] };
    const { peers, dynamic } = transportPolicy(this.config);
    try {
      this.listener.update(peers, dynamic);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.log.error({ err, code: err.code }, `${why}: the listening sockets could not take the new peers (${err.message}); connections from added peers may be refused until the next start`);
    }
    this.#syncWatch();
    const work: Promise<void>[] = [];
    for (const [address, p] of before) {
      const q = after.get(address);
      if (!q) {
        this.log.info({ peer: address }, `${why}: ${address} removed from the configuration`);
        work.push(this.sessions.remove(address, cease.deconfigured('routelet: peer removed from the configuration'), 'peer de-configured'));
      } else if (JSON.stringify(p) !== JSON.stringify(q)) {
        this.log.info({ peer: address }, `${why}: the options of ${address} changed: restarting its session`);
        work.push(
          this.sessions.remove(address, cease.configurationChange(), 'configuration changed').then(() => {
            this.sessions.add(settingsOf(q));
          }),
        );
      }
    }
    for (const [address, q] of after) {
      if (before.has(address)) continue;
      const s = this.sessions.get(address);
      if (s) {
        // it was a dynamic neighbour until now
        await this.sessions.remove(address, cease.configurationChange(), 'now a configured peer');
      }
      this.log.info({ peer: address }, `${why}: ${address} added to the configuration`);
      this.sessions.add(settingsOf(q));
    }
    await Promise.all(work);
    this.#noteKeyRefusals();
  }

  // ------------------------------------------------------------------ stopping

  /**
   * Stop within the 5 s CONTRACT.md allows. With graceful restart, peers keep our routes: an
   * Established session that negotiated the N-bit gets Cease/Administrative Reset with an
   * RFC 9003 message (not a Hard Reset: RFC 8538 keeps GR in force), one without it is closed
   * with no NOTIFICATION at all; routes stay in the kernel. Without graceful restart every
   * peer gets Cease/Administrative Shutdown with an RFC 9003 message and our routes leave the
   * kernel.
   */
  async stop(reason: string): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.log.info({ reason }, 'stopping');
    const message = `routelet ${reason}`;
    this.listener?.close();
    this.gr?.stop();
    void this.kube?.stop();
    const pick = (s: Session): StopNotification => {
      if (!s.settings.gracefulRestart) return cease.shutdown(message);
      const n = s.current?.negotiated;
      if (!n?.gracefulRestart) return cease.shutdown(message);
      return n.gracefulRestart.notification ? cease.reset(`${message} (graceful restart)`) : null;
    };
    if (this.sessions) await this.sessions.stopAll(pick, reason, STOP_BOUND_MS);
    const removeRoutes = !this.config.gr.enabled;
    if (this.fib) {
      await Promise.race([this.fib.close({ removeRoutes }), new Promise((r) => setTimeout(r, 2500).unref())]);
    }
    this.watch?.stop();
    await this.http?.close();
    this.log.info({ routesKept: !removeRoutes }, 'stopped');
  }
}

export function settingsOf(p: PeerConfig): PeerSettings {
  return p;
}
