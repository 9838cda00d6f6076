// Who may connect, and with which socket settings — pure, no I/O.
import type { Config, PeerConfig } from '../../config/index.js';
import { type Cidr, type Family, cidrContains, formatCidr, parseIP, peerIdentity } from '../../net/ip.js';

/** What the transport needs to know of a peer; PeerConfig has all of it. */
export type TransportPeer = Pick<PeerConfig, 'address' | 'family' | 'password' | 'ttlSecurity' | 'multihop' | 'ibgp'> & Partial<Pick<PeerConfig, 'tcpUserTimeout'>>;

/** Settings of dynamic neighbours (connections from a listen range). */
export interface DynamicPolicy {
  ranges: readonly Cidr[];
  password: string | undefined;
  /** iBGP (ROUTELET_LISTEN_ASN equals the local AS): TTL 64 on send, else 1 */
  ibgp: boolean;
  /** TCP_USER_TIMEOUT for their connections, milliseconds (0 or absent: off) */
  tcpUserTimeout?: number;
}

/** TTL of our packets to the peer: 255 with GTSM (RFC 5082), else multihop N, else 1 for eBGP and 64 for iBGP. */
export function sendTtl(p: Pick<TransportPeer, 'ttlSecurity' | 'multihop' | 'ibgp'>): number {
  if (p.ttlSecurity > 0) return 255;
  if (p.multihop > 0) return p.multihop;
  return p.ibgp ? 64 : 1;
}

/** Lowest TTL (hop limit) we accept from the peer: 256 − hops with GTSM, else 0 (no check). */
export function minTtl(p: Pick<TransportPeer, 'ttlSecurity'>): number {
  return p.ttlSecurity > 0 ? 256 - p.ttlSecurity : 0;
}

export type Classified =
  | { kind: 'configured'; address: string; family: Family; peer: TransportPeer }
  | { kind: 'dynamic'; address: string; family: Family; range: Cidr; peer: TransportPeer }
  | { kind: 'refused'; address: string; family: Family | undefined; reason: string };

/** Decides, from the source address alone, whether a connection is a peer's. */
export class AcceptPolicy {
  private readonly byAddress = new Map<string, TransportPeer>();

  constructor(
    peers: readonly TransportPeer[],
    private readonly dynamic: DynamicPolicy,
  ) {
    for (const p of peers) {
      const id = peerIdentity(p.address);
      if (id) this.byAddress.set(id.address, p);
    }
  }

  get peers(): readonly TransportPeer[] {
    return [...this.byAddress.values()];
  }

  get ranges(): readonly Cidr[] {
    return this.dynamic.ranges;
  }

  get dynamicPolicy(): DynamicPolicy {
    return this.dynamic;
  }

  peer(address: string): TransportPeer | undefined {
    const id = peerIdentity(address);
    return id && this.byAddress.get(id.address);
  }

  classify(sourceAddress: string): Classified {
    const id = peerIdentity(sourceAddress);
    if (!id) return { kind: 'refused', address: sourceAddress, family: undefined, reason: 'not an IP address' };
    const peer = this.byAddress.get(id.address);
    if (peer) return { kind: 'configured', address: id.address, family: id.family, peer };
    const bytes = parseIP(id.address)!.bytes;
    const range = this.dynamic.ranges.find((r) => cidrContains(r, id.family, bytes));
    if (range)
      return {
        kind: 'dynamic',
        address: id.address,
        family: id.family,
        range,
        peer: { address: id.address, family: id.family, password: this.dynamic.password, ttlSecurity: 0, multihop: 0, ibgp: this.dynamic.ibgp, tcpUserTimeout: this.dynamic.tcpUserTimeout ?? 0 },
      };
    const reason =
      this.dynamic.ranges.length === 0
        ? 'not a configured peer, and no listen range is set'
        : `not a configured peer, and outside the listen ranges ${this.dynamic.ranges.map(formatCidr).join(', ')}`;
    return { kind: 'refused', address: id.address, family: id.family, reason };
  }
}

/** The transport's view of routelet's configuration. */
export function transportPolicy(c: Pick<Config, 'peers' | 'listenRange' | 'password' | 'listenAsn' | 'asn'> & Partial<Pick<Config, 'tcpUserTimeout'>>): { peers: readonly TransportPeer[]; dynamic: DynamicPolicy } {
  return { peers: c.peers, dynamic: { ranges: c.listenRange, password: c.password, ibgp: c.listenAsn === c.asn, tcpUserTimeout: c.tcpUserTimeout ?? 0 } };
}
