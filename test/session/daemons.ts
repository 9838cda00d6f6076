// Configurations of real daemons peering with a routelet agent, shared by the session tests.
import type { Daemon } from '../support/daemons.js';

export interface DaemonSession {
  /** the daemon's address on the link */
  local: string;
  /** routelet's address */
  neighbor: string;
  family: 4 | 6;
  password?: string;
  name: string;
}

export interface DaemonPlan {
  asn: number;
  routerId: string;
  sessions: DaemonSession[];
  holdTime: number;
  /** prefixes the daemon announces */
  prefix4: string;
  prefix6: string;
  gracefulRestart?: boolean;
  passive?: boolean;
  /** extra protocol lines (BIRD) */
  extra?: string;
}

export function birdConf(p: DaemonPlan): string {
  const proto = (s: DaemonSession) => `protocol bgp ${s.name} {
  local ${s.local} as ${p.asn};
  neighbor ${s.neighbor} as 65000;
  hold time ${p.holdTime};
  connect retry time 2;
  connect delay time 1;
  error wait time 1, 10;
  ${p.passive ? 'passive on;' : ''}
  ${s.password ? `password "${s.password}";` : ''}
  graceful restart ${p.gracefulRestart === false ? 'off' : 'on'};
  ipv${s.family} { import all; export all; };
}`;
  return `router id ${p.routerId};
log stderr all;
protocol device {}
protocol static s4 { ipv4; route ${p.prefix4} blackhole; }
protocol static s6 { ipv6; route ${p.prefix6} blackhole; }
${p.sessions.map(proto).join('\n')}
${p.extra ?? ''}
`;
}

export function gobgpConf(p: DaemonPlan): string {
  const n = (s: DaemonSession) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${s.neighbor}"
    peer-as = 65000
    ${s.password ? `auth-password = "${s.password}"` : ''}
  [neighbors.transport.config]
    local-address = "${s.local}"
    ${p.passive ? 'passive-mode = true' : ''}
  [neighbors.timers.config]
    hold-time = ${p.holdTime}
    keepalive-interval = ${Math.max(1, Math.floor(p.holdTime / 3))}
    connect-retry = 2
  [neighbors.graceful-restart.config]
    enabled = ${p.gracefulRestart === false ? 'false' : 'true'}
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv${s.family}-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = ${p.gracefulRestart === false ? 'false' : 'true'}
`;
  return `[global.config]
  as = ${p.asn}
  router-id = "${p.routerId}"
  port = 179
${p.sessions.map(n).join('')}`;
}

export function gobgpRoutes(p: DaemonPlan): string[] {
  return [`global rib add -a ipv4 ${p.prefix4} origin igp`, `global rib add -a ipv6 ${p.prefix6} origin igp`];
}

export function frrConf(p: DaemonPlan): string {
  const lines: string[] = [];
  for (const s of p.sessions) {
    lines.push(` neighbor ${s.neighbor} remote-as 65000`);
    lines.push(` neighbor ${s.neighbor} timers ${Math.max(1, Math.floor(p.holdTime / 3))} ${p.holdTime}`);
    lines.push(` neighbor ${s.neighbor} timers connect 2`);
    lines.push(` neighbor ${s.neighbor} update-source ${s.local}`);
    if (s.password) lines.push(` neighbor ${s.neighbor} password ${s.password}`);
    if (p.passive) lines.push(` neighbor ${s.neighbor} passive`);
  }
  const v4 = p.sessions.filter((s) => s.family === 4);
  const v6 = p.sessions.filter((s) => s.family === 6);
  return `frr defaults traditional
hostname frr-peer
!
router bgp ${p.asn}
 bgp router-id ${p.routerId}
 no bgp ebgp-requires-policy
 no bgp network import-check
 ${p.gracefulRestart === false ? '' : 'bgp graceful-restart'}
${lines.join('\n')}
 !
 address-family ipv4 unicast
  network ${p.prefix4}
${v6.map((s) => `  no neighbor ${s.neighbor} activate`).join('\n')}
 exit-address-family
 !
 address-family ipv6 unicast
  network ${p.prefix6}
${v6.map((s) => `  neighbor ${s.neighbor} activate`).join('\n')}
 exit-address-family
!
`.replace(/\n\n+/g, '\n');
  void v4;
}

/** The daemon's view of each session: name → established? */
export function daemonEstablished(kind: 'bird' | 'gobgp' | 'frr', d: Daemon, p: DaemonPlan): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (kind === 'bird') {
    const text = d.cli('show protocols');
    for (const s of p.sessions) out[s.name] = new RegExp(`^${s.name}\\s+BGP\\s+\\S+\\s+up\\s+.*Established`, 'm').test(text);
  } else if (kind === 'gobgp') {
    const list = d.json<{ state: { neighbor_address: string; session_state: number | string } }[]>('-j neighbor');
    for (const s of p.sessions) {
      const n = list.find((x) => x.state.neighbor_address === s.neighbor);
      out[s.name] = n?.state.session_state === 6 || n?.state.session_state === 'established' || n?.state.session_state === 'ESTABLISHED';
    }
  } else {
    const nb = d.json<Record<string, { bgpState?: string }>>('show bgp neighbors json');
    for (const s of p.sessions) out[s.name] = nb[s.neighbor]?.bgpState === 'Established';
  }
  return out;
}
