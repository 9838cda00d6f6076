// What the Kubernetes mode (kubernetes.ts) may ask of the agent: its KubeHost, built from the
// agent's parts. Read at call time: the configuration and the sessions change under it.
import type { Config, PeerConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import { formatCidr } from '../net/ip.js';
import { parsePrefix } from '../net/prefix.js';
import type { Session, Sessions } from '../bgp/session/index.js';
import type { GracefulRestart } from '../gr/index.js';
import type { Rib } from '../rib/index.js';
import type { KubeAgent, KubeHost } from './kubernetes.js';
import { requestRestart } from './signals.js';
import type { PeerEntry } from './state.js';

export interface KubeHostParts {
  readonly config: Config;
  readonly log: Logger;
  readonly stopping: boolean;
  readonly rib: Rib;
  readonly sessions: Sessions;
  readonly gr: GracefulRestart;
  readonly entries: ReadonlyMap<Session, PeerEntry>;
  readonly kube: KubeAgent | null;
  applyPeers(peers: readonly PeerConfig[], why: string): Promise<void>;
}

/** ROUTELET_ADVERTISE, plus this node's pod CIDRs in the Kubernetes mode: the set replaces the previous one. */
export function originate(a: Pick<KubeHostParts, 'config' | 'rib' | 'kube'>): void {
  const texts = new Set([...a.config.advertise.map(formatCidr), ...(a.kube?.podCIDRs ?? [])]);
  a.rib.originate([...texts].map((t) => parsePrefix(t)!).filter((p) => p !== undefined));
}

export function kubeHost(a: KubeHostParts): KubeHost {
  return {
    get config() {
      return a.config;
    },
    log: a.log,
    get stopping() {
      return a.stopping;
    },
    applyPeers: (peers, why) => a.applyPeers(peers, why),
    originatePodCIDRs: () => originate(a),
    established: (address) => a.sessions.get(address)?.isEstablished ?? false,
    reachableElsewhere: (prefix, notFrom) => {
      for (const r of a.rib.routes({ prefix })) {
        if (r.prefix !== prefix) continue;
        if (r.paths.some((p) => p.peer !== notFrom && p.peer !== 'local' && !p.stale)) return true;
      }
      return false;
    },
    restart: (why) => {
      a.log.warn({ why }, `restarting: ${why}`);
      requestRestart();
    },
    nodeDead: (address, evidence) => {
      const s = a.sessions.get(address);
      const e = s && a.entries.get(s);
      if (e) a.gr.nodeDead(e, evidence);
    },
  };
}
