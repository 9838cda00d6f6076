// Import sanity (issue 12): the fixed rules (martians, default route, the node's own
// addresses and subnets, own next hop) and the per-peer limits, first as the pure function,
// then through the RIB: rejected paths never reach the decision or the FIB, stay visible in
// routes() with the reason, are counted per peer and go with a withdrawal.
import { describe, expect, it } from 'vitest';
import { checkImport, importRules, LocalAddresses, MARTIANS, parseImportRange } from '../../src/rib/index.js';
import { attrs, fibState, harness, P } from './helpers.js';

const node = (): LocalAddresses =>
  new LocalAddresses([
    { address: '10.99.0.1', prefixLength: 24 },
    { address: '192.0.2.10', prefixLength: 32 },
    { address: 'fd00:99::1', prefixLength: 64 },
  ]);

const kind = (prefix: string, nextHop = '10.1.0.2', rules = importRules(undefined), local = node()): string | null => checkImport(P(prefix), nextHop, rules, local)?.kind ?? null;

describe('checkImport: the fixed rules', () => {
  it('rejects every martian block and what lies inside it, and nothing next to it', () => {
    for (const [inside, beside] of [
      ['0.0.0.0/8', '1.0.0.0/8'],
      ['0.1.2.0/24', '1.1.2.0/24'],
      ['127.0.0.0/8', '126.0.0.0/8'],
      ['127.0.0.1/32', '128.0.0.1/32'],
      ['169.254.0.0/16', '169.255.0.0/16'],
      ['169.254.3.0/24', '169.253.3.0/24'],
      ['224.0.0.0/4', '208.0.0.0/4'],
      ['239.1.1.0/24', '223.1.1.0/24'],
      ['240.0.0.0/4', '208.0.0.0/4'],
      ['255.255.255.255/32', '223.255.255.255/32'],
      ['::/128', '::2/128'],
      ['::1/128', '::2/128'],
      ['fe80::/10', 'fec0::/10'],
      ['febf:1::/64', 'fec0:1::/64'],
      ['ff00::/8', 'fe00::/8'],
      ['ff02::1/128', 'fd02::1/128'],
    ] as const) {
      expect([inside, kind(inside)]).toEqual([inside, 'martian']);
      expect([beside, kind(beside)]).toEqual([beside, null]);
    }
    // a prefix that covers a martian block (less specific) is not inside it
    expect(kind('0.0.0.0/1')).toBeNull();
    expect(kind('192.0.0.0/2')).toBeNull();
    expect(MARTIANS.every((m) => /RFC \d+/.test(m.what))).toBe(true);
  });

  it('names the block and the RFC in the reason', () => {
    expect(checkImport(P('127.0.0.0/8'), '10.1.0.2')?.reason).toMatch(/^martian: 127\.0\.0\.0\/8 is inside 127\.0\.0\.0\/8 \(loopback, RFC 1122/);
    expect(checkImport(P('ff02::/16'), 'fd00::2')?.reason).toMatch(/ff00::\/8 \(multicast, RFC 4291/);
  });

  it('accepts 169.254.0.0/16 only from a peer allowed link-local; fe80::/10 never', () => {
    const ll = importRules({ allowLinkLocal: true });
    expect(kind('169.254.7.0/24', '10.1.0.2', ll)).toBeNull();
    expect(kind('fe80::/64', 'fd00::2', ll)).toBe('martian');
    expect(kind('127.0.0.0/8', '10.1.0.2', ll)).toBe('martian');
  });

  it('rejects a default route unless the peer may send one', () => {
    expect(kind('0.0.0.0/0')).toBe('default');
    expect(kind('::/0', 'fd00::2')).toBe('default');
    const ok = importRules({ allowDefault: true });
    expect(kind('0.0.0.0/0', '10.1.0.2', ok)).toBeNull();
    expect(kind('::/0', 'fd00::2', ok)).toBeNull();
  });

  it("rejects the node's connected subnets, its own addresses and anything between; not aggregates or other hosts of the subnet", () => {
    expect(kind('10.99.0.0/24')).toBe('local');
    expect(kind('10.99.0.1/32')).toBe('local');
    expect(kind('10.99.0.0/25')).toBe('local'); // holds 10.99.0.1
    expect(kind('10.99.0.0/30')).toBe('local');
    expect(kind('192.0.2.10/32')).toBe('local');
    expect(kind('fd00:99::/64', 'fd00::2')).toBe('local');
    expect(kind('fd00:99::1/128', 'fd00::2')).toBe('local');
    // less specific than the subnet: an aggregate that also covers the node
    expect(kind('10.99.0.0/16')).toBeNull();
    expect(kind('10.0.0.0/8')).toBeNull();
    expect(kind('192.0.2.0/24')).toBeNull();
    // more specific, without any of the node's addresses
    expect(kind('10.99.0.128/25')).toBeNull();
    expect(kind('10.99.0.50/32')).toBeNull();
    expect(kind('fd00:99::2/128', 'fd00::2')).toBeNull();
    expect(checkImport(P('10.99.0.0/24'), '10.1.0.2', undefined, node())?.reason).toBe('local: 10.99.0.0/24 is a connected subnet of this node');
    expect(checkImport(P('10.99.0.1/32'), '10.1.0.2', undefined, node())?.reason).toMatch(/holds this node's address 10\.99\.0\.1 \(connected subnet 10\.99\.0\.0\/24\)/);
    // without the provider nothing is local
    expect(checkImport(P('10.99.0.0/24'), '10.1.0.2')).toBeNull();
  });

  it("rejects a next hop that is the node's own address or a loopback address", () => {
    expect(kind('10.65.0.0/24', '10.99.0.1')).toBe('next-hop');
    expect(kind('10.65.0.0/24', '192.0.2.10')).toBe('next-hop');
    expect(kind('fd65::/64', 'fd00:99::1')).toBe('next-hop');
    expect(kind('10.65.0.0/24', '127.0.0.1')).toBe('next-hop');
    expect(kind('fd65::/64', '::1')).toBe('next-hop');
    expect(kind('10.65.0.0/24', '10.99.0.2')).toBeNull();
    // a martian is reported as such even with a bad next hop
    expect(kind('127.0.0.0/8', '10.99.0.1')).toBe('martian');
  });
});

describe('checkImport: importPrefixes', () => {
  it('accepts only the listed ranges, with prefix-list length bounds', () => {
    const r = importRules({ importPrefixes: ['10.64.0.0/10 le 26', { prefix: '192.168.0.0/16', ge: 24, le: 28 }, 'fd10::/48', '172.16.0.0/12 ge 20'] });
    expect(kind('10.64.0.0/10', '10.1.0.2', r)).toBeNull();
    expect(kind('10.65.4.0/26', '10.1.0.2', r)).toBeNull();
    expect(kind('10.65.4.0/27', '10.1.0.2', r)).toBe('not-allowed');
    expect(kind('10.0.0.0/8', '10.1.0.2', r)).toBe('not-allowed');
    expect(kind('10.128.0.0/16', '10.1.0.2', r)).toBe('not-allowed');
    expect(kind('192.168.5.0/24', '10.1.0.2', r)).toBeNull();
    expect(kind('192.168.5.16/28', '10.1.0.2', r)).toBeNull();
    expect(kind('192.168.0.0/16', '10.1.0.2', r)).toBe('not-allowed');
    expect(kind('192.168.5.0/29', '10.1.0.2', r)).toBe('not-allowed');
    expect(kind('fd10::/48', 'fd00::2', r)).toBeNull(); // no bounds: the exact length only
    expect(kind('fd10::/64', 'fd00::2', r)).toBe('not-allowed');
    expect(kind('172.16.1.0/24', '10.1.0.2', r)).toBeNull(); // ge alone: up to /32
    expect(kind('172.16.1.1/32', '10.1.0.2', r)).toBeNull();
    expect(kind('172.16.0.0/16', '10.1.0.2', r)).toBe('not-allowed');
    // the fixed rules still come first
    expect(kind('10.99.0.0/24', '10.1.0.2', importRules({ importPrefixes: ['10.0.0.0/8 le 32'] }))).toBe('local');
    // an empty list accepts anything the fixed rules do not reject
    expect(kind('203.0.113.0/24', '10.1.0.2', importRules({ importPrefixes: [] }))).toBeNull();
  });

  it('parses the text form and refuses malformed entries, naming them', () => {
    expect(parseImportRange(' 10.64.0.0/10   le 26 ')).toEqual({ prefix: '10.64.0.0/10', le: 26 });
    expect(parseImportRange('fd00::/8 ge 48 le 64')).toEqual({ prefix: 'fd00::/8', ge: 48, le: 64 });
    expect(() => importRules({ importPrefixes: ['10.64.0.1/10'] })).toThrow(/10\.64\.0\.1\/10/);
    expect(() => importRules({ importPrefixes: ['10.64.0.0/10 lt 26'] })).toThrow(/expected PREFIX \[ge N\] \[le N\]/);
    expect(() => importRules({ importPrefixes: ['10.64.0.0/10 le'] })).toThrow(RangeError);
    expect(() => importRules({ importPrefixes: ['10.64.0.0/10 le 8'] })).toThrow(/ge \(10\) ≤ le \(8\)/);
    expect(() => importRules({ importPrefixes: ['10.64.0.0/10 le 33'] })).toThrow(/out of range/);
    expect(() => importRules({ importPrefixes: [{ prefix: 'fd00::/8', ge: 4 }] })).toThrow(RangeError);
  });
});

describe('import sanity in the RIB', () => {
  const setup = (local = node()) => {
    const h = harness({ localAddresses: local });
    const e = h.peer({ address: '10.99.0.2', asn: 65001 });
    return { h, e, local };
  };

  it('keeps rejected paths out of the decision and the FIB, visible in routes() with the reason, counted by reason', () => {
    const { h, e } = setup();
    const o = h.rib.announce(e, 4, [P('127.0.0.0/8'), P('0.0.0.0/0'), P('10.99.0.0/24'), P('10.65.4.0/26')], null, attrs({ path: '65001', nextHop: '10.99.0.2' }));
    expect(o).toEqual({ type: 'ok', rejected: 3 });
    h.flush();
    expect(h.rib.stats.prefixes).toBe(1);
    expect(fibState(h)).toEqual(new Map([['10.65.4.0/26', '10.99.0.2']]));
    const routes = [...h.rib.routes()];
    expect(routes.map((r) => [r.prefix, r.kernel, r.paths.map((p) => [p.best, p.rejected?.split(':')[0] ?? null])])).toEqual([
      ['0.0.0.0/0', 'none', [[false, 'default']]],
      ['10.65.4.0/26', 'pending', [[true, null]]],
      ['10.99.0.0/24', 'none', [[false, 'local']]],
      ['127.0.0.0/8', 'none', [[false, 'martian']]],
    ]);
    expect(routes[2]!.paths[0]).toMatchObject({ peer: '10.99.0.2', nextHop: '10.99.0.2', asPath: '65001', rejected: 'local: 10.99.0.0/24 is a connected subnet of this node' });
    expect([...h.rib.routes({ prefix: '127.0.0.0/8' })].map((r) => r.paths[0]!.rejected)).toEqual([expect.stringMatching(/^martian: /)]);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 4, accepted: 1, rejected: { martian: 1, default: 1, local: 1 }, rejectedTotal: { martian: 1, default: 1, local: 1 } });
  });

  it('a withdrawal of a rejected prefix removes it; an acceptable re-announcement replaces it; session down forgets them', () => {
    const { h, e } = setup();
    h.rib.announce(e, 4, [P('224.1.0.0/16'), P('10.65.0.0/24')], null, attrs({ path: '65001', nextHop: '10.99.0.2' }));
    h.rib.withdraw(e, [P('224.1.0.0/16')]);
    expect([...h.rib.routes()].map((r) => r.prefix)).toEqual(['10.65.0.0/24']);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 1, rejected: {}, rejectedTotal: { martian: 1 } });
    // the same prefix, first with our own address as next hop, then with the peer's
    h.rib.announce(e, 4, [P('10.66.0.0/24')], null, attrs({ path: '65001', nextHop: '10.99.0.1' }));
    expect(h.rib.stats.prefixes).toBe(1);
    expect([...h.rib.routes({ prefix: '10.66.0.0/24' })][0]!.paths[0]!.rejected).toBe("next-hop: 10.99.0.1 is this node's own address");
    h.rib.announce(e, 4, [P('10.66.0.0/24')], null, attrs({ path: '65001', nextHop: '10.99.0.2' }));
    expect([...h.rib.routes({ prefix: '10.66.0.0/24' })][0]!.paths.map((p) => [p.best, p.rejected])).toEqual([[true, undefined]]);
    // and the other way: an accepted path re-announced as a martian leaves the decision
    h.rib.announce(e, 4, [P('10.66.0.0/24')], null, attrs({ path: '65001', nextHop: '127.0.0.1' }));
    expect(h.rib.stats.prefixes).toBe(1);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 2, accepted: 1, rejected: { 'next-hop': 1 } });
    h.rib.peerDown(e);
    expect([...h.rib.routes()]).toEqual([]);
    expect(h.rib.peerCounts(e)).toMatchObject({ received: 0, rejected: {} });
  });

  it('applies per-peer limits from addPeer and refuses bad ones naming the peer', () => {
    const { h } = setup();
    const calico = h.peer({ address: '10.99.0.3', asn: 65001, allowDefault: true, importPrefixes: ['10.64.0.0/10 le 32'] });
    const o = h.rib.announce(calico, 4, [P('0.0.0.0/0'), P('10.65.0.0/26'), P('10.200.0.0/24')], null, attrs({ path: '65001', nextHop: '10.99.0.3' }));
    expect(o).toEqual({ type: 'ok', rejected: 1 });
    expect(h.rib.peerCounts(calico)).toMatchObject({ accepted: 2, rejected: { 'not-allowed': 1 } });
    expect(() => h.peer({ address: '10.99.0.4', asn: 65001, importPrefixes: ['10.64.0.0/33'] })).toThrow(/^peer 10\.99\.0\.4: import prefix/);
  });

  it('a route the RFC loop guards drop is ignored as before, not shown as rejected', () => {
    const h = harness({ clusterId: '10.0.0.100', localAddresses: node() });
    const rr = h.peer({ address: '10.99.0.5', asn: 65000 });
    // our own route reflected back: our ORIGINATOR_ID, and our own address as next hop
    const o = h.rib.announce(rr, 4, [P('10.65.0.0/26')], null, attrs({ nextHop: '10.99.0.1', originatorId: '10.0.0.1', clusterList: ['10.0.0.9'] }));
    expect(o).toEqual({ type: 'ok', rejected: 1 });
    expect([...h.rib.routes()]).toEqual([]);
    expect(h.rib.peerCounts(rr)).toMatchObject({ received: 1, accepted: 0 });
    expect(h.rib.peerCounts(rr).rejected).toBeUndefined();
  });

  it("re-checks what it holds when the node's addresses change", () => {
    const { h, e, local } = setup(new LocalAddresses([{ address: '10.99.0.1', prefixLength: 24 }]));
    h.rib.announce(e, 4, [P('10.77.0.0/24'), P('10.99.0.0/24')], null, attrs({ path: '65001', nextHop: '10.99.0.2' }));
    h.flush();
    expect(fibState(h)).toEqual(new Map([['10.77.0.0/24', '10.99.0.2']]));
    // the node gets 10.77.0.1/24 and loses 10.99.0.1/24
    expect(local.update([{ address: '10.77.0.1', prefixLength: 24 }])).toBe(true);
    expect(local.update([{ address: '10.77.0.1', prefixLength: 24 }])).toBe(false);
    h.flush();
    expect(fibState(h)).toEqual(new Map([['10.99.0.0/24', '10.99.0.2']]));
    expect([...h.rib.routes()].map((r) => [r.prefix, r.paths[0]!.rejected?.split(':')[0] ?? null])).toEqual([
      ['10.77.0.0/24', 'local'],
      ['10.99.0.0/24', null],
    ]);
  });
});
