// parseIPv4 (src/net/ip.ts) by hand: exactly the dotted quads node:net's isIPv4 accepts, with
// their bytes, and nothing else.
import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipv4ToNumber, parseIPv4 } from '../src/net/ip.js';

const reference = (s: string): number[] | undefined => (isIPv4(s) ? s.split('.').map(Number) : undefined);
const parsed = (s: string): number[] | undefined => {
  const b = parseIPv4(s);
  return b && [...b];
};

describe('parseIPv4', () => {
  it('accepts and refuses as isIPv4 does, on edge cases', () => {
    const cases = ['0.0.0.0', '255.255.255.255', '10.0.0.3', '1.2.3.4', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '1.2.3.0', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', 'a.b.c.d', '', '::1', '1.2.3.4/32', '999.1.1.1', '1.2.3.255', '1.2.3.256', '100.64.0.1', '00.0.0.0', '0.0.0.00'];
    for (const s of cases) expect(parsed(s), s).toEqual(reference(s));
    expect(ipv4ToNumber('10.0.0.3')).toBe(0x0a000003);
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
  });

  it('agrees with isIPv4 on random dotted strings', () => {
    const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.stringMatching(/^[0-9]{0,4}$/), fc.constantFrom('', '-1', 'x', ' 1'));
    fc.assert(
      fc.property(fc.array(octet, { minLength: 1, maxLength: 6 }), (parts) => {
        const s = parts.join('.');
        expect(parsed(s)).toEqual(reference(s));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 16 }), (s) => {
        expect(parsed(s)).toEqual(reference(s));
      }),
      { numRuns: 5000 },
    );
  });
});
