// Listener members and the BPF program that picks them: every key on the member its peer's
// SYNs reach, GTSM peers on members with their minimum TTL, listen ranges never on a member
// with one — and the generated program computes exactly the planned map.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CBPF_MAX_INSNS, selectorProgram } from '../../src/bgp/transport/cbpf.js';
import { planKeys } from '../../src/bgp/transport/keyplan.js';
import { type ShardPeer, layoutShards, shardFor } from '../../src/bgp/transport/shards.js';
import { numberToIPv4, parseCidr, parseIP } from '../../src/net/ip.js';
import { ipHeader, runSelector } from './cbpf-interp.js';

const v4 = (n: number) => numberToIPv4(n >>> 0);
const BASE = (10 << 24) >>> 0;

function layout(peers: (ShardPeer & { password?: string })[], ranges: string[], capacity: number, maxShards = 64, headroom = 0.1) {
  const cidrs = ranges.map((r) => parseCidr(r)!);
  const plan = planKeys(peers, cidrs.map((cidr) => ({ cidr, password: 'dyn' })));
  return { plan, l: layoutShards({ plan, peers, ranges: cidrs, capacity, headroom, maxShards }) };
}

describe('layoutShards', () => {
  it('one member when the keys fit, whatever the number of peers sharing a password', () => {
    const peers = Array.from({ length: 3000 }, (_, i) => ({ address: v4(BASE + i), minTtl: 0, password: 'mesh' }));
    const { l } = layout(peers, [], 963);
    expect(l.shards).toHaveLength(1);
    expect(l.shards[0]!.keys).toHaveLength(1);
    expect(l.segments[4]).toEqual([]);
  });

  it('spreads distinct passwords over members of at most capacity × (1 − headroom) keys, each key once', () => {
    const peers = Array.from({ length: 2000 }, (_, i) => ({ address: v4(BASE + i * 3), minTtl: 0, password: `p${i}` }));
    const { l } = layout(peers, [], 963);
    expect(l.shards).toHaveLength(3);
    for (const s of l.shards) expect(s.keys.length).toBeLessThanOrEqual(Math.floor(963 * 0.9));
    expect(l.shards.reduce((n, s) => n + s.keys.length, 0)).toBe(2000);
    for (const p of peers) {
      const s = shardFor(l.segments, p.address);
      expect(l.shards[s]!.keys.some((k) => k.address === p.address)).toBe(true);
    }
    // at 20 KiB of option memory (150 keys a socket): 15 members
    expect(layout(peers, [], 150).l.shards).toHaveLength(15);
  });

  it('prefix keys are on every member', () => {
    const peers = [
      ...Array.from({ length: 100 }, (_, i) => ({ address: v4(BASE + i), minTtl: 0, password: 'mesh' })),
      ...Array.from({ length: 100 }, (_, i) => ({ address: v4(BASE + 0x10000 + i * 2), minTtl: 0, password: `p${i}` })),
    ];
    const { l } = layout(peers, [], 40);
    expect(l.shards.length).toBeGreaterThan(2);
    for (const s of l.shards) expect(s.keys.filter((k) => k.prefix).map((k) => `${k.address}/${k.length}`)).toContain('10.0.0.0/25');
  });

  it('GTSM peers get members with their minimum TTL; range addresses between them stay on a member without one', () => {
    const peers: ShardPeer[] = [
      { address: '10.0.0.1', minTtl: 255 },
      { address: '10.0.0.9', minTtl: 255 },
      { address: '10.0.0.5', minTtl: 0 },
      { address: '10.0.1.1', minTtl: 254 },
      { address: 'fd00::1', minTtl: 255 },
    ];
    const { l } = layout(peers, ['10.0.0.6/31'], Infinity);
    const at = (a: string) => l.shards[shardFor(l.segments, a)]!;
    expect(at('10.0.0.1').minTtl).toBe(255);
    expect(at('10.0.0.9').minTtl).toBe(255);
    expect(at('10.0.0.5').minTtl).toBe(0);
    expect(at('10.0.1.1').minTtl).toBe(254);
    expect(at('fd00::1').minTtl).toBe(255);
    expect(at('10.0.0.6').minTtl).toBe(0);
    expect(at('10.0.0.7').minTtl).toBe(0);
    expect(at('192.168.1.1').minTtl).toBe(0);
    expect(at('fd00::2').minTtl).toBe(0);
    expect(l.shards[0]!.minTtl).toBe(0);
  });

  it('with maxShards 1 everything stays on one socket (the kernel then refuses what does not fit)', () => {
    const peers = Array.from({ length: 2000 }, (_, i) => ({ address: v4(BASE + i), minTtl: i === 5 ? 255 : 0, password: `p${i}` }));
    const { l } = layout(peers, [], 963, 1);
    expect(l.shards).toHaveLength(1);
    expect(l.shards[0]!.keys).toHaveLength(2000);
    expect(l.gtsmOnAcceptOnly).toEqual(['10.0.0.5']);
  });
});

describe('selectorProgram', () => {
  const check = (segments: ReturnType<typeof layoutShards>['segments'], addresses: string[]) => {
    const prog = selectorProgram(segments);
    expect(prog.length).toBeLessThanOrEqual(CBPF_MAX_INSNS);
    for (const a of addresses) expect(runSelector(prog, ipHeader(parseIP(a)!.bytes)), a).toBe(shardFor(segments, a));
    return prog;
  };

  it('computes the planned member for IPv4 and IPv6 sources, and 0 when nothing is routed', () => {
    expect(runSelector(selectorProgram({ 4: [], 6: [] }), ipHeader(parseIP('10.0.0.1')!.bytes))).toBe(0);
    const peers = [
      ...Array.from({ length: 300 }, (_, i) => ({ address: v4(BASE + i * 7), minTtl: i % 3 === 0 ? 255 : 0, password: `p${i}` })),
      ...Array.from({ length: 300 }, (_, i) => ({ address: `fd00:${(i % 5).toString(16)}::${(i * 11).toString(16)}`, minTtl: i % 4 === 0 ? 254 : 0, password: `q${i}` })),
    ];
    const { l } = layout(peers, ['10.0.2.0/24', 'fd00:2::/64'], 100);
    expect(l.shards.length).toBeGreaterThan(4);
    const prog = check(l.segments, [...peers.map((p) => p.address), '10.0.2.5', '9.255.255.255', '255.255.255.255', '0.0.0.0', 'fd00:2::1', '::', 'ffff::1']);
    expect(prog.length).toBeGreaterThan(100); // long enough to need far jumps
  });

  it('property: the program equals the segment lookup on random segments and addresses', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat({ max: 0xffffffff }), { maxLength: 200 }),
        fc.uniqueArray(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), { maxLength: 60 }),
        fc.array(fc.nat({ max: 0xffffffff }), { minLength: 20, maxLength: 20 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), { minLength: 20, maxLength: 20 }),
        (starts4, starts6, probes4, probes6) => {
          const seg4 = [...starts4].sort((a, b) => a - b).map((s, i) => ({ start: BigInt(s), shard: (i * 7) % 5 }));
          const seg6 = [...starts6].sort((a, b) => (a < b ? -1 : 1)).map((s, i) => ({ start: s, shard: (i * 3) % 4 }));
          const prog = selectorProgram({ 4: seg4, 6: seg6 });
          const hex = (v: bigint) => v.toString(16).padStart(32, '0').match(/.{4}/g)!.join(':');
          const addrs = [
            ...probes4.map(v4),
            ...starts4.flatMap((s) => [v4(s), v4(Math.max(0, s - 1))]),
            ...probes6.map(hex),
            ...starts6.flatMap((s) => [hex(s), hex(s > 0n ? s - 1n : 0n)]),
          ];
          return addrs.every((a) => runSelector(prog, ipHeader(parseIP(a)!.bytes)) === shardFor({ 4: seg4, 6: seg6 }, a));
        },
      ),
      { numRuns: 60 },
    );
  });
});
