// Our OPEN and the checks of the peer's (src/bgp/session/negotiation.ts) — without sockets.
// The graceful-restart decisions are in test/gr/policy.test.ts.
import { describe, expect, it } from 'vitest';
import { type Capability, decodeOpen, encodeOpen, type OpenMessage } from '../../src/bgp/codec/index.js';
import { acceptOpen, localCapabilities, type LocalOpen, localOpen } from '../../src/bgp/session/negotiation.js';

const LOCAL: LocalOpen = { asn: 65000, routerId: '10.0.0.1', holdTime: 90, transport: 4, gracefulRestart: { restartTime: 120, restarting: false, forwarding: false }, hostname: 'node-1' };

function open(o: { asn?: number; holdTime?: number; routerId?: string; capabilities?: Capability[] } = {}): OpenMessage {
  const asn = o.asn ?? 65001;
  const caps = o.capabilities ?? [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'as4', asn }, { kind: 'route-refresh' }];
  return decodeOpen(encodeOpen({ asn, holdTime: o.holdTime ?? 90, routerId: o.routerId ?? '10.0.0.2', capabilities: caps }).subarray(19));
}

describe('our OPEN', () => {
  it('offers both unicast families, 4-octet AS, route refresh (plain and enhanced), extended message, ADD-PATH receive, GR with the N-bit, FQDN', () => {
    const caps = localCapabilities(LOCAL);
    const kinds = caps.map((c) => c.kind);
    expect(kinds).toEqual(['multiprotocol', 'multiprotocol', 'route-refresh', 'enhanced-route-refresh', 'as4', 'extended-message', 'add-path', 'graceful-restart', 'fqdn']);
    const gr = caps.find((c) => c.kind === 'graceful-restart')!;
    expect(gr).toMatchObject({ notification: true, restartTime: 120, restarting: false });
    expect(localCapabilities({ ...LOCAL, gracefulRestart: null }).some((c) => c.kind === 'graceful-restart')).toBe(false);
    // an IPv6 session also offers IPv4 routes with IPv6 next hops (RFC 8950)
    expect(localCapabilities({ ...LOCAL, transport: 6 }).find((c) => c.kind === 'extended-next-hop')).toEqual({ kind: 'extended-next-hop', families: [{ afi: 1, safi: 1, nextHopAfi: 2 }] });
    // restarting: R bit, F bits for both families
    const restarting = localCapabilities({ ...LOCAL, gracefulRestart: { restartTime: 120, restarting: true, forwarding: true } }).find((c) => c.kind === 'graceful-restart')!;
    expect(restarting).toMatchObject({ restarting: true, families: [{ afi: 1, forwarding: true }, { afi: 2, forwarding: true }] });
    // it encodes and decodes
    const back = decodeOpen(encodeOpen(localOpen(LOCAL)).subarray(19));
    expect(back.capabilities).toHaveLength(caps.length);
  });
});

describe("checking the peer's OPEN", () => {
  it('negotiates hold time (the smaller, 0 allowed), families, route refresh, GR and codec options', () => {
    const v = acceptOpen(LOCAL, open({ holdTime: 30 }), 65001);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.negotiated).toMatchObject({ holdTime: 30, keepaliveTime: 10, families: [4], routeRefresh: true, enhancedRouteRefresh: false, gracefulRestart: null });
    expect(v.negotiated.codec).toMatchObject({ as4: true, ebgp: true, extendedMessage: false });
    const zero = acceptOpen(LOCAL, open({ holdTime: 0 }), 65001);
    expect(zero.ok && zero.negotiated).toMatchObject({ holdTime: 0, keepaliveTime: 0 });
  });

  it('without multiprotocol capabilities the peer speaks IPv4 unicast', () => {
    const v = acceptOpen(LOCAL, open({ capabilities: [{ kind: 'as4', asn: 65001 }] }), 65001);
    expect(v.ok && v.negotiated.families).toEqual([4]);
  });

  it('graceful restart: the N-bit counts only when both sides send it; the peer’s families and F bits are kept', () => {
    const gr = (notification: boolean): Capability => ({ kind: 'graceful-restart', restarting: true, notification, restartTime: 90, families: [{ afi: 1, safi: 1, forwarding: true }, { afi: 2, safi: 1, forwarding: false }] });
    const caps = (n: boolean): Capability[] => [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'as4', asn: 65001 }, gr(n)];
    const v = acceptOpen(LOCAL, open({ capabilities: caps(true) }), 65001);
    expect(v.ok && v.negotiated.gracefulRestart).toEqual({ restartTime: 90, restarting: true, notification: true, families: [{ family: 4, forwarding: true }, { family: 6, forwarding: false }] });
    const w = acceptOpen(LOCAL, open({ capabilities: caps(false) }), 65001);
    expect(w.ok && w.negotiated.gracefulRestart?.notification).toBe(false);
    const off = acceptOpen({ ...LOCAL, gracefulRestart: null }, open({ capabilities: caps(true) }), 65001);
    expect(off.ok && off.negotiated.gracefulRestart).toBe(null);
  });

  it('refuses with the right NOTIFICATION: Bad Peer AS, Bad BGP Identifier (iBGP, ours), Unsupported Capability', () => {
    expect(acceptOpen(LOCAL, open({ asn: 65099 }), 65001)).toMatchObject({ ok: false, code: 2, subcode: 2 });
    expect(acceptOpen(LOCAL, open({ asn: 65000, routerId: '10.0.0.1' }), 65000)).toMatchObject({ ok: false, code: 2, subcode: 3 });
    // eBGP may share an identifier (RFC 6286)
    expect(acceptOpen(LOCAL, open({ routerId: '10.0.0.1' }), 65001).ok).toBe(true);
    const v = acceptOpen(LOCAL, open({ capabilities: [{ kind: 'multiprotocol', afi: 25, safi: 65 }] }), 65001);
    expect(v).toMatchObject({ ok: false, code: 2, subcode: 7 });
    if (!v.ok) expect([...v.data]).toEqual([1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1]);
  });

  it('a 4-octet AS arrives through the capability (AS_TRANS in My AS)', () => {
    const v = acceptOpen(LOCAL, open({ asn: 4200000001 }), 4200000001);
    expect(v.ok && v.negotiated.asn).toBe(4200000001);
  });
});
