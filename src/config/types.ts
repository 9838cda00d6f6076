// The shape of routelet's validated configuration: what the rest of src reads.
import type { Cidr } from '../net/ip.js';
import type { LabelSelector } from './selector.js';

/** Route reflectors in the Kubernetes mode: none (full mesh), by label, or chosen alike by every agent. */
export type ReflectorSettings =
  | { readonly mode: 'mesh' }
  | { readonly mode: 'selector'; readonly selector: LabelSelector }
  | { readonly mode: 'auto'; readonly count: number };

/** Route reflectors chosen automatically (ROUTELET_RR_AUTO=on). */
export const DEFAULT_REFLECTOR_COUNT = 3;

/** A peer of the peers file, for the nodes its selector matches (every node when undefined). */
export interface SelectedPeer {
  readonly peer: PeerConfig;
  readonly nodeSelector: LabelSelector | undefined;
}

export type BpfMode = 'on' | 'auto' | 'off';
/** ROUTELET_V8_WORKERS: V8's worker threads at SCHED_BATCH, or left as Node starts them */
export type V8WorkerPolicy = 'batch' | 'normal';
export type KubernetesMode = 'auto' | 'on' | 'off';

/** The Kubernetes mode (ROUTELET_KUBERNETES and the variables that go with it). */
export interface KubernetesConfig {
  readonly mode: KubernetesMode;
  readonly enabled: boolean;
  /** why enabled or not, for the log */
  readonly because: string;
  /** ROUTELET_NODE_NAME, else the host name in lower case */
  readonly nodeName: string;
  /** mesh (default), ROUTELET_RR_NODE_SELECTOR or ROUTELET_RR_AUTO */
  readonly reflectors: ReflectorSettings;
  /** ROUTELET_STATE_DIR */
  readonly stateDir: string;
  /** ROUTELET_NODE_LEASE_GRACE, milliseconds beyond the Lease's leaseDurationSeconds */
  readonly leaseGraceMs: number;
}
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** BFD authentication types (RFC 5880 §6.7), as the peers file and the native addon name them. */
export const BFD_AUTH_TYPES = ['simple', 'keyed-md5', 'meticulous-keyed-md5', 'keyed-sha1', 'meticulous-keyed-sha1'] as const;
export type BfdAuthType = (typeof BFD_AUTH_TYPES)[number];

/** The longest key of each type: a simple password or an MD5 key 16 bytes, a SHA1 key 20 (RFC 5880 §6.7.2–6.7.4). */
export function bfdAuthKeyMax(type: BfdAuthType): number {
  return type === 'keyed-sha1' || type === 'meticulous-keyed-sha1' ? 20 : 16;
}

/** A peer's BFD authentication: the key is a secret (never logged, never in the API or the state file). */
export interface BfdAuthConfig {
  readonly type: BfdAuthType;
  readonly keyId: number;
  readonly key: string;
}

export interface PeerConfig {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly asn: number;
  /** iBGP: the peer's AS is our own */
  readonly ibgp: boolean;
  readonly password: string | undefined;
  readonly holdTime: number;
  /** keepalive interval, seconds, when shorter than a third of the negotiated hold time; undefined: a third */
  readonly keepaliveTime: number | undefined;
  /** TCP_USER_TIMEOUT on the peer's connections, milliseconds; 0: the kernel's retransmission limits */
  readonly tcpUserTimeout: number;
  readonly passive: boolean;
  /** resolved: route-reflector mode and iBGP, unless the peer's options say otherwise */
  readonly routeReflectorClient: boolean;
  /** GTSM (RFC 5082): 0 off, else the most hops the peer may be away (minimum TTL 256-n) */
  readonly ttlSecurity: number;
  /** TTL of our packets to the peer: 0 = the default (1 for eBGP, 64 for iBGP) */
  readonly multihop: number;
  readonly gracefulRestart: boolean;
  /** Cease (RFC 4486 subcode 1) when the peer sends more prefixes; undefined = no limit */
  readonly maxPrefixes: number | undefined;
  readonly description: string | undefined;
  /** import sanity (src/rib/sanity.ts): accept a default route (0.0.0.0/0, ::/0) from this peer; default false */
  readonly allowDefault?: boolean;
  /** accept prefixes inside 169.254.0.0/16 from this peer; default false */
  readonly allowLinkLocal?: boolean;
  /** the only ranges accepted (src/net/prefixlist.ts): `10.64.0.0/10 le 26` or { prefix, ge?, le? }; absent/empty: no limit */
  readonly importPrefixes?: readonly (string | { readonly prefix: string; readonly ge?: number; readonly le?: number })[];
  /** BFD with this peer; unset: ROUTELET_BFD (the peers file's peers have it resolved) */
  readonly bfd?: boolean;
  /** BFD Desired Min TX and Required Min RX, milliseconds; unset: ROUTELET_BFD_INTERVAL */
  readonly bfdInterval?: number;
  /** BFD Detect Mult; unset: ROUTELET_BFD_MULTIPLIER */
  readonly bfdMultiplier?: number;
  /** BFD authentication (RFC 5880 §6.7); unset: none. Only from the peers file, never from annotations. */
  readonly bfdAuth?: BfdAuthConfig;
}

export interface Config {
  readonly asn: number;
  readonly routerId: string;
  readonly listen: { readonly address: string; readonly port: number };
  readonly peers: readonly PeerConfig[];
  /** peers-file peers with a nodeSelector: this node's when the selector matches its labels (Kubernetes mode only) */
  readonly selectedPeers: readonly SelectedPeer[];
  readonly listenRange: readonly Cidr[];
  readonly listenAsn: number;
  readonly rrClusterId: string | undefined;
  readonly password: string | undefined;
  readonly holdTime: number;
  /** ROUTELET_KEEPALIVE_TIME: keepalive interval when shorter than a third of the hold time */
  readonly keepaliveTime: number | undefined;
  /** ROUTELET_TCP_USER_TIMEOUT: milliseconds unacknowledged data may wait before the connection fails; 0 off */
  readonly tcpUserTimeout: number;
  readonly connectRetry: number;
  readonly connectRetryMax: number;
  readonly gr: {
    readonly enabled: boolean;
    readonly restartTime: number;
    readonly wait: number;
    readonly fastUnlock: boolean;
  };
  readonly advertise: readonly Cidr[];
  readonly kernel: { readonly enabled: boolean; readonly table: number; readonly protocol: number; readonly metric: number };
  readonly ecmpMaxPaths: number;
  readonly bpf: BpfMode;
  /** ROUTELET_BFD, ROUTELET_BFD_INTERVAL (ms), ROUTELET_BFD_MULTIPLIER: the peers' defaults */
  readonly bfd: { readonly enabled: boolean; readonly interval: number; readonly multiplier: number };
  readonly http: { readonly host: string; readonly port: number };
  readonly logLevel: LogLevel;
  readonly v8Workers: V8WorkerPolicy;
  readonly kubernetes: KubernetesConfig;
}
