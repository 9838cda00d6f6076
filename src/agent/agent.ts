// The running agent: the one owner of mutable state. It wires configuration → PeerWatch,
// FIB, RIB, graceful restart, Listener, sessions and HTTP; every event reaches it on the one
// event loop, and HTTP, metrics and the CLI read snapshots (view.ts) through the read-only
// AgentState (state.ts). The peers it knows are peers.ts; a reload applies the pure peer
// plan of src/peers; the FIB takes the RIB's changes itself (src/fib/feed.ts).
//
//   Listener ─► Sessions ─► (established / update / down) ─► Rib ─► send ─► Sessions
//                                    │                        └──► fib ─► Fib (kernel)
//                                    └─► GracefulRestart (src/gr) ◄── PeerWatch evidence
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Config, PeerConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import { formatCidr } from '../net/ip.js';
import { dynamicPeerSettings, planReload } from '../peers/index.js';
import type { UpdateMessage } from '../bgp/codec/index.js';
import { bindAddresses, Listener, probePeer, transportPolicy } from '../bgp/transport/index.js';
import { applyPeerPlan, type PeerChangeTarget } from './apply.js';
import { cease, type Session, type SessionDown, Sessions, type StopNotification } from '../bgp/session/index.js';
import { type Fib, openFib } from '../fib/index.js';
import { PeerWatch } from '../health/index.js';
import { BfdPeers } from '../bfd/index.js';
import { type ChangeMark, flushFibNow, flushSoon, Rib, SMALL_FLUSH } from '../rib/index.js';
import { createGracefulRestart, type GracefulRestart } from '../gr/index.js';
import type { HttpServer } from '../http/server.js';
import type { Registry } from 'prom-client';
import { Packer } from './pack.js';
import { KubeAgent } from './kubernetes.js';
import { kubeHost, originate } from './kubehost.js';
import type { AgentState, PeerEntry, ReloadState } from './state.js';
import { AgentSnapshots } from './view.js';
import { PeerTable } from './peers.js';
import { WatchList } from './watchlist.js';
import { hostLocalAddresses } from '../fib/local-addresses.js';
import { Mark, mark } from '../sys/hops.js';

const STOP_BOUND_MS = 1500;

export class Agent implements AgentState {
  readonly log: Logger;
  config: Config;
  /** made once the sessions have started: prom-client and HTTP are off the start-up path */
  registry!: Registry;
  readonly reloads: ReloadState = { applied: 0, failed: 0, lastError: null };
  watch!: PeerWatch;
  fib: Fib | null = null;
  rib!: Rib;
  gr!: GracefulRestart;
  listener!: Listener;
  sessions!: Sessions;
  http: HttpServer | null = null;
  bfd: BfdPeers | null = null;
  /** the Kubernetes mode (ROUTELET_KUBERNETES), or null */
  kube: KubeAgent | null = null;
  readonly view: AgentSnapshots;
  readonly #peers: PeerTable;
  #flushScheduled = false;
  /** the session whose UPDATEs came last, and the RIB's changes before the first of them */
  #lone: { s: Session; since: ChangeMark } | undefined;
  #stopping = false;
  /** the RIB's message arrays packed into few Buffers, once per array (shared by a group) */
  readonly #packer = new Packer();
  readonly #watchList: WatchList;

  private constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    this.view = new AgentSnapshots(this);
    const stopping = () => this.#stopping;
    this.#watchList = new WatchList({ watch: () => this.watch, configured: () => this.config.peers.map((p) => p.address), stopping, log });
    this.#peers = new PeerTable({ rib: () => this.rib, gr: () => this.gr, sessions: () => this.sessions, watchList: this.#watchList, stopping, log });
  }

  get entries(): ReadonlyMap<Session, PeerEntry> {
    return this.#peers.entries;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Start. `stopRequested` is asked between the steps of start-up (a SIGTERM during start-up,
   * run.ts): when it says yes, start-up ends there with StartupStopped, after a clean stop.
   */
  static async start(config: Config, log: Logger, opts: { stopRequested?: () => boolean } = {}): Promise<Agent> {
    const a = new Agent(config, log);
    a.#stopRequested = opts.stopRequested ?? (() => false);
    try {
      await a.#start();
    } catch (e) {
      await a.stop('startup failed').catch(() => undefined);
      throw e;
    }
    return a;
  }

  #stopRequested: () => boolean = () => false;

  #checkStop(): void {
    if (this.#stopRequested()) throw new StartupStopped();
  }

  async #start(): Promise<void> {
    let { config } = this;
    const { log } = this;
    // processMs: since the process began (Node's time origin): its start and module loading;
    // code: the file this code was loaded from (dist/routelet.mjs when bin runs the bundle)
    log.info(
      { asn: config.asn, routerId: config.routerId, peers: config.peers.length, listenRange: config.listenRange.map(formatCidr), gr: config.gr.enabled, kernel: config.kernel.enabled, processMs: Math.round(performance.now()), code: fileURLToPath(import.meta.url) },
      'routelet agent starting',
    );

    // the Kubernetes mode: the last known peers from the state file now; the API after the sessions started
    if (config.kubernetes.enabled) {
      log.info({ node: config.kubernetes.nodeName, because: config.kubernetes.because, reflectors: config.kubernetes.reflectors.mode }, `kubernetes mode on (${config.kubernetes.because})`);
      this.kube = new KubeAgent(kubeHost(this));
      this.kube.loadCache();
      // this node's AS: its routelet.io/asn as the state file last saw it, else ROUTELET_ASN
      const asn = this.kube.localAsn();
      if (asn !== config.asn) log.info({ asn, configured: config.asn }, `kubernetes: this node's AS is ${asn} (routelet.io/asn, from the state file), not ROUTELET_ASN ${config.asn}`);
      this.config = { ...config, asn }; // the peers' iBGP is judged by it
      this.config = { ...this.config, peers: this.kube.peersFor(config) };
      config = this.config;
    }

    // peer-health evidence: every configured peer is watched
    this.watch = PeerWatch.start({ bpf: config.bpf, log });
    const fast = config.gr.enabled && config.gr.fastUnlock;
    log.info(
      { detection: this.watch.mode, fastUnlock: fast },
      `peer-health detection: ${this.watch.mode === 'bpf' ? 'BPF programs in the kernel' : this.watch.mode === 'fallback' ? "the errors Node sees on the agent's own sockets (no BPF)" : 'off'}; graceful-restart fast unlock ${fast ? 'on' : 'off'}`,
    );
    this.watch.setPeers(this.config.peers.map((p) => ({ address: p.address })));
    this.#checkStop();

    if (config.kernel.enabled)
      this.fib = await openFib({ table: config.kernel.table, protocol: config.kernel.protocol, metric: config.kernel.metric, ecmpMaxPaths: config.ecmpMaxPaths, log: log.child({ component: 'fib' }) });

    // the Kubernetes reflector modes: a node may become a reflector at any change of the Node
    // list, so every node reflects with its router ID as cluster ID (a client, which peers only
    // with reflectors, has no client of its own: nothing is reflected there)
    const k = config.kubernetes;
    const clusterId = config.rrClusterId ?? (k.enabled && k.reflectors.mode !== 'mesh' ? config.routerId : undefined);
    this.rib = new Rib({
      asn: config.asn,
      routerId: config.routerId,
      ...(clusterId !== undefined ? { clusterId } : {}),
      ecmpMaxPaths: config.ecmpMaxPaths,
      // import sanity: the node's own addresses and subnets (read again when the FIB's monitor
      // sees them change; without a FIB, every 5 s)
      localAddresses: hostLocalAddresses(this.fib ? {} : { pollMs: 5000 }),
      logger: log.child({ component: 'rib' }),
      events: {
        send: (peer, msgs) => this.#peers.session(peer)?.current?.send(this.#packer.pack(msgs)),
        fib: (changes) => void (this.#stopping || this.fib?.update(changes)),
        schedule: () => this.#scheduleFlush(),
        endOfRib: (peer, family) => {
          const e = this.#peers.ofHandle(peer);
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
      swept: (p) => this.#peers.maybeForget(p.session),
      flush: () => this.rib.flushAll(),
      probe: (p, timeoutMs) => probePeer(p.session.settings, timeoutMs, config.listen.address),
      alive: (p) => this.kube?.alive(p.session.address) ?? null,
    });
    this.#checkStop();
    await this.gr.start();
    this.#checkStop();
    this.watch.onEvents((batch) => this.gr.peerHealth(batch));

    originate(this);

    const listen = config.listen.address;
    this.sessions = new Sessions({
      local: { asn: config.asn, routerId: config.routerId, hostname: hostname() },
      connectRetry: config.connectRetry,
      connectRetryMax: config.connectRetryMax,
      initialHold: 240,
      bindAddress: bindAddresses(listen),
      gracefulRestart: (s) => {
        const e = this.entries.get(s);
        return e ? this.gr.capability(e) : null;
      },
      log: log.child({ component: 'bgp' }),
      dynamicSettings: (c) => dynamicPeerSettings(this.config, c.remote),
      events: {
        created: (s) => this.#peers.created(s),
        removed: (s) => this.#peers.removed(s),
        established: (s, n, local) => {
          this.#peers.established(s, n, local.address);
          if (!s.dynamic) this.bfd?.established(s.address, local.address);
        },
        update: (s, m) => this.#update(s, m),
        // a lone UPDATE handled inline: its route goes to the kernel before the socket's callback returns
        caughtUp: (s) => {
          const since = this.#lone?.s === s ? this.#lone.since : undefined;
          this.#lone = undefined;
          if (this.#flushScheduled && !this.#stopping) flushFibNow(this.rib, since);
        },
        routeRefresh: (s, family, subtype) => this.#peers.routeRefresh(s, family, subtype),
        down: (s, d) => this.#down(s, d),
        idle: (s) => this.#peers.maybeForget(s),
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
    this.listener = Listener.open({ address: listen, port: config.listen.port, peers, dynamic, log, onread: true });
    this.listener.on('connection', (c) => this.sessions.accept(c));
    this.#checkStop();
    const connectFirst = this.#connectFirst();
    for (const p of this.config.peers) this.sessions.add(p, connectFirst.has(p.address) ? { connectFirst: true } : {});
    this.bfd = new BfdPeers({ config, log: log.child({ component: 'bfd' }), failure: (address, d) => this.#peers.configuredAt(address, (e) => this.gr.bfdDown(e, d)) });
    this.bfd.sync(this.config.peers);
    this.#peers.noteKeyRefusals(this.listener);

    // metrics and HTTP load after the sessions started: a restarting node's peers are
    // connected to while these modules load (they cost about 60 ms of start-up)
    const [{ createRegistry }, { registerAgentMetrics }, { startHttp }] = await Promise.all([import('../http/metrics.js'), import('./metrics.js'), import('../http/server.js')]);
    this.#checkStop();
    this.registry = createRegistry();
    registerAgentMetrics(this.registry, this);
    this.http = await startHttp(config.http, this.view, log.child({ component: 'http' }));

    // the client library loads now, off the restart-recovery path
    if (this.kube) this.kube.start().catch((e: unknown) => log.error({ err: e }, `kubernetes: the watcher could not start: ${(e as Error).message}`));
  }

  /**
   * The Kubernetes mode, restarting (kernel routes adopted, or a state file from an earlier
   * run): the node-to-node peers this node is passive towards are connected to all the same
   * until their session is first up. Their side connects only when its reconnect backoff says
   * so (ROUTELET_CONNECT_RETRY, 5 s by default), and the restart recovery would wait for it. A
   * collision with the peer's own connection is resolved by RFC 4271 §6.8 the same way on
   * both sides. Peers configured passive (a file, an annotation) stay passive.
   */
  #connectFirst(): Set<string> {
    const out = new Set<string>();
    const k = this.kube;
    if (!k || !(this.gr.restarting || k.source === 'cache')) return out;
    for (const p of this.config.peers) {
      const origin = k.info.get(p.address)?.origin;
      if (p.passive && (origin === 'mesh' || origin === 'reflector')) out.add(p.address);
    }
    if (out.size)
      this.log.info(
        { peers: out.size, restarting: this.gr.restarting },
        `kubernetes: restarting: connecting to the ${out.size} node peers this node is passive towards, until each session is up (the peers' reconnect backoff would decide otherwise)`,
      );
    return out;
  }

  // ------------------------------------------------------------------ sessions → RIB

  #update(s: Session, m: UpdateMessage): void {
    const e = this.entries.get(s);
    if (!e || this.#stopping) return;
    // where this session's UPDATEs since its last catching up begin in the RIB's changes (a
    // lone UPDATE's destinations go to the FIB ahead of a table load's: flushFibNow)
    const n = this.#lone?.s === s ? this.rib.changesSince(this.#lone.since) : -1;
    if (n < 0 || n > SMALL_FLUSH) this.#lone = { s, since: this.rib.changeMark };
    if (m.errors.length) this.#peers.noteUpdateErrors(e, m);
    const o = this.rib.update(e.rib, m);
    mark(Mark.rib);
    if (o.type !== 'max-prefixes') return;
    this.log.warn({ peer: s.address, family: o.family, limit: o.limit }, `${s.address} sent more than ${o.limit} prefixes: session reset (Cease/Maximum Number of Prefixes Reached)`);
    s.reset(cease.maxPrefixes(o.family, o.limit), `more than ${o.limit} prefixes`);
  }

  #down(s: Session, d: SessionDown): void {
    const e = this.entries.get(s);
    // stopping the agent: the RIB stays as it is (no withdrawals to anyone, nothing leaves the kernel)
    if (!e || this.#stopping) return;
    const keep = this.gr.sessionDown(e, d);
    this.rib.peerDown(e.rib, { keepStale: keep });
    this.kube?.sessionDown(s.address);
    setImmediate(() => this.#peers.maybeForget(s));
  }

  // ------------------------------------------------------------------ RIB flush

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    flushSoon(this.rib, () => {
      this.#flushScheduled = false;
      if (!this.#stopping) this.rib.flush();
      mark(Mark.exported);
    });
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
      // the old peers stay: /readyz and routelet_config_reloads_total{result="failed"} say so
      this.reloads.failed++;
      this.reloads.lastError = (e as Error).message;
      this.log.error({ err: (e as Error).message }, `configuration not reloaded, the previous peers stay: ${(e as Error).message}`);
      return;
    }
    this.reloads.applied++;
    this.reloads.lastError = null;
    // the Kubernetes mode's own AS (routelet.io/asn) is not a change of ROUTELET_ASN
    const { needRestart } = planReload(this.config, this.kube ? { ...next, asn: this.config.asn } : next);
    if (needRestart.length) this.log.warn({ settings: needRestart }, `reload: these settings take effect at the next start: ${needRestart.join(', ')}`);
    // the Kubernetes mode merges its peers with the configuration's own (which win on an address)
    const peers = this.kube ? this.kube.reloaded(next) : next.peers;
    this.config = { ...this.config, selectedPeers: next.selectedPeers };
    await this.applyPeers(peers, 'reload');
  }

  /** Replace the configured peers through the peer plan (apply.ts); SIGHUP and the Kubernetes mode come here. */
  async applyPeers(nextPeers: readonly PeerConfig[], why: string): Promise<void> {
    const target: PeerChangeTarget = {
      log: this.log,
      listener: this.listener,
      sessions: this.sessions,
      followPeers: (peers) => {
        this.#watchList.sync();
        this.bfd?.sync(peers);
      },
      noteKeyRefusals: () => this.#peers.noteKeyRefusals(this.listener),
    };
    const { config, done } = applyPeerPlan(target, this.config, nextPeers, why);
    this.config = config;
    await done;
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
    // BFD AdminDown after BGP: not a failure (RFC 5882 §3.2); BIRD 2 needs `bfd graceful` (src/gr/README.md)
    this.bfd?.close();
    const removeRoutes = !this.config.gr.enabled;
    if (this.fib) {
      await Promise.race([this.fib.close({ removeRoutes }), new Promise((r) => setTimeout(r, 2500).unref())]);
    }
    this.watch?.stop();
    await this.http?.close();
    this.log.info({ routesKept: !removeRoutes }, 'stopped');
  }
}

/** Start-up ended early because a stop was asked for (Agent.start's stopRequested). */
export class StartupStopped extends Error {
  constructor() {
    super('stopped during start-up');
    this.name = 'StartupStopped';
  }
}
