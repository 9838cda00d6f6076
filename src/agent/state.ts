// What HTTP, metrics and the CLI may read of the running agent: a narrow, read-only view of
// its state. The Agent implements it; view.ts and metrics.ts depend on this module and never
// on the Agent class, so nothing that reads can change state or reach into the FSM or RIB.
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import type { Listener } from '../bgp/transport/index.js';
import type { Session } from '../bgp/session/index.js';
import type { Fib } from '../fib/index.js';
import type { GracefulRestart, GrPeer } from '../gr/index.js';
import type { PeerWatch } from '../health/index.js';
import type { BfdRead } from '../bfd/index.js';
import type { Rib } from '../rib/index.js';
import type { KubeAgent } from './kubernetes.js';

/** A peer the agent knows: its session, its RIB handle, whether it is configured. */
export interface PeerEntry extends GrPeer {
  /** RFC 7606 outcomes seen on its UPDATEs, by action */
  readonly updateErrors: Record<string, number>;
  /** codes of malformations already logged (once per code and session) */
  logged: Set<string>;
}

export interface ReloadState {
  applied: number;
  failed: number;
  lastError: string | null;
}

export interface AgentState {
  /** the configured peers, in configuration order */
  readonly config: Pick<Config, 'peers'>;
  /** every peer the agent knows, configured and dynamic */
  readonly entries: ReadonlyMap<Session, PeerEntry>;
  readonly rib: Pick<Rib, 'peerCounts' | 'routes' | 'stats'>;
  /** null with ROUTELET_KERNEL=off */
  readonly fib: Pick<Fib, 'problems' | 'state' | 'ping' | 'stats'> | null;
  readonly gr: Pick<GracefulRestart, 'peerRestarting' | 'peerDead' | 'problems' | 'restarting' | 'recovery'>;
  readonly watch: PeerWatch;
  /** BFD toward the configured peers (null until the sessions started) */
  readonly bfd: BfdRead | null;
  readonly listener: Pick<Listener, 'keyStatus' | 'problems'>;
  /** SIGHUP reloads: how many were applied and refused, and why the last one was refused (null once one succeeds) */
  readonly reloads: ReloadState;
  /** the Prometheus registry, once HTTP is up */
  readonly registry: Registry;
  /** the Kubernetes mode: each peer's origin and node, the nodes' health; null when off */
  readonly kube: Pick<KubeAgent, 'info' | 'health' | 'watcher' | 'updates' | 'source'> | null;
}
