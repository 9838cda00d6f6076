// OPEN with every capability, its error cases, and the options two OPENs negotiate.
import { describe, expect, it } from 'vitest';
import {
  BgpError,
  CAPABILITIES,
  decodeOpen,
  encodeOpen,
  formatCapability,
  negotiate,
  type Capability,
  type OpenMessage,
} from '../../src/bgp/codec/index.js';
import { body, hex } from './helpers.js';

const ALL: Capability[] = [
  { kind: 'multiprotocol', afi: 1, safi: 1 },
  { kind: 'multiprotocol', afi: 2, safi: 1 },
  { kind: 'route-refresh' },
  { kind: 'route-refresh-cisco' },
  { kind: 'enhanced-route-refresh' },
  { kind: 'extended-message' },
  { kind: 'as4', asn: 4200000001 },
  { kind: 'role', role: 3 },
  { kind: 'graceful-restart', restarting: true, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }, { afi: 2, safi: 1, forwarding: false }] },
  { kind: 'long-lived-graceful-restart', families: [{ afi: 1, safi: 1, forwarding: true, staleTime: 86400 }] },
  { kind: 'add-path', families: [{ afi: 1, safi: 1, send: true, receive: true }, { afi: 2, safi: 1, send: false, receive: true }] },
  { kind: 'extended-next-hop', families: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
  { kind: 'fqdn', hostname: 'node-1', domain: 'cluster.local' },
  { kind: 'unknown', code: 250, value: Uint8Array.of(1, 2, 3) },
];

describe('OPEN', () => {
  it('round-trips every capability, and the table names each known one', () => {
    const wire = encodeOpen({ asn: 4200000001, holdTime: 90, routerId: '10.0.0.1', capabilities: ALL });
    const o = decodeOpen(body(wire));
    expect(o).toEqual<OpenMessage>({ type: 'open', version: 4, myAs: 23456, asn: 4200000001, holdTime: 90, routerId: '10.0.0.1', capabilities: ALL });
    expect(new Set(CAPABILITIES.map((c) => c.kind))).toEqual(new Set(ALL.filter((c) => c.kind !== 'unknown').map((c) => c.kind)));
    expect(ALL.map(formatCapability)).toEqual([
      'multiprotocol ipv4',
      'multiprotocol ipv6',
      'route refresh',
      'route refresh (pre-standard)',
      'enhanced route refresh',
      'extended message',
      '4-octet AS 4200000001',
      'role customer',
      'graceful restart 120s restarting notification [ipv4 F, ipv6]',
      'long-lived graceful restart [ipv4 86400s F]',
      'ADD-PATH [ipv4 send/receive, ipv6 receive]',
      'extended next hop [ipv4 via ipv6]',
      'FQDN node-1.cluster.local',
      'capability 250 (010203)',
    ]);
  });

  it('encodes a known OPEN byte for byte', () => {
    const wire = encodeOpen({ asn: 65001, holdTime: 180, routerId: '192.0.2.1', capabilities: [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'as4', asn: 65001 }] });
    // both capabilities in one optional parameter
    expect(wire.toString('hex')).toBe(`${'ff'.repeat(16)}002b01` + '04fde900b4c0000201' + '0e' + '020c' + '010400010001' + '41040000fde9');
  });

  it('uses the RFC 9072 extended optional parameters length when capabilities exceed 255 octets', () => {
    const caps: Capability[] = Array.from({ length: 100 }, (_, i) => ({ kind: 'unknown', code: 200 + (i % 50), value: Uint8Array.of(i, i) }));
    const wire = encodeOpen({ asn: 65001, holdTime: 90, routerId: '10.0.0.1', capabilities: caps });
    expect(wire[28]).toBe(255);
    expect(wire[29]).toBe(255);
    expect(decodeOpen(body(wire)).capabilities).toEqual(caps);
  });

  it('reads capabilities spread over several optional parameters, as FRR sends them', () => {
    const m = hex('04 fde9 005a 0a000001 14' + '0206 010400010001' + '0206 41040000fde9' + '0202 0200');
    expect(decodeOpen(m).capabilities).toEqual([{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'as4', asn: 65001 }, { kind: 'route-refresh' }]);
  });

  const openErr = (h: string) => {
    try {
      decodeOpen(hex(h));
    } catch (e) {
      return e as BgpError;
    }
    throw new Error('no error');
  };

  it('answers each malformed OPEN with the NOTIFICATION RFC 4271 §6.2 asks for', () => {
    const v3 = openErr('03 fde9 005a 0a000001 00');
    expect([v3.code, v3.notification.code, v3.notification.subcode, Buffer.from(v3.notification.data).toString('hex')]).toEqual(['OPEN_VERSION', 2, 1, '0004']);
    expect(openErr('04 0000 005a 0a000001 00').notification).toMatchObject({ code: 2, subcode: 2 });
    expect(openErr('04 fde9 005a 0a000001 08 0206 4104 00000000').code).toBe('OPEN_PEER_AS');
    expect(openErr('04 fde9 005a 00000000 00').notification).toMatchObject({ code: 2, subcode: 3 });
    expect(openErr('04 fde9 0002 0a000001 00').notification).toMatchObject({ code: 2, subcode: 6 });
    expect(openErr('04 fde9 005a 0a000001 03 010100').notification).toMatchObject({ code: 2, subcode: 4 });
    expect(openErr('04 fde9 005a 0a000001 05 0203 0104 00').notification).toMatchObject({ code: 2, subcode: 0 });
    expect(openErr('04 fde9 005a 0a000001 07 0202 0104 00').notification).toMatchObject({ code: 2, subcode: 0 });
    expect(openErr('04 fde9 005a 0a000001 06 0204 410200fd').code).toBe('OPEN_MALFORMED');
    for (const e of [v3]) expect(e).toBeInstanceOf(BgpError);
    // hold time 0 is legal (no keepalives)
    expect(decodeOpen(hex('04 fde9 0000 0a000001 00')).holdTime).toBe(0);
  });

  it('negotiates 4-octet AS, ADD-PATH per direction, extended message and extended next hop', () => {
    const a = { asn: 65001, capabilities: ALL };
    const b = {
      asn: 65002,
      capabilities: [
        { kind: 'as4', asn: 65002 },
        { kind: 'add-path', families: [{ afi: 1, safi: 1, send: true, receive: false }, { afi: 2, safi: 1, send: true, receive: true }] },
        { kind: 'extended-message' },
      ] as Capability[],
    };
    const o = negotiate(a, b);
    expect(o).toEqual({
      as4: true,
      ebgp: true,
      extendedMessage: true,
      addPath: { ipv4: { send: false, receive: true }, ipv6: { send: false, receive: true } },
      extendedNextHopIPv4: false,
    });
    expect(negotiate(a, { asn: 65001, capabilities: ALL })).toMatchObject({ ebgp: false, extendedNextHopIPv4: true, addPath: { ipv4: { send: true, receive: true } } });
    expect(negotiate({ asn: 1, capabilities: [] }, b).as4).toBe(false);
  });
});
