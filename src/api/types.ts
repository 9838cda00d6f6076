// The JSON shapes of the HTTP API (CONTRACT.md), shared by the server, the CLI and tests.
// Fields beyond the contract are extensions; none listed there is renamed or reshaped.

export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export interface PeerView {
  address: string;
  port: number;
  asn: number;
  dynamic: boolean;
  state: SessionState;
  uptimeSeconds: number;
  lastError: string | null;
  gracefulRestart: { negotiated: boolean; restarting: boolean; staleRoutes: number };
  prefixes: {
    received: number;
    accepted: number;
    advertised: number;
    /** extension: paths import sanity rejects now, by reason (martian, default, local, next-hop, not-allowed) */
    rejected?: Partial<Record<'martian' | 'default' | 'local' | 'next-hop' | 'not-allowed', number>>;
  };
  md5Failures: number;
  // extensions
  description?: string | null;
  /** iBGP / eBGP, route-reflector client */
  type?: 'ibgp' | 'ebgp';
  routeReflectorClient?: boolean;
  /** where the peer-health evidence comes from: BPF programs or the agent's own sockets */
  detection?: 'bpf' | 'socket';
  /**
   * Graceful-restart fast unlock: the evidence that the peer is dead (it no longer holds our
   * restart recovery, and its stale routes are dropped), until it is Established again.
   */
  dead?: { evidence: string; kind: string; since: string } | null;
  /**
   * The peer's BFD session (RFC 5880), null when BFD is off for it: states, discriminators,
   * the negotiated intervals (ms), the detection time (the peer's multiplier × rxIntervalMs)
   * and the last time it left Up, with our diagnostic (RFC 5880 §4.1) and whether it counted
   * as a failure (not an administrative shutdown on either side).
   */
  bfd?: BfdPeerView | null;
  holdTime?: number;
  keepaliveTime?: number;
  /** TCP_USER_TIMEOUT on the peer's connections, milliseconds (0: off) */
  tcpUserTimeout?: number;
  routerId?: string | null;
  /** human text for /readyz when this peer is a problem; null when it is fine */
  problem?: string | null;
  /** the Established connection: who initiated it (RFC 4271 6.8 keeps one) and its ports */
  connection?: { direction: 'outgoing' | 'incoming'; localAddress: string | null; localPort: number | null; remotePort: number | null };
  /** negotiated unicast families */
  families?: ('ipv4' | 'ipv6')[];
  /** the peer's host name (FQDN capability) */
  hostname?: string | null;
  /** Kubernetes mode: where the peer comes from — the node mesh, a route-reflector peering, a node annotation, or the configuration (file) */
  origin?: 'mesh' | 'reflector' | 'annotation' | 'file';
  /** Kubernetes mode: the Node the peer is (mesh, reflector) or whose annotation names it; null for other peers */
  nodeName?: string | null;
  /** Kubernetes mode: the node's health by its Lease and Ready condition (graceful-restart evidence while the session is down) */
  nodeHealth?: { health: 'alive' | 'dead' | 'unknown'; reason: string } | null;
}

export interface PathView {
  nextHop: string;
  /** the peer the path came from, or "local" for routes this node originates */
  peer: string;
  asPath: string;
  origin: 'IGP' | 'EGP' | 'INCOMPLETE';
  localPref: number | null;
  med: number | null;
  communities: string[];
  largeCommunities: string[];
  originatorId: string | null;
  clusterList: string[];
  best: boolean;
  stale: boolean;
  // extensions
  /** why this path won (best path only), in words, e.g. "higher LOCAL_PREF" */
  bestReason?: string | null;
  /** part of the multipath (ECMP) set installed with the best path */
  multipath?: boolean;
  /**
   * import sanity rejected this path (it never enters the decision): the reason, e.g.
   * `martian: 127.0.0.0/8 is inside 127.0.0.0/8 (loopback, RFC 1122 3.2.1.3)`; absent when accepted
   */
  rejected?: string;
}

export interface RouteView {
  prefix: string;
  paths: PathView[];
  /** `installed`, `pending`, or `failed: REASON` */
  kernel: string;
}

/** A BFD session's state (RFC 5880 §4.1). */
export type BfdStateName = 'adminDown' | 'down' | 'init' | 'up';

/** What /api/v1/peers shows of a peer's BFD session. */
export interface BfdPeerView {
  state: BfdStateName;
  remoteState: BfdStateName;
  localDiscriminator: number;
  remoteDiscriminator: number;
  multihop: boolean;
  /** negotiated: our transmit interval, the interval we expect the peer's packets at */
  txIntervalMs: number;
  rxIntervalMs: number;
  multiplier: number;
  remoteMultiplier: number;
  detectionTimeMs: number;
  /** the peer's C bit (control-plane independent) */
  remoteCpi: boolean;
  upSince: string | null;
  /** RFC 5880 §6.7 authentication: its type and key ID only (never the key); null: none */
  auth: { type: string; keyId: number } | null;
  /** packets from the peer dropped for failing authentication (or carrying it when none is configured) */
  authFailures: number;
  lastDown: { at: string; diag: number; diagnostic: string; remoteDiag: number; failure: boolean } | null;
}
