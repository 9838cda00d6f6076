// Next-hop sets: interning, reference counts deciding definition and release, ECMP groups,
// adoption of an earlier run's kernel objects; and the words of refusal reasons. No kernel.
import { describe, expect, it } from 'vitest';
import { canonicalHops, hopsMatch, NexthopTable, type NexthopSink } from '../../src/fib/nexthops.js';
import { describeRefusal } from '../../src/fib/reasons.js';
import type { Family, Hop } from '../../src/native/netlink.js';

class Recorder implements NexthopSink {
  log: string[] = [];
  defineNexthop(handle: number, family: Family, hop: Hop): void {
    this.log.push(`define ${handle} v${family} ${hop.gateway ?? '-'}%${hop.ifindex ?? 0}`);
  }
  defineGroup(handle: number, _family: Family, members: readonly { handle: number; weight?: number }[]): void {
    this.log.push(`group ${handle} ${members.map((m) => `${m.handle}*${m.weight}`).join(',')}`);
  }
  releaseNexthop(handle: number): void {
    this.log.push(`release ${handle}`);
  }
}

describe('next-hop sets', () => {
  it('interns equal sets once, whatever the order or spelling of the hops', () => {
    const t = new NexthopTable(new Recorder(), 8);
    const a = t.intern(6, [{ gateway: 'fd00::2' }, { gateway: 'fd00::3', ifindex: 4 }]);
    const b = t.intern(6, [{ gateway: 'fd00:0:0::3', ifindex: 4 }, { gateway: 'FD00::2' }]);
    expect(b).toBe(a);
    expect(t.intern(4, [{ gateway: '10.0.0.1' }])).not.toBe(t.intern(4, [{ gateway: '10.0.0.1', onlink: true }]));
  });

  it('defines a handle on first use and releases it once unused, groups before their members', () => {
    const r = new Recorder();
    const t = new NexthopTable(r, 8);
    const g = t.intern(4, [{ gateway: '10.0.0.2', ifindex: 3 }, { gateway: '10.0.0.1', ifindex: 3, weight: 5 }]);
    expect(r.log).toEqual([]);
    t.ref(g.handle);
    t.ref(g.handle);
    // members (sorted by address) first, then the group with their weights
    const [m1, m2] = [t.intern(4, [{ gateway: '10.0.0.1', ifindex: 3 }]), t.intern(4, [{ gateway: '10.0.0.2', ifindex: 3 }])];
    expect(r.log).toEqual([`define ${m1.handle} v4 10.0.0.1%3`, `define ${m2.handle} v4 10.0.0.2%3`, `group ${g.handle} ${m1.handle}*5,${m2.handle}*1`]);
    t.unref(g.handle);
    expect(t.releaseUnused()).toBe(0);
    const [gh, m1h, m2h] = [g.handle, m1.handle, m2.handle];
    t.unref(gh);
    r.log = [];
    expect(t.releaseUnused()).toBe(3);
    expect(r.log[0]).toBe(`release ${gh}`);
    expect(r.log.slice(1).sort()).toEqual([`release ${m1h}`, `release ${m2h}`].sort());
    expect(g.handle).toBe(0);
    // a released set handed out earlier is interned again on next use
    const again = t.current(g);
    expect(again.handle).toBeGreaterThan(0);
    expect(again.key).toBe(g.key);
  });

  it('trims ECMP sets to the configured number of paths', () => {
    const hops = [1, 2, 3, 4].map((i) => ({ gateway: `10.0.0.${i}` }));
    expect(canonicalHops(hops, 2).map((h) => h.gateway)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(new NexthopTable(new Recorder(), 3).intern(4, hops).hops).toHaveLength(3);
  });

  it('refuses hops that cannot make a route, with a clear error', () => {
    const t = new NexthopTable(new Recorder(), 8);
    expect(() => t.intern(4, [])).toThrow(RangeError);
    expect(() => t.intern(4, [{ gateway: 'not-an-address' }])).toThrow(/IP address/);
    expect(() => t.intern(6, [{ gateway: '10.0.0.1' }])).toThrow(/IPv6 route cannot use the IPv4 gateway/);
    expect(() => t.intern(4, [{}])).toThrow(/gateway, a device/);
    expect(() => t.intern(4, [{ gateway: '10.0.0.1', weight: 0 }])).toThrow(/weight/);
  });

  it('adopts kernel objects of an earlier run under their ids and never hands those ids out again', () => {
    const r = new Recorder();
    const t = new NexthopTable(r, 8);
    const base = 201 * 2 ** 24;
    const adopted = t.adoptObjects(
      [
        { id: base + 3, family: 4, protocol: 201, kind: 'single', gateway: '10.0.0.1', ifindex: 3, onlink: false, members: [] },
        { id: base + 4, family: 4, protocol: 201, kind: 'single', gateway: '10.0.0.2', ifindex: 3, onlink: false, members: [] },
        { id: base + 9, family: 0, protocol: 201, kind: 'group', ifindex: 0, onlink: false, members: [{ id: base + 3, weight: 1 }, { id: base + 4, weight: 2 }] },
        { id: base + 5, family: 4, protocol: 99, kind: 'single', gateway: '10.0.0.7', ifindex: 3, onlink: false, members: [] },
        { id: 12, family: 4, protocol: 201, kind: 'single', gateway: '10.0.0.8', ifindex: 3, onlink: false, members: [] },
      ],
      base,
      201,
    );
    expect([...adopted.keys()].sort()).toEqual([base + 3, base + 4, base + 9]);
    // redefined in this run's queue with the same content, singles before the group
    expect(r.log).toEqual(['define 3 v4 10.0.0.1%3', 'define 4 v4 10.0.0.2%3', 'group 9 3*1,4*2']);
    expect(t.intern(4, [{ gateway: '10.0.0.1', ifindex: 3 }]).handle).toBe(3);
    expect(t.isAdoptedObject(9)).toBe(true);
    const fresh = [1, 2, 3, 4, 5, 6].map((i) => t.intern(4, [{ gateway: `10.1.0.${i}` }]).handle);
    expect(fresh).not.toContain(3);
    expect(fresh).not.toContain(4);
    expect(fresh).not.toContain(9);
    expect(new Set(fresh).size).toBe(6);
  });

  it('matches kernel hops loosely where the set leaves the device to the kernel', () => {
    const t = new NexthopTable(new Recorder(), 8);
    const s = t.intern(4, [{ gateway: '10.0.0.1' }, { gateway: '10.0.0.2', weight: 2 }]);
    const k = (gateway: string, ifindex: number, weight: number) => ({ gateway, ifindex, weight, onlink: false });
    expect(hopsMatch(s, [k('10.0.0.2', 5, 2), k('10.0.0.1', 5, 1)])).toBe(true);
    expect(hopsMatch(s, [k('10.0.0.2', 5, 1), k('10.0.0.1', 5, 1)])).toBe(false);
    expect(hopsMatch(s, [k('10.0.0.1', 5, 1)])).toBe(false);
    const d = t.intern(4, [{ gateway: '10.0.0.1', ifindex: 3 }]);
    expect(hopsMatch(d, [k('10.0.0.1', 4, 1)])).toBe(false);
  });
});

describe('refusal reasons', () => {
  const r = (code: string, errno: number, message = '') => ({ code, errno, message });
  it('says what the errno means for the route, errno name first', () => {
    expect(describeRefusal(r('ENETUNREACH', 101, 'Nexthop has invalid gateway'), [{ gateway: '10.9.9.9' }])).toBe(
      'ENETUNREACH (gateway 10.9.9.9 not reachable)',
    );
    expect(describeRefusal(r('ENETDOWN', 100), [{ gateway: '10.0.0.1', ifindex: 3 }], () => 'eth1')).toBe('ENETDOWN (device eth1 is down)');
    expect(describeRefusal(r('ENODEV', 19), [{ ifindex: 7 }])).toBe('ENODEV (device #7 does not exist)');
    expect(describeRefusal(r('EINVAL', 22, 'Nexthop id does not exist'), [{ gateway: '10.0.0.1', ifindex: 3 }])).toMatch(
      /^EINVAL \(its kernel next-hop object is missing/,
    );
    expect(describeRefusal(r('EPERM', 1), [])).toBe('EPERM (not permitted: the agent needs CAP_NET_ADMIN)');
    expect(describeRefusal(r('E2BIG', 7, 'odd'), [])).toBe('E2BIG (odd)');
  });
});
