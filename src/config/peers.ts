// The peer list: ROUTELET_PEERS and ROUTELET_PEERS_FILE merged into PeerConfigs, each with
// the global settings it does not override.
import { canonicalIP, parseIP } from '../net/ip.js';
import { readSecretFile } from './files.js';
import type { HostFacts } from './host.js';
import type { PeerFileEntry } from './schema.js';
import type { PeerConfig } from './types.js';
import type { PeerSpec } from './values.js';

/** The global settings a peer takes unless its own options say otherwise. */
export interface PeerDefaults {
  asn: number;
  port: number;
  password: string | undefined;
  holdTime: number;
  keepaliveTime: number | undefined;
  tcpUserTimeout: number;
  gracefulRestart: boolean;
  /** route-reflector mode is on (ROUTELET_RR_CLUSTER_ID set) */
  reflector: boolean;
}

export function buildPeers(
  envPeers: readonly PeerSpec[],
  fileEntries: readonly PeerFileEntry[],
  d: PeerDefaults,
  host: HostFacts,
): PeerConfig[] {
  const byAddress = new Map<string, PeerSpec & Partial<PeerFileEntry>>();
  for (const p of envPeers) byAddress.set(p.address, p);
  for (const f of fileEntries) {
    const address = canonicalIP(f.address.trim())!;
    byAddress.set(address, { ...f, address });
  }
  return [...byAddress.values()].map((p) => {
    const fam = parseIP(p.address)!.family;
    const ibgp = p.asn === d.asn;
    const peerPassword = p.passwordFile !== undefined ? readSecretFile('ROUTELET_PEERS_FILE', p.passwordFile, host) : p.password;
    const ttl = p.ttlSecurity === true ? 1 : p.ttlSecurity === false || p.ttlSecurity === undefined ? 0 : p.ttlSecurity;
    const hop = p.multihop === true ? 255 : p.multihop === false || p.multihop === undefined ? 0 : p.multihop;
    return {
      address: p.address,
      family: fam,
      port: p.port ?? d.port,
      asn: p.asn,
      ibgp,
      password: peerPassword ?? d.password,
      holdTime: p.holdTime ?? d.holdTime,
      keepaliveTime: p.keepaliveTime ?? d.keepaliveTime,
      tcpUserTimeout: p.tcpUserTimeout ?? d.tcpUserTimeout,
      passive: p.passive ?? false,
      routeReflectorClient: p.routeReflectorClient ?? (d.reflector && ibgp),
      ttlSecurity: ttl,
      multihop: hop,
      gracefulRestart: p.gracefulRestart ?? d.gracefulRestart,
      maxPrefixes: p.maxPrefixes,
      description: p.description,
    };
  });
}
