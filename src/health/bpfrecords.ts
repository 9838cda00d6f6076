// The binary records of bpf/peerwatch.h as TypeScript reads and writes them: pw_event from
// the ring buffer, pw_peer_key / pw_peer_val for the peer map. Pure: no I/O. Offsets follow
// the C structs (x86-64 and arm64 are both little-endian; the kernel writes host order).
import { parseIP, type Family } from '../net/ip.js';

export const PW_ABI_VERSION = 3;
export const PW_EVENT_SIZE = 64;
export const PW_KEY_SIZE = 20;
export const PW_VAL_SIZE = 32;
export const PW_COUNTERS = 14;
export const PW_GLOBALS = 5;

export const AF_INET = 2;
export const AF_INET6 = 10;

/** enum pw_kind, in order: the index is the kernel's number and the counter index. */
export const KINDS = [
  'state',
  'refused',
  'unreachable',
  'timeout',
  'error',
  'reset',
  'host-gone',
  'rto',
  'syn-unanswered',
  'neighbour-failed',
  'md5-mismatch',
  'md5-required',
  'md5-unexpected',
] as const;
export type PeerHealthKind = (typeof KINDS)[number];
/** Counter index of every retransmitted segment (fast or RTO) after the kinds. */
export const COUNTER_RETRANSMITS = 13;

export const PW_F_SOCKETS = 0x1;
export const PW_F_NEIGH = 0x2;
export const PW_F_MD5 = 0x4;

export const PW_EV_SOCKOPS = 0x1;
export const PW_EV_EXPIRED = 0x2;
export const PW_EV_MAPPED = 0x4;
export const PW_EV_QUEUED = 0x8;
export const PW_EV_AT_CLOSE = 0x10;

/** PW_G_* global counters. */
export const GLOBALS = ['events', 'ringbufFull', 'md5Suppressed', 'sockopsArmed', 'rtoMinSet'] as const;

/** One pw_event as read from the ring buffer, before attribution to a peer. */
export interface RawEvent {
  tsNs: bigint;
  family: Family;
  /** 4 or 16 bytes, network order */
  addr: Uint8Array;
  rport: number;
  lport: number;
  kind: number;
  oldstate: number;
  newstate: number;
  retransmits: number;
  flags: number;
  err: number;
  softErr: number;
  slot: number;
  netns: number;
  cookie: bigint;
}

/** Decode a batch of pw_event records; a trailing partial record is an error. */
export function decodeEvents(buf: Uint8Array): RawEvent[] {
  if (buf.byteLength % PW_EVENT_SIZE !== 0)
    throw new RangeError(`peerwatch batch of ${buf.byteLength} bytes is not a whole number of ${PW_EVENT_SIZE}-byte records`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RawEvent[] = [];
  for (let o = 0; o < buf.byteLength; o += PW_EVENT_SIZE) {
    const af = dv.getUint16(o + 24, true);
    const family: Family = af === AF_INET6 ? 6 : 4;
    out.push({
      tsNs: dv.getBigUint64(o, true),
      family,
      addr: buf.slice(o + 8, o + 8 + (family === 4 ? 4 : 16)),
      rport: dv.getUint16(o + 26, true),
      lport: dv.getUint16(o + 28, true),
      kind: dv.getUint8(o + 30),
      oldstate: dv.getUint8(o + 31),
      newstate: dv.getUint8(o + 32),
      retransmits: dv.getUint8(o + 33),
      flags: dv.getUint16(o + 34, true),
      err: dv.getInt32(o + 36, true),
      softErr: dv.getInt32(o + 40, true),
      slot: dv.getUint32(o + 44, true),
      netns: dv.getUint32(o + 48, true),
      cookie: dv.getBigUint64(o + 56, true),
    });
  }
  return out;
}

/** Encode one pw_event (tests and the fallback source build records the same way). */
export function encodeEvent(e: RawEvent, out = new Uint8Array(PW_EVENT_SIZE), at = 0): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset + at, PW_EVENT_SIZE);
  new Uint8Array(out.buffer, out.byteOffset + at, PW_EVENT_SIZE).fill(0);
  dv.setBigUint64(0, e.tsNs, true);
  new Uint8Array(out.buffer, out.byteOffset + at + 8, 16).set(e.addr);
  dv.setUint16(24, e.family === 6 ? AF_INET6 : AF_INET, true);
  dv.setUint16(26, e.rport, true);
  dv.setUint16(28, e.lport, true);
  dv.setUint8(30, e.kind);
  dv.setUint8(31, e.oldstate);
  dv.setUint8(32, e.newstate);
  dv.setUint8(33, e.retransmits);
  dv.setUint16(34, e.flags, true);
  dv.setInt32(36, e.err, true);
  dv.setInt32(40, e.softErr, true);
  dv.setUint32(44, e.slot, true);
  dv.setUint32(48, e.netns, true);
  dv.setBigUint64(56, e.cookie, true);
  return out;
}

/** pw_peer_key of an address text and port (0 = any). Throws on a bad address. */
export function encodeKey(address: string, port: number, out = new Uint8Array(PW_KEY_SIZE), at = 0): Uint8Array {
  const a = parseIP(address);
  if (!a) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  const dv = new DataView(out.buffer, out.byteOffset + at, PW_KEY_SIZE);
  new Uint8Array(out.buffer, out.byteOffset + at, 16).fill(0).set(a.bytes);
  dv.setUint16(16, a.family === 6 ? AF_INET6 : AF_INET, true);
  dv.setUint16(18, port, true);
  return out;
}

export function encodeVal(slot: number, flags: number, out = new Uint8Array(PW_VAL_SIZE), at = 0): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset + at, PW_VAL_SIZE);
  dv.setUint32(0, slot, true);
  dv.setUint32(4, flags, true);
  for (let o = 8; o < PW_VAL_SIZE; o += 8) dv.setBigUint64(o, 0n, true); // md5_last[3]: the programs' own
  return out;
}
