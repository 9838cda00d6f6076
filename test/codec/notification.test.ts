// NOTIFICATION, KEEPALIVE and ROUTE-REFRESH: encoding, decoding and human words.
import { describe, expect, it } from 'vitest';
import {
  BgpError,
  codecOptions,
  decodeMessage,
  decodeNotification,
  decodeRouteRefresh,
  describeNotification,
  encodeKeepalive,
  encodeNotification,
  encodeRouteRefresh,
  Framer,
  hardResetNotification,
  isHardReset,
  maxPrefixesNotification,
  NOTIFICATION_NAMES,
  notificationName,
  shutdownCommunication,
  shutdownCommunicationData,
  shutdownNotification,
} from '../../src/bgp/codec/index.js';
import { body, hex } from './helpers.js';

const n = (code: number, subcode: number, data: number[] | Uint8Array = []) => ({ code, subcode, data: Uint8Array.from(data) });

describe('NOTIFICATION', () => {
  it('has words for every code and subcode of RFC 4271 and its updates', () => {
    const expected: Record<number, number[]> = { 1: [1, 2, 3], 2: [0, 1, 2, 3, 4, 6, 7, 11], 3: [1, 2, 3, 4, 5, 6, 8, 9, 10, 11], 4: [0], 5: [0, 1, 2, 3], 6: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 7: [1], 8: [0] };
    for (const [code, subs] of Object.entries(expected)) {
      for (const s of subs) expect(notificationName(Number(code), s), `${code}/${s}`).not.toMatch(/unknown/i);
    }
    expect(Object.keys(NOTIFICATION_NAMES).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(notificationName(6, 99)).toBe('Cease/unknown subcode 99');
    expect(notificationName(42, 1)).toBe('Unknown error code 42/1');
  });

  it('describes the data each error carries', () => {
    expect(describeNotification(n(6, 2, [11, ...Buffer.from('maintenance')]))).toBe('Cease/Administrative Shutdown: "maintenance"');
    expect(describeNotification(n(6, 4, [0]))).toBe('Cease/Administrative Reset: ""');
    expect(describeNotification(n(6, 2))).toBe('Cease/Administrative Shutdown');
    expect(describeNotification(n(6, 2, [20, 0x61]))).toMatch(/^Cease\/Administrative Shutdown \(malformed shutdown communication: length 20 exceeds/);
    expect(describeNotification(n(6, 2, [2, 0xc3, 0x28]))).toMatch(/not valid UTF-8/);
    expect(describeNotification(n(6, 9, [6, 4, 3, ...Buffer.from('bye')]))).toBe('Cease/Hard Reset (Cease/Administrative Reset: "bye")');
    expect(describeNotification(n(6, 9, [4, 0]))).toBe('Cease/Hard Reset (Hold Timer Expired/Unspecific)');
    expect(describeNotification(n(6, 1, [0, 1, 1, 0, 0, 0x27, 0x10]))).toBe('Cease/Maximum Number of Prefixes Reached (AFI 1 SAFI 1, limit 10000)');
    expect(describeNotification(n(1, 2, [0x10, 0x01]))).toBe('Message Header Error/Bad Message Length (length 4097)');
    expect(describeNotification(n(1, 3, [9]))).toBe('Message Header Error/Bad Message Type (type 9)');
    expect(describeNotification(n(2, 1, [0, 4]))).toBe('OPEN Message Error/Unsupported Version Number (we support version 4)');
    expect(describeNotification(n(3, 3, [3]))).toBe('UPDATE Message Error/Missing Well-known Attribute (attribute type 3)');
    expect(describeNotification(n(3, 11, [0x40, 2, 1, 7]))).toBe('UPDATE Message Error/Malformed AS_PATH (data 40020107)');
    expect(describeNotification(n(4, 0))).toBe('Hold Timer Expired/Unspecific');
    expect(describeNotification(n(5, 3))).toBe('Finite State Machine Error/Receive Unexpected Message in Established State');
    expect(describeNotification(n(8, 0))).toBe('Send Hold Timer Expired/Unspecific');
  });

  it('builds RFC 9003 shutdown communications of at most 255 octets, cut at a character boundary', () => {
    const s = shutdownNotification('maintenance window, back at 14:00');
    expect(describeNotification(s)).toBe('Cease/Administrative Shutdown: "maintenance window, back at 14:00"');
    const long = shutdownNotification('é'.repeat(200), 4);
    expect(long.subcode).toBe(4);
    expect(long.data[0]).toBe(254);
    expect(shutdownCommunication(long)).toEqual({ text: 'é'.repeat(127) });
    expect(shutdownNotification().data.length).toBe(0);
    // as bare data an empty message is its length octet alone
    expect(Array.from(shutdownCommunicationData(''))).toEqual([0]);
    expect(Array.from(shutdownCommunicationData('ok'))).toEqual([2, 0x6f, 0x6b]);
  });

  it('builds Cease/Maximum Number of Prefixes Reached with AFI, SAFI and the limit (RFC 4486 §4)', () => {
    const m = maxPrefixesNotification(6, 10000);
    expect([m.code, m.subcode, Buffer.from(m.data).toString('hex')]).toEqual([6, 1, '00020100002710']);
    expect(describeNotification(maxPrefixesNotification(4, 10000))).toBe('Cease/Maximum Number of Prefixes Reached (AFI 1 SAFI 1, limit 10000)');
  });

  it('wraps the cause in a Hard Reset (RFC 8538)', () => {
    const h = hardResetNotification(shutdownNotification('x', 4));
    expect([h.code, h.subcode, Array.from(h.data)]).toEqual([6, 9, [6, 4, 1, 0x78]]);
    expect([isHardReset(h), isHardReset(n(6, 4)), isHardReset(n(3, 9))]).toEqual([true, false, false]);
  });

  it('round-trips through the wire and the framer', () => {
    const wire = encodeNotification(n(3, 1, [1, 2, 3]));
    expect(wire.toString('hex')).toBe(`${'ff'.repeat(16)}0018030301010203`);
    const [f] = new Framer().push(wire);
    expect(decodeMessage(f!, codecOptions())).toEqual({ type: 'notification', code: 3, subcode: 1, data: Uint8Array.of(1, 2, 3) });
    expect(decodeNotification(body(encodeNotification(n(6, 2))))).toMatchObject({ code: 6, subcode: 2 });
    // data that would not fit is cut to the message size
    expect(encodeNotification(n(3, 9, new Uint8Array(5000))).length).toBe(4096);
  });
});

describe('KEEPALIVE and ROUTE-REFRESH', () => {
  it('KEEPALIVE is the bare header', () => {
    const k = encodeKeepalive();
    expect(k.toString('hex')).toBe(`${'ff'.repeat(16)}001304`);
    expect(decodeMessage(new Framer().push(k)[0]!, codecOptions())).toEqual({ type: 'keepalive' });
  });

  it('ROUTE-REFRESH round-trips with every subtype (RFC 2918, RFC 7313)', () => {
    for (const subtype of [0, 1, 2]) {
      const w = encodeRouteRefresh({ afi: 2, safi: 1, subtype });
      expect(w.length).toBe(23);
      expect(decodeMessage(new Framer().push(w)[0]!, codecOptions())).toEqual({ type: 'route-refresh', afi: 2, safi: 1, subtype });
    }
  });

  it('a ROUTE-REFRESH of the wrong length resets with the whole message as data; an unknown subtype is ignored', () => {
    const raw = hex(`${'ff'.repeat(16)} 0018 05 0001 0001 00`);
    try {
      decodeMessage(new Framer().push(raw)[0]!, codecOptions());
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BgpError);
      expect((e as BgpError).notification).toEqual({ code: 7, subcode: 1, data: Uint8Array.from(raw) });
    }
    const r = decodeRouteRefresh(hex('0001 07 01'));
    expect(r).toBeInstanceOf(BgpError);
    expect((r as BgpError).action).toBe('ignore');
  });
});
