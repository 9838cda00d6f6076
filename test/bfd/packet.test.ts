// BFD control packets through the addon's test hook: the same encoder, decoder and
// authentication code the sessions use (native/bfd_packet.cc).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bfdPacketCodec } from '../../src/native/bfd.js';

const codec = bfdPacketCodec();
const base = { state: 'up' as const, detectMult: 3, myDisc: 0x11223344, yourDisc: 0x55667788, desiredMinTxUs: 300_000, requiredMinRxUs: 250_000 };

describe('BFD packet codec (RFC 5880 §4)', () => {
  it('encodes the mandatory section bit for bit', () => {
    const b = codec.encode({ ...base, diag: 3, poll: true });
    expect(b.length).toBe(24);
    expect(b[0]).toBe((1 << 5) | 3); // version 1, diag 3
    expect(b[1]).toBe((3 << 6) | 0x20); // Up, P
    expect(b[2]).toBe(3);
    expect(b[3]).toBe(24);
    expect(b.readUInt32BE(4)).toBe(0x11223344);
    expect(b.readUInt32BE(8)).toBe(0x55667788);
    expect(b.readUInt32BE(12)).toBe(300_000);
    expect(b.readUInt32BE(16)).toBe(250_000);
    expect(b.readUInt32BE(20)).toBe(0);
  });

  it('decodes what it encodes', () => {
    const d = codec.decode(codec.encode({ ...base, final: true, cpi: true, state: 'init' }));
    expect(d).toMatchObject({ version: 1, state: 'init', final: true, poll: false, cpi: true, auth: false, detectMult: 3, myDisc: 0x11223344, yourDisc: 0x55667788, desiredMinTxUs: 300_000, requiredMinRxUs: 250_000 });
  });

  it('rejects what §6.8.6 says to discard', () => {
    const good = codec.encode(base);
    const bad = (f: (b: Buffer) => void): string | undefined => {
      const b = Buffer.from(good);
      f(b);
      return (codec.decode(b) as { error?: string }).error;
    };
    expect(bad((b) => (b[0] = (2 << 5) | 0))).toMatch(/version/);
    expect(bad((b) => (b[3] = 20))).toMatch(/length/);
    expect(bad((b) => (b[3] = 30))).toMatch(/length/);
    expect(bad((b) => (b[2] = 0))).toMatch(/multiplier/);
    expect(bad((b) => (b[1] = b[1]! | 1))).toMatch(/multipoint/);
    expect(bad((b) => b.writeUInt32BE(0, 4))).toMatch(/my discriminator/);
    expect(bad((b) => b.writeUInt32BE(0, 8))).toMatch(/your discriminator/); // Up with your disc 0
    expect((codec.decode(codec.encode({ ...base, state: 'down', yourDisc: 0 })) as { error?: string }).error).toBeUndefined();
    expect((codec.decode(good.subarray(0, 23)) as { error?: string }).error).toMatch(/shorter/);
  });

  it('keyed SHA1: the digest is SHA1 over the packet with the key in its place (§6.7.4)', () => {
    const auth = { type: 'keyed-sha1', keyId: 7, key: 'secret' };
    const b = codec.encode(base, auth, 1234);
    expect(b.length).toBe(24 + 28);
    expect(b[1]! & 0x04).toBe(0x04); // A bit
    expect([b[24], b[25], b[26]]).toEqual([4, 28, 7]);
    expect(b.readUInt32BE(28)).toBe(1234);
    const withKey = Buffer.from(b);
    withKey.fill(0, 32, 52);
    withKey.write('secret', 32, 'latin1');
    expect(b.subarray(32, 52).equals(createHash('sha1').update(withKey).digest())).toBe(true);
    expect(codec.verify(b, auth)).toBe('');
    expect(codec.decode(b)).toMatchObject({ auth: true, authType: 'keyed-sha1', authKeyId: 7, authSeq: 1234 });
  });

  it('authentication fails on a wrong key, key id, type, a changed byte, or when absent or unexpected', () => {
    const auth = { type: 'meticulous-keyed-sha1', keyId: 1, key: 'k1' };
    const b = codec.encode(base, auth, 9);
    expect(codec.verify(b, auth)).toBe('');
    expect(codec.verify(b, { ...auth, key: 'k2' })).toMatch(/digest/);
    expect(codec.verify(b, { ...auth, keyId: 2 })).toMatch(/key id/);
    expect(codec.verify(b, { ...auth, type: 'keyed-sha1' })).toMatch(/type/);
    const t = Buffer.from(b);
    t.writeUInt32BE(300_001, 12);
    expect(codec.verify(t, auth)).toMatch(/digest/);
    expect(codec.verify(codec.encode(base), auth)).toMatch(/absent/);
    expect(codec.verify(b)).toMatch(/not configured/);
  });

  it('keyed MD5 and simple password', () => {
    const md5 = { type: 'keyed-md5', keyId: 3, key: 'abc' };
    const m = codec.encode(base, md5, 5);
    expect(m.length).toBe(48);
    const withKey = Buffer.from(m);
    withKey.fill(0, 32, 48);
    withKey.write('abc', 32, 'latin1');
    expect(m.subarray(32, 48).equals(createHash('md5').update(withKey).digest())).toBe(true);
    expect(codec.verify(m, md5)).toBe('');
    const simple = { type: 'simple', keyId: 1, key: 'pw' };
    const s = codec.encode(base, simple);
    expect(s.length).toBe(24 + 5);
    expect(s.subarray(27).toString()).toBe('pw');
    expect(codec.verify(s, simple)).toBe('');
    expect(codec.verify(s, { ...simple, key: 'px' })).toMatch(/password/);
  });
});
