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

/** ConnectedDevices over a host whose interfaces change when the test says, counting lookups. */
function changingDevices(initial: number) {
  const host = { generation: 0, list: () => [] };
  let ifindex = initial;
  const d = new ConnectedDevices({ host: host as never, read: () => [{ cidr: parseCidr('10.0.0.1/24', true)!, ifindex }] });
  let lookups = 0;
  const deviceFor = d.deviceFor.bind(d);
  d.deviceFor = (a: string) => (lookups++, deviceFor(a));
  return {
    devices: d,
    lookups: () => lookups,
    move(to: number) {
      ifindex = to;
      host.generation++;
    },
  };
}

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
  it('finds the set of a frozen list (the RIB\'s, one per attribute set) without looking it up again, until the interfaces change', () => {
    const { sink, sets, ops } = recordingSink();
    const dev = changingDevices(7);
    const feed = new RouteFeed(sink, undefined, dev.devices);
    const shared = Object.freeze([Object.freeze({ address: '10.0.0.2' })]);
    const at = (k: number) => P(`10.${100 + (k >> 8)}.${k & 255}.0/24`);
    feed.apply(Array.from({ length: 1000 }, (_, k) => ({ prefix: at(k), nextHops: shared })));
    expect(dev.lookups()).toBe(2); // the first change's (its key, then its hop); none for the 999 after it
    expect(sets).toEqual([{ family: 4, hops: [{ gateway: '10.0.0.2', ifindex: 7 }] }]);
    expect(new Set(ops.map(([, , s]) => s)).size).toBe(1);
    // the subnet moves to another device: the same list now means another set
    dev.move(9);
    feed.apply([{ prefix: at(1000), nextHops: shared }]);
    expect(sets[1]).toEqual({ family: 4, hops: [{ gateway: '10.0.0.2', ifindex: 9 }] });
    expect(ops.at(-1)![2]).not.toBe(ops[0]![2]);
    // a list that is not frozen (made for one route) is looked up each time, with the same set
    const before = dev.lookups();
    feed.apply([1001, 1002].map((k) => ({ prefix: at(k), nextHops: [{ address: '10.0.0.2' }] })));
    expect(dev.lookups()).toBe(before + 2);
    expect(ops.at(-1)![2]).toBe(ops.at(-3)![2]);
    expect(sets).toHaveLength(2);
  });
});
