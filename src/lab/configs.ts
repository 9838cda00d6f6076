// The lab's addresses, prefixes and daemon configurations. Node A is the speaker under test
// (routelet, or BIRD 2 as Calico configures it), node B a live BIRD 2 peer, node C the peer
// that dies. All three have addresses of one LAN (C behind a router), iBGP AS 64512, the
// way a Calico node-to-node mesh does it: the higher address is passive, so A connects.

export const ASN = 64512;
/** C sits behind router R, which answers ARP for it (proxy ARP): see topology.ts */
export const LAN = { a: '10.100.0.1', b: '10.100.0.2', c: '10.100.0.3', r: '10.100.0.254', length: 24 } as const;

/** pod CIDR blocks, Calico-style /26s */
export const PREFIXES = {
  a: '10.244.1.0/26',
  /** B keeps announcing this one */
  bKept: '10.244.2.0/26',
  /** B withdraws this one while A is down */
  bWithdrawn: '10.244.2.64/26',
  /** B announces this one while A is down */
  bNew: '10.244.2.128/26',
  c: ['10.244.3.0/26', '10.244.3.64/26'],
} as const;

/** Calico's BGP timers (calico-node's bird.cfg template), used by every BIRD of the lab. */
const CALICO_TIMERS = 'connect delay time 2;\n  connect retry time 5;\n  error wait time 5,30;';

function log(): string {
  return 'log stderr { info, remote, warning, error, auth, fatal, bug };';
}

/** BIRD on node B: announces its blocks; `withdrawn` and `added` are toggled with birdc. */
export function birdB(): string {
  return `router id ${LAN.b};
${log()}
protocol device { scan time 2; }
protocol static blocks { ipv4; route ${PREFIXES.bKept} blackhole; }
protocol static withdrawn { ipv4; route ${PREFIXES.bWithdrawn} blackhole; }
protocol static added { disabled; ipv4; route ${PREFIXES.bNew} blackhole; }
protocol bgp Mesh_${LAN.a.replaceAll('.', '_')} {
  local ${LAN.b} as ${ASN};
  neighbor ${LAN.a} as ${ASN};
  multihop;
  passive on;
  graceful restart on;
  ${CALICO_TIMERS}
  ipv4 { import all; export where source = RTS_STATIC; };
}
`;
}

/** BIRD on node C: announces two blocks; passive toward A unless A is passive toward it. */
export function birdC(opts: { aPassive: boolean }): string {
  return `router id ${LAN.c};
${log()}
protocol device { scan time 2; }
protocol static blocks { ipv4; ${PREFIXES.c.map((p) => `route ${p} blackhole;`).join(' ')} }
protocol bgp Mesh_${LAN.a.replaceAll('.', '_')} {
  local ${LAN.c} as ${ASN};
  neighbor ${LAN.a} as ${ASN};
  multihop;
  passive ${opts.aPassive ? 'off' : 'on'};
  graceful restart on;
  ${CALICO_TIMERS}
  ipv4 { import all; export where source = RTS_STATIC; };
}
`;
}

/**
 * BIRD on node A as calico-node configures it: kernel protocol with `learn`, `persist` and
 * `graceful restart`, graceful restart on every BGP session, `graceful restart wait` (240 s
 * unless the lab is told otherwise), started with `bird -R` after a restart.
 */
export function birdA(opts: { grWait: number; cPassive: boolean }): string {
  const mesh = (peer: string, passive: boolean) => `protocol bgp Mesh_${peer.replaceAll('.', '_')} from bgp_template {
  neighbor ${peer} as ${ASN};
  source address ${LAN.a};${passive ? '\n  passive on;' : ''}
}`;
  return `router id ${LAN.a};
graceful restart wait ${opts.grWait};
${log()}
filter calico_kernel_programming { if source = RTS_BGP then accept; reject; }
filter calico_export_to_bgp_peers { if source = RTS_STATIC then accept; reject; }
protocol kernel {
  learn;
  persist;
  scan time 2;
  graceful restart;
  merge paths on;
  ipv4 { import all; export filter calico_kernel_programming; };
}
protocol device { scan time 2; }
protocol direct { ipv4; interface -"cali*", "*"; }
protocol static { ipv4; route ${PREFIXES.a} blackhole; }
template bgp bgp_template {
  local as ${ASN};
  multihop;
  graceful restart;
  ${CALICO_TIMERS}
  ipv4 { gateway recursive; import all; export filter calico_export_to_bgp_peers; };
}
${mesh(LAN.b, false)}
${mesh(LAN.c, opts.cPassive)}
`;
}

/** routelet on node A: the same peers, graceful restart on, everything else the contract's defaults. */
/** Liveness settings for routelet on A: how soon a host that goes silent is noticed. */
export interface Liveness {
  /** ROUTELET_KEEPALIVE_TIME, seconds */
  keepaliveTime?: number;
  /** ROUTELET_TCP_USER_TIMEOUT, milliseconds */
  tcpUserTimeout?: number;
}

/** Liveness settings from optional flags (unset ones are left out: routelet's defaults). */
export function livenessOf(keepaliveTime: number | undefined, tcpUserTimeout: number | undefined): Liveness {
  return { ...(keepaliveTime !== undefined ? { keepaliveTime } : {}), ...(tcpUserTimeout !== undefined ? { tcpUserTimeout } : {}) };
}

export function routeletEnv(opts: { grWait: number; peersFile: string; fastUnlock?: 'on' | 'off'; liveness?: Liveness }): Record<string, string> {
  const env: Record<string, string> = {
    ROUTELET_ASN: String(ASN),
    ROUTELET_ROUTER_ID: LAN.a,
    ROUTELET_PEERS_FILE: opts.peersFile,
    ROUTELET_ADVERTISE: PREFIXES.a,
    ROUTELET_GR: 'on',
    ROUTELET_GR_WAIT: String(opts.grWait),
    ROUTELET_KERNEL: 'on',
    ROUTELET_HTTP_ADDRESS: '127.0.0.1:9179',
    ROUTELET_LOG_LEVEL: 'info',
  };
  if (opts.fastUnlock) env.ROUTELET_GR_FAST_UNLOCK = opts.fastUnlock;
  if (opts.liveness?.keepaliveTime) env.ROUTELET_KEEPALIVE_TIME = String(opts.liveness.keepaliveTime);
  if (opts.liveness?.tcpUserTimeout) env.ROUTELET_TCP_USER_TIMEOUT = String(opts.liveness.tcpUserTimeout);
  return env;
}

export function routeletPeers(opts: { cPassive: boolean }): string {
  return JSON.stringify([
    { address: LAN.b, asn: ASN },
    { address: LAN.c, asn: ASN, ...(opts.cPassive ? { passive: true } : {}) },
  ]);
}
