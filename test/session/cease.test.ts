// The Ceases the agent asks a session to send, and the one rule that wraps them in a Hard
// Reset (src/bgp/session/cease.ts) — without sockets.
import { describe, expect, it } from 'vitest';
import { describeNotification, encodeNotification, NotificationCode } from '../../src/bgp/codec/index.js';
import { cease, ceaseOnWire, type Cease } from '../../src/bgp/session/cease.js';

const hex = (c: Cease): string => Buffer.from(c.data ?? []).toString('hex');
const words = (c: Cease): string => describeNotification({ code: NotificationCode.Cease, subcode: c.subcode, data: c.data ?? new Uint8Array(0) });

describe('Cease', () => {
  it('maximum prefixes: Cease subcode 1 with the RFC 4486 data (AFI, SAFI, limit)', () => {
    const c = cease.maxPrefixes(4, 2);
    expect(c.subcode).toBe(1);
    expect(hex(c)).toBe('00010100000002');
    expect(hex(cease.maxPrefixes(6, 70000))).toBe('00020100011170');
    expect(words(cease.maxPrefixes(4, 10000))).toBe('Cease/Maximum Number of Prefixes Reached (AFI 1 SAFI 1, limit 10000)');
  });

  it('shutdown, reset and de-configured carry an RFC 9003 message; a configuration change none', () => {
    expect([cease.shutdown('bye').subcode, hex(cease.shutdown('bye'))]).toEqual([2, '03627965']);
    expect(words(cease.reset('routelet SIGTERM (graceful restart)'))).toBe('Cease/Administrative Reset: "routelet SIGTERM (graceful restart)"');
    expect(words(cease.deconfigured('gone'))).toBe('Cease/Peer De-configured (data 04676f6e65)');
    expect(cease.configurationChange()).toEqual({ subcode: 6 });
    // at most 255 octets, cut at a character boundary
    expect(cease.shutdown('é'.repeat(200)).data![0]).toBe(254);
  });

  it('is wrapped in a Hard Reset with the N-bit for the subcodes RFC 8538 §5 names, and only then', () => {
    const max = cease.maxPrefixes(4, 2);
    expect(ceaseOnWire(max, false)).toBe(max);
    const hard = ceaseOnWire(max, true);
    expect([hard.subcode, hex(hard)]).toEqual([9, '060100010100000002']);
    const gone = ceaseOnWire(cease.deconfigured('x'), true);
    expect([gone.subcode, hex(gone)]).toEqual([9, '06030178']);
    expect(words(gone)).toBe('Cease/Hard Reset (Cease/Peer De-configured (data 0178))');
    expect(ceaseOnWire(cease.shutdown('x'), true).subcode).toBe(9);
    // Administrative Reset keeps graceful restart; so do the others
    expect(ceaseOnWire(cease.reset('x'), true).subcode).toBe(4);
    expect(ceaseOnWire(cease.configurationChange(), true)).toEqual({ subcode: 6 });
    // the wrapped Cease fits a NOTIFICATION as is
    expect(encodeNotification({ code: NotificationCode.Cease, ...hard }).toString('hex').slice(38)).toBe('0609060100010100000002');
  });
});
