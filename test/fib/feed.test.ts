// The FIB as the RIB's sink (src/fib/feed.ts): RIB changes become set/remove on the FIB, next
// hops on a connected subnet carry their device, next-hop sets are interned once per list,
// and a change the FIB refuses is logged once per reason and never thrown.
import { describe, expect, it } from 'vitest';
import { ConnectedDevices } from '../../src/fib/devices.js';
import { RouteFeed, type RouteSink } from '../../src/fib/feed.js';
import type { NexthopSet } from '../../src/fib/nexthops.js';
import type { Family, Hop } from '../../src/native/netlink.js';
import { parseCidr } from '../../src/net/ip.js';
import { parsePrefix, type Prefix } from '../../src/net/prefix.js';
import type { Logger } from '../../src/log.js';

const P = (s: string): Prefix => parsePrefix(s)!;

function recordingSink(refuse?: (p: Prefix) => string | undefined) {
  const sets: { family: Family; hops: readonly Hop[] }[] = [];
  const ops: [string, Prefix, NexthopSet?][] = [];
  const sink: RouteSink = {
    nexthopSet(family, hops) {
      sets.push({ family, hops });
      return { handle: sets.length, family, hops, key: `k${sets.length}` } as unknown as NexthopSet;
    },
    set(prefix, nexthops) {
      const why = refuse?.(prefix);
      if (why) throw new RangeError(why);
      ops.push(['set', prefix, nexthops]);
    },
    remove(prefix) {
      ops.push(['remove', prefix]);
    },
  };
  return { sink, sets, ops };
}

const devices = () => new ConnectedDevices({ read: () => [{ cidr: parseCidr('10.0.0.1/24', true)!, ifindex: 7 }] });

describe('RouteFeed', () => {
  it('sets prefixes with next hops, removes those with none; a connected next hop names its device', () => {
    const { sink, sets, ops } = recordingSink();
    const feed = new RouteFeed(sink, undefined, devices());
    feed.apply([
      { prefix: P('10.1.0.0/24'), nextHops: [{ address: '10.0.0.2' }, { address: '192.0.2.1' }] },
      { prefix: P('10.2.0.0/24'), nextHops: null },
      { prefix: P('10.3.0.0/24'), nextHops: [] },
    ]);
    expect(sets).toEqual([{ family: 4, hops: [{ gateway: '10.0.0.2', ifindex: 7 }, { gateway: '192.0.2.1' }] }]);
    expect(ops.map(([op, p]) => [op, p])).toEqual([
      ['set', P('10.1.0.0/24')],
      ['remove', P('10.2.0.0/24')],
      ['remove', P('10.3.0.0/24')],
    ]);
  });

  it('interns one next-hop set per distinct list of next hops and family', () => {
    const { sink, sets, ops } = recordingSink();
    const feed = new RouteFeed(sink, undefined, devices());
    const hops = [{ address: '10.0.0.2' }];
    feed.apply([
      { prefix: P('10.1.0.0/24'), nextHops: hops },
      { prefix: P('10.2.0.0/24'), nextHops: [{ address: '10.0.0.2' }] },
      { prefix: P('10.3.0.0/24'), nextHops: [{ address: '10.0.0.3' }] },
    ]);
    expect(sets).toHaveLength(2);
    expect(ops[0]![2]).toBe(ops[1]![2]);
    expect(ops[2]![2]).not.toBe(ops[0]![2]);
  });

  it('a refused change is logged once per reason, not thrown, and the others still apply', () => {
    const errors: string[] = [];
    const log = { error: (_: unknown, msg: string) => errors.push(msg) } as unknown as Logger;
    const { sink, ops } = recordingSink((p) => (p === P('10.9.0.0/24') || p === P('10.9.1.0/24') ? 'refused here' : undefined));
    const feed = new RouteFeed(sink, log, devices());
    expect(() =>
      feed.apply([
        { prefix: P('10.9.0.0/24'), nextHops: [{ address: '10.0.0.2' }] },
        { prefix: P('10.9.1.0/24'), nextHops: [{ address: '10.0.0.2' }] },
        { prefix: P('10.1.0.0/24'), nextHops: [{ address: '10.0.0.2' }] },
      ]),
    ).not.toThrow();
    expect(errors).toEqual(['a route could not be given to the kernel: refused here']);
    expect(ops.map(([op, p]) => [op, p])).toEqual([['set', P('10.1.0.0/24')]]);
  });
});
