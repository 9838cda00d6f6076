// Issue 15: a lone change reaches the FIB within the turn (Rib.flushFib, from a microtask); the
// flush that writes to the peers waits for setImmediate, so that a turn's changes go out
// together; a large change waits for setImmediate altogether (src/rib/schedule.ts).
import { describe, expect, it } from 'vitest';
import { prefix4 } from '../../src/net/prefix.js';
import { flushFibNow, flushSoon, Rib, SMALL_FLUSH } from '../../src/rib/index.js';
import { attrs, codecOptions, fibState, harness, P } from './helpers.js';

function twoPeers() {
  const h = harness();
  const a = h.peer({ address: '10.0.1.1', asn: 65001 });
  const b = h.peer({ address: '10.0.1.2', asn: 65002 });
  h.up(a, { routerId: '10.255.1.1' });
  h.up(b, { routerId: '10.255.1.2' });
  h.flush();
  return { h, a, b };
}

describe('Rib.flushFib', () => {
  it('hands the FIB its changes ahead of flush(), which then sends to the peers and leaves the FIB out', () => {
    const { h, a, b } = twoPeers();
    h.rib.announce(a, 4, [P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    expect(h.rib.changes).toBe(1);
    const before = h.fib.length;
    expect(h.rib.flushFib()).toBe(1);
    expect(h.fib.length).toBe(before + 1);
    expect(fibState(h).get('10.65.0.0/24')).toBe('10.0.1.1');
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(false); // not sent yet
    expect(h.rib.pending).toBe(true);
    const s = h.flush();
    expect(s.fibChanges).toBe(0);
    expect(h.fib.length).toBe(before + 1);
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(true);
    expect(h.rib.pending).toBe(false);
    expect(h.rib.flushFib()).toBe(0);
  });

  it('a change after flushFib is queued once and reaches the FIB at the flush', () => {
    const { h, a, b } = twoPeers();
    h.rib.announce(a, 4, [P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    h.rib.flushFib();
    h.rib.withdraw(a, [P('10.65.0.0/24')]);
    expect(h.rib.changes).toBe(1);
    h.rib.announce(a, 4, [P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.9' }));
    expect(h.rib.changes).toBe(1);
    const s = h.flush();
    expect(s.fibChanges).toBe(1);
    expect(fibState(h).get('10.65.0.0/24')).toBe('10.0.1.9');
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(true);
    // a withdrawal handed over early: the destination goes at the flush as before
    h.rib.withdraw(a, [P('10.65.0.0/24')]);
    h.rib.flushFib();
    expect(fibState(h).has('10.65.0.0/24')).toBe(false);
    h.flush();
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(false);
    expect(h.rib.stats.prefixes).toBe(0);
  });
});

describe('flushSoon', () => {
  it('a small change: the FIB at once (a microtask), the flush to the peers from setImmediate', async () => {
    const order: string[] = [];
    // a FIB that, like src/fib, sends what it is handed from a microtask
    const rib = new Rib({
      asn: 65000,
      routerId: '10.0.0.1',
      events: {
        send: (peer) => order.push(`send ${peer.address}`),
        fib: (changes) => queueMicrotask(() => order.push(`fib ${changes.length}`)),
      },
    });
    const a = rib.addPeer({ address: '10.0.1.1', asn: 65001 });
    const b = rib.addPeer({ address: '10.0.1.2', asn: 65002 });
    for (const [p, rid] of [[a, '10.255.1.1'], [b, '10.255.1.2']] as const) rib.peerUp(p, { routerId: rid, codec: codecOptions({ ebgp: true }), families: [4], localAddress: '10.0.0.1' });
    rib.flush();
    order.length = 0;
    rib.announce(a, 4, [P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    let immediate = false;
    setImmediate(() => (immediate = true));
    flushSoon(rib, () => {
      order.push(`flush immediate=${immediate}`);
      rib.flush();
    });
    expect(order).toEqual([]);
    for (let k = 0; k < 4; k++) await Promise.resolve();
    expect(order).toEqual(['fib 1']);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(order).toEqual(['fib 1', 'flush immediate=true', 'send 10.0.1.2']);
  });

  it('small changes of one turn go to the peers in one flush (many RR clients announcing at once)', async () => {
    const { h, a, b } = twoPeers();
    let flushes = 0;
    const run = () => {
      flushes++;
      h.rib.flush();
    };
    h.rib.announce(a, 4, [P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    flushSoon(h.rib, run);
    // the next socket callback of the same turn, after the first one's microtasks: another UPDATE
    for (let k = 0; k < 4; k++) await Promise.resolve();
    expect(fibState(h).get('10.65.0.0/24')).toBe('10.0.1.1');
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(false);
    h.rib.announce(a, 4, [P('10.65.1.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(flushes).toBe(1);
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(true);
    expect(h.rx(b).table.has('10.65.1.0/24')).toBe(true);
    expect(h.rib.pending).toBe(false);
  });

  it('a large change waits for setImmediate, and the FIB gets it with the flush', async () => {
    const { h, a } = twoPeers();
    const ps = Array.from({ length: SMALL_FLUSH + 1 }, (_, i) => prefix4((10 << 24) | (i << 8), 24));
    h.rib.announce(a, 4, ps, null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    const fibs = h.fib.length;
    let immediate = false;
    setImmediate(() => (immediate = true));
    const ran = new Promise<boolean>((resolve) =>
      flushSoon(h.rib, () => {
        resolve(immediate);
        h.rib.flush();
      }),
    );
    await Promise.resolve();
    await Promise.resolve();
    expect(h.fib.length).toBe(fibs);
    expect(await ran).toBe(true);
    expect(h.fib.length).toBe(fibs + 1);
    expect(h.fib.at(-1)!.length).toBe(SMALL_FLUSH + 1);
  });
});

describe('flushFibNow (a lone UPDATE handled inline: the caughtUp event)', () => {
  it('a small change reaches the FIB before it returns; the flush that follows sends it and leaves the FIB out', () => {
    const { h, a, b } = twoPeers();
    h.rib.announce(a, 4, [P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    const fibs = h.fib.length;
    expect(flushFibNow(h.rib)).toBe(true);
    expect(h.fib.length).toBe(fibs + 1);
    expect(fibState(h).get('10.65.0.0/24')).toBe('10.0.1.1');
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(false);
    expect(h.flush().fibChanges).toBe(0);
    expect(h.rx(b).table.has('10.65.0.0/24')).toBe(true);
  });

  it('more than SMALL_FLUSH destinations: nothing now, the FIB gets them with the flush', () => {
    const { h, a } = twoPeers();
    const ps = Array.from({ length: SMALL_FLUSH + 1 }, (_, i) => prefix4((10 << 24) | (i << 8), 24));
    h.rib.announce(a, 4, ps, null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    const fibs = h.fib.length;
    expect(flushFibNow(h.rib)).toBe(false);
    expect(h.fib.length).toBe(fibs);
    expect(h.flush().fibChanges).toBe(SMALL_FLUSH + 1);
  });

  it("behind a table load's changes: the lone UPDATE's destinations (after the mark) go now, the load's with the flush", () => {
    const { h, a, b } = twoPeers();
    const load = Array.from({ length: 5000 }, (_, i) => prefix4(((20 << 24) | (i << 8)) >>> 0, 24));
    h.rib.announce(a, 4, load, null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    const since = h.rib.changeMark;
    // the lone UPDATE: a new prefix, and one the load also changed (that one keeps its turn)
    h.rib.announce(b, 4, [P('10.66.0.0/24'), load[7]!], null, attrs({ path: '65002', nextHop: '10.0.1.2' }));
    expect(h.rib.changesSince(since)).toBe(1);
    const fibs = h.fib.length;
    expect(flushFibNow(h.rib, since)).toBe(true);
    expect(h.fib.length).toBe(fibs + 1);
    expect(fibState(h).get('10.66.0.0/24')).toBe('10.0.1.2');
    expect(fibState(h).has('20.0.0.0/24')).toBe(false);
    expect(h.rx(a).table.has('10.66.0.0/24')).toBe(false); // the peers hear of it with the flush
    const s = h.flush();
    expect(s.fibChanges).toBe(5000); // the load's, the one handed over left out
    expect(fibState(h).has('20.0.7.0/24')).toBe(true);
    expect(h.rx(a).table.has('10.66.0.0/24')).toBe(true);
    // a mark from before a flush is stale: nothing is handed over by it
    expect(h.rib.changesSince(since)).toBe(-1);
    h.rib.announce(b, 4, [P('10.67.0.0/24')], null, attrs({ path: '65002', nextHop: '10.0.1.2' }));
    expect(h.rib.flushFibSince(since)).toBe(-1);
    expect(fibState(h).has('10.67.0.0/24')).toBe(false);
  });

  it('behind a table load: many destinations after the mark wait for the flush too', () => {
    const { h, a, b } = twoPeers();
    const load = Array.from({ length: 1000 }, (_, i) => prefix4(((20 << 24) | (i << 8)) >>> 0, 24));
    h.rib.announce(a, 4, load, null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    const since = h.rib.changeMark;
    const more = Array.from({ length: SMALL_FLUSH + 1 }, (_, i) => prefix4(((30 << 24) | (i << 8)) >>> 0, 24));
    h.rib.announce(b, 4, more, null, attrs({ path: '65002', nextHop: '10.0.1.2' }));
    const fibs = h.fib.length;
    expect(flushFibNow(h.rib, since)).toBe(false);
    expect(h.fib.length).toBe(fibs);
  });
});

/** A reflector with an eBGP peer `a` and n RR clients, all up and flushed. */
function reflectorOf(n: number) {
  const h = harness();
  const a = h.peer({ address: '10.0.1.1', asn: 65001 });
  h.up(a, { routerId: '10.255.1.1' });
  const clients = Array.from({ length: n }, (_, i) => h.peer({ address: `10.1.${i >> 8}.${i & 255}`, asn: 65000, routeReflectorClient: true }));
  for (const c of clients) h.up(c, { routerId: c.address });
  h.flush();
  return { h, a, clients };
}

describe('a flush takes a bounded share of the changes (many members)', () => {
  it('with 1,100 RR clients, 300 changed destinations go in two flushes: 256, then the rest, announced again', () => {
    const { h, a, clients } = reflectorOf(1100);
    const ps = Array.from({ length: 300 }, (_, i) => prefix4(((20 << 24) | (i << 8)) >>> 0, 24));
    h.rib.announce(a, 4, ps, null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    expect(h.rib.changes).toBe(300);
    const scheduled = h.scheduled;
    const first = h.flush();
    // 262,144 routes / 1,100 members is under the floor of 256 destinations a flush
    expect(first.fibChanges).toBe(256);
    expect(h.rib.changes).toBe(44);
    expect(h.rib.pending).toBe(true);
    expect(h.scheduled).toBe(scheduled + 1); // the rest is announced: the caller flushes again
    const last = clients.at(-1)!;
    expect(h.rx(last).table.size).toBe(256);
    const second = h.flush();
    expect(second.fibChanges).toBe(44);
    expect(h.rib.changes).toBe(0);
    expect(h.rib.pending).toBe(false);
    for (const c of [clients[0]!, last]) expect(h.rx(c).table.size).toBe(300);
    expect(fibState(h).size).toBe(300);
  });

  it('flushAll sends every change however many flushes that takes, and End-of-RIB waits for all of them', () => {
    const { h, a, clients } = reflectorOf(1100);
    h.rib.deferEndOfRib();
    const ps = Array.from({ length: 600 }, (_, i) => prefix4(((20 << 24) | (i << 8)) >>> 0, 24));
    h.rib.announce(a, 4, ps, null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    const s = h.rib.flushAll();
    expect(s.fibChanges).toBe(600);
    expect(h.rib.changes).toBe(0);
    expect(h.rx(clients[7]!).table.size).toBe(600);
    // released after a partial flush: the clients hold the whole table before End-of-RIB
    h.rib.announce(a, 4, ps.map((p) => p + 2 ** 24 * 64), null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    expect(h.rib.changes).toBe(600);
    h.rib.releaseEndOfRib();
    expect(h.rib.changes).toBe(0);
    expect(h.rx(clients[7]!).table.size).toBe(1200);
  });

  it('a lone UPDATE handed to the FIB early while a bounded flush left changes waiting is not handed twice', () => {
    const { h, a } = reflectorOf(1100);
    const ps = Array.from({ length: 400 }, (_, i) => prefix4(((20 << 24) | (i << 8)) >>> 0, 24));
    h.rib.announce(a, 4, ps, null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    h.flush(); // 256 taken, 144 wait (more than SMALL_FLUSH)
    const since = h.rib.changeMark;
    h.rib.announce(a, 4, [P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.0.1.1' }));
    expect(flushFibNow(h.rib, since)).toBe(true);
    expect(h.fib.at(-1)!.map((c) => c.prefix)).toEqual([P('10.65.0.0/24')]);
    const rest = h.flush();
    expect(rest.fibChanges).toBe(144); // the lone one went already
    expect(fibState(h).size).toBe(401);
  });
});
