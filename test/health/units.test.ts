// The pure parts of peer health: record codec, watch list, classification, the fallback
// source, dedup and aggregation. No kernel needed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AF_INET6,
  KINDS,
  PW_EVENT_SIZE,
  PW_EV_AT_CLOSE,
  PW_EV_EXPIRED,
  PW_EV_SOCKOPS,
  PW_F_MD5,
  PW_F_NEIGH,
  PW_F_SOCKETS,
  decodeEvents,
  encodeEvent,
  encodeKey,
  type RawEvent,
} from '../../src/health/bpfrecords.js';
import { WatchError, WatchList } from '../../src/health/watchlist.js';
import { classify, errnoName, fromRaw, kindOfErrorCode } from '../../src/health/events.js';
import { Dedup, eventFromSocketError } from '../../src/health/fallback.js';
import { PeerHealthBook, md5ProblemLine } from '../../src/health/peerstats.js';
import { prefix4, prefix6 } from '../../src/net/prefix.js';

const raw = (over: Partial<RawEvent> = {}): RawEvent => ({
  tsNs: 123456789n,
  family: 4,
  addr: Uint8Array.from([10, 0, 0, 4]),
  rport: 179,
  lport: 40000,
  kind: 1,
  oldstate: 2,
  newstate: 7,
  retransmits: 0,
  flags: 0,
  err: 111,
  softErr: 0,
  slot: 3,
  netns: 4026531840,
  cookie: 77n,
  ...over,
});

describe('event records', () => {
  it('round-trip through the 64-byte layout', () => {
    const arb = fc.record({
      tsNs: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      family: fc.constantFrom(4 as const, 6 as const),
      rport: fc.integer({ min: 0, max: 65535 }),
      lport: fc.integer({ min: 0, max: 65535 }),
      kind: fc.integer({ min: 0, max: KINDS.length - 1 }),
      oldstate: fc.integer({ min: 0, max: 13 }),
      newstate: fc.integer({ min: 0, max: 13 }),
      retransmits: fc.integer({ min: 0, max: 255 }),
      flags: fc.integer({ min: 0, max: 0xffff }),
      err: fc.integer({ min: 0, max: 4095 }),
      softErr: fc.integer({ min: 0, max: 4095 }),
      slot: fc.integer({ min: 0, max: 0xffffffff }),
      netns: fc.integer({ min: 0, max: 0xffffffff }),
      cookie: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    });
    fc.assert(
      fc.property(fc.array(arb, { maxLength: 5 }), (evs) => {
        const buf = new Uint8Array(evs.length * PW_EVENT_SIZE);
        const want = evs.map(({ bytes, ...e }) => ({ ...e, addr: e.family === 4 ? bytes.slice(0, 4) : bytes }));
        want.forEach((e, i) => encodeEvent(e, buf, i * PW_EVENT_SIZE));
        expect(decodeEvents(buf)).toEqual(want);
      }),
    );
  });

  it('a batch that is not whole records is refused, not misread', () => {
    expect(() => decodeEvents(new Uint8Array(PW_EVENT_SIZE + 3))).toThrow(/whole number/);
  });

  it('peer keys: address bytes, family, port', () => {
    const k = encodeKey('fd00::2', 1179);
    expect([...k.slice(0, 16)]).toEqual([0xfd, 0, ...Array(13).fill(0), 2]);
    expect(new DataView(k.buffer).getUint16(16, true)).toBe(AF_INET6);
    expect(new DataView(k.buffer).getUint16(18, true)).toBe(1179);
    expect(() => encodeKey('fd00::zz', 0)).toThrow(TypeError);
  });
});

describe('typed events', () => {
  it('a kernel record becomes a typed event with names, Node-style errno and a compact peer', () => {
    const e = fromRaw(raw({ flags: PW_EV_AT_CLOSE }));
    expect(e).toMatchObject({
      kind: 'refused',
      evidence: 'dead',
      peer: '10.0.0.4',
      peerKey: prefix4(0x0a000004, 32),
      errno: -111,
      code: 'ECONNREFUSED',
      oldState: 'SYN_SENT',
      newState: 'CLOSE',
      source: 'bpf',
      hook: 'inet_sock_set_state',
      time: 123456789n,
    });
    const v6 = fromRaw(raw({ family: 6, addr: Uint8Array.from([0xfd, 0, ...Array(13).fill(0), 2]), kind: 6, err: 0, softErr: 113, flags: PW_EV_SOCKOPS }));
    expect(v6).toMatchObject({ peer: 'fd00::2', kind: 'host-gone', softCode: 'EHOSTUNREACH', code: null, errno: 0, hook: 'sockops' });
    expect(v6.peerKey).toBe(prefix6(Uint8Array.from([0xfd, 0, ...Array(13).fill(0), 2]), 128));
  });

  it('which evidence is "dead"', () => {
    for (const k of ['refused', 'unreachable', 'timeout', 'reset', 'host-gone', 'syn-unanswered', 'neighbour-failed'] as const)
      expect(classify(k), k).toBe('dead');
    expect(classify('rto')).toBe('suspect');
    expect(classify('rto', true)).toBe('dead');
    expect(fromRaw(raw({ kind: 7, err: 0, flags: PW_EV_EXPIRED })).evidence).toBe('dead');
    for (const k of ['state', 'error', 'md5-mismatch', 'md5-required', 'md5-unexpected'] as const) expect(classify(k), k).toBe('info');
  });

  it('errno names, including those Node lacks', () => {
    expect(errnoName(113)).toBe('EHOSTUNREACH');
    expect(errnoName(-101)).toBe('ENETUNREACH');
    expect(errnoName(112)).toBe('EHOSTDOWN');
    expect(errnoName(0)).toBeNull();
    expect(kindOfErrorCode('EACCES')).toBe('unreachable');
    expect(kindOfErrorCode('EPIPE')).toBe('reset');
    expect(kindOfErrorCode('EPROTO')).toBe('error');
  });
});

describe('watch list', () => {
  const flagsOf = (w: WatchList) => Object.fromEntries(w.entries().map((e) => [e.id, e.flags]));

  it('a peer without a port watches every socket; with a port, its sockets on that port; a gateway, its neighbour', () => {
    const w = new WatchList(16);
    const c = w.set([{ address: '10.0.0.1' }, { address: 'FD00::0002', port: 1179, gateway: 'fe80::1' }]);
    expect(flagsOf(w)).toEqual({
      '10.0.0.1|0': PW_F_NEIGH | PW_F_MD5 | PW_F_SOCKETS,
      'fd00::2|0': PW_F_NEIGH | PW_F_MD5,
      'fd00::2|1179': PW_F_SOCKETS,
      'fe80::1|0': PW_F_NEIGH,
    });
    expect(c.newSlots.sort()).toEqual([0, 1, 2, 3]);
    expect(w.behind('fe80::1')).toEqual(['fd00::2']);
    expect(w.isPeer('fe80::1')).toBe(false);
    expect(w.peers()).toEqual([{ address: '10.0.0.1' }, { address: 'fd00::2', port: 1179, gateway: 'fe80::1' }]);
    w.add({ address: '::ffff:10.0.0.1' }); // the same peer
    expect(w.peers()).toHaveLength(2);
  });

  it('changes are diffs: unchanged entries keep their slot, freed slots are reused', () => {
    const w = new WatchList(16);
    w.set([{ address: '10.0.0.1' }, { address: '10.0.0.2' }]);
    const s1 = w.entriesOf('10.0.0.1')[0]!.slot;
    const s2 = w.entriesOf('10.0.0.2')[0]!.slot;
    const c = w.set([{ address: '10.0.0.1' }, { address: '10.0.0.3' }]);
    expect(c.upsert.map((e) => e.id)).toEqual(['10.0.0.3|0']);
    expect(c.remove.map((e) => e.id)).toEqual(['10.0.0.2|0']);
    expect(w.entriesOf('10.0.0.1')[0]!.slot).toBe(s1);
    expect(w.entriesOf('10.0.0.3')[0]!.slot).toBe(s2);
    expect(c.freedSlots).toEqual([]); // taken again in the same change
    expect(c.newSlots).toEqual([s2]);
    // a port added to an address: its (address, 0) entry changes flags in place
    const d = w.add({ address: '10.0.0.3', port: 179 });
    expect(d.upsert.map((e) => [e.id, e.flags])).toEqual([['10.0.0.3|179', PW_F_SOCKETS]]);
    const e = w.remove({ address: '10.0.0.3' });
    expect(e.upsert.map((x) => [x.id, x.flags])).toEqual([['10.0.0.3|0', PW_F_NEIGH | PW_F_MD5]]);
  });

  it('bad peers are refused with the reason, and nothing changes', () => {
    const w = new WatchList(3);
    w.set([{ address: '10.0.0.1' }]);
    const before = w.entries();
    for (const [p, msg] of [
      [{ address: '10.0.0.300' }, /not an IPv4 or IPv6 address/],
      [{ address: '0.0.0.0' }, /unspecified/],
      [{ address: 'ff02::1' }, /unicast/],
      [{ address: '224.0.0.5' }, /unicast/],
      [{ address: '10.0.0.2', port: 70000 }, /port/],
      [{ address: '10.0.0.2', port: 1.5 }, /port/],
      [{ address: '10.0.0.2', gateway: 'x' }, /gateway/],
      [{ address: 42 }, /string/],
    ] as const) {
      expect(() => w.set([{ address: '10.0.0.9' }, p as never]), String(p.address)).toThrow(msg);
      expect(w.entries()).toEqual(before);
    }
    expect(() => w.set([{ address: '10.0.0.2' }, { address: '10.0.0.3' }, { address: '10.0.0.4' }, { address: '10.0.0.5' }])).toThrow(/map holds 3/);
    expect(w.entries()).toEqual(before);
    expect(() => w.set([{ address: '10.0.0.1' }, { address: '10.0.0.2' }, { address: '10.0.0.3' }])).not.toThrow();
    expect(() => w.set([null as never])).toThrow(WatchError);
  });
});

describe('fallback source', () => {
  it("a Node socket error becomes the same event type, kind by errno", () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 10.0.0.4:179'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
    const e = eventFromSocketError({ address: '10.0.0.4', port: 179, error: err, phase: 'connect', time: 5n });
    expect(e).toEqual({
      ...fromRaw(raw({ flags: PW_EV_AT_CLOSE, tsNs: 5n, lport: 0, slot: 0, cookie: 0n })),
      source: 'socket',
      hook: 'socket',
      socketCookie: 0n,
    });
    // a dual-stack listener's IPv4 peer, as Node names it: reported as IPv4, like the kernel does
    expect(eventFromSocketError({ address: '::ffff:10.0.0.4', error: { code: 'EHOSTUNREACH' }, phase: 'established' })).toMatchObject({
      kind: 'unreachable',
      errno: -113,
      oldState: 'ESTABLISHED',
      family: 4,
      peer: '10.0.0.4',
    });
    expect(eventFromSocketError({ address: '10.0.0.4', error: { errno: -110 } })).toMatchObject({ kind: 'timeout', code: 'ETIMEDOUT' });
  });

  it('bad reports are refused with the reason', () => {
    expect(() => eventFromSocketError({ address: 'nope', error: { code: 'ECONNREFUSED' } })).toThrow(WatchError);
    expect(() => eventFromSocketError({ address: '10.0.0.4', error: {} })).toThrow(/errno code/);
    expect(() => eventFromSocketError({ address: '10.0.0.4', port: -1, error: { code: 'ECONNREFUSED' } })).toThrow(/port/);
  });

  it('dedup drops the other source saying the same thing within the window, never the same source', () => {
    const d = new Dedup(1_000_000_000n);
    const bpf = fromRaw(raw());
    const sock = { ...bpf, source: 'socket' as const };
    expect(d.admit(bpf, 0n)).toBe(true);
    expect(d.admit(bpf, 1n)).toBe(true); // a second refused connect is a second fact
    expect(d.admit(sock, 2n)).toBe(false);
    expect(d.admit(sock, 2_000_000_000n)).toBe(true); // out of the window
    expect(d.admit({ ...bpf, port: 180 }, 2_000_000_001n)).toBe(true);
  });
});

describe('aggregation', () => {
  it('TCP-MD5 failures count from the last established connection for /readyz', () => {
    const b = new PeerHealthBook();
    let md5 = 5;
    b.record(fromRaw(raw({ kind: 0, oldstate: 2, newstate: 1, err: 0 })), () => md5);
    expect(b.get('10.0.0.4')!.md5Baseline).toBe(5);
    md5 = 17;
    b.record(fromRaw(raw({ kind: 10, err: 0 })), () => md5);
    expect(b.get('10.0.0.4')!.events['md5-mismatch']).toBe(1);
    expect(md5ProblemLine('10.0.0.4', md5 - b.get('10.0.0.4')!.md5Baseline)).toBe('TCP-MD5 authentication failing for 10.0.0.4 (12 segments dropped)');
    expect(md5ProblemLine('10.0.0.4', 1)).toBe('TCP-MD5 authentication failing for 10.0.0.4 (1 segment dropped)');
    b.record(fromRaw(raw()));
    expect(b.get('10.0.0.4')!.lastDead?.kind).toBe('refused');
  });
});
