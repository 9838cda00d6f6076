// The peer plan: what a change of the configured peer set means for the sessions. Pure: the
// old and the new peer lists in, the peers to start, stop and restart out. SIGHUP feeds it
// (the peers of the environment and ROUTELET_PEERS_FILE, read again); the Kubernetes peer
// source will feed it the peers it derives from Nodes. A source never touches a session: the
// agent applies the plan (src/agent/agent.ts reload).
//
// Identity: a peer is its address (canonical text, as src/config writes it). Two lists name
// the same peer when they hold the same address; a peer whose address changes is one peer
// removed and another added.
//
// Changed: the same address with any option different (PEER_OPTIONS, every field of
// PeerConfig but the BFD ones). Each one is fixed for the life of a session (sent in the OPEN,
// set on the socket, or applied to the routes it brings), so a changed peer's session is
// restarted. BFD options (BFD_OPTIONS) are not part of the BGP session: a peer whose only
// change is there is `bfd` in the plan, and the agent adds, removes or re-times (a poll
// sequence, RFC 5880 §6.8.3) its BFD session while its BGP session stays up.
import type { Config, PeerConfig } from '../config/index.js';

/** A peer's identity in a plan: its address. */
export function peerKey(p: Pick<PeerConfig, 'address'>): string {
  return p.address;
}

/** Every option of a peer, compared to tell a changed peer (all of PeerConfig but its identity). */
export const PEER_OPTIONS = [
  'family',
  'port',
  'asn',
  'ibgp',
  'password',
  'holdTime',
  'keepaliveTime',
  'tcpUserTimeout',
  'passive',
  'routeReflectorClient',
  'ttlSecurity',
  'multihop',
  'gracefulRestart',
  'maxPrefixes',
  'description',
  'allowDefault',
  'allowLinkLocal',
  'importPrefixes',
] as const satisfies readonly (keyof PeerConfig)[];

/** The BFD options of a peer: a change re-times or adds/removes its BFD session, never its BGP session. */
export const BFD_OPTIONS = ['bfd', 'bfdInterval', 'bfdMultiplier', 'bfdAuth'] as const satisfies readonly (keyof PeerConfig)[];

// A field added to PeerConfig must be listed above (or be the identity): this fails to compile otherwise.
type Unlisted = Exclude<keyof PeerConfig, (typeof PEER_OPTIONS)[number] | (typeof BFD_OPTIONS)[number] | 'address'>;
const everyOptionListed: [Unlisted] extends [never] ? true : never = true;
void everyOptionListed;

export type PeerOption = (typeof PEER_OPTIONS)[number];

/** The options in which two configurations of one peer differ (empty: the same). */
export function changedOptions(before: PeerConfig, after: PeerConfig): PeerOption[] {
  return PEER_OPTIONS.filter((k) => !sameOption(before[k], after[k]));
}

export interface PeerChange {
  readonly before: PeerConfig;
  readonly after: PeerConfig;
  /** what differs, in PEER_OPTIONS order (never empty) */
  readonly options: readonly PeerOption[];
}

/** The BFD options in which two configurations of one peer differ. */
export function changedBfdOptions(before: PeerConfig, after: PeerConfig): BfdOption[] {
  return BFD_OPTIONS.filter((k) => !sameOption(before[k], after[k]));
}

export type BfdOption = (typeof BFD_OPTIONS)[number];

export interface PeerPlan {
  /** in the new list and not the old: start, in the new list's order */
  readonly added: readonly PeerConfig[];
  /** in the old list and not the new: stop (Cease/Peer De-configured), in the old list's order */
  readonly removed: readonly PeerConfig[];
  /** in both with different options: restart (Cease/Other Configuration Change), in the old list's order */
  readonly changed: readonly PeerChange[];
  /** in both with different BFD options (whatever else changed): its BFD session follows `after`, in the old list's order */
  readonly bfd: readonly { readonly before: PeerConfig; readonly after: PeerConfig; readonly options: readonly BfdOption[] }[];
}

/** What it takes to go from the peers `before` to the peers `after`. A list names each peer once. */
export function planPeers(before: readonly PeerConfig[], after: readonly PeerConfig[]): PeerPlan {
  const next = new Map(after.map((p) => [peerKey(p), p]));
  const prev = new Set(before.map(peerKey));
  const removed: PeerConfig[] = [];
  const changed: PeerChange[] = [];
  const bfd: PeerPlan['bfd'][number][] = [];
  for (const p of before) {
    const q = next.get(peerKey(p));
    if (!q) {
      removed.push(p);
      continue;
    }
    const options = changedOptions(p, q);
    if (options.length) changed.push({ before: p, after: q, options });
    const b = changedBfdOptions(p, q);
    if (b.length) bfd.push({ before: p, after: q, options: b });
  }
  return { added: after.filter((q) => !prev.has(peerKey(q))), removed, changed, bfd };
}

/**
 * Settings read once at start: a reload that changes them says so and leaves them as they
 * are until the next start. (The connect-retry timers and the log level are not among them:
 * a reload leaves them unchanged without a word, as before.)
 */
export const RESTART_SETTINGS = [
  'asn',
  'routerId',
  'listen',
  'listenRange',
  'listenAsn',
  'rrClusterId',
  'password',
  'holdTime',
  'keepaliveTime',
  'tcpUserTimeout',
  'gr',
  'advertise',
  'kernel',
  'ecmpMaxPaths',
  'bpf',
  'bfd',
  'http',
  'kubernetes',
] as const satisfies readonly (keyof Config)[];

export interface ReloadPlan {
  readonly peers: PeerPlan;
  /** settings that differ but take effect only at the next start, in RESTART_SETTINGS order */
  readonly needRestart: readonly (typeof RESTART_SETTINGS)[number][];
}

/** What a reload from configuration `before` to `after` does: the peer plan, and what waits for a restart. */
export function planReload(before: Config, after: Config): ReloadPlan {
  return {
    peers: planPeers(before.peers, after.peers),
    needRestart: RESTART_SETTINGS.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])),
  };
}

/** Options are plain data: lists (importPrefixes) compare by content, not identity. */
function sameOption(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && JSON.stringify(a) === JSON.stringify(b));
}
