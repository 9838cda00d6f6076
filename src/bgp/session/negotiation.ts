// Our OPEN and the peer's: the capabilities routelet offers, the checks of RFC 4271 §6.2
// (with RFC 5492, RFC 6286, RFC 6793) on the peer's OPEN, and what the two imply for the
// session. Pure: no sockets, no timers.
import {
  AFI_IPV4,
  AFI_IPV6,
  type Capability,
  type CodecOptions,
  encodeCapability,
  negotiate,
  NotificationCode,
  type OpenInit,
  type OpenMessage,
  SAFI_UNICAST,
} from '../codec/index.js';
import { keepaliveTime } from './fsm.js';
import { ipv4ToNumber } from '../../net/ip.js';
import type { Family } from '../../net/ip.js';

/** What we advertise to one peer. */
export interface LocalOpen {
  asn: number;
  routerId: string;
  /** the hold time we propose (the peer's option, else ROUTELET_HOLD_TIME) */
  holdTime: number;
  /** the keepalive interval we want when shorter than a third of the negotiated hold time */
  keepaliveTime?: number;
  /** the transport family of the session: IPv6 sessions also offer IPv4 with IPv6 next hops (RFC 8950) */
  transport: Family;
  /** graceful restart (RFC 4724, with the N-bit of RFC 8538), or null when off for this peer */
  gracefulRestart: { restartTime: number; restarting: boolean; forwarding: boolean } | null;
  /** FQDN capability: our host name */
  hostname?: string;
}

const FAMILIES: readonly { family: Family; afi: number }[] = [
  { family: 4, afi: AFI_IPV4 },
  { family: 6, afi: AFI_IPV6 },
];

/** The capabilities of our OPEN, in a stable order. */
export function localCapabilities(o: LocalOpen): Capability[] {
  const caps: Capability[] = [
    { kind: 'multiprotocol', afi: AFI_IPV4, safi: SAFI_UNICAST },
    { kind: 'multiprotocol', afi: AFI_IPV6, safi: SAFI_UNICAST },
    { kind: 'route-refresh' },
    { kind: 'enhanced-route-refresh' },
    { kind: 'as4', asn: o.asn },
    { kind: 'extended-message' },
    // the RIB keys paths by path identifier: several paths per prefix may be received
    {
      kind: 'add-path',
      families: FAMILIES.map((f) => ({ afi: f.afi, safi: SAFI_UNICAST, send: false, receive: true })),
    },
  ];
  if (o.transport === 6) caps.push({ kind: 'extended-next-hop', families: [{ afi: AFI_IPV4, safi: SAFI_UNICAST, nextHopAfi: AFI_IPV6 }] });
  if (o.gracefulRestart) {
    const g = o.gracefulRestart;
    caps.push({
      kind: 'graceful-restart',
      restarting: g.restarting,
      notification: true,
      restartTime: g.restartTime,
      families: FAMILIES.map((f) => ({ afi: f.afi, safi: SAFI_UNICAST, forwarding: g.forwarding })),
    });
  }
  if (o.hostname) caps.push({ kind: 'fqdn', hostname: o.hostname.slice(0, 64), domain: '' });
  return caps;
}

export function localOpen(o: LocalOpen): OpenInit {
  return { asn: o.asn, holdTime: o.holdTime, routerId: o.routerId, capabilities: localCapabilities(o) };
}

/** The peer's graceful restart capability, as a helper needs it. */
export interface PeerGracefulRestart {
  /** seconds the peer asks us to keep its routes */
  readonly restartTime: number;
  /** R bit: the peer has restarted */
  readonly restarting: boolean;
  /** the N bit (RFC 8538) was sent by both sides */
  readonly notification: boolean;
  /** families the peer preserves forwarding state for (F bit), and those it lists at all */
  readonly families: readonly { readonly family: Family; readonly forwarding: boolean }[];
}

/** What an accepted OPEN exchange implies for the session. */
export interface Negotiated {
  readonly asn: number;
  readonly routerId: string;
  /** seconds; 0 = no keepalives and no hold timer */
  readonly holdTime: number;
  readonly keepaliveTime: number;
  /** unicast families both sides enabled */
  readonly families: readonly Family[];
  readonly codec: CodecOptions;
  readonly routeRefresh: boolean;
  readonly enhancedRouteRefresh: boolean;
  /** graceful restart: both sides sent the capability; null otherwise */
  readonly gracefulRestart: PeerGracefulRestart | null;
  /** the peer's host name (FQDN capability) */
  readonly hostname: string | null;
  readonly remoteCapabilities: readonly Capability[];
}

export type OpenVerdict =
  | { ok: true; negotiated: Negotiated }
  | { ok: false; code: number; subcode: number; data: Uint8Array; reason: string };

const OPEN = NotificationCode.OpenMessageError;

function familyOf(afi: number, safi: number): Family | undefined {
  if (safi !== SAFI_UNICAST) return undefined;
  return afi === AFI_IPV4 ? 4 : afi === AFI_IPV6 ? 6 : undefined;
}

function refuse(subcode: number, reason: string, data: Uint8Array = new Uint8Array(0)): OpenVerdict {
  return { ok: false, code: OPEN, subcode, data, reason };
}

/**
 * Check the peer's OPEN (already decoded: version, parameter types, hold time 1–2 and
 * identifier 0 are the codec's checks) against what we expect, and negotiate.
 *
 *  - AS other than the configured one (or ROUTELET_LISTEN_ASN): Bad Peer AS (2/2)
 *  - iBGP with our own BGP identifier (RFC 6286 §2.2): Bad BGP Identifier (2/3)
 *  - no unicast family in common: Unsupported Capability (2/7), with our multiprotocol
 *    capabilities as data (RFC 5492 §3)
 */
export function acceptOpen(local: LocalOpen & { capabilities?: readonly Capability[] }, remote: OpenMessage, expectedAsn: number): OpenVerdict {
  if (remote.asn !== expectedAsn)
    return refuse(2, `peer AS ${remote.asn} in its OPEN, expected ${expectedAsn}`, Uint8Array.of(remote.myAs >>> 8, remote.myAs & 0xff));
  const ibgp = remote.asn === local.asn;
  if (ibgp && ipv4ToNumber(remote.routerId) === ipv4ToNumber(local.routerId))
    return refuse(3, `peer BGP identifier ${remote.routerId} is our own (iBGP, RFC 6286)`, Uint8Array.from(remote.routerId.split('.').map(Number)));
  const caps = local.capabilities ?? localCapabilities(local);

  // families: without any multiprotocol capability the peer speaks IPv4 unicast (RFC 4760 §8)
  const theirs = new Set<Family>();
  let anyMp = false;
  for (const c of remote.capabilities) {
    if (c.kind !== 'multiprotocol') continue;
    anyMp = true;
    const f = familyOf(c.afi, c.safi);
    if (f) theirs.add(f);
  }
  if (!anyMp) theirs.add(4);
  const families = FAMILIES.map((f) => f.family).filter((f) => theirs.has(f));
  if (families.length === 0) {
    const data = Buffer.concat(
      caps
        .filter((c) => c.kind === 'multiprotocol')
        .map((c) => {
          const e = encodeCapability(c);
          return Buffer.concat([Uint8Array.of(e.code, e.value.length), e.value]);
        }),
    );
    return refuse(7, 'no address family in common: the peer offers neither IPv4 nor IPv6 unicast', data);
  }

  const holdTime = Math.min(local.holdTime, remote.holdTime);
  const has = (k: Capability['kind']) => remote.capabilities.some((c) => c.kind === k);
  const mine = caps.find((c) => c.kind === 'graceful-restart');
  const their = remote.capabilities.find((c) => c.kind === 'graceful-restart');
  let gracefulRestart: PeerGracefulRestart | null = null;
  if (mine && their) {
    const fams: { family: Family; forwarding: boolean }[] = [];
    for (const f of their.families) {
      const fam = familyOf(f.afi, f.safi);
      if (fam) fams.push({ family: fam, forwarding: f.forwarding });
    }
    gracefulRestart = { restartTime: their.restartTime, restarting: their.restarting, notification: mine.notification && their.notification, families: fams };
  }
  const fqdn = remote.capabilities.find((c) => c.kind === 'fqdn');
  return {
    ok: true,
    negotiated: {
      asn: remote.asn,
      routerId: remote.routerId,
      holdTime,
      keepaliveTime: keepaliveTime(holdTime, local.keepaliveTime),
      families,
      codec: negotiate({ asn: local.asn, capabilities: caps }, remote, { ebgp: !ibgp }),
      routeRefresh: has('route-refresh') || has('route-refresh-cisco'),
      enhancedRouteRefresh: has('enhanced-route-refresh') && caps.some((c) => c.kind === 'enhanced-route-refresh'),
      gracefulRestart,
      hostname: fqdn ? fqdn.hostname + (fqdn.domain ? `.${fqdn.domain}` : '') : null,
      remoteCapabilities: remote.capabilities,
    },
  };
}
