// What the real-daemon captures configure each daemon to send, shared by the live test
// (daemons.test.ts) and the fixture test (fixtures.test.ts).
import { parsePrefix } from '../../src/net/prefix.js';

export type Kind = 'bird' | 'frr' | 'gobgp';

export const SPEAKER_ASN = 65001;
export const SPEAKER_ID = '10.255.255.1';

export interface Plan {
  kind: Kind;
  asn: number;
  routerId: string;
  /** daemon side of the link */
  v4: string;
  v6: string;
  /** speaker side of the link */
  peer4: string;
  peer6: string;
  prefixes4: string[];
  prefixes6: string[];
  communities: string[];
  large: [number, number, number][];
  med: number;
  hostname: string;
}

export function plan(kind: Kind, n: number): Plan {
  const asn = { bird: 4200000002, frr: 4200000003, gobgp: 4200000004 }[kind];
  return {
    kind,
    asn,
    routerId: `10.255.0.${n}`,
    v4: `10.${100 + n}.0.2`,
    v6: `fd00:${n}::2`,
    peer4: `10.${100 + n}.0.1`,
    peer6: `fd00:${n}::1`,
    prefixes4: ['10.1.0.0/16', '10.2.0.0/24', '192.168.100.0/24'],
    prefixes6: ['2001:db8:1::/48', '2001:db8:2::/48'],
    communities: ['65000:100', '65000:200'],
    large: [[asn, 1, 2]],
    med: 50,
    hostname: `${kind}-node`,
  };
}

export function birdConfig(p: Plan): string {
  return `router id ${p.routerId};
log stderr all;
protocol device {}
protocol static s4 { ipv4; ${p.prefixes4.map((x) => `route ${x} blackhole;`).join(' ')} }
protocol static s6 { ipv6; ${p.prefixes6.map((x) => `route ${x} blackhole;`).join(' ')} }
filter out_ {
  ${p.communities.map((c) => `bgp_community.add((${c.replace(':', ',')}));`).join('\n  ')}
  ${p.large.map((l) => `bgp_large_community.add((${l.join(',')}));`).join('\n  ')}
  bgp_med = ${p.med};
  accept;
}
template bgp peer_ {
  local as ${p.asn};
  passive on;
  hold time 90;
  graceful restart on;
  graceful restart time 120;
  long lived graceful restart on;
  long lived stale time 3600;
  enable extended messages on;
}
protocol bgp v4 from peer_ {
  local ${p.v4};
  neighbor ${p.peer4} as ${SPEAKER_ASN};
  ipv4 { import all; export filter out_; add paths on; extended next hop on; };
}
protocol bgp v6 from peer_ {
  local ${p.v6};
  neighbor ${p.peer6} as ${SPEAKER_ASN};
  ipv6 { import all; export filter out_; };
}
`;
}

/** `linkLocal`: the daemon's link-local address, sent as the second IPv6 next hop (bgpd alone has no zebra to learn it). */
export function frrConfig(p: Plan, linkLocal: string): string {
  return `frr defaults traditional
hostname ${p.hostname}
!
route-map OUT permit 10
 set community ${p.communities.join(' ')}
 set large-community ${p.large.map((l) => l.join(':')).join(' ')}
 set metric ${p.med}
!
route-map OUT6 permit 10
 set community ${p.communities.join(' ')}
 set large-community ${p.large.map((l) => l.join(':')).join(' ')}
 set metric ${p.med}
 set ipv6 next-hop local ${linkLocal}
!
router bgp ${p.asn}
 bgp router-id ${p.routerId}
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 bgp graceful-restart restart-time 120
 bgp long-lived-graceful-restart stale-time 3600
 neighbor ${p.peer4} remote-as ${SPEAKER_ASN}
 neighbor ${p.peer4} passive
 neighbor ${p.peer4} timers 30 90
 neighbor ${p.peer4} disable-connected-check
 neighbor ${p.peer4} local-role customer
 neighbor ${p.peer6} remote-as ${SPEAKER_ASN}
 neighbor ${p.peer6} passive
 neighbor ${p.peer6} timers 30 90
 neighbor ${p.peer6} disable-connected-check
 !
 address-family ipv4 unicast
  ${p.prefixes4.map((x) => `network ${x}`).join('\n  ')}
  neighbor ${p.peer4} route-map OUT out
  neighbor ${p.peer4} addpath-tx-all-paths
  no neighbor ${p.peer6} activate
 exit-address-family
 !
 address-family ipv6 unicast
  ${p.prefixes6.map((x) => `network ${x}`).join('\n  ')}
  neighbor ${p.peer6} activate
  neighbor ${p.peer6} route-map OUT6 out
 exit-address-family
!
`;
}

export function gobgpConfig(p: Plan): string {
  const neighbor = (addr: string, local: string, family: string) => `
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${addr}"
    peer-as = ${SPEAKER_ASN}
  [neighbors.transport.config]
    passive-mode = true
    local-address = "${local}"
  [neighbors.timers.config]
    hold-time = 90
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
    long-lived-enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "${family}"
    [neighbors.afi-safis.add-paths.config]
      send-max = 8
      receive = true
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
    [neighbors.afi-safis.long-lived-graceful-restart.config]
      enabled = true
      restart-time = 3600
`;
  return `[global.config]
  as = ${p.asn}
  router-id = "${p.routerId}"
  port = 179
${neighbor(p.peer4, p.v4, 'ipv4-unicast')}${neighbor(p.peer6, p.v6, 'ipv6-unicast')}`;
}

/** GoBGP takes its routes from the CLI. */
export function gobgpRoutes(p: Plan): string[] {
  const attrs = `origin igp community ${p.communities.join(',')} large-community ${p.large.map((l) => l.join(':')).join(',')} med ${p.med}`;
  return [...p.prefixes4.map((x) => `global rib add -a ipv4 ${x} ${attrs}`), ...p.prefixes6.map((x) => `global rib add -a ipv6 ${x} ${attrs}`)];
}

export const prefix = (t: string): number | string => parsePrefix(t)!;
