import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPrefix, parsePrefix, prefix4, prefix4Address, prefix4Length, prefix6, prefix6Bytes, prefix6Length, prefixFamily } from '../src/net/prefix.js';

describe('compact prefixes', () => {
  it('IPv4 is an integer: address * 64 + length, host bits cleared', () => {
    expect(prefix4(0x0a000001, 24)).toBe(0x0a000000 * 64 + 24);
    expect(prefix4(0xffffffff, 32)).toBe(0xffffffff * 64 + 32);
    expect(prefix4(0xffffffff, 0)).toBe(0);
    expect(formatPrefix(prefix4(0xc0a80180, 25))).toBe('192.168.1.128/25');
  });
  it('IPv6 is a 17-character string', () => {
    const p = parsePrefix('fd00:1::/64')!;
    expect(typeof p).toBe('string');
    expect((p as string).length).toBe(17);
    expect(prefix6Length(p as string)).toBe(64);
    expect(formatPrefix(p)).toBe('fd00:1::/64');
    expect(parsePrefix('fd00:1::1/64')).toBeUndefined();
    expect(parsePrefix('fd00:1::1/64', true)).toBe(p);
  });
  it('round-trips through text for every family and length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (a, l) => {
        const p = prefix4(a, l);
        expect(prefixFamily(p)).toBe(4);
        expect(prefix4Length(p)).toBe(l);
        expect(parsePrefix(formatPrefix(p))).toBe(p);
        expect(prefix4(prefix4Address(p), l)).toBe(p);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }), (b, l) => {
        const p = prefix6(b, l);
        expect(prefixFamily(p)).toBe(6);
        expect(parsePrefix(formatPrefix(p))).toBe(p);
        expect(prefix6(prefix6Bytes(p), l)).toBe(p);
      }),
    );
  });
});
