// Shared by the session tests that drive a Session directly (no agent): the settings of a
// plain passive eBGP peer, to be overridden where a test needs more.
import type { PeerSettings } from '../../src/bgp/session/index.js';

/** A passive eBGP peer on port 179, hold time 90, nothing else configured. */
export function passivePeer(address: string, asn: number, over: Partial<PeerSettings> = {}): PeerSettings {
  return {
    address,
    family: 4,
    port: 179,
    asn,
    ibgp: false,
    password: undefined,
    holdTime: 90,
    passive: true,
    ttlSecurity: 0,
    multihop: 0,
    gracefulRestart: false,
    routeReflectorClient: false,
    maxPrefixes: undefined,
    description: undefined,
    ...over,
  };
}
