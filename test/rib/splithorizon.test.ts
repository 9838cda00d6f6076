// Split horizon (issue 12): a route is never advertised back to the peer it came from — an
// RR client does not get its own route reflected (RFC 4456), an eBGP peer does not get its
// route back — while the update group still encodes once for its other members.
import { describe, expect, it } from 'vitest';
import { attrs, harness, P } from './helpers.js';

function rr(n = 3) {
  const h = harness({ clusterId: '10.0.0.100' });
  const cs = Array.from({ length: n }, (_, i) => h.peer({ address: `10.0.1.${i + 1}`, asn: 65000, routeReflectorClient: true }));
  cs.forEach((c, i) => h.up(c, { routerId: `10.255.1.${i + 1}` }));
  h.flush();
  return { h, cs };
}

describe('split horizon', () => {
  it('an RR client does not get its own route back; the other members share one encoding', () => {
    const { h, cs } = rr(3);
    const [a, b, c] = cs as [never, never, never];
    h.rib.announce(a, 4, [P('10.65.1.0/26')], null, attrs({ nextHop: '10.0.1.1' }));
    h.rib.announce(b, 4, [P('10.65.2.0/26')], null, attrs({ nextHop: '10.0.1.2' }));
    h.flush();
    expect([...h.rx(a).table.keys()]).toEqual(['10.65.2.0/26']);
    expect([...h.rx(b).table.keys()]).toEqual(['10.65.1.0/26']);
    expect([...h.rx(c).table.keys()].sort()).toEqual(['10.65.1.0/26', '10.65.2.0/26']);
    // the member without routes of its own gets the group's encoding; a and b their copies, made of the same Buffers
    const last = (p: never) => h.sent.get(p)!.at(-1)!;
    expect(last(a)).not.toBe(last(c));
    for (const m of [...last(a), ...last(b)]) expect(last(c)).toContain(m);
    expect(h.rib.peerCounts(a).advertised).toBe(1);
    expect(h.rib.peerCounts(c).advertised).toBe(2);
    expect([...h.rib.adjRibOut(a)].length).toBe(1);
    // a later change of b's route only: a and c get the same messages again
    h.rib.announce(b, 4, [P('10.65.2.0/26')], null, attrs({ nextHop: '10.0.1.2', med: 5 }));
    h.flush();
    expect(last(a)).toBe(last(c));
    expect(h.rx(b).table.has('10.65.2.0/26')).toBe(false);
  });

  it('when a client’s own path becomes best, the route it had from us is withdrawn; when it loses, it gets the new best', () => {
    const { h, cs } = rr(2);
    const [a, b] = cs as [never, never];
    h.rib.announce(b, 4, [P('10.65.3.0/26')], null, attrs({ nextHop: '10.0.1.2', localPref: 100 }));
    h.flush();
    expect(h.rx(a).table.get('10.65.3.0/26')).toMatchObject({ nextHop: '10.0.1.2' });
    h.rib.announce(a, 4, [P('10.65.3.0/26')], null, attrs({ nextHop: '10.0.1.1', localPref: 200 }));
    h.flush();
    expect(h.rx(a).table.has('10.65.3.0/26')).toBe(false);
    expect(h.rx(a).events.at(-1)).toBe('-10.65.3.0/26');
    expect(h.rx(b).table.get('10.65.3.0/26')).toMatchObject({ nextHop: '10.0.1.1', localPref: 200 });
    h.rib.withdraw(a, [P('10.65.3.0/26')]);
    h.flush();
    expect(h.rx(a).table.get('10.65.3.0/26')).toMatchObject({ nextHop: '10.0.1.2' });
    expect(h.rx(b).table.has('10.65.3.0/26')).toBe(false);
  });

  it('the best path moves between two clients with the same exported attributes: the new source gets a withdrawal, the old one the route', () => {
    // found by the property test (seed 881504369): both paths carry the same ORIGINATOR_ID, so
    // the reflected attributes are identical whichever client's path is best
    const { h, cs } = rr(2);
    const [a, b] = cs as [never, never];
    const same = () => attrs({ path: '65001', nextHop: '192.0.2.1', originatorId: '10.255.0.1' });
    h.rib.announce(b, 4, [P('10.65.7.0/26')], null, same());
    h.flush();
    expect(h.rx(a).table.has('10.65.7.0/26')).toBe(true);
    // a's path ties and wins on the lower peer address: it is now a's own
    h.rib.announce(a, 4, [P('10.65.7.0/26')], null, same());
    h.flush();
    expect([...h.rib.routes({ prefix: '10.65.7.0/26' })][0]!.paths.find((x) => x.best)!.peer).toBe('10.0.1.1');
    expect(h.rx(a).table.has('10.65.7.0/26')).toBe(false);
    expect(h.rx(b).table.has('10.65.7.0/26')).toBe(true);
    // and back: a withdraws, b's path is best again — a gets it, b does not
    h.rib.withdraw(a, [P('10.65.7.0/26')]);
    h.flush();
    expect(h.rx(a).table.has('10.65.7.0/26')).toBe(true);
    expect(h.rx(b).table.has('10.65.7.0/26')).toBe(false);
  });

  it('leaves the peer’s own routes out of a route-refresh answer and of the table sent when it comes back (graceful restart)', () => {
    const { h, cs } = rr(2);
    const [a, b] = cs as [never, never];
    h.rib.announce(a, 4, [P('10.65.4.0/26'), P('10.65.5.0/26')], null, attrs({ nextHop: '10.0.1.1' }));
    h.rib.announce(b, 4, [P('10.65.6.0/26')], null, attrs({ nextHop: '10.0.1.2' }));
    h.flush();
    h.rib.routeRefresh(a, 4);
    h.flush();
    expect(h.rx(a).events.at(-1)).toBe('+10.65.6.0/26');
    const refresh = h.sent.get(a)!.at(-1)!;
    expect(refresh).toHaveLength(1);
    expect([...h.rx(a).table.keys()]).toEqual(['10.65.6.0/26']);
    // graceful restart: a's paths stay stale, a comes back and is sent the table without them
    h.rib.peerDown(a, { keepStale: [4] });
    h.up(a, { routerId: '10.255.1.1' });
    h.rx(a).table.clear();
    h.flush();
    expect([...h.rx(a).table.keys()]).toEqual(['10.65.6.0/26']);
    expect(h.rx(b).table.has('10.65.4.0/26')).toBe(true);
  });

  it('an eBGP peer does not get its route back, even when another peer’s routes share the attribute set', () => {
    const h = harness();
    const e1 = h.peer({ address: '10.1.0.1', asn: 65010 });
    const e2 = h.peer({ address: '10.1.0.2', asn: 65010 });
    const e3 = h.peer({ address: '10.1.0.3', asn: 65020 });
    for (const e of [e1, e2, e3]) h.up(e, { routerId: `10.255.2.${e.address.slice(-1)}`, families: [4] });
    h.flush();
    expect(h.rib.groupOf(e1)!.members).toHaveLength(3);
    // e1 and e2 send routes that look the same to the group once exported (same AS path)
    h.rib.announce(e1, 4, [P('10.70.1.0/24'), P('10.70.3.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.1' }));
    h.rib.announce(e2, 4, [P('10.70.2.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.2' }));
    h.flush();
    expect([...h.rx(e1).table.keys()]).toEqual(['10.70.2.0/24']);
    expect([...h.rx(e2).table.keys()].sort()).toEqual(['10.70.1.0/24', '10.70.3.0/24']);
    expect([...h.rx(e3).table.keys()].sort()).toEqual(['10.70.1.0/24', '10.70.2.0/24', '10.70.3.0/24']);
    // the full table (refresh) of a shared attribute set, without the peer's own prefixes
    h.rx(e1).table.clear();
    h.rib.routeRefresh(e1, 4);
    h.flush();
    expect([...h.rx(e1).table.keys()]).toEqual(['10.70.2.0/24']);
    expect(h.rib.peerCounts(e1).advertised).toBe(1);
    expect(h.rib.peerCounts(e3).advertised).toBe(3);
  });

  it('a peer’s advertised count is kept without walking its routes, also across a graceful restart that rebuilds its group', () => {
    const h = harness({ clusterId: '10.0.0.100' });
    const x = h.peer({ address: '10.0.1.1', asn: 65000, routeReflectorClient: true });
    const e = h.peer({ address: '10.1.0.1', asn: 65010 });
    h.up(x, { routerId: '10.255.1.1', families: [4] });
    h.up(e, { routerId: '10.255.2.1', families: [4] });
    h.rib.announce(x, 4, [P('10.65.1.0/26'), P('10.65.2.0/26')], null, attrs({ nextHop: '10.0.1.1', localPref: 200 }));
    h.rib.announce(e, 4, [P('10.65.2.0/26'), P('10.65.3.0/26')], null, attrs({ path: '65010', nextHop: '10.1.0.1' }));
    h.flush();
    expect(h.rib.peerCounts(x).advertised).toBe(1); // 10.65.3.0/26: the other two are its own
    expect(h.rib.peerCounts(e).advertised).toBe(2); // 10.65.1.0/26 and x's 10.65.2.0/26
    // 10.65.2.0/26 moves to e's path; before a flush, x restarts (its stale paths stay) and
    // comes back into a group of its own, made while that destination has not been flushed
    h.rib.withdraw(x, [P('10.65.2.0/26')]);
    h.rib.peerDown(x, { keepStale: [4] });
    h.up(x, { routerId: '10.255.1.1', families: [4] });
    h.flush();
    const out = [...h.rib.adjRibOut(x)].map(([p]) => p as number).sort((a, b) => a - b);
    expect(out).toEqual([P('10.65.2.0/26'), P('10.65.3.0/26')]);
    expect(h.rib.peerCounts(x).advertised).toBe(2);
    expect(h.rib.peerCounts(e).advertised).toBe(1);
    // the count follows the stale path's sweep
    h.rib.sweepStale(x);
    h.flush();
    expect(h.rib.peerCounts(x).advertised).toBe(2);
    expect(h.rib.peerCounts(e).advertised).toBe(0);
  });

  it('a peer alone in its group sending its table: nothing is encoded for it; a second member gets the routes', () => {
    const h = harness();
    const e1 = h.peer({ address: '10.1.0.1', asn: 65010 });
    const e2 = h.peer({ address: '10.1.0.2', asn: 65020 });
    h.up(e1, { routerId: '10.255.2.1', families: [4] });
    h.flush();
    const table = Array.from({ length: 1000 }, (_, i) => P(`10.80.${i >> 2}.${(i & 3) * 64}/26`));
    h.rib.announce(e1, 4, table, null, attrs({ path: '65010', nextHop: '10.1.0.1' }));
    expect(h.flush().encoded).toBe(0);
    expect(h.rx(e1).table.size).toBe(0);
    expect(h.rib.peerCounts(e1).advertised).toBe(0);
    h.up(e2, { routerId: '10.255.2.2', families: [4] });
    h.flush();
    expect(h.rx(e2).table.size).toBe(1000);
    // now a member takes the group's messages as they are: they are encoded
    h.rib.announce(e1, 4, [P('10.81.0.0/24')], null, attrs({ path: '65010', nextHop: '10.1.0.1' }));
    expect(h.flush().encoded).toBeGreaterThan(0);
    expect(h.rx(e2).table.has('10.81.0.0/24')).toBe(true);
    expect(h.rx(e1).table.size).toBe(0);
  });
});
