// The agent's Kubernetes mode: the cluster as the configuration. It turns what the watcher holds
// (src/kubernetes) into the agent's peer set, its pod CIDRs and graceful-restart evidence:
//
//   start (before any session): ${stateDir}/kubernetes.json → the last known peers and pod CIDRs
//   after the sessions started:  KubeWatcher (loads the client library) → onChange, debounced
//     nodes marked  → desiredPeers → agent.applyPeers (the SIGHUP peer plan), pod CIDRs
//                     originated, the state file rewritten when the set changed
//     leases marked → node health judged again (and on a timer when a fresh Lease expires)
//
// Make-before-break: a peer leaves the set at once when its Node is gone (deleted: Cease/Peer
// De-configured, its routes withdrawn), but a peer whose node still exists and that only left
// the set because the topology changed (mesh ↔ reflectors) is kept until every pod CIDR of its
// node is reachable in the RIB through another peer — then it is removed. No route is lost.
//
// Node health: a peer whose node is dead by the API (Lease expired past the grace, Ready
// False/Unknown) while its session is down is reported to graceful restart (gr.nodeDead) like
// socket evidence: no more waiting, its stale routes dropped. Never while it is Established.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, PeerConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import {
  desiredPeers,
  nodeOverrides,
  nextHealthChange,
  nodeHealth,
  readState,
  writeState,
  type DesiredPeers,
  type HealthVerdict,
  type KubePeer,
  type KubeState,
  type KubeWatcher,
  type NodeInfo,
  type PeerOrigin,
  type SelectedPeer,
} from '../kubernetes/index.js';

/** What the Kubernetes mode needs of the agent. */
export interface KubeHost {
  readonly config: Config;
  readonly log: Logger;
  readonly stopping: boolean;
  /** replace the configured peer set (added started, removed Cease/Peer De-configured, changed restarted) */
  applyPeers(peers: readonly PeerConfig[], why: string): Promise<void>;
  /** the pod CIDRs changed: originate ROUTELET_ADVERTISE plus these */
  originatePodCIDRs(): void;
  /** the session with this peer is Established */
  established(address: string): boolean;
  /** the RIB holds a path to `prefix` (exact) from a peer other than `notFrom`, not stale */
  reachableElsewhere(prefix: string, notFrom: string): boolean;
  /** graceful-restart evidence: the node of this peer is dead by the API */
  nodeDead(address: string, evidence: string): void;
  /** stop as on SIGTERM and exit 0, for the DaemonSet to start the agent again */
  restart(why: string): void;
}

export interface PeerKubeInfo {
  readonly origin: PeerOrigin;
  readonly nodeName: string | undefined;
}

export interface NodeHealthView {
  readonly health: HealthVerdict['health'];
  readonly reason: string;
}

/** How long a topology switch may keep an old peer while waiting for the new paths. */
const SWITCH_TIMEOUT_MS = 60_000;
const SWITCH_CHECK_MS = 200;

/** beside kubernetes.json: the Node list of the last sync, reduced (NodeInfo) */
export const NODES_FILE = 'kubernetes-nodes.json';

const strip = ({ origin: _o, nodeName: _n, ...p }: KubePeer): PeerConfig => p;

export class KubeAgent {
  /** where the current peer set came from: nothing yet, the state file, or the API */
  source: 'none' | 'cache' | 'api' = 'none';
  watcher: KubeWatcher | null = null;
  /** the last desired state computed from the API */
  desired: DesiredPeers | null = null;
  /** origin and node of every Kubernetes peer, by address (file peers too) */
  readonly info = new Map<string, PeerKubeInfo>();
  podCIDRs: readonly string[] = [];
  /** changes applied from the API (peer set or pod CIDRs) */
  updates = 0;
  /** peers kept during a topology switch until their node's pod CIDRs are reachable elsewhere */
  readonly #draining = new Map<string, { peer: KubePeer; since: number }>();
  /** drained: removed at the next apply, not drained again */
  readonly #released = new Set<string>();
  #cached: KubeState | null = null;
  #cachedNodes: NodeInfo[] | null = null;
  /** the configuration as loaded (its own peers, from ROUTELET_PEERS and the peers file) */
  #own: Config;
  #healthTimer: NodeJS.Timeout | undefined;
  #drainTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #applying: Promise<void> = Promise.resolve();
  #lastWritten = '';

  constructor(private readonly host: KubeHost) {
    this.#own = host.config;
  }

  /**
   * This node's AS for this start: the state file's (the node's routelet.io/asn when it was
   * written), else ROUTELET_ASN. The AS is the agent's for its whole run: the RIB and every
   * session are built on it, so a change of it is applied by a restart (#apply).
   */
  localAsn(): number {
    return this.#cached?.asn ?? this.#own.asn;
  }

  /** iBGP or not by this node's AS (peers-file peers were judged against ROUTELET_ASN). */
  #local(peers: PeerConfig[]): PeerConfig[] {
    const asn = this.host.config.asn;
    return peers.map((p) => (p.ibgp === (p.asn === asn) ? p : { ...p, ibgp: p.asn === asn }));
  }

  get #settings() {
    return this.host.config.kubernetes;
  }

  /** Before any session: the state file, so a restart with the API away starts from the last known peers. */
  loadCache(): void {
    const k = this.#settings;
    const r = readState(k.stateDir, k.nodeName, this.host.config.password);
    if (!r.ok) {
      this.host.log.info({ stateDir: k.stateDir, reason: r.reason }, `kubernetes: no usable state file (${r.reason}); the peers come from the API`);
      return;
    }
    this.#cached = r.state;
    this.source = 'cache';
    this.podCIDRs = r.state.podCIDRs;
    // the Node list of the last sync: the peers are computed again with the settings of this
    // start (a restart that changes the topology starts in the new one)
    try {
      const nodes = JSON.parse(readFileSync(join(k.stateDir, NODES_FILE), 'utf8')) as { nodeName: string; nodes: NodeInfo[] };
      if (nodes.nodeName === k.nodeName && Array.isArray(nodes.nodes)) this.#cachedNodes = nodes.nodes;
    } catch {
      // none, or unreadable: the cached peers as they are
    }
    for (const p of r.state.peers) this.info.set(p.address, { origin: p.origin, nodeName: p.nodeName });
    this.host.log.info(
      { stateDir: k.stateDir, peers: r.state.peers.length, podCIDRs: r.state.podCIDRs, writtenAt: new Date(r.state.writtenAt).toISOString() },
      `kubernetes: starting from the state file (${r.state.peers.length} peers) until the API answers`,
    );
  }

  /** The peer set of `cfg` in this mode: generated peers, then the file's (which win on an address). */
  peersFor(cfg: Config): PeerConfig[] {
    this.#own = cfg;
    for (const p of cfg.peers) this.info.set(p.address, { origin: 'file', nodeName: undefined });
    if (this.watcher?.synced) {
      const d = this.#compute(ownPeers(cfg));
      return this.#local([...d.peers, ...[...this.#draining.values()].map((x) => x.peer)].filter(uniqueAddress()).map(strip));
    }
    if (this.#cachedNodes) {
      const d = this.#compute(ownPeers(cfg), this.#cachedNodes);
      this.podCIDRs = d.podCIDRs;
      return this.#local(d.peers.map(strip));
    }
    // no API yet: the cached peers, with the configuration's own peers over them
    const byAddress = new Map<string, PeerConfig>();
    for (const p of this.#cached?.peers ?? []) if (p.origin !== 'file') byAddress.set(p.address, strip(p));
    for (const p of cfg.peers) byAddress.set(p.address, p);
    // peers of the file with a node selector: as the cache last judged them
    for (const s of cfg.selectedPeers) if (this.#cached?.peers.some((p) => p.address === s.peer.address && p.origin === 'file')) byAddress.set(s.peer.address, s.peer);
    return this.#local([...byAddress.values()]);
  }

  #compute(filePeers: SelectedPeer[], nodes: Iterable<NodeInfo> = this.watcher!.nodes.values()): DesiredPeers {
    const cfg = this.host.config;
    const d = desiredPeers({
      self: this.#settings.nodeName,
      nodes,
      settings: {
        // ROUTELET_ASN: every node's AS but where its routelet.io/asn says otherwise (the
        // agent's own AS, cfg.asn, may be such an exception)
        asn: this.#own.asn,
        defaults: { port: cfg.listen.port, password: cfg.password, holdTime: cfg.holdTime, keepaliveTime: cfg.keepaliveTime, tcpUserTimeout: cfg.tcpUserTimeout, gracefulRestart: cfg.gr.enabled, bfd: cfg.bfd },
        reflectors: this.#settings.reflectors,
        filePeers,
      },
    });
    this.desired = d;
    for (const p of d.peers) this.info.set(p.address, { origin: p.origin, nodeName: p.nodeName });
    return d;
  }

  /** After the sessions started: load the client library and watch. */
  async start(): Promise<void> {
    const { KubeWatcher } = await import('../kubernetes/watcher.js');
    if (this.#stopped) return;
    const log = this.host.log;
    this.watcher = new KubeWatcher({
      onChange: (marks) => {
        // the first apply waits for both kinds listed: the last of them may be the Leases
        if (marks.nodes || this.source !== 'api') this.#enqueue();
        this.#judgeHealth();
      },
      log: (msg, fields) => log.warn(fields ?? {}, msg),
    });
    await this.watcher.start();
    log.info({ node: this.#settings.nodeName }, 'kubernetes: watching Nodes and Leases');
  }

  /** Recompute from the watcher's cache and apply; serialised, so one change is applied at a time. */
  #enqueue(): void {
    this.#applying = this.#applying.then(() => this.#apply()).catch((e: unknown) => this.host.log.error({ err: e }, 'kubernetes: applying the peer set failed'));
  }

  async #apply(): Promise<void> {
    const w = this.watcher;
    if (!w?.synced || this.#stopped || this.host.stopping) return;
    const cfg = this.host.config;
    const d = this.#compute(ownPeers(this.#own));
    if (!d.selfKnown) this.host.log.warn({ node: this.#settings.nodeName }, `kubernetes: no Node named ${this.#settings.nodeName}: only the configured peers`);
    for (const p of d.problems) this.host.log.warn({ problem: p }, `kubernetes: ${p}`);

    // this node's AS changed (routelet.io/asn set, changed or removed): the RIB and every session
    // are built on it, so the agent restarts into it — from the state file, which says it now.
    // Graceful restart keeps the routes meanwhile; a state file that cannot be written would
    // restart the agent into the old AS again, so then it stays as it is and says why.
    if (d.selfKnown && d.asn !== cfg.asn) {
      if (this.#write(d)) {
        this.#stopped = true;
        this.host.log.warn({ asn: d.asn, running: cfg.asn }, `kubernetes: this node's AS is now ${d.asn} (routelet.io/asn), the agent runs as ${cfg.asn}: restarting to apply it`);
        this.host.restart(`this node's AS changed to ${d.asn}`);
        return;
      }
      this.host.log.error({ asn: d.asn, running: cfg.asn }, `kubernetes: this node's AS is now ${d.asn} (routelet.io/asn), but the state file cannot be written to restart into it: running on as ${cfg.asn}`);
    }

    // peers leaving the set whose node still exists: kept until their routes are reachable elsewhere
    const wanted = new Set(d.peers.map((p) => p.address));
    for (const old of cfg.peers) {
      if (wanted.has(old.address) || this.#draining.has(old.address) || this.#released.has(old.address)) continue;
      const info = this.info.get(old.address);
      const node = info?.nodeName !== undefined ? w.nodes.get(info.nodeName) : undefined;
      if (!node || node.deleting || info?.origin === 'file' || info?.origin === 'annotation') continue;
      if (node.podCIDRs.length === 0) continue;
      // a node that left this node's AS (its routelet.io/asn) is not reached through another
      // peer of the AS: nothing to wait for
      if ((nodeOverrides(node).asn ?? this.#own.asn) !== d.asn) continue;
      this.#draining.set(old.address, { peer: { ...old, origin: info!.origin, nodeName: info!.nodeName }, since: Date.now() });
    }
    for (const a of [...this.#draining.keys()]) {
      const x = this.#draining.get(a)!;
      const node = x.peer.nodeName !== undefined ? w.nodes.get(x.peer.nodeName) : undefined;
      if (wanted.has(a) || !node || node.deleting) this.#draining.delete(a);
    }
    const next = this.#local([...d.peers, ...[...this.#draining.values()].map((x) => x.peer)].filter(uniqueAddress()).map(strip));

    const first = this.source !== 'api';
    this.source = 'api';
    const podChanged = JSON.stringify(d.podCIDRs) !== JSON.stringify(this.podCIDRs);
    const peersChanged = JSON.stringify(next) !== JSON.stringify(cfg.peers);
    if (podChanged) {
      this.podCIDRs = d.podCIDRs;
      this.host.log.info({ podCIDRs: d.podCIDRs }, `kubernetes: this node's pod CIDRs: ${d.podCIDRs.join(', ') || 'none'}`);
      this.host.originatePodCIDRs();
    }
    if (peersChanged) {
      this.updates++;
      this.host.log.info(
        { peers: d.peers.length, role: d.role, reflectors: d.reflectors, draining: [...this.#draining.keys()] },
        `kubernetes: ${d.peers.length} peers (${d.role}${d.reflectors.length ? `, reflectors ${d.reflectors.join(', ')}` : ''})`,
      );
      await this.host.applyPeers(next, 'kubernetes');
    } else if (podChanged) this.updates++;
    this.#released.clear();
    if (first)
      this.host.log.info(
        { peers: d.peers.length, changed: peersChanged || podChanged },
        `kubernetes: synced from the API (${d.peers.length} peers${peersChanged || podChanged ? '' : ', no change'})`,
      );
    this.#write(d);
    this.#scheduleDrain();
  }

  /** SIGHUP: the configuration's own peers changed; the Kubernetes peers are merged again. */
  reloaded(cfg: Config): PeerConfig[] {
    return this.peersFor(cfg);
  }

  /** The state file and the Node list beside it, when they changed; false when they could not be written. */
  #write(d: DesiredPeers): boolean {
    const text = JSON.stringify([d.peers, d.podCIDRs, d.asn, [...this.watcher!.nodes.values()].map((n) => [n.name, n.resourceVersion])]);
    if (text === this.#lastWritten) return true;
    try {
      writeState(this.#settings.stateDir, { nodeName: this.#settings.nodeName, writtenAt: Date.now(), asn: d.asn, peers: d.peers, podCIDRs: d.podCIDRs });
      this.#lastWritten = text;
      const nodesPath = join(this.#settings.stateDir, NODES_FILE);
      writeFileSync(`${nodesPath}.tmp`, JSON.stringify({ nodeName: this.#settings.nodeName, nodes: [...this.watcher!.nodes.values()] }), { mode: 0o600 });
      renameSync(`${nodesPath}.tmp`, nodesPath);
      return true;
    } catch (e) {
      this.host.log.warn({ err: e, stateDir: this.#settings.stateDir }, `kubernetes: the state file could not be written: ${(e as Error).message}`);
      return false;
    }
  }

  /** Old peers of a topology switch leave once every pod CIDR of their node is reachable through another peer. */
  #scheduleDrain(): void {
    if (this.#drainTimer || this.#draining.size === 0 || this.#stopped) return;
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      const w = this.watcher;
      if (!w || this.#stopped) return;
      let done = 0;
      for (const [a, x] of this.#draining) {
        const node = x.peer.nodeName !== undefined ? w.nodes.get(x.peer.nodeName) : undefined;
        const ready = !node || node.podCIDRs.every((c) => this.host.reachableElsewhere(c, a));
        const late = Date.now() - x.since > SWITCH_TIMEOUT_MS;
        if (ready || late) {
          if (late && !ready) this.host.log.warn({ peer: a }, `kubernetes: the routes of node ${x.peer.nodeName} are not reachable through another peer after ${SWITCH_TIMEOUT_MS / 1000} s: removing ${a} anyway`);
          this.#draining.delete(a);
          this.#released.add(a);
          done++;
        }
      }
      if (done) this.#enqueue();
      else this.#scheduleDrain();
    }, SWITCH_CHECK_MS);
    this.#drainTimer.unref();
  }

  /** The health of the node behind each peer; dead ones whose session is down go to graceful restart. */
  #judgeHealth(): void {
    const w = this.watcher;
    if (!w?.synced || this.#stopped) return;
    clearTimeout(this.#healthTimer);
    const now = Date.now();
    const grace = this.#settings.leaseGraceMs;
    for (const [address, info] of this.info) {
      if (info.nodeName === undefined) continue;
      const v = nodeHealth(w.nodes.get(info.nodeName), w.leases.get(info.nodeName), now, grace);
      if (v.health === 'dead' && !this.host.established(address)) this.host.nodeDead(address, `node ${info.nodeName}: ${v.reason}`);
    }
    const next = nextHealthChange(w.nodes.values(), w.leases, now, grace);
    if (next !== undefined) {
      this.#healthTimer = setTimeout(() => this.#judgeHealth(), Math.max(50, next - now + 10));
      this.#healthTimer.unref();
    }
  }

  /** A session went down: its node's health counts now. */
  sessionDown(_address: string): void {
    setImmediate(() => this.#judgeHealth());
  }

  /** For /api/v1/peers: the node's health by the API, or null for a peer that is no node. */
  health(address: string): NodeHealthView | null {
    const info = this.info.get(address);
    const w = this.watcher;
    if (info?.nodeName === undefined) return null;
    if (!w?.synced) return { health: 'unknown', reason: 'the API has not answered yet' };
    const v = nodeHealth(w.nodes.get(info.nodeName), w.leases.get(info.nodeName), Date.now(), this.#settings.leaseGraceMs);
    return { health: v.health, reason: v.reason };
  }

  /** The node of this peer is alive by the API (Ready, Lease fresh): the reason, else null. */
  alive(address: string): string | null {
    const info = this.info.get(address);
    const w = this.watcher;
    if (info?.nodeName === undefined || !w?.synced) return null;
    const v = nodeHealth(w.nodes.get(info.nodeName), w.leases.get(info.nodeName), Date.now(), this.#settings.leaseGraceMs);
    return v.health === 'alive' ? `node ${info.nodeName}: ${v.reason}` : null;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#healthTimer);
    clearTimeout(this.#drainTimer);
    await this.watcher?.stop();
  }
}

function ownPeers(cfg: Config): SelectedPeer[] {
  return [...cfg.peers.map((peer) => ({ peer, nodeSelector: undefined })), ...cfg.selectedPeers];
}

function uniqueAddress() {
  const seen = new Set<string>();
  return (p: { address: string }) => (seen.has(p.address) ? false : (seen.add(p.address), true));
}
