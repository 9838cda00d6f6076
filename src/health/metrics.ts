// Peer-health counters for /metrics: a plain snapshot (families of samples, as Prometheus
// names them), and the same registered with a prom-client registry, read at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import { KINDS } from './events.js';
import type { PeerWatch } from './service.js';

export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly labelNames: readonly string[];
  readonly samples: MetricSample[];
}

type Spec = Pick<MetricFamily, 'name' | 'type' | 'help' | 'labelNames'>;

/** The families, in the order they are exported. */
export const PEERWATCH_FAMILIES: readonly Spec[] = [
  { name: 'routelet_peerwatch_mode', type: 'gauge', help: 'Source of peer-health evidence: 1 for the active mode (bpf, fallback, off)', labelNames: ['mode'] },
  { name: 'routelet_peerwatch_sockops', type: 'gauge', help: '1 when the sockops program (RTO callback) is attached', labelNames: [] },
  { name: 'routelet_peerwatch_peers', type: 'gauge', help: 'Watched peers', labelNames: [] },
  { name: 'routelet_peer_health_events_total', type: 'counter', help: 'Peer-health evidence by peer and kind (kernel counts in bpf mode)', labelNames: ['peer', 'kind'] },
  { name: 'routelet_peer_retransmits_total', type: 'counter', help: 'TCP segments retransmitted to the peer', labelNames: ['peer'] },
  { name: 'routelet_peer_md5_failures_total', type: 'counter', help: 'Segments from the peer dropped for TCP-MD5', labelNames: ['peer'] },
  { name: 'routelet_bpf_events_total', type: 'counter', help: 'Events the BPF programs wrote to the ring buffer', labelNames: [] },
  { name: 'routelet_bpf_events_lost_total', type: 'counter', help: 'Events lost because the ring buffer was full', labelNames: [] },
  { name: 'routelet_bpf_md5_events_suppressed_total', type: 'counter', help: 'TCP-MD5 events not sent by the rate limit (still counted per peer)', labelNames: [] },
  { name: 'routelet_bpf_sockops_armed_total', type: 'counter', help: 'Sockets to peers given the RTO callback', labelNames: [] },
  { name: 'routelet_bpf_rto_min_lowered_total', type: 'counter', help: 'Sockets to peers with TCP_USER_TIMEOUT whose minimum RTO was lowered to a sixth of it', labelNames: [] },
  { name: 'routelet_bpf_map_bytes', type: 'gauge', help: 'Kernel memory of each peerwatch BPF map (memlock)', labelNames: ['map'] },
];

/** Everything PeerWatch counts, at this moment. Zero per-peer event counts are left out. */
export function peerWatchMetrics(w: PeerWatch): MetricFamily[] {
  const s = w.status();
  const samples = new Map<string, MetricSample[]>(PEERWATCH_FAMILIES.map((f) => [f.name, []]));
  const add = (name: string, labels: Record<string, string>, value: number) => samples.get(name)!.push({ labels, value });
  add('routelet_peerwatch_mode', { mode: s.mode }, 1);
  add('routelet_peerwatch_sockops', {}, s.sockops ? 1 : 0);
  add('routelet_peerwatch_peers', {}, s.peers);
  for (const peer of w.peerAddresses()) {
    const c = w.peerCounters(peer);
    for (const k of KINDS) if (c.kinds[k] > 0) add('routelet_peer_health_events_total', { peer, kind: k }, c.kinds[k]);
    if (c.retransmits > 0) add('routelet_peer_retransmits_total', { peer }, c.retransmits);
    add('routelet_peer_md5_failures_total', { peer }, c.md5Failures);
  }
  add('routelet_bpf_events_total', {}, s.globals.events);
  add('routelet_bpf_events_lost_total', {}, s.globals.ringbufFull);
  add('routelet_bpf_md5_events_suppressed_total', {}, s.globals.md5Suppressed);
  add('routelet_bpf_sockops_armed_total', {}, s.globals.sockopsArmed);
  add('routelet_bpf_rto_min_lowered_total', {}, s.globals.rtoMinSet);
  for (const m of s.maps) add('routelet_bpf_map_bytes', { map: m.name }, m.memlock);
  return PEERWATCH_FAMILIES.map((f) => ({ ...f, samples: samples.get(f.name)! }));
}

/**
 * Register the families with a prom-client registry; each scrape reads the watch that
 * `current()` returns at that moment (undefined: no samples).
 */
export function registerPeerWatchMetrics(registry: Registry, current: () => PeerWatch | undefined): void {
  for (const f of PEERWATCH_FAMILIES) {
    const collect = function (this: Counter<string> | Gauge<string>) {
      this.reset();
      const w = current();
      if (!w) return;
      const fam = peerWatchMetrics(w).find((x) => x.name === f.name);
      for (const smp of fam?.samples ?? []) {
        if (this instanceof Counter) this.inc(smp.labels, smp.value);
        else this.set(smp.labels, smp.value);
      }
    };
    const cfg = { name: f.name, help: f.help, labelNames: [...f.labelNames], registers: [registry], collect };
    if (f.type === 'counter') new Counter(cfg);
    else new Gauge(cfg);
  }
}
