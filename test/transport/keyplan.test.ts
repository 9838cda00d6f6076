// The TCP-MD5 key plan: exact under longest-prefix match, never covers a password-less peer,
// and small — checked against the plan's own lookup, random inputs and a brute-force optimum.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KeyNeedPeer, type KeyNeedRange, type Md5Key, lookupKey, planKeys } from '../../src/bgp/transport/keyplan.js';
import { numberToIPv4, parseCidr } from '../../src/net/ip.js';

const v4 = (base: string, i: number) => numberToIPv4(((base.split('.').reduce((n, o) => n * 256 + Number(o), 0)) + i) >>> 0);
const cidr = (s: string) => parseCidr(s)!;

function check(peers: KeyNeedPeer[], keys: Md5Key[], samples: [string, string | undefined][] = []): void {
  for (const p of peers) expect(lookupKey(keys, p.address)?.password, p.address).toBe(p.password);
  for (const [a, pw] of samples) expect(lookupKey(keys, a)?.password, a).toBe(pw);
}

function inCidr(r: KeyNeedRange, a: string): boolean {
  const k: Md5Key = { family: r.cidr.family, address: [...r.cidr.bytes].join('.'), length: r.cidr.length, password: 'x', prefix: true };
  return r.cidr.family === 4 && lookupKey([k], a) !== undefined;
}

describe('planKeys', () => {
  it('covers 1,000 peers sharing a password with one prefix key (one key per peer would be 1,000)', () => {
    const peers = Array.from({ length: 1000 }, (_, i) => ({ address: v4('10.1.0.0', i), password: 'mesh' }));
    const plan = planKeys(peers, []);
    expect(plan.keys).toEqual([{ family: 4, address: '10.1.0.0', length: 22, password: 'mesh', prefix: true }]);
    expect(plan.naiveKeys).toBe(1000);
    check(peers, plan.keys);
    expect(plan.keyOf.get('10.1.3.231')).toBe(plan.keys[0]);
  });

  it('puts a /32 exception with another password inside the covering prefix', () => {
    const peers = Array.from({ length: 200 }, (_, i) => ({ address: v4('10.2.0.1', i), password: i === 77 ? 'special' : 'mesh' }));
    const plan = planKeys(peers, []);
    expect(plan.keys).toHaveLength(2);
    expect(plan.keys).toContainEqual({ family: 4, address: '10.2.0.78', length: 32, password: 'special', prefix: false });
    check(peers, plan.keys);
  });

  it('never covers a peer without a password: the prefix is split around it', () => {
    const peers = Array.from({ length: 256 }, (_, i) => ({ address: v4('10.3.0.0', i), password: i === 100 ? undefined : 'mesh' }));
    const plan = planKeys(peers, []);
    expect(lookupKey(plan.keys, '10.3.0.100')).toBeUndefined();
    expect(plan.keyOf.has('10.3.0.100')).toBe(false);
    check(peers, plan.keys);
    // 10.3.0.0/24 minus one address is 8 prefixes
    expect(plan.keys).toHaveLength(8);
  });

  it('gives a listen range one prefix key, and peers inside it with other passwords exceptions', () => {
    const ranges = [{ cidr: cidr('10.4.0.0/16'), password: 'dyn' }];
    const peers = [
      { address: '10.4.1.1', password: 'own' },
      { address: '10.4.1.2', password: 'dyn' },
    ];
    const plan = planKeys(peers, ranges);
    expect(plan.keys).toHaveLength(2);
    expect(plan.keys).toContainEqual({ family: 4, address: '10.4.0.0', length: 16, password: 'dyn', prefix: true });
    check(peers, plan.keys, [['10.4.0.9', 'dyn'], ['10.4.255.255', 'dyn'], ['10.4.1.3', 'dyn'], ['10.5.0.0', undefined]]);
    expect(plan.naiveKeys).toBe(3);
  });

  it('splits a password-carrying listen range around a peer that has no password', () => {
    const ranges = [{ cidr: cidr('10.5.0.0/24'), password: 'dyn' }];
    const peers = [{ address: '10.5.0.9', password: undefined }];
    const plan = planKeys(peers, ranges);
    expect(lookupKey(plan.keys, '10.5.0.9')).toBeUndefined();
    expect(plan.keys).toHaveLength(8);
    for (let i = 0; i < 256; i++) if (i !== 9) expect(lookupKey(plan.keys, `10.5.0.${i}`)?.password).toBe('dyn');
    expect(lookupKey(plan.keys, '10.5.1.0')).toBeUndefined();
  });

  it('a listen range without a password gets no key; its peers with passwords get their own', () => {
    const ranges = [{ cidr: cidr('10.6.0.0/16'), password: undefined }];
    const peers = [
      { address: '10.6.0.1', password: 'a' },
      { address: '10.6.0.2', password: 'a' },
    ];
    const plan = planKeys(peers, ranges);
    expect(plan.keys.map((k) => `${k.address}/${k.length}`).sort()).toEqual(['10.6.0.1/32', '10.6.0.2/32']);
    expect(lookupKey(plan.keys, '10.6.0.3')).toBeUndefined();
  });

  it('handles IPv6 peers and ranges, and distinct passwords as one key each', () => {
    const peers = Array.from({ length: 50 }, (_, i) => ({ address: `fd00:1::${(i + 1).toString(16)}`, password: `p${i}` }));
    const ranges = [{ cidr: cidr('fd00:2::/64'), password: 'dyn' }];
    const plan = planKeys(peers, ranges);
    expect(plan.keys).toHaveLength(51);
    for (const p of peers) expect(lookupKey(plan.keys, p.address)?.password).toBe(p.password);
    expect(lookupKey(plan.keys, 'fd00:2::1234')?.password).toBe('dyn');
    expect(lookupKey(plan.keys, 'fd00:3::1')).toBeUndefined();
  });

  it('property: every peer and every range address gets exactly its password; never more keys than one per peer', () => {
    const pw = fc.constantFrom<string | undefined>('a', 'b', 'c', undefined);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 1023 }), { minLength: 1, maxLength: 120 }),
        fc.array(pw, { minLength: 120, maxLength: 120 }),
        fc.array(fc.record({ base: fc.integer({ min: 0, max: 1023 }), len: fc.integer({ min: 24, max: 32 }) }), { maxLength: 3 }),
        pw,
        (hosts, pws, rs, rangePw) => {
          const peers = hosts.map((h, i) => ({ address: v4('10.9.0.0', h), password: pws[i] }));
          const ranges = rs.map((r) => {
            const n = (10 * 2 ** 24 + 9 * 2 ** 16 + r.base) >>> 0;
            const masked = r.len === 32 ? n : n - (n % 2 ** (32 - r.len));
            return { cidr: cidr(`${numberToIPv4(masked)}/${r.len}`), password: rangePw };
          });
          const plan = planKeys(peers, ranges);
          for (const p of peers) if (lookupKey(plan.keys, p.address)?.password !== p.password) return false;
          for (let h = 0; h < 1024; h++) {
            const a = v4('10.9.0.0', h);
            if (peers.some((p) => p.address === a)) continue;
            if (ranges.some((r) => inCidr(r, a)) && lookupKey(plan.keys, a)?.password !== rangePw) return false;
          }
          // no key covers a peer that has no password
          for (const p of peers) if (p.password === undefined && lookupKey(plan.keys, p.address)) return false;
          return plan.keys.length <= plan.naiveKeys + ranges.length * 32 * peers.filter((p) => !p.password).length;
        },
      ),
      { numRuns: 150 },
    );
  });

  it('property: optimal on small address spaces (brute force over all key sets up to the plan size)', () => {
    // addresses 10.0.0.0/29; candidate keys: the 15 prefixes /29../32 inside it, each with a or b
    const prefixes: { address: string; length: number }[] = [];
    for (let len = 29; len <= 32; len++) for (let i = 0; i < 8; i += 2 ** (32 - len)) prefixes.push({ address: `10.0.0.${i}`, length: len });
    const candidates: Md5Key[] = prefixes.flatMap((p) => ['a', 'b'].map((password) => ({ family: 4 as const, ...p, password, prefix: p.length < 32 })));
    const valid = (peers: KeyNeedPeer[], keys: Md5Key[]) => peers.every((p) => lookupKey(keys, p.address)?.password === p.password);
    const existsSmaller = (peers: KeyNeedPeer[], size: number): boolean => {
      const pick = (start: number, chosen: Md5Key[]): boolean => {
        if (valid(peers, chosen)) return true;
        if (chosen.length === size) return false;
        for (let i = start; i < candidates.length; i++) {
          const c = candidates[i]!;
          if (chosen.some((k) => k.address === c.address && k.length === c.length)) continue;
          if (pick(i + 1, [...chosen, c])) return true;
        }
        return false;
      };
      return pick(0, []);
    };
    fc.assert(
      fc.property(fc.array(fc.constantFrom<string | undefined | null>('a', 'b', undefined, null), { minLength: 8, maxLength: 8 }), (need) => {
        const peers = need.flatMap((p, i) => (p === null ? [] : [{ address: `10.0.0.${i}`, password: p }]));
        const plan = planKeys(peers, []);
        if (!valid(peers, plan.keys)) return false;
        if (plan.keys.length === 0) return true;
        return plan.keys.length > 4 || !existsSmaller(peers, plan.keys.length - 1);
      }),
      { numRuns: 120 },
    );
  });

  it('plans thousands of peers with distinct passwords quickly enough to re-plan on every change', () => {
    const peers = Array.from({ length: 5000 }, (_, i) => ({ address: v4('10.20.0.1', i), password: `pw${i}` }));
    const plan = planKeys(peers, [{ cidr: cidr('10.20.0.0/16'), password: 'dyn' }]);
    expect(plan.keys).toHaveLength(5001);
    check(peers.filter((_, i) => i % 97 === 0), plan.keys, [['10.20.255.255', 'dyn']]);
  });
});
