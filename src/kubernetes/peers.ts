// This node's peers from the Node list: the desired state the agent reconciles its sessions to.
// The same pure function serves a relist, a watch event and a restart from the on-node cache;
// the result is sorted by address, so an unchanged cluster gives a deep-equal result. No I/O.
//
// Topology (settings.reflectors):
// - mesh: an iBGP session to every other node of this node's AS, on each address family both
//   have an InternalIP of (the first InternalIP of each family).
// - selector / auto: route reflectors, chosen by a label selector (ROUTELET_RR_NODE_SELECTOR) or
//   automatically (reflectors.ts). A reflector peers with every other node of its AS — with the
//   other reflectors as plain iBGP peers, with the rest as its route-reflector clients; any
//   other node peers with the reflectors only. No reflector at all (the selector matches no
//   node of this AS): the full mesh, so that no route is lost, and a problem says so.
// One side of each node-to-node pair is passive: the node with the LOWER address (byte order,
// the two addresses the session uses) connects, the higher one waits. Both sides compute it
// from the same two addresses with nothing else, so exactly one connection is ever opened and
// no collision (RFC 4271 §6.8) has to be resolved — the way Calico makes each mesh peering
// one-directional. One exception, the agent's (src/agent/agent.ts, #connectFirst): a
// restarting node connects to its passive-side peers too until each session is up, rather than
// wait for their reconnect backoff; §6.8 resolves the collision that may make.
//
// Explicit peers win over generated ones on the same address: this node's routelet.io/peers
// annotation first, then the peers of the peers file whose node selector matches this node.
import type { PeerConfig } from '../config/index.js';
import { parseIP } from '../net/ip.js';
import { meshBfd, nodeOverrides, type AnnotationPeer, type BfdDefaults } from './annotations.js';
import type { NodeInfo } from './objects.js';
import { selectReflectors, DEFAULT_REFLECTOR_COUNT } from './reflectors.js';
import { matches, type LabelSelector } from '../config/selector.js';
import type { ReflectorSettings, SelectedPeer } from '../config/index.js';

export type PeerOrigin = 'mesh' | 'reflector' | 'annotation' | 'file';

export interface KubePeer extends PeerConfig {
  readonly origin: PeerOrigin;
  /** the Node the peer is (mesh, reflector) or whose annotation names it; undefined for file peers */
  readonly nodeName: string | undefined;
}

/** Session options of generated peers: the agent's own defaults (Config). */
export interface PeerDefaults {
  readonly port: number;
  readonly password: string | undefined;
  readonly holdTime: number;
  readonly keepaliveTime: number | undefined;
  readonly tcpUserTimeout: number;
  readonly gracefulRestart: boolean;
  /** ROUTELET_BFD, ROUTELET_BFD_INTERVAL, ROUTELET_BFD_MULTIPLIER; unset: on, 300 ms × 3 */
  readonly bfd?: BfdDefaults;
}

const BFD_DEFAULTS: BfdDefaults = { enabled: true, interval: 300, multiplier: 3 };

export type { ReflectorSettings, SelectedPeer } from '../config/index.js';

export interface MeshSettings {
  /** ROUTELET_ASN: every node's AS unless its routelet.io/asn says otherwise */
  readonly asn: number;
  readonly defaults: PeerDefaults;
  readonly reflectors: ReflectorSettings;
  readonly filePeers?: readonly SelectedPeer[];
}

export interface DesiredPeers {
  /** this node's AS: routelet.io/asn on its Node, else settings.asn */
  readonly asn: number;
  readonly peers: readonly KubePeer[];
  /** this node's spec.podCIDRs, to advertise */
  readonly podCIDRs: readonly string[];
  /** reflector names in this node's AS (empty in mesh mode) */
  readonly reflectors: readonly string[];
  readonly role: 'mesh' | 'reflector' | 'client';
  /** one line each: ignored annotations, a selector matching nothing, overridden peers */
  readonly problems: readonly string[];
  /** false when this node's Node object is not (yet) in the list: no generated peers */
  readonly selfKnown: boolean;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** true when the node at `local` waits for the one at `remote` to connect: the higher address is passive. */
export function isPassiveSide(local: string, remote: string): boolean {
  const a = parseIP(local);
  const b = parseIP(remote);
  if (!a || !b || a.family !== b.family) throw new Error(`not two addresses of one family: ${local}, ${remote}`);
  return compareBytes(a.bytes, b.bytes) > 0;
}

function generated(self: NodeInfo, other: NodeInfo, asn: number, d: PeerDefaults, origin: PeerOrigin, rrClient: boolean): KubePeer[] {
  const out: KubePeer[] = [];
  const bfd = meshBfd(nodeOverrides(self).bfd, nodeOverrides(other).bfd, d.bfd ?? BFD_DEFAULTS);
  for (const [mine, theirs, family] of [
    [self.internalIPv4, other.internalIPv4, 4],
    [self.internalIPv6, other.internalIPv6, 6],
  ] as const) {
    if (mine === undefined || theirs === undefined) continue;
    out.push({
      address: theirs,
      family,
      port: d.port,
      asn,
      ibgp: true,
      password: d.password,
      holdTime: d.holdTime,
      keepaliveTime: d.keepaliveTime,
      tcpUserTimeout: d.tcpUserTimeout,
      passive: isPassiveSide(mine, theirs),
      routeReflectorClient: rrClient,
      ttlSecurity: 0,
      multihop: 0,
      gracefulRestart: d.gracefulRestart,
      maxPrefixes: undefined,
      // the same text in every topology: a switch between the mesh and reflectors changes no
      // session whose options stay (the origin is shown apart, in /api/v1/peers)
      description: `node ${other.name}`,
      ...bfd,
      origin,
      nodeName: other.name,
    });
  }
  return out;
}

function fromAnnotation(p: AnnotationPeer, localAsn: number, d: PeerDefaults, nodeName: string): KubePeer {
  const ibgp = p.asn === localAsn;
  return {
    address: p.address,
    family: parseIP(p.address)!.family,
    port: p.port ?? d.port,
    asn: p.asn,
    ibgp,
    password: d.password,
    holdTime: p.holdTime ?? d.holdTime,
    keepaliveTime: p.keepaliveTime ?? d.keepaliveTime,
    tcpUserTimeout: p.tcpUserTimeout ?? d.tcpUserTimeout,
    passive: p.passive ?? false,
    routeReflectorClient: p.routeReflectorClient ?? false,
    ttlSecurity: p.ttlSecurity === true ? 1 : p.ttlSecurity === false || p.ttlSecurity === undefined ? 0 : p.ttlSecurity,
    multihop: p.multihop === true ? 255 : p.multihop === false || p.multihop === undefined ? 0 : p.multihop,
    gracefulRestart: p.gracefulRestart ?? d.gracefulRestart,
    maxPrefixes: p.maxPrefixes,
    description: p.description,
    ...(p.bfd !== undefined ? { bfd: p.bfd } : {}),
    ...(p.bfdInterval !== undefined ? { bfdInterval: p.bfdInterval } : {}),
    ...(p.bfdMultiplier !== undefined ? { bfdMultiplier: p.bfdMultiplier } : {}),
    origin: 'annotation',
    nodeName,
  };
}

/** The peers generated toward one other node (mesh or reflector), [] when none. */
export function nodeToPeers(
  self: NodeInfo,
  other: NodeInfo,
  ctx: { asn: number; defaults: PeerDefaults; role: 'mesh' | 'reflector' | 'client'; reflectors: ReadonlySet<string> },
): KubePeer[] {
  if (other.name === self.name || other.deleting) return [];
  if ((nodeOverrides(other).asn ?? ctx.asn) !== ctx.asn) return [];
  switch (ctx.role) {
    case 'mesh':
      return generated(self, other, ctx.asn, ctx.defaults, 'mesh', false);
    case 'reflector':
      return generated(self, other, ctx.asn, ctx.defaults, 'reflector', !ctx.reflectors.has(other.name));
    case 'client':
      return ctx.reflectors.has(other.name) ? generated(self, other, ctx.asn, ctx.defaults, 'reflector', false) : [];
  }
}

export function desiredPeers(input: { self: string; nodes: Iterable<NodeInfo>; settings: MeshSettings }): DesiredPeers {
  const { settings } = input;
  const nodes = [...input.nodes];
  const problems: string[] = [];
  const self = nodes.find((n) => n.name === input.self);
  const selfOver = self ? nodeOverrides(self) : undefined;
  problems.push(...(selfOver?.problems ?? []));
  const asn = selfOver?.asn ?? settings.asn;
  const sameAs = nodes.filter((n) => !n.deleting && (nodeOverrides(n).asn ?? settings.asn) === asn);

  let reflectors: string[] = [];
  const r = settings.reflectors;
  if (r.mode === 'selector') {
    reflectors = sameAs
      .filter((n) => {
        const ann = nodeOverrides(n).routeReflector;
        return ann ?? matches(r.selector, n.labels);
      })
      .map((n) => n.name)
      .sort();
  } else if (r.mode === 'auto') reflectors = selectReflectors(sameAs, r.count > 0 ? r.count : DEFAULT_REFLECTOR_COUNT);
  if (r.mode !== 'mesh' && reflectors.length === 0)
    problems.push(`no route reflector among the nodes of AS ${asn} (${r.mode === 'selector' ? 'the node selector matches none' : 'no Ready node'}): full mesh`);
  const rset = new Set(reflectors);
  const role: DesiredPeers['role'] = rset.size === 0 ? 'mesh' : rset.has(input.self) ? 'reflector' : 'client';

  const byAddress = new Map<string, KubePeer>();
  if (self) {
    for (const other of sameAs)
      for (const p of nodeToPeers(self, other, { asn, defaults: settings.defaults, role, reflectors: rset })) byAddress.set(p.address, p);
  }
  const explicit = (p: KubePeer) => {
    const prior = byAddress.get(p.address);
    if (prior && prior.origin !== p.origin)
      problems.push(`peer ${p.address}: the ${p.origin} peer replaces the ${prior.origin} one${prior.nodeName ? ` (node ${prior.nodeName})` : ''}`);
    byAddress.set(p.address, p);
  };
  for (const f of settings.filePeers ?? []) {
    if (f.nodeSelector && !(self && matches(f.nodeSelector, self.labels))) continue;
    explicit({ ...f.peer, origin: 'file', nodeName: undefined });
  }
  if (self && selfOver) for (const p of selfOver.peers) explicit(fromAnnotation(p, asn, settings.defaults, self.name));

  const peers = [...byAddress.values()].sort((a, b) => {
    if (a.family !== b.family) return a.family - b.family;
    return compareBytes(parseIP(a.address)!.bytes, parseIP(b.address)!.bytes);
  });
  return {
    asn,
    peers,
    podCIDRs: self ? self.podCIDRs : [],
    reflectors: r.mode === 'mesh' ? [] : reflectors,
    role,
    problems,
    selfKnown: self !== undefined,
  };
}
