// The settings of a dynamic neighbour: a connection from ROUTELET_LISTEN_RANGE, from a peer
// no list names. It is passive on our side, has the AS of ROUTELET_LISTEN_ASN, and takes the
// agent-wide timers, TCP-MD5 password and graceful restart; iBGP ones are route-reflector
// clients when the agent reflects routes.
import type { Config, PeerConfig } from '../config/index.js';

export type DynamicSettingsConfig = Pick<Config, 'asn' | 'listen' | 'listenAsn' | 'password' | 'holdTime' | 'keepaliveTime' | 'tcpUserTimeout' | 'gr' | 'rrClusterId'>;

/** The peer settings of a neighbour that connected from `remote`. */
export function dynamicPeerSettings(cfg: DynamicSettingsConfig, remote: { readonly address: string; readonly family: 4 | 6 }): PeerConfig {
  const ibgp = cfg.listenAsn === cfg.asn;
  return {
    address: remote.address,
    family: remote.family,
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
