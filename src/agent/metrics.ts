// The agent's Prometheus metrics: sessions, prefixes, the RIB, the FIB, graceful restart and
// peer health, all read from snapshots at scrape time (collect callbacks); nothing is
// counted per message on the hot path.
import { Counter, Gauge, type Registry } from 'prom-client';
import { registerPeerWatchMetrics } from '../health/metrics.js';
import type { AgentState } from './state.js';

const STATES = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const;

type Sample = [labels: Record<string, string>, value: number];

/** A metric read at scrape time: reset, then each sample of `read` written with `write`. */
function readAtScrape<M extends { reset(): void }>(registry: Registry, name: string, help: string, labelNames: string[], read: () => Sample[], write: (m: M, s: Sample) => void) {
  return {
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: M) {
      this.reset();
      for (const s of read()) write(this, s);
    },
  };
}

function gauge(registry: Registry, name: string, help: string, labelNames: string[], read: () => Sample[]): void {
  new Gauge(readAtScrape<Gauge>(registry, name, help, labelNames, read, (g, [l, v]) => g.set(l, v)));
}

/** A counter from a running total kept elsewhere (a total of 0 is left out). */
function counter(registry: Registry, name: string, help: string, labelNames: string[], read: () => Sample[]): void {
  new Counter(readAtScrape<Counter>(registry, name, help, labelNames, read, (c, [l, v]) => v > 0 && c.inc(l, v)));
}

export function registerAgentMetrics(registry: Registry, a: AgentState): void {
  const entries = () => [...a.entries.values()];
  gauge(registry, 'routelet_bgp_peer_state', 'BGP session state: 1 for the current state of each peer', ['peer', 'state'], () =>
    entries().map((e) => [{ peer: e.session.address, state: e.session.state }, 1]),
  );
  gauge(registry, 'routelet_bgp_peer_up', '1 when the session is Established', ['peer'], () => entries().map((e) => [{ peer: e.session.address }, e.session.isEstablished ? 1 : 0]));
  gauge(registry, 'routelet_bgp_peer_state_code', 'BGP session state as a number: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established', ['peer'], () =>
    entries().map((e) => [{ peer: e.session.address }, STATES.indexOf(e.session.state) + 1]),
  );
  gauge(registry, 'routelet_bgp_peer_uptime_seconds', 'Seconds since the session became Established (0 when it is not)', ['peer'], () =>
    entries().map((e) => [{ peer: e.session.address }, e.session.isEstablished ? (Date.now() - e.session.establishedAt) / 1000 : 0]),
  );
  gauge(registry, 'routelet_bgp_peer_prefixes', 'Prefixes per peer: received, accepted (after import policy), advertised, stale', ['peer', 'kind'], () =>
    entries().flatMap((e) => {
      const c = a.rib.peerCounts(e.rib);
      const peer = e.session.address;
      return [
        [{ peer, kind: 'received' }, c.received],
        [{ peer, kind: 'accepted' }, c.accepted],
        [{ peer, kind: 'advertised' }, c.advertised],
        [{ peer, kind: 'stale' }, c.staleRoutes],
      ] as Sample[];
    }),
  );
  counter(registry, 'routelet_bgp_import_rejected_total', 'Paths import sanity rejected, by reason: martian, default, local, next-hop, not-allowed (issue 12)', ['peer', 'reason'], () =>
    entries().flatMap((e) => Object.entries(a.rib.peerCounts(e.rib).rejectedTotal ?? {}).map(([reason, v]) => [{ peer: e.session.address, reason }, v] as Sample)),
  );
  counter(registry, 'routelet_bgp_peer_flaps_total', 'Times the session left Established', ['peer'], () => entries().map((e) => [{ peer: e.session.address }, e.session.flaps]));
  counter(registry, 'routelet_bgp_internal_errors_total', 'Bugs contained: exceptions other than a malformation while handling the peer\'s messages (each reset the connection with Cease/Unspecific)', ['peer'], () => entries().map((e) => [{ peer: e.session.address }, e.session.internalErrors]));
  counter(registry, 'routelet_bgp_update_errors_total', 'Malformed UPDATEs by RFC 7606 outcome (treat-as-withdraw, attribute-discard)', ['peer', 'action'], () =>
    entries().flatMap((e) => Object.entries(e.updateErrors).map(([action, v]) => [{ peer: e.session.address, action }, v] as Sample)),
  );
  gauge(registry, 'routelet_bgp_peer_write_queue_bytes', 'Bytes and messages waiting to be written to the peer', ['peer'], () =>
    entries()
      .filter((e) => e.session.current)
      .map((e) => [{ peer: e.session.address }, e.session.current!.queued]),
  );
  gauge(registry, 'routelet_rib_prefixes', 'Prefixes in the Loc-RIB', [], () => [[{}, a.rib.stats.prefixes]]);
  gauge(registry, 'routelet_rib_paths', 'Paths in the Adj-RIBs-In', [], () => [[{}, a.rib.stats.paths]]);
  gauge(registry, 'routelet_rib_update_groups', 'Update groups (peers sharing one encoding)', [], () => [[{}, a.rib.stats.groups]]);
  gauge(registry, 'routelet_gr_restarting', '1 while the agent recovers from its own restart (stale kernel routes kept)', [], () => [[{}, a.gr.restarting ? 1 : 0]]);
  gauge(registry, 'routelet_gr_recovery_seconds', 'How long the last restart recovery took, from start to the sweep of stale kernel routes (absent while none ended)', [], () => {
    const r = a.gr.recovery;
    return r && r.endedAt ? [[{}, (r.endedAt - r.startedAt) / 1000]] : [];
  });
  gauge(registry, 'routelet_gr_peer_dead', '1 while peer-health evidence says the peer is dead (GR fast unlock: it holds nothing)', ['peer', 'kind'], () =>
    entries().flatMap((e) => {
      const d = a.gr.peerDead(e);
      return d ? [[{ peer: e.session.address, kind: d.kind }, 1] as Sample] : [];
    }),
  );
  gauge(registry, 'routelet_bfd_sessions', 'BFD sessions toward configured peers by state (RFC 5880: adminDown, down, init, up)', ['state'], () =>
    a.bfd ? Object.entries(a.bfd.states()).map(([state, n]) => [{ state }, n] as Sample) : [],
  );
  counter(registry, 'routelet_bfd_transitions_total', 'BFD session state changes, by the state left and the state entered', ['from', 'to'], () =>
    a.bfd ? [...a.bfd.transitions()].map(([k, n]) => [{ from: k.split('>')[0]!, to: k.split('>')[1]! }, n] as Sample) : [],
  );
  counter(registry, 'routelet_bfd_detections_total', 'BFD failures (Up to Down, not administrative) that closed the peer\'s BGP session', ['peer'], () =>
    a.bfd ? [...a.bfd.detections()].map(([peer, n]) => [{ peer }, n] as Sample) : [],
  );
  // the Kubernetes mode
  gauge(registry, 'routelet_kubernetes_peers', 'Peers by origin in the Kubernetes mode (mesh, reflector, annotation, file)', ['origin'], () => {
    const k = a.kube;
    if (!k) return [];
    const n = new Map<string, number>();
    for (const p of a.config.peers) {
      const o = k.info.get(p.address)?.origin ?? 'file';
      n.set(o, (n.get(o) ?? 0) + 1);
    }
    return [...n].map(([origin, v]) => [{ origin }, v]);
  });
  gauge(registry, 'routelet_kubernetes_node_health', "1 for each peer's node health by the API (alive, dead, unknown): its Lease and Ready condition", ['peer', 'node', 'health'], () => {
    const k = a.kube;
    if (!k) return [];
    const out: Sample[] = [];
    for (const p of a.config.peers) {
      const h = k.health(p.address);
      const node = k.info.get(p.address)?.nodeName;
      if (h && node) out.push([{ peer: p.address, node, health: h.health }, 1]);
    }
    return out;
  });
  gauge(registry, 'routelet_kubernetes_synced', '1 once Nodes and Leases are listed from the API; 0 while the agent runs from its state file', [], () =>
    a.kube ? [[{}, a.kube.watcher?.synced ? 1 : 0]] : [],
  );
  counter(registry, 'routelet_kubernetes_updates_total', 'Changes of the peer set or pod CIDRs applied from the API', [], () => (a.kube ? [[{}, a.kube.updates]] : []));
  gauge(registry, 'routelet_fib_routes', 'Kernel routes by state', ['state'], () => {
    if (!a.fib) return [];
    const s = a.fib.stats();
    return [
      [{ state: 'installed' }, s.installed],
      [{ state: 'pending' }, s.pending],
      [{ state: 'failed' }, s.failed],
      [{ state: 'stale' }, s.stale],
    ];
  });
  gauge(registry, 'routelet_fib_routes_held', 'Routes not installed because a route of another owner (connected, static, another daemon) holds their table, prefix and metric', [], () =>
    a.fib ? [[{}, a.fib.stats().held]] : [],
  );
  const fibCounter = (name: string, help: string, key: 'writes' | 'restored' | 'retries' | 'resyncs') =>
    counter(registry, name, help, [], () => (a.fib ? [[{}, a.fib.stats()[key]]] : []));
  fibCounter('routelet_fib_writes_total', 'Route operations handed to the kernel', 'writes');
  fibCounter('routelet_fib_restored_total', 'Routes written again after someone else deleted or replaced them', 'restored');
  fibCounter('routelet_fib_retries_total', 'Retries of routes the kernel refused', 'retries');
  fibCounter('routelet_fib_resyncs_total', 'Comparisons with a kernel dump', 'resyncs');
  counter(registry, 'routelet_config_reloads_total', 'SIGHUP reloads of the configuration, applied or refused (a refused one keeps the previous peers)', ['result'], () => [
    [{ result: 'applied' }, a.reloads.applied],
    [{ result: 'refused' }, a.reloads.failed],
  ]);
  registerPeerWatchMetrics(registry, () => a.watch);
}
