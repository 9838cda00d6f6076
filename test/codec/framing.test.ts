// Framing: a byte stream cut at every point gives the same messages; header errors carry
// their NOTIFICATION.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BgpError,
  codecOptions,
  encodeEndOfRib,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  encodeUpdate,
  Framer,
  makeAttributes,
  parseAsPath,
  type Frame,
} from '../../src/bgp/codec/index.js';
import { parsePrefix } from '../../src/net/prefix.js';
import { hex } from './helpers.js';

const messages = [
  encodeOpen({ asn: 65001, holdTime: 90, routerId: '10.0.0.1', capabilities: [{ kind: 'as4', asn: 65001 }] }),
  encodeKeepalive(),
  encodeUpdate(
    { reach: [{ family: 4, prefixes: Float64Array.of(parsePrefix('10.0.0.0/8') as number, parsePrefix('192.168.0.0/16') as number), attrs: makeAttributes({ origin: 0, asPath: parseAsPath('65001'), nextHop: '10.0.0.1' }) }] },
    codecOptions(),
  ),
  encodeEndOfRib(4),
  encodeEndOfRib(6),
  encodeRouteRefresh({ afi: 1, safi: 1 }),
  encodeNotification({ code: 6, subcode: 2, data: Uint8Array.of(2, 0x68, 0x69) }),
];
const stream = Buffer.concat(messages);
const hexes = (fs: Frame[]) => fs.map((f) => Buffer.from(f.raw).toString('hex'));
const want = messages.map((m) => m.toString('hex'));

function feed(chunks: Uint8Array[], framer = new Framer()): Frame[] {
  const out: Frame[] = [];
  for (const c of chunks) out.push(...framer.push(c));
  expect(framer.buffered).toBe(0);
  return out;
}

describe('framing', () => {
  it('gives the same messages for a split at every point', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(hexes(feed([stream.subarray(0, i), stream.subarray(i)])), `split at ${i}`).toEqual(want);
    }
  });

  it('gives the same messages one octet at a time, and for any chunking', () => {
    expect(hexes(feed(Array.from(stream, (b) => Uint8Array.of(b))))).toEqual(want);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }), (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const chunks = at.slice(1).map((e, i) => stream.subarray(at[i], e));
        expect(hexes(feed(chunks))).toEqual(want);
      }),
    );
  });

  it('frames carry type, body and the whole message, and survive later pushes', () => {
    const framer = new Framer();
    const [open] = framer.push(Buffer.from(messages[0]!));
    framer.push(stream.subarray(0, 30));
    expect(open!.type).toBe(1);
    expect(open!.body.length).toBe(messages[0]!.length - 19);
    expect(Buffer.from(open!.raw).equals(messages[0]!)).toBe(true);
  });

  const headerError = (h: string, framer = new Framer()) => {
    try {
      framer.push(hex(h));
    } catch (e) {
      expect(e).toBeInstanceOf(BgpError);
      return e as BgpError;
    }
    throw new Error('no error');
  };
  const M = 'ff'.repeat(16);

  it('rejects a bad marker, length or type with the NOTIFICATION of RFC 4271 §6.1', () => {
    const marker = headerError(`${'ff'.repeat(15)}fe 0013 04`);
    expect([marker.code, marker.notification.code, marker.notification.subcode]).toEqual(['HEADER_MARKER', 1, 1]);
    for (const [len, type] of [
      ['0012', '04'], // shorter than a header
      ['0014', '04'], // KEEPALIVE with a body
      ['0016', '02'], // UPDATE shorter than 23
      ['001c', '01'], // OPEN shorter than 29
      ['0014', '03'], // NOTIFICATION shorter than 21
      ['0016', '05'], // ROUTE-REFRESH shorter than 23
      ['1001', '02'], // 4097 without extended messages
    ]) {
      const e = headerError(`${M}${len}${type}`);
      expect([e.code, e.notification.code, e.notification.subcode, Buffer.from(e.notification.data).toString('hex')], `${len} ${type}`).toEqual(['HEADER_LENGTH', 1, 2, len]);
    }
    const type = headerError(`${M}0013 09`);
    expect([type.code, type.notification.subcode, Array.from(type.notification.data)]).toEqual(['HEADER_TYPE', 3, [9]]);
  });

  it('detects a bad header as soon as the header is complete, and stays failed', () => {
    const f = new Framer();
    expect(f.push(hex(`${M}00`))).toEqual([]);
    const e = headerError('1301', f);
    expect(e.code).toBe('HEADER_LENGTH');
    expect(() => f.push(encodeKeepalive())).toThrow(e);
  });

  it('accepts 65,535-octet UPDATEs once extended messages are negotiated, but never an OPEN over 4096 (RFC 8654)', () => {
    const big = Buffer.concat([hex(`${M}ffff02 0000 ffe8`), Buffer.alloc(0xffe8)]);
    expect(headerError(big.toString('hex')).code).toBe('HEADER_LENGTH');
    const f = new Framer();
    f.extendedMessage = true;
    expect(f.maxLength).toBe(65535);
    const [frame] = f.push(big);
    expect(frame!.body.length).toBe(65535 - 19);
    expect(headerError(`${M}1001 01`, f).code).toBe('HEADER_LENGTH');
  });
});

describe('memory', () => {
  it('a framer makes its 64 KiB buffer for messages that span chunks only when one does', () => {
    const before = process.memoryUsage().arrayBuffers;
    const framers = Array.from({ length: 1000 }, () => new Framer());
    // whole messages in each chunk: no accumulation needed
    for (const f of framers) expect(hexes(f.push(stream))).toEqual(want);
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(8 << 20); // 1,000 × 64 KiB would be 64 MiB
    // a message cut in two still arrives whole
    const f = framers[0]!;
    expect(hexes([...f.push(stream.subarray(0, 30)), ...f.push(stream.subarray(30))])).toEqual(want);
  });
});
