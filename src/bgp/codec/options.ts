// Session-dependent encoding comes in as one explicit, immutable options value per session
// (or per update group). Nothing in the codec reads globals.
import type { Capability } from './capabilities.js';
import { AFI_IPV4, AFI_IPV6, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, SAFI_UNICAST } from './constants.js';

export interface Direction {
  readonly send: boolean;
  readonly receive: boolean;
}

export interface CodecOptions {
  /** 4-octet AS numbers in AS_PATH and AGGREGATOR (RFC 6793); otherwise AS4_PATH/AS4_AGGREGATOR are used */
  readonly as4: boolean;
  /** the peer is external: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST it sends are discarded (RFC 7606 §7.5, §7.9, §7.10) */
  readonly ebgp: boolean;
  /** messages up to 65,535 octets (RFC 8654) */
  readonly extendedMessage: boolean;
  /** path identifiers per family and direction (RFC 7911) */
  readonly addPath: { readonly ipv4: Direction; readonly ipv6: Direction };
  /** IPv4 unicast NLRI may carry an IPv6 next hop in MP_REACH_NLRI (RFC 8950) */
  readonly extendedNextHopIPv4: boolean;
}

const NONE: Direction = Object.freeze({ send: false, receive: false });

/** What a session uses before capabilities are known: RFC 4271 with nothing negotiated. */
export const BASE_OPTIONS: CodecOptions = Object.freeze({
  as4: false,
  ebgp: true,
  extendedMessage: false,
  addPath: Object.freeze({ ipv4: NONE, ipv6: NONE }),
  extendedNextHopIPv4: false,
});

export interface CodecOptionsInit {
  as4?: boolean;
  ebgp?: boolean;
  extendedMessage?: boolean;
  addPath?: { ipv4?: Partial<Direction>; ipv6?: Partial<Direction> };
  extendedNextHopIPv4?: boolean;
}

/** A frozen options value; missing fields default to a modern session (4-octet AS, eBGP, nothing else). */
export function codecOptions(init: CodecOptionsInit = {}): CodecOptions {
  const dir = (d?: Partial<Direction>): Direction => Object.freeze({ send: d?.send ?? false, receive: d?.receive ?? false });
  return Object.freeze({
    as4: init.as4 ?? true,
    ebgp: init.ebgp ?? true,
    extendedMessage: init.extendedMessage ?? false,
    addPath: Object.freeze({ ipv4: dir(init.addPath?.ipv4), ipv6: dir(init.addPath?.ipv6) }),
    extendedNextHopIPv4: init.extendedNextHopIPv4 ?? false,
  });
}

export const maxMessageLength = (o: CodecOptions): number => (o.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH);

type Caps = readonly Capability[];

function addPathOf(caps: Caps, afi: number): { send: boolean; receive: boolean } {
  for (const c of caps) {
    if (c.kind !== 'add-path') continue;
    for (const f of c.families) if (f.afi === afi && f.safi === SAFI_UNICAST) return f;
  }
  return NONE;
}

const has = (caps: Caps, kind: Capability['kind']): boolean => caps.some((c) => c.kind === kind);

/**
 * The options two OPENs imply (RFC 5492: a capability applies when both sides sent it).
 * `ebgp` defaults to "the two AS numbers differ".
 */
export function negotiate(
  local: { asn: number; capabilities: Caps },
  remote: { asn: number; capabilities: Caps },
  opts: { ebgp?: boolean } = {},
): CodecOptions {
  const dir = (afi: number): Direction => {
    const l = addPathOf(local.capabilities, afi);
    const r = addPathOf(remote.capabilities, afi);
    return Object.freeze({ send: l.send && r.receive, receive: l.receive && r.send });
  };
  const enh = (caps: Caps): boolean =>
    caps.some((c) => c.kind === 'extended-next-hop' && c.families.some((f) => f.afi === AFI_IPV4 && f.safi === SAFI_UNICAST && f.nextHopAfi === AFI_IPV6));
  return Object.freeze({
    as4: has(local.capabilities, 'as4') && has(remote.capabilities, 'as4'),
    ebgp: opts.ebgp ?? local.asn !== remote.asn,
    extendedMessage: has(local.capabilities, 'extended-message') && has(remote.capabilities, 'extended-message'),
    addPath: Object.freeze({ ipv4: dir(AFI_IPV4), ipv6: dir(AFI_IPV6) }),
    extendedNextHopIPv4: enh(local.capabilities) && enh(remote.capabilities),
  });
}
