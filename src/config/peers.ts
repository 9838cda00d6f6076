// The peer list: ROUTELET_PEERS and ROUTELET_PEERS_FILE merged into PeerConfigs, each with
// the global settings it does not override. An address that cannot be a peer (multicast,
// broadcast, unspecified, link-local, the node's own) or is given twice is refused by name.
import { canonicalIP, formatIP, parseIP } from '../net/ip.js';
import { ConfigError } from './errors.js';
import { readKeyFile, readSecretFile } from './files.js';
import type { HostFacts } from './host.js';
import type { PeerFileEntry } from './schema.js';
import { bfdAuthKeyMax, type BfdAuthConfig, type PeerConfig } from './types.js';
import { parseSelector, type LabelSelector } from './selector.js';
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
  bfd: boolean;
  bfdInterval: number;
  bfdMultiplier: number;
}

/** Where the peers come from: ROUTELET_PEERS (its text, for errors) and the peers file. */
export interface PeerSources {
  env?: { text: string; peers: readonly PeerSpec[] };
  file?: { path: string; entries: readonly PeerFileEntry[] };
}

/** Why `text` cannot be a peer's address, or undefined when it can. */
export function peerAddressProblem(text: string, own: ReadonlySet<string>): string | undefined {
  const t = text.trim();
  if (t.includes('%'))
    return `${t} is link-local with a zone, which routelet does not support; peer over a global or unique-local address`;
  const ip = parseIP(t);
  if (!ip) return `${t} is not an IP address`;
  const b = ip.bytes;
  const canon = formatIP(ip.family, b);
  if (b.every((x) => x === 0)) return `${canon} is the unspecified address`;
  if (ip.family === 4) {
    if (b[0]! >= 224 && b[0]! <= 239) return `${canon} is a multicast address`;
    if (b.every((x) => x === 255)) return `${canon} is the broadcast address`;
  } else {
    if (b[0] === 0xff) return `${canon} is a multicast address`;
    if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80)
      return `${canon} is link-local, which routelet does not support; peer over a global or unique-local address`;
  }
  if (own.has(canon)) return `${canon} is one of this node's own addresses`;
  return undefined;
}

function ownAddresses(host: HostFacts): Set<string> {
  const out = new Set<string>();
  for (const a of host.localAddresses()) {
    const c = canonicalIP(a.split('%')[0]!);
    if (c) out.add(c);
  }
  return out;
}

type Merged = PeerSpec & Partial<Omit<PeerFileEntry, 'bfdAuth'>> & { bfdAuth?: BfdAuthConfig };

/** A peers-file entry's bfdAuth with its key read (passwordFile), or a ConfigError naming the field. */
function bfdAuthConfig(a: NonNullable<PeerFileEntry['bfdAuth']>, path: string, i: number, host: HostFacts): BfdAuthConfig {
  if (a.passwordFile === undefined) return { type: a.type, keyId: a.keyId, key: a.password! };
  const max = bfdAuthKeyMax(a.type);
  const key = readKeyFile(a.passwordFile, host, max);
  if (typeof key !== 'string')
    throw new ConfigError(
      'ROUTELET_PEERS_FILE',
      path,
      `a list of peers; peers[${i}].bfdAuth.passwordFile: ${key.why ?? `a file holding a ${a.type} key of 1–${max} bytes (${a.passwordFile} holds ${key.bytes} bytes)`}`,
    );
  return { type: a.type, keyId: a.keyId, key };
}

/** The peers of both sources by address, checked: the file's options win for a peer in both. */
function mergePeers(src: PeerSources, host: HostFacts): Merged[] {
  const own = ownAddresses(host);
  const byAddress = new Map<string, Merged>();
  if (src.env) {
    const bad = (why: string) => new ConfigError('ROUTELET_PEERS', src.env!.text, `addresses of other unicast hosts, each once (${why})`);
    for (const p of src.env.peers) {
      const problem = peerAddressProblem(p.address, own);
      if (problem) throw bad(problem);
      if (byAddress.has(p.address)) throw bad(`${p.address} is given twice`);
      byAddress.set(p.address, p);
    }
  }
  if (src.file) {
    const fromFile = new Map<string, number>();
    src.file.entries.forEach((f, i) => {
      const bad = (why: string) => new ConfigError('ROUTELET_PEERS_FILE', src.file!.path, `a list of peers; peers[${i}]: ${why}`);
      const problem = peerAddressProblem(f.address, own);
      if (problem) throw bad(problem);
      const address = canonicalIP(f.address.trim())!;
      const first = fromFile.get(address);
      if (first !== undefined) throw bad(`${address} is given twice (also peers[${first}])`);
      fromFile.set(address, i);
      const fromEnv = byAddress.get(address);
      if (fromEnv && fromEnv.asn !== f.asn)
        throw bad(`${address} has AS ${f.asn} here and ${fromEnv.asn} in ROUTELET_PEERS; one address is one peer`);
      // the options the file sets win; what it leaves out (a port) comes from ROUTELET_PEERS
      const { bfdAuth, ...rest } = f;
      const set = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<Omit<PeerFileEntry, 'bfdAuth'>>;
      byAddress.set(address, { ...fromEnv, ...set, address, asn: f.asn, ...(bfdAuth ? { bfdAuth: bfdAuthConfig(bfdAuth, src.file!.path, i, host) } : {}) });
    });
  }
  return [...byAddress.values()];
}

/** The peers, each with the node selector the peers file gave it (undefined: every node). */
export function buildPeers(src: PeerSources, d: PeerDefaults, host: HostFacts): { peer: PeerConfig; nodeSelector: LabelSelector | undefined }[] {
  return mergePeers(src, host).map((p) => ({ peer: peerConfig(p, d, host), nodeSelector: p.nodeSelector !== undefined ? parseSelector(p.nodeSelector) : undefined }));
}

function peerConfig(p: Merged, d: PeerDefaults, host: HostFacts): PeerConfig {
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
    ...(p.allowDefault !== undefined ? { allowDefault: p.allowDefault } : {}),
    ...(p.allowLinkLocal !== undefined ? { allowLinkLocal: p.allowLinkLocal } : {}),
    ...(p.importPrefixes !== undefined ? { importPrefixes: p.importPrefixes } : {}),
    bfd: p.bfd ?? d.bfd,
    bfdInterval: p.bfdInterval ?? d.bfdInterval,
    bfdMultiplier: p.bfdMultiplier ?? d.bfdMultiplier,
    ...(p.bfdAuth ? { bfdAuth: p.bfdAuth } : {}),
  };
}
