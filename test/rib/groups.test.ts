// Update groups: one encoding per group shared by every member, packing, the full table
// and End-of-RIB for a peer that comes up, route refresh, group membership.
import { describe, expect, it } from 'vitest';
import { formatPrefix, prefix4 } from '../../src/net/prefix.js';
import { attrs, harness, P } from './helpers.js';

/** Events with each run of route changes sorted (the order inside one batch is not specified). */
function runs(events: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const end = () => {
    out.push(...run.sort());
    run = [];
  };
  for (const e of events) {
    if (e.startsWith('+') || e.startsWith('-')) run.push(e);
    else {
      end();
      out.push(e);
    }
  }
  end();
  return out;
}

function clients(n: number, opts: Parameters<typeof harness>[0] = { clusterId: '10.0.0.100' }) {
  const h = harness(opts);
  const cs = Array.from({ length: n }, (_, i) => h.peer({ address: `10.0.1.${i + 1}`, asn: 65000, routeReflectorClient: true }));
  return { h, cs };
}

describe('update groups', () => {
  it('peers with the same policy and codec options get the very same Buffer objects', () => {
    const { h, cs } = clients(3);
    const [a, b, c] = cs as [never, never, never];
    for (const p of cs) h.up(p);
    h.flush();
    expect(h.rib.groupOf(a)!.members).toHaveLength(3);
    h.rib.announce(c, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.1.3' }));
    h.flush();
    const la = h.sent.get(a)!.at(-1)!;
    const lb = h.sent.get(b)!.at(-1)!;
    expect(la.length).toBeGreaterThan(0);
    expect(lb).toBe(la); // the same array…
    expect(lb[0]).toBe(la[0]); // …of the same Buffers
    expect(h.rx(a).table.get('10.65.0.0/26')?.nextHop).toBe('10.0.1.3');
  });

  it('a peer with different codec options is in another group and gets its own encoding', () => {
    const { h, cs } = clients(3);
    const [a, b, src] = cs as [never, never, never];
    h.up(a);
    h.up(b, { codecInit: { as4: false } });
    h.flush();
    expect(h.rib.groupOf(a)!.key).not.toBe(h.rib.groupOf(b)!.key);
    // from a third client (split horizon: a would not get its own route back)
    h.rib.announce(src, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.1.1', path: '4200000001' }));
    h.flush();
    const la = h.sent.get(a)!.at(-1)!;
    const lb = h.sent.get(b)!.at(-1)!;
    expect(lb).not.toBe(la);
    expect(lb[0]!.equals(la[0]!)).toBe(false); // AS_TRANS + AS4_PATH for the 2-octet peer
    expect(h.rx(b).table.get('10.65.0.0/26')!.asPath).toEqual([{ type: 2, asns: [4200000001] }]);
    expect(h.rx(a).table.get('10.65.0.0/26')!.asPath).toEqual([{ type: 2, asns: [4200000001] }]);
  });

  it('groups also split by role, families and next-hop-self address; an empty group goes away', () => {
    const h = harness({ clusterId: '10.0.0.100' });
    const c1 = h.peer({ address: '10.0.1.1', asn: 65000, routeReflectorClient: true });
    const c2 = h.peer({ address: '10.0.1.2', asn: 65000, routeReflectorClient: true });
    const c3 = h.peer({ address: '10.0.1.3', asn: 65000, routeReflectorClient: true });
    const n = h.peer({ address: '10.0.1.4', asn: 65000 });
    h.up(c1);
    h.up(c2, { families: [4] });
    h.up(c3, { localAddress: '10.0.0.254' });
    h.up(n);
    expect(new Set([c1, c2, c3, n].map((p) => h.rib.groupOf(p)!.key)).size).toBe(4);
    expect(h.rib.stats.groups).toBe(4);
    h.rib.peerDown(c2);
    expect(h.rib.stats.groups).toBe(3);
    expect(h.rib.groupOf(c2)).toBeNull();
  });

  it('an export policy makes its own group and applies to what the group is sent', () => {
    const h = harness({ clusterId: '10.0.0.100' });
    const policy = {
      name: 'no-10.66-and-tag',
      apply: (p: number | string, a: import('../../src/bgp/codec/index.js').PathAttributes) =>
        formatPrefix(p).startsWith('10.66.') ? null : attrs({ ...a, path: '', communities: [(65000 << 16) | 7] }),
    };
    const plain = h.peer({ address: '10.0.1.1', asn: 65000, routeReflectorClient: true });
    const filtered = h.peer({ address: '10.0.1.2', asn: 65000, routeReflectorClient: true, exportPolicy: policy });
    const src = h.peer({ address: '10.0.1.3', asn: 65000, routeReflectorClient: true });
    h.up(plain);
    h.up(filtered);
    expect(h.rib.groupOf(plain)!.key).not.toBe(h.rib.groupOf(filtered)!.key);
    h.rib.announce(src, 4, [P('10.65.0.0/26'), P('10.66.0.0/26')], null, attrs({ nextHop: '10.0.1.3' }));
    h.flush();
    expect([...h.rx(plain).table.keys()].sort()).toEqual(['10.65.0.0/26', '10.66.0.0/26']);
    expect([...h.rx(filtered).table.keys()]).toEqual(['10.65.0.0/26']);
    expect(h.rx(filtered).table.get('10.65.0.0/26')!.communities).toEqual([(65000 << 16) | 7]);
  });

  it('packs many prefixes per UPDATE, one attribute set per message', () => {
    const { h, cs } = clients(2);
    const [a, b] = cs as [never, never];
    h.up(a);
    h.flush();
    const ps = Array.from({ length: 2000 }, (_, i) => prefix4((10 << 24) | (i << 8), 24));
    h.rib.announce(b, 4, ps.slice(0, 1500), null, attrs({ nextHop: '10.0.1.2' }));
    h.rib.announce(b, 4, ps.slice(1500), null, attrs({ nextHop: '10.0.1.2', med: 5 }));
    h.flush();
    const batch = h.sent.get(a)!.at(-1)!;
    // 1,500 /24s take 6,000 octets of NLRI: two messages; 500 more in one
    expect(batch.length).toBe(3);
    for (const m of batch) expect(m.length).toBeLessThanOrEqual(4096);
    expect(h.rx(a).table.size).toBe(2000);
    h.rib.withdraw(b, ps);
    h.flush();
    expect(h.sent.get(a)!.at(-1)!.length).toBe(2); // 2,000 withdrawals in 8,000 octets
    expect(h.rx(a).table.size).toBe(0);
  });

  it('a late joiner gets the full table, End-of-RIB per family, then the incremental stream', () => {
    const { h, cs } = clients(3);
    const [a, b, c] = cs as [never, never, never];
    h.up(a);
    h.rib.announce(c, 4, [P('10.65.0.0/26'), P('10.65.0.64/26')], null, attrs({ nextHop: '10.0.1.3' }));
    h.rib.announce(c, 6, [P('fd00:65::/64')], null, attrs({ nextHop: 'fd00::3' }));
    h.flush();
    expect(runs(h.rx(a).events)).toEqual(['+10.65.0.0/26', '+10.65.0.64/26', '+fd00:65::/64', 'EoR4', 'EoR6']);
    // b comes up while a change is pending: b's table includes it, a gets it incrementally
    h.rib.announce(c, 4, [P('10.65.0.128/26')], null, attrs({ nextHop: '10.0.1.3' }));
    h.rib.withdraw(c, [P('10.65.0.0/26')]);
    h.up(b);
    h.flush();
    expect(runs(h.rx(b).events)).toEqual(['+10.65.0.128/26', '+10.65.0.64/26', '+fd00:65::/64', 'EoR4', 'EoR6']);
    expect(h.rx(a).events.slice(5)).toEqual(['-10.65.0.0/26', '+10.65.0.128/26']);
    h.rib.withdraw(c, [P('10.65.0.64/26')]);
    h.flush();
    expect(h.rx(b).events.at(-1)).toBe('-10.65.0.64/26');
    expect(h.sent.get(b)!.at(-1)).toBe(h.sent.get(a)!.at(-1));
    expect([...h.rx(b).table.keys()].sort()).toEqual([...h.rx(a).table.keys()].sort());
    expect(h.rib.peerCounts(b).advertised).toBe(2);
  });

  it('restarting (RFC 4724 §4.1): End-of-RIB held back until released; routes flow meanwhile', () => {
    const { h, cs } = clients(3);
    const [a, b, c] = cs as [never, never, never];
    h.rib.deferEndOfRib();
    h.up(a);
    h.rib.announce(c, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.1.3' }));
    h.flush();
    expect(h.rx(a).events).toEqual(['+10.65.0.0/26']);
    h.up(b);
    h.flush();
    h.rib.peerDown(b);
    expect(h.rib.releaseEndOfRib()).toBe(1);
    expect(h.rx(a).events).toEqual(['+10.65.0.0/26', 'EoR4', 'EoR6']);
    expect(h.rx(b).events).toEqual(['+10.65.0.0/26']);
    // released once: a peer coming up later gets its End-of-RIB at once
    expect(h.rib.releaseEndOfRib()).toBe(0);
    h.up(b);
    h.flush();
    expect(h.rx(b).events.slice(-2)).toEqual(['EoR4', 'EoR6']);
  });

  it('End-of-RIB only for the negotiated families', () => {
    const { h, cs } = clients(1);
    h.up(cs[0]!, { families: [4] });
    h.flush();
    expect(h.rx(cs[0]!).events).toEqual(['EoR4']);
  });

  it('peers coming up together share one full-table encoding; it is reused while the table is unchanged', () => {
    const { h, cs } = clients(50);
    const src = h.peer({ address: '10.1.0.2', asn: 65010 });
    h.rib.announce(src, 4, Array.from({ length: 300 }, (_, i) => prefix4((172 << 24) | (i << 8), 24)), null, attrs({ path: '65010', nextHop: '10.1.0.2' }));
    h.flush();
    for (const p of cs.slice(0, 49)) h.up(p);
    const s = h.flush();
    expect(s.joined).toBe(49);
    const g = h.rib.groupOf(cs[0]!)!;
    expect(g.fullTableBuilds).toBe(2); // one per family
    const first = h.sent.get(cs[0]!)![0]!;
    for (const p of cs.slice(1, 49)) expect(h.sent.get(p)![0]).toBe(first);
    h.up(cs[49]!);
    h.flush();
    expect(h.rib.groupOf(cs[0]!)!.fullTableBuilds).toBe(2);
    expect(h.sent.get(cs[49]!)![0]![0]).toBe(first[0]);
    expect(h.rx(cs[49]!).table.size).toBe(300);
  });

  it('after a change only the changed attribute sets are encoded again for the next joiner', () => {
    const { h, cs } = clients(3);
    const src = h.peer({ address: '10.1.0.2', asn: 65010 });
    const a1 = attrs({ path: '65010', nextHop: '10.1.0.2' });
    const a2 = attrs({ path: '65010 65011', nextHop: '10.1.0.2' });
    h.rib.announce(src, 4, [P('172.16.0.0/24'), P('172.16.1.0/24')], null, a1);
    h.rib.announce(src, 4, [P('172.17.0.0/24')], null, a2);
    h.up(cs[0]!, { families: [4] });
    h.flush();
    const first = h.sent.get(cs[0]!)![0]!;
    h.rib.withdraw(src, [P('172.16.1.0/24')]);
    h.up(cs[1]!, { families: [4] });
    h.flush();
    const second = h.sent.get(cs[1]!)![0]!;
    // the a2 message is the same Buffer; the a1 one was rebuilt without 172.16.1.0/24
    const same = second.filter((m) => first.includes(m));
    expect(same.length).toBe(1);
    expect(h.rx(cs[1]!).events).toEqual(['+172.16.0.0/24', '+172.17.0.0/24', 'EoR4']);
  });

  it('answers route refresh from the Adj-RIB-Out, with BoRR/EoRR when enhanced', () => {
    const { h, cs } = clients(3);
    const [a, b, c] = cs as [never, never, never];
    h.up(a, { enhancedRouteRefresh: true });
    h.up(b);
    h.rib.announce(c, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.1.3' }));
    h.flush();
    const na = h.rx(a).events.length;
    const nb = h.rx(b).events.length;
    h.rib.routeRefresh(a, 4);
    h.rib.routeRefresh(b, 4);
    h.flush();
    expect(h.rx(a).events.slice(na)).toEqual(['BoRR4', '+10.65.0.0/26', 'EoRR4']);
    expect(h.rx(b).events.slice(nb)).toEqual(['+10.65.0.0/26']);
    // a refresh for a family with nothing in it is still bracketed
    h.rib.routeRefresh(a, 6);
    h.flush();
    expect(h.rx(a).events.slice(-2)).toEqual(['BoRR6', 'EoRR6']);
  });

  it('ADD-PATH send: the group encodes path identifiers', () => {
    const { h, cs } = clients(2);
    const [a, b] = cs as [never, never];
    h.up(a, { codecInit: { addPath: { ipv4: { send: true } } } });
    h.rib.announce(b, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.1.2' }));
    h.flush();
    expect([...h.rx(a).table.keys()]).toEqual(['10.65.0.0/26#1']);
    h.rib.withdraw(b, [P('10.65.0.0/26')]);
    h.flush();
    expect(h.rx(a).table.size).toBe(0);
  });

  it('a set too large for the message size of a group is not advertised there (no crash); extended-message peers get it', () => {
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as never;
    const { h, cs } = clients(3, { clusterId: '10.0.0.100', logger });
    const [small, big, src] = cs as [never, never, never];
    h.up(small);
    h.up(big, { codecInit: { extendedMessage: true } });
    const huge = attrs({ nextHop: '10.0.1.3', communities: Array.from({ length: 1100 }, (_, i) => (65000 << 16) + i) });
    h.rib.announce(src, 4, [P('10.65.0.0/26')], null, huge);
    h.rib.announce(src, 4, [P('10.65.0.64/26')], null, attrs({ nextHop: '10.0.1.3' }));
    h.flush();
    expect([...h.rx(small).table.keys()]).toEqual(['10.65.0.64/26']);
    expect([...h.rx(big).table.keys()].sort()).toEqual(['10.65.0.0/26', '10.65.0.64/26']);
    expect(h.rx(big).table.get('10.65.0.0/26')!.communities).toHaveLength(1100);
    expect(warnings).toHaveLength(1);
  });

  it('flush asks to be scheduled once per dirty period and is a no-op when clean', () => {
    const { h, cs } = clients(2);
    h.up(cs[0]!);
    expect(h.scheduled).toBe(1);
    h.rib.announce(cs[1]!, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.1.2' }));
    expect(h.scheduled).toBe(1);
    expect(h.rib.pending).toBe(true);
    h.flush();
    expect(h.rib.pending).toBe(false);
    const n = h.sent.get(cs[0]!)!.length;
    expect(h.flush()).toEqual({ encoded: 0, joined: 0, fibChanges: 0 });
    expect(h.sent.get(cs[0]!)!.length).toBe(n);
    h.rib.withdraw(cs[1]!, [P('10.65.0.0/26')]);
    expect(h.scheduled).toBe(2);
  });
});

describe('callbacks that call back', () => {
  it('a session that goes down inside send, or a send that throws, leaves the RIB consistent', () => {
    const errors: string[] = [];
    const logger = { error: (_o: unknown, msg: string) => errors.push(msg), warn() {} } as never;
    const { h, cs } = clients(4, { clusterId: '10.0.0.100', logger });
    const [a, b, c, src] = cs as [never, never, never, never];
    for (const p of [a, b, c]) h.up(p);
    h.flush();
    // b drops its session while being sent; c's callback throws
    const inner = h.rib;
    const orig = h.sent;
    let once = false;
    (h as { sent: Map<unknown, unknown> }).sent = new Proxy(orig, {
      get(t, k) {
        if (k === 'get')
          return (p: never) => {
            if (p === b && !once) {
              once = true;
              inner.peerDown(b);
            }
            if (p === c) throw new Error('socket gone');
            return t.get(p);
          };
        const v = Reflect.get(t, k);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    inner.announce(src, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.0.1.4' }));
    expect(() => inner.flush()).not.toThrow();
    expect(errors).toContain('the send callback threw; the RIB goes on');
    expect(inner.groupOf(a)!.members).not.toContain(b);
    expect(h.rx(a).table.has('10.65.0.0/26')).toBe(true);
    // the next change still flows
    inner.withdraw(src, [P('10.65.0.0/26')]);
    inner.flush();
    expect(h.rx(a).table.has('10.65.0.0/26')).toBe(false);
  });
});
