// Wire fuzzing (issue 12): generated and mutated BGP messages through the path the agent runs
// for every message a peer sends —
//
//   socket 'data' ─► Framer ─► decodeMessage (the session's negotiated options) ─► FSM ─►
//   Session ─► the agent's UPDATE handling: Rib.update (the RIB import), Rib.flush
//
// with the real classes: Session and Connection (fed through a socket stand-in, drained by
// the same drainSafely() the connection's setImmediate runs), the codec, and a real Rib wired
// as src/agent/agent.ts wires it. Messages are built valid by the codec's encoders (OPEN with
// every capability, UPDATE with every attribute, NOTIFICATION, ROUTE-REFRESH, KEEPALIVE,
// End-of-RIB), then mutated inside their structure: attribute flags, lengths and values,
// MP_REACH_NLRI / MP_UNREACH_NLRI contents, AS_PATH segments, duplicated, dropped, reordered
// and unknown attributes, NLRI and length fields, headers, truncations, and the stream cut
// at random points (framing splits, several messages per chunk).
//
// Every outcome is classified and checked against what RFC 4271 / RFC 7606 allow:
//   ok · attribute-discard · treat-as-withdraw · ignore      (the UPDATE reached the RIB)
//   reset code/subcode                                        (a NOTIFICATION we sent)
//   closed                                                    (the peer's NOTIFICATION)
//   waiting                                                   (a header promising more octets)
// A finding is: an exception other than BgpError (the connection's internalError), a
// NOTIFICATION no rule allows for that message, an UPDATE outcome that contradicts the
// malformation table, a message handled slower than the time bound, or a stalled worker (hang).
//
//   node dist-bench/fuzz.js --messages 10000000 --seed 1 [--out test/fixtures/bgp/fuzz] [--quiet]
//
// The campaign runs in a worker; the main thread watches its heartbeat (a hang is a finding)
// and prints messages, messages per second, peak RSS (process.resourceUsage().maxRSS), the
// outcome counts and the findings. Findings are saved as hex files for test/codec/fuzz.test.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import {
  AFI_IPV4,
  AFI_IPV6,
  type Capability,
  codecOptions,
  type CodecOptions,
  encodeEndOfRib,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  encodeUpdate,
  makeAttributes,
  MALFORMATIONS,
  type ReachInit,
  type MalformationCode,
  type PathAttributesInit,
  type UpdateInit,
  type UpdateMessage,
} from '#dist/bgp/codec/index.js';
import { cease, Session, type PeerSettings, type SessionContext, type Connection } from '#dist/bgp/session/index.js';
import { internalErrors } from '#dist/bgp/session/connection.js';
import { Rib, type PeerHandle } from '#dist/rib/index.js';
import type { Prefix6 } from '#dist/net/prefix.js';

// ---------------------------------------------------------------------------------------
// Seeded randomness

export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  /** mulberry32 */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

const INTERESTING8 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 15, 16, 17, 24, 31, 32, 33, 64, 127, 128, 129, 254, 255];

// ---------------------------------------------------------------------------------------
// Valid messages, from the codec's encoders

const ip4 = (r: Rng): string => `${r.range(1, 223)}.${r.int(256)}.${r.int(256)}.${r.range(1, 254)}`;
const ip6 = (r: Rng): string => `2001:db8:${r.int(65536).toString(16)}::${r.range(1, 65535).toString(16)}`;

/** Prefixes from a bounded space (the RIB stays bounded): 10.0.0.0/8 lengths 8–32, 2001:db8::/32 lengths 32–128. */
function prefix4(r: Rng): number {
  const len = r.range(8, 32);
  const addr = ((10 << 24) | (r.int(65536) << 8) | r.int(256)) >>> 0;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((addr & mask) >>> 0) * 64 + len;
}

function prefix6(r: Rng): Prefix6 {
  const len = r.range(32, 128);
  const b = [0x20, 0x01, 0x0d, 0xb8, ...r.bytes(12)];
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    b[i] = b[i]! & ((0xff00 >> keep) & 0xff);
  }
  return String.fromCharCode(len, ...b);
}

function asPath(r: Rng, as4: boolean): PathAttributesInit['asPath'] {
  const segs = [];
  const n = r.chance(0.1) ? 0 : r.range(1, 3);
  for (let i = 0; i < n; i++) {
    const type = r.chance(0.8) ? 2 : r.pick([1, 3, 4] as const);
    const asns = Array.from({ length: r.range(1, 6) }, () => (as4 && r.chance(0.3) ? r.range(65536, 4200000000) : r.range(1, 65535)));
    segs.push({ type: type as 1 | 2 | 3 | 4, asns });
  }
  return segs;
}

function tunnelEncap(r: Rng): string {
  const parts: number[] = [];
  for (let t = r.range(1, 2); t > 0; t--) {
    const sub: number[] = [];
    for (let s = r.range(0, 2); s > 0; s--) {
      const type = r.pick([1, 4, 6, 128, 130]);
      const v = [...r.bytes(r.range(0, 6))];
      sub.push(type, ...(type >= 128 ? [0, v.length] : [v.length]), ...v);
    }
    parts.push(0, r.pick([1, 2, 7, 8, 13]), sub.length >> 8, sub.length & 0xff, ...sub);
  }
  return Buffer.from(parts).toString('hex');
}

/** A set of path attributes with every attribute type possible. */
function attributes(r: Rng, as4: boolean): PathAttributesInit {
  const a: PathAttributesInit = { origin: r.int(3), asPath: asPath(r, as4) };
  if (r.chance(0.5)) a.med = r.u32();
  if (r.chance(0.4)) a.localPref = r.u32();
  if (r.chance(0.2)) a.atomicAggregate = true;
  if (r.chance(0.3)) a.aggregator = { asn: as4 && r.chance(0.3) ? r.range(65536, 4200000000) : r.range(1, 65535), address: ip4(r) };
  if (r.chance(0.5)) a.communities = Array.from({ length: r.range(1, 6) }, () => r.u32());
  if (r.chance(0.2)) a.originatorId = ip4(r);
  if (r.chance(0.2)) a.clusterList = Array.from({ length: r.range(1, 3) }, () => ip4(r));
  if (r.chance(0.3)) a.extendedCommunities = Array.from({ length: r.range(1, 3) }, () => (BigInt(r.u32()) << 32n) | BigInt(r.u32()));
  if (r.chance(0.3)) a.largeCommunities = Array.from({ length: r.range(1, 3) }, () => [r.u32(), r.u32(), r.u32()] as const);
  if (r.chance(0.2)) a.otc = r.u32();
  if (r.chance(0.15)) a.tunnelEncapsulation = tunnelEncap(r);
  if (r.chance(0.2))
    a.unknown = Array.from({ length: r.range(1, 3) }, () => ({ code: r.pick([19, 21, 28, 33, 40, 64, 128, 200, 240, 255]), flags: 0xc0 | (r.chance(0.3) ? 0x20 : 0), value: Buffer.from(r.bytes(r.range(0, 12))).toString('hex') }));
  return a;
}

/** The options a valid UPDATE is encoded with (2- or 4-octet AS, ADD-PATH send as given). */
function encodeOptions(as4: boolean, ap4: boolean, ap6: boolean): CodecOptions {
  return codecOptions({ as4, ebgp: false, addPath: { ipv4: { send: ap4 }, ipv6: { send: ap6 } } });
}

export function validUpdate(r: Rng, o: CodecOptions): Buffer {
  const as4 = r.chance(0.9) ? o.as4 : !o.as4;
  const ap4 = r.chance(0.95) ? o.addPath.ipv4.receive : !o.addPath.ipv4.receive;
  const ap6 = r.chance(0.95) ? o.addPath.ipv6.receive : !o.addPath.ipv6.receive;
  const eo = encodeOptions(as4, ap4, ap6);
  const ids = (n: number, on: boolean) => (on ? Array.from({ length: n }, () => r.int(4)) : null);
  const u: { -readonly [K in keyof UpdateInit]: UpdateInit[K] } = {};
  const kind = r.int(10);
  if (kind === 0) return encodeEndOfRib(r.chance(0.5) ? 4 : 6);
  if (r.chance(0.3)) {
    const w = Array.from({ length: r.range(1, 5) }, () => prefix4(r));
    u.withdrawn4 = w;
    u.withdrawn4PathIds = ids(w.length, ap4);
  }
  if (r.chance(0.2)) {
    const w = Array.from({ length: r.range(1, 4) }, () => prefix6(r));
    u.withdrawn6 = w;
    u.withdrawn6PathIds = ids(w.length, ap6);
  }
  if (kind >= 3) {
    const base = attributes(r, as4);
    const reach: ReachInit[] = [];
    if (r.chance(0.7)) {
      const p = Array.from({ length: r.range(1, 6) }, () => prefix4(r));
      reach.push({ family: 4, prefixes: p, pathIds: ids(p.length, ap4), attrs: makeAttributes({ ...base, nextHop: ip4(r) }) });
    }
    if (reach.length === 0 || r.chance(0.4)) {
      const p = Array.from({ length: r.range(1, 4) }, () => prefix6(r));
      const nh: PathAttributesInit = { ...base, nextHop: ip6(r) };
      if (r.chance(0.3)) nh.linkLocalNextHop = `fe80::${r.range(1, 65535).toString(16)}`;
      reach.push({ family: 6, prefixes: p, pathIds: ids(p.length, ap6), attrs: makeAttributes(nh) });
    }
    u.reach = reach;
  }
  return encodeUpdate(u, eo);
}

/** The OPEN of a fuzz peer with the capabilities that give a session the options wanted. */
export function peerOpen(asn: number, routerId: string, want: { as4: boolean; addPath: boolean; extendedMessage: boolean; gr: boolean }, r?: Rng): Buffer {
  const caps: Capability[] = [
    { kind: 'multiprotocol', afi: AFI_IPV4, safi: 1 },
    { kind: 'multiprotocol', afi: AFI_IPV6, safi: 1 },
    { kind: 'route-refresh' },
    { kind: 'enhanced-route-refresh' },
  ];
  if (want.as4) caps.push({ kind: 'as4', asn });
  if (want.extendedMessage) caps.push({ kind: 'extended-message' });
  if (want.addPath)
    caps.push({
      kind: 'add-path',
      families: [
        { afi: AFI_IPV4, safi: 1, send: true, receive: false },
        { afi: AFI_IPV6, safi: 1, send: true, receive: false },
      ],
    });
  if (want.gr) caps.push({ kind: 'graceful-restart', restarting: false, notification: true, restartTime: 120, families: [{ afi: AFI_IPV4, safi: 1, forwarding: true }] });
  if (r) {
    // the rest of the capability table, valid, now and then
    if (r.chance(0.3)) caps.push({ kind: 'route-refresh-cisco' });
    if (r.chance(0.3)) caps.push({ kind: 'role', role: r.int(5) });
    if (r.chance(0.3)) caps.push({ kind: 'long-lived-graceful-restart', families: [{ afi: AFI_IPV4, safi: 1, forwarding: false, staleTime: r.int(1 << 24) }] });
    if (r.chance(0.3)) caps.push({ kind: 'extended-next-hop', families: [{ afi: AFI_IPV4, safi: 1, nextHopAfi: AFI_IPV6 }] });
    if (r.chance(0.3)) caps.push({ kind: 'fqdn', hostname: 'peer', domain: 'example' });
    if (r.chance(0.3)) caps.push({ kind: 'unknown', code: r.pick([66, 200, 254]), value: r.bytes(r.int(6)) });
  }
  return encodeOpen({ asn: want.as4 ? asn : asn > 65535 ? 23456 : asn, holdTime: r?.chance(0.2) ? r.pick([0, 3, 30, 65535]) : 90, routerId, capabilities: caps });
}

function validOther(r: Rng): Buffer {
  switch (r.int(4)) {
    case 0:
      return encodeKeepalive();
    case 1:
      return encodeRouteRefresh({ afi: r.pick([1, 2, 1, 3, 25]), safi: r.pick([1, 1, 2, 128]), subtype: r.pick([0, 0, 1, 2, 3, 255]) });
    case 2:
      return encodeNotification({ code: r.range(1, 8), subcode: r.int(12), data: r.bytes(r.int(8)) });
    default:
      return peerOpen(r.range(1, 4200000000), ip4(r), { as4: r.chance(0.8), addPath: r.chance(0.3), extendedMessage: r.chance(0.3), gr: r.chance(0.3) }, r);
  }
}

// ---------------------------------------------------------------------------------------
// Structure-aware mutation

interface Attr {
  flags: number;
  code: number;
  value: Uint8Array;
  /** declared length minus the real one */
  lie: number;
}

interface UpdateParts {
  withdrawn: Uint8Array;
  attrs: Attr[];
  nlri: Uint8Array;
  wlenLie: number;
  alenLie: number;
}

const HEADER = 19;

function parseUpdate(m: Uint8Array): UpdateParts | null {
  const b = m.subarray(HEADER);
  if (b.length < 4) return null;
  const wlen = (b[0]! << 8) | b[1]!;
  if (2 + wlen + 2 > b.length) return null;
  const alen = (b[2 + wlen]! << 8) | b[3 + wlen]!;
  const as = 4 + wlen;
  if (as + alen > b.length) return null;
  const attrs: Attr[] = [];
  for (let p = as; p < as + alen; ) {
    const flags = b[p]!;
    const ext = (flags & 0x10) !== 0;
    const len = ext ? (b[p + 2]! << 8) | b[p + 3]! : b[p + 2]!;
    const v = p + (ext ? 4 : 3);
    attrs.push({ flags, code: b[p + 1]!, value: b.slice(v, v + len), lie: 0 });
    p = v + len;
  }
  return { withdrawn: b.slice(2, 2 + wlen), attrs, nlri: b.slice(as + alen), wlenLie: 0, alenLie: 0 };
}

function serializeUpdate(u: UpdateParts): Uint8Array {
  const parts: number[] = [];
  for (const a of u.attrs) {
    const ext = (a.flags & 0x10) !== 0;
    const len = Math.max(0, Math.min(ext ? 0xffff : 0xff, a.value.length + a.lie));
    parts.push(a.flags, a.code);
    if (ext) parts.push(len >> 8, len & 0xff);
    else parts.push(len);
    for (let i = 0; i < a.value.length; i++) parts.push(a.value[i]!);
  }
  const wlen = Math.max(0, Math.min(0xffff, u.withdrawn.length + u.wlenLie));
  const alen = Math.max(0, Math.min(0xffff, parts.length + u.alenLie));
  const body = new Uint8Array(4 + u.withdrawn.length + parts.length + u.nlri.length);
  body[0] = wlen >> 8;
  body[1] = wlen & 0xff;
  body.set(u.withdrawn, 2);
  let p = 2 + u.withdrawn.length;
  body[p++] = alen >> 8;
  body[p++] = alen & 0xff;
  body.set(parts, p);
  body.set(u.nlri, p + parts.length);
  return frameOf(2, body);
}

function frameOf(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + body.length);
  out.fill(0xff, 0, 16);
  const len = Math.min(0xffff, out.length);
  out[16] = len >> 8;
  out[17] = len & 0xff;
  out[18] = type;
  out.set(body, HEADER);
  return out;
}

/** Mutations of a value: bit flips, interesting octets, truncation, extension, replacement. */
function mutateValue(r: Rng, v: Uint8Array): Uint8Array {
  switch (r.int(7)) {
    case 0: {
      if (v.length === 0) return r.bytes(r.range(1, 4));
      const c = v.slice();
      const i = r.int(c.length);
      c[i] = c[i]! ^ (1 << r.int(8));
      return c;
    }
    case 1: {
      if (v.length === 0) return Uint8Array.of(r.pick(INTERESTING8));
      const c = v.slice();
      c[r.int(c.length)] = r.pick(INTERESTING8);
      return c;
    }
    case 2:
      return v.slice(0, r.int(v.length + 1));
    case 3: {
      const c = new Uint8Array(v.length + r.range(1, 8));
      c.set(v);
      c.set(r.bytes(c.length - v.length), v.length);
      return c;
    }
    case 4:
      return r.bytes(r.int(24));
    case 5: {
      // a 4-octet AS number of 0, or a u16/u32 field set to an edge value, somewhere
      if (v.length < 2) return v;
      const c = v.slice();
      const i = r.int(c.length - 1);
      const w = r.pick([0, 0xffff, 23456, 0x8000]);
      c[i] = w >> 8;
      c[i + 1] = w & 0xff;
      return c;
    }
    default: {
      if (v.length === 0) return v;
      const c = v.slice();
      for (let n = r.range(2, 6); n > 0; n--) c[r.int(c.length)] = r.u32() & 0xff;
      return c;
    }
  }
}

/** An NLRI field mutated where prefixes start: lengths past the family's width, overruns, path ids cut. */
function mutateNlri(r: Rng, n: Uint8Array, v6: boolean): Uint8Array {
  if (n.length === 0 || r.chance(0.3)) return r.chance(0.5) ? n : Uint8Array.of(r.pick(v6 ? [129, 200, 255, 128, 0] : [33, 40, 255, 32, 0]), ...r.bytes(r.int(5)));
  const c = n.slice();
  switch (r.int(3)) {
    case 0:
      c[0] = r.pick(v6 ? [129, 255, 128, 64, 0] : [33, 64, 255, 32, 0]);
      return c;
    case 1:
      return c.slice(0, r.int(c.length));
    default:
      return mutateValue(r, c);
  }
}

function mutateMpReach(r: Rng, v: Uint8Array): Uint8Array {
  if (v.length < 5) return mutateValue(r, v);
  const c = v.slice();
  switch (r.int(8)) {
    case 0: // AFI
      c[0] = 0;
      c[1] = r.pick([0, 1, 2, 3, 25, 0xff]);
      return c;
    case 1: // SAFI
      c[2] = r.pick([0, 1, 2, 4, 128, 133, 255]);
      return c;
    case 2: // next hop length
      c[3] = r.pick([0, 1, 4, 12, 16, 24, 32, 33, 255]);
      return c;
    case 3: {
      // next hop octets
      const nh = c[3]!;
      for (let i = 4; i < Math.min(c.length, 4 + nh); i++) if (r.chance(0.3)) c[i] = r.u32() & 0xff;
      return c;
    }
    case 4: // the reserved octet
      if (4 + c[3]! < c.length) c[4 + c[3]!] = r.int(256);
      return c;
    case 5: {
      // NLRI inside
      const at = Math.min(c.length, 5 + c[3]!);
      const afi = (c[0]! << 8) | c[1]!;
      const nl = mutateNlri(r, c.subarray(at), afi === 2);
      const out = new Uint8Array(at + nl.length);
      out.set(c.subarray(0, at));
      out.set(nl, at);
      return out;
    }
    case 6:
      return c.slice(0, r.int(c.length));
    default:
      return mutateValue(r, c);
  }
}

function mutateMpUnreach(r: Rng, v: Uint8Array): Uint8Array {
  if (v.length < 3) return mutateValue(r, v);
  const c = v.slice();
  switch (r.int(5)) {
    case 0:
      c[1] = r.pick([0, 1, 2, 3, 25]);
      return c;
    case 1:
      c[2] = r.pick([0, 1, 2, 128, 255]);
      return c;
    case 2: {
      const nl = mutateNlri(r, c.subarray(3), c[1] === 2);
      const out = new Uint8Array(3 + nl.length);
      out.set(c.subarray(0, 3));
      out.set(nl, 3);
      return out;
    }
    case 3:
      return c.slice(0, r.int(4)); // truncated, or AFI/SAFI only (End-of-RIB)
    default:
      return mutateValue(r, c);
  }
}

function mutateAsPath(r: Rng, v: Uint8Array): Uint8Array {
  if (v.length < 2) return r.chance(0.5) ? Uint8Array.of(r.pick([0, 1, 2, 3, 4, 5]), r.int(4)) : mutateValue(r, v);
  const c = v.slice();
  switch (r.int(4)) {
    case 0:
      c[0] = r.pick([0, 1, 3, 4, 5, 255]);
      return c;
    case 1:
      c[1] = r.pick([0, c[1]! + 1, c[1]! - 1 < 0 ? 0 : c[1]! - 1, 255]) & 0xff;
      return c;
    case 2:
      // AS 0 in the first AS number (either width)
      c.fill(0, 2, Math.min(c.length, 6));
      return c;
    default:
      return mutateValue(r, c);
  }
}

const KNOWN_CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 23, 32, 35];

function mutateUpdate(r: Rng, m: Uint8Array): Uint8Array {
  const u = parseUpdate(m);
  if (!u) return havoc(r, m);
  const n = r.chance(0.6) ? 1 : r.range(2, 4);
  for (let k = 0; k < n; k++) {
    const a = u.attrs.length ? r.pick(u.attrs) : undefined;
    switch (r.int(16)) {
      case 0: // flags
        if (a) a.flags = r.chance(0.7) ? a.flags ^ r.pick([0x80, 0x40, 0x20, 0x10, 0x08, 0x01]) : r.u32() & 0xff;
        break;
      case 1: // a length that lies
        if (a) a.lie = r.pick([-3, -2, -1, 1, 2, 3, 8, -a.value.length]);
        break;
      case 2:
      case 3: // the value
        if (a) a.value = mutateValue(r, a.value);
        break;
      case 4: // MP_REACH_NLRI contents
      case 5: {
        const mp = u.attrs.find((x) => x.code === 14);
        if (mp) mp.value = mutateMpReach(r, mp.value);
        else if (a) a.value = mutateValue(r, a.value);
        break;
      }
      case 6: {
        const mp = u.attrs.find((x) => x.code === 15);
        if (mp) mp.value = mutateMpUnreach(r, mp.value);
        else u.attrs.push({ flags: 0x80, code: 15, value: Uint8Array.of(0, r.pick([1, 2]), 1, ...mutateNlri(r, new Uint8Array(0), false)), lie: 0 });
        break;
      }
      case 7: {
        const p = u.attrs.find((x) => x.code === 2);
        if (p) p.value = mutateAsPath(r, p.value);
        break;
      }
      case 8: // a duplicate (the same, or changed), anywhere
        if (a) {
          const d = { ...a, value: r.chance(0.5) ? a.value : mutateValue(r, a.value) };
          u.attrs.splice(r.int(u.attrs.length + 1), 0, d);
        }
        break;
      case 9: // one less
        if (a) u.attrs.splice(u.attrs.indexOf(a), 1);
        break;
      case 10: // another order
        if (u.attrs.length > 1) {
          const i = r.int(u.attrs.length);
          const [x] = u.attrs.splice(i, 1);
          u.attrs.splice(r.int(u.attrs.length + 1), 0, x!);
        }
        break;
      case 11: {
        // a new attribute, known type or not, with any flags
        const code = r.chance(0.5) ? r.pick(KNOWN_CODES) : r.int(256);
        u.attrs.splice(r.int(u.attrs.length + 1), 0, { flags: r.chance(0.5) ? r.pick([0x40, 0x80, 0xc0, 0xe0, 0x50, 0xd0]) : r.u32() & 0xf0, code, value: r.bytes(r.pick([0, 1, 2, 4, 6, 8, 12, r.int(40)])), lie: 0 });
        break;
      }
      case 12: // the NLRI field or the withdrawn routes
        if (r.chance(0.5)) u.nlri = mutateNlri(r, u.nlri, false);
        else u.withdrawn = mutateNlri(r, u.withdrawn, false);
        break;
      case 13: // a length field of the UPDATE that lies
        if (r.chance(0.5)) u.wlenLie = r.pick([-2, -1, 1, 2, 40, 4000]);
        else u.alenLie = r.pick([-3, -1, 1, 3, 40, 4000]);
        break;
      case 14: // an extended-length attribute with a long value
        if (a) {
          a.flags |= 0x10;
          if (r.chance(0.5)) {
            const v = new Uint8Array(a.value.length + r.range(200, 400));
            v.set(a.value);
            v.set(r.bytes(v.length - a.value.length), a.value.length);
            a.value = v;
          }
        }
        break;
      default:
        return havoc(r, serializeUpdate(u));
    }
  }
  return serializeUpdate(u);
}

function mutateOpen(r: Rng, m: Uint8Array): Uint8Array {
  const c = m.slice();
  const b = HEADER;
  switch (r.int(9)) {
    case 0:
      c[b] = r.pick([0, 3, 5, 255]); // version
      break;
    case 1:
      c[b + 1] = 0; // AS 0, or another AS
      c[b + 2] = r.chance(0.5) ? 0 : r.int(256);
      break;
    case 2:
      c[b + 3] = 0; // hold time 0, 1, 2, 3
      c[b + 4] = r.pick([0, 1, 2, 3]);
      break;
    case 3:
      c.fill(r.chance(0.5) ? 0 : 0xff, b + 5, b + 9); // BGP identifier
      break;
    case 4:
      c[b + 9] = r.pick([0, c[b + 9]! + 1, Math.max(0, c[b + 9]! - 1), 255]) & 0xff; // optional parameters length
      break;
    case 5: {
      // one capability's code or length
      const i = b + 12 + r.int(Math.max(1, c.length - b - 12));
      if (i < c.length) c[i] = r.pick(INTERESTING8);
      break;
    }
    case 6: {
      // RFC 9072 extended optional parameters: 255 marker, 2-octet lengths (often wrong)
      const params = c.subarray(b + 10);
      const ext = new Uint8Array(params.length + 3 + 1);
      ext[0] = 255;
      ext[1] = 255;
      ext[2] = (params.length + r.pick([0, 0, 1, -1])) >> 8;
      ext[3] = (params.length + r.pick([0, 0, 1, -1])) & 0xff;
      ext.set(params.subarray(0, params.length), 4);
      const body = new Uint8Array(10 + ext.length);
      body.set(c.subarray(b, b + 9));
      body.set(ext, 9);
      return frameOf(1, body);
    }
    case 7:
      return frameOf(1, c.subarray(b, b + r.int(c.length - b)));
    default:
      return havoc(r, c);
  }
  return c;
}

/** Anything at all: octets flipped, header fields changed, cut, doubled. */
function havoc(r: Rng, m: Uint8Array): Uint8Array {
  let c: Uint8Array = m.slice();
  for (let n = r.range(1, 4); n > 0; n--) {
    switch (r.int(6)) {
      case 0:
        if (c.length > HEADER) c[HEADER + r.int(c.length - HEADER)] = r.u32() & 0xff;
        break;
      case 1: {
        // the header's length
        const l = Math.max(0, ((c[16]! << 8) | c[17]!) + r.pick([-1, 1, -19, 100, 4096, 65535]));
        c[16] = (l >> 8) & 0xff;
        c[17] = l & 0xff;
        break;
      }
      case 2:
        c[18] = r.pick([0, 1, 2, 3, 4, 5, 6, 255]);
        break;
      case 3:
        if (r.chance(0.2)) c[r.int(16)] = r.u32() & 0xff; // the marker
        break;
      case 4: {
        const cut = frameOf(c[18]!, c.subarray(HEADER, HEADER + r.int(c.length - HEADER + 1)));
        c = cut;
        break;
      }
      default: {
        const more = new Uint8Array(c.length + r.range(1, 30));
        more.set(c);
        more.set(r.bytes(more.length - c.length), c.length);
        c = r.chance(0.5) ? frameOf(c[18]!, more.subarray(HEADER)) : more;
      }
    }
  }
  return c;
}

// Valid UPDATEs per session kind, made by the encoders and replaced one at a time: building
// one costs as much as decoding it several times over
const POOL_SIZE = 1024;
const pools = new Map<string, Uint8Array[]>();
function pooledUpdate(r: Rng, o: CodecOptions): Uint8Array {
  const key = `${o.as4}${o.addPath.ipv4.receive}${o.addPath.ipv6.receive}`;
  let pool = pools.get(key);
  if (!pool) pools.set(key, (pool = []));
  if (pool.length < POOL_SIZE) {
    const u = validUpdate(r, o);
    pool.push(u);
    return u;
  }
  const i = r.int(POOL_SIZE);
  if (r.chance(1 / 64)) pool[i] = validUpdate(r, o);
  return pool[i]!;
}

/** One fuzz message for a session with options `o`: valid now and then, mostly mutated. */
export function generate(r: Rng, o: CodecOptions): Uint8Array {
  const kind = r.int(100);
  if (kind < 85) {
    const u = pooledUpdate(r, o);
    return r.chance(0.1) ? u : mutateUpdate(r, u);
  }
  if (kind < 88) {
    const open = peerOpen(r.range(1, 4200000000), ip4(r), { as4: r.chance(0.8), addPath: r.chance(0.3), extendedMessage: r.chance(0.3), gr: r.chance(0.3) }, r);
    return r.chance(0.2) ? open : mutateOpen(r, open);
  }
  const m = validOther(r);
  return r.chance(0.5) ? m : havoc(r, m);
}

// ---------------------------------------------------------------------------------------
// The harness: real sessions and a real RIB, fed through socket stand-ins

/** Just what Connection uses of a net.Socket; writes are parsed for our NOTIFICATIONs. */
class WireStandIn extends EventEmitter {
  destroyed = false;
  closed = false;
  writableLength = 0;
  notifications: { code: number; subcode: number }[] = [];
  writes = 0;
  setNoDelay(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(b: Uint8Array): boolean {
    this.writes++;
    if (b[18] === 3 && b.length >= 21) this.notifications.push({ code: b[19]!, subcode: b[20]! });
    return true;
  }
  end(): this {
    this.destroyed = this.closed = true;
    return this;
  }
  destroy(): this {
    this.destroyed = this.closed = true;
    return this;
  }
}

export interface PeerKind {
  readonly name: string;
  readonly ibgp: boolean;
  readonly as4: boolean;
  readonly addPath: boolean;
  readonly extendedMessage: boolean;
  readonly gr: boolean;
  readonly maxPrefixes?: number;
}

/** The kinds of session the campaign drives, round robin. */
export const PEER_KINDS: readonly PeerKind[] = [
  { name: 'ebgp-as4', ibgp: false, as4: true, addPath: false, extendedMessage: false, gr: false },
  { name: 'ibgp-as4-addpath-gr', ibgp: true, as4: true, addPath: true, extendedMessage: true, gr: true },
  { name: 'ebgp-as2', ibgp: false, as4: false, addPath: false, extendedMessage: false, gr: false },
  { name: 'ebgp-as4-extmsg-max', ibgp: false, as4: true, addPath: false, extendedMessage: true, gr: false, maxPrefixes: 2000 },
];

const LOCAL_AS = 65000;

export type Outcome =
  | 'ok'
  | 'attribute-discard'
  | 'treat-as-withdraw'
  | 'ignore'
  | 'closed'
  | 'waiting'
  | 'end-of-rib'
  | 'established'
  | `reset ${number}/${number}`;

export interface Finding {
  readonly kind: 'bug' | 'notification-not-allowed' | 'update-outcome' | 'slow' | 'hang';
  readonly detail: string;
  readonly peer: string;
  /** the octets sent (one message, or the chunks of a stream joined) */
  readonly hex: string;
}

interface Peer {
  kind: PeerKind;
  address: string;
  session: Session;
  rib: PeerHandle;
  wire: WireStandIn | null;
  conn: Connection | null;
  options: CodecOptions;
  /** messages since the session came up */
  age: number;
  /** its usual OPEN */
  open?: Buffer;
}

// resets of the table; for an UPDATE also every UPDATE Message Error of the table (RFC 7606
// §5.2: an UPDATE without reachable NLRI that has a treat-as-withdraw case resets the session
// with that case's NOTIFICATION)
const RESET_CODES = new Set<string>();
const UPDATE_CODES = new Set<string>();
for (const m of Object.values(MALFORMATIONS)) {
  if (m.action === 'session-reset') RESET_CODES.add(`${m.code}/${m.subcode}`);
  if (m.code === 3) UPDATE_CODES.add(`${m.code}/${m.subcode}`);
}

/** What a NOTIFICATION we send may be, per the type of the message that caused it (RFC 4271 §6, RFC 7606, RFC 6608, RFC 4486, RFC 7313). */
function allowedReset(types: readonly number[], state: string, code: number, subcode: number): boolean {
  return types.some((t) => allowedFor(t, state, code, subcode));
}

function allowedFor(type: number, state: string, code: number, subcode: number): boolean {
  const k = `${code}/${subcode}`;
  if (code === 1) return RESET_CODES.has(k); // header errors: any message
  if (state === 'OpenSent') return code === 2 || (code === 5 && subcode === 1); // an OPEN error, or anything but an OPEN
  switch (type) {
    case 1: // OPEN in Established: an FSM error (RFC 6608), or the OPEN's own error
      return (code === 5 && subcode === 3) || code === 2;
    case 2: // UPDATE: a table reset, or Cease/Maximum Number of Prefixes Reached
      return UPDATE_CODES.has(k) || (code === 6 && subcode === 1);
    case 5:
      return code === 7 && subcode === 1;
    default:
      return false; // KEEPALIVE cannot reset but by its header; a NOTIFICATION is never answered
  }
}

export interface HarnessOptions {
  /** a message handled slower than this is a finding (ms) */
  slowMs?: number;
  /** reconnect each session after this many messages (bounds the RIB) */
  recycleAfter?: number;
}

export class Harness {
  readonly rib: Rib;
  readonly peers: Peer[] = [];
  readonly outcomes = new Map<string, number>();
  readonly findings: Finding[] = [];
  readonly bugLog: string[] = [];
  #byRib = new Map<PeerHandle, Peer>();
  #bySession = new Map<Session, Peer>();
  #lastUpdate: UpdateMessage | null = null;
  #maxPrefixHit = false;
  #slowMs: number;
  #recycle: number;
  #messages = 0;

  /** messages sent so far (a stream counts each of its messages) */
  get messages(): number {
    return this.#messages;
  }

  constructor(opts: HarnessOptions = {}) {
    this.#slowMs = opts.slowMs ?? 250;
    this.#recycle = opts.recycleAfter ?? 20_000;
    // errors only: the BUG lines of Session.internalError (the rest would cost more than the fuzzing)
    const bugLog = this.bugLog;
    const log = pino({ level: 'error' }, { write: (s: string) => void bugLog.push(s) });
    this.rib = new Rib({
      asn: LOCAL_AS,
      routerId: '10.255.0.1',
      logger: log,
      events: {
        // as the agent: the RIB's messages to the peer's Established connection
        send: (h, msgs) => this.#byRib.get(h)?.session.current?.send(msgs as Buffer[]),
        fib: () => {},
        schedule: () => {},
      },
    });
    const ctx: SessionContext = {
      local: { asn: LOCAL_AS, routerId: '10.255.0.1' },
      connectRetry: 1,
      connectRetryMax: 2,
      initialHold: 240,
      gracefulRestart: () => null,
      log,
      events: {
        // the agent's #established, #update, #routeRefresh and #down, minus logging, GR and the FIB
        established: (s, n, local) => {
          const p = this.#bySession.get(s)!;
          this.rib.peerUp(p.rib, { routerId: n.routerId, codec: n.codec, families: n.families, localAddress: local.address, enhancedRouteRefresh: n.enhancedRouteRefresh });
        },
        update: (s, m) => {
          const p = this.#bySession.get(s)!;
          this.#lastUpdate = m;
          const o = this.rib.update(p.rib, m);
          if (o.type !== 'max-prefixes') return;
          this.#maxPrefixHit = true;
          s.reset(cease.maxPrefixes(o.family, o.limit), `more than ${o.limit} prefixes`);
        },
        routeRefresh: (s, family, subtype) => {
          const p = this.#bySession.get(s)!;
          if (subtype === 0) this.rib.routeRefresh(p.rib, family);
          else if (subtype === 1) this.rib.markStale(p.rib, [family]);
          else this.rib.sweepStale(p.rib, family);
        },
        down: (s) => {
          const p = this.#bySession.get(s)!;
          this.rib.peerDown(p.rib, {});
        },
      },
    };
    PEER_KINDS.forEach((kind, i) => {
      const address = `192.0.2.${i + 1}`;
      const asn = kind.ibgp ? LOCAL_AS : 65100 + i;
      const settings: PeerSettings = {
        address,
        family: 4,
        port: 179,
        asn,
        ibgp: kind.ibgp,
        password: undefined,
        holdTime: 90,
        passive: true,
        ttlSecurity: 0,
        multihop: 0,
        gracefulRestart: kind.gr,
        routeReflectorClient: false,
        maxPrefixes: kind.maxPrefixes,
        description: undefined,
      };
      const session = new Session(settings, ctx);
      const rib = this.rib.addPeer({ address, asn, ...(kind.maxPrefixes !== undefined ? { maxPrefixes: kind.maxPrefixes } : {}) });
      const p: Peer = { kind, address, session, rib, wire: null, conn: null, options: codecOptions({ as4: kind.as4, ebgp: !kind.ibgp }), age: 0 };
      this.#byRib.set(rib, p);
      this.#bySession.set(session, p);
      this.peers.push(p);
      session.start();
    });
  }

  #count(o: string): void {
    this.outcomes.set(o, (this.outcomes.get(o) ?? 0) + 1);
  }

  /** A new TCP connection from the peer: accept it as the listener does, and read our OPEN. */
  #connect(p: Peer): void {
    const w = new WireStandIn();
    p.wire = w;
    p.session.accept(w as unknown as Socket, { address: '10.255.0.1', port: 179 }, { address: p.address, port: 40000 + this.#messages % 20000 });
    p.conn = [...p.session.incoming].at(-1) ?? null;
    p.age = 0;
  }

  /** Connect and establish with a valid OPEN (the session's options are the negotiated ones). */
  establish(p: Peer, r: Rng): void {
    this.#connect(p);
    const k = p.kind;
    const open = r.chance(0.2) ? peerOpen(p.session.settings.asn, `10.9.${this.peers.indexOf(p)}.1`, k, r) : (p.open ??= peerOpen(p.session.settings.asn, `10.9.${this.peers.indexOf(p)}.1`, k));
    this.#feed(p, [open]);
    this.#feed(p, [encodeKeepalive()]);
    if (!p.session.isEstablished) throw new Error(`${k.name}: the fuzz peer's valid OPEN did not establish the session: ${p.session.lastError?.text}`);
    p.options = p.conn!.options;
  }

  /** Feed chunks to the connection's socket, then let it drain as its setImmediate would. */
  #feed(p: Peer, chunks: readonly Uint8Array[]): void {
    const w = p.wire!;
    for (const c of chunks) w.emit('data', Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    p.conn?.drainSafely();
  }

  /** The peer closes its TCP connection (FIN): what the connection sees as end of input. */
  #hangUp(p: Peer): void {
    if (p.wire && !p.wire.destroyed) {
      p.wire.emit('close');
      p.conn?.drainSafely();
    }
    p.wire = null;
    p.conn = null;
  }

  /**
   * Send one message (or a stream of them, `chunks` cut anywhere) from peer `p` and classify
   * what happened. Returns the outcome.
   */
  send(p: Peer, chunks: readonly Uint8Array[], r: Rng, types: readonly number[], declaredComplete: boolean): string {
    this.#messages += types.length;
    const openSent = p.conn?.state === 'OpenSent';
    const state = p.conn?.state ?? 'none';
    const w = p.wire!;
    const notesBefore = w.notifications.length;
    const bugsBefore = internalErrors.count;
    this.#lastUpdate = null;
    this.#maxPrefixHit = false;
    const t0 = performance.now();
    this.#feed(p, chunks);
    const ms = performance.now() - t0;
    const hex = () => Buffer.concat(chunks.map((c) => Buffer.from(c))).toString('hex');
    let outcome: string;
    if (internalErrors.count !== bugsBefore) {
      outcome = 'bug';
      this.findings.push({ kind: 'bug', peer: p.kind.name, hex: hex(), detail: bugDetail(this.bugLog.at(-1)) });
    } else if (w.notifications.length > notesBefore) {
      const n = w.notifications[notesBefore]!;
      outcome = `reset ${n.code}/${n.subcode}`;
      const ok = n.code === 6 && n.subcode === 1 ? this.#maxPrefixHit : allowedReset(types, state, n.code, n.subcode);
      if (!ok) this.findings.push({ kind: 'notification-not-allowed', peer: p.kind.name, hex: hex(), detail: `${outcome} for message type ${types.join(',')} in ${state}` });
    } else if (w.destroyed) {
      outcome = 'closed';
      if (!types.includes(3))
        this.findings.push({ kind: 'notification-not-allowed', peer: p.kind.name, hex: hex(), detail: `connection closed without a NOTIFICATION after message type ${types.join(',')} in ${state}: ${p.session.lastError?.text}` });
    } else if (this.#lastUpdate) {
      outcome = classifyUpdate(this.#lastUpdate, (why) => this.findings.push({ kind: 'update-outcome', peer: p.kind.name, hex: hex(), detail: why }));
    } else if (openSent && p.session.isEstablished) {
      outcome = 'established';
    } else if (!declaredComplete) {
      outcome = 'waiting';
    } else {
      outcome = 'ok';
    }
    if (ms > this.#slowMs) this.findings.push({ kind: 'slow', peer: p.kind.name, hex: hex(), detail: `${ms.toFixed(1)} ms` });
    this.#count(outcome);
    // a connection that is gone, or holds octets of a message whose header lied about its
    // length (they would make the next message's outcome), or is old: a new one
    if (w.destroyed || !declaredComplete || ++p.age > this.#recycle) {
      this.#hangUp(p);
      if (r.chance(0.25)) this.#openWithFuzz(p, r);
      else this.establish(p, r);
    }
    return outcome;
  }

  /** Reconnect with a mutated OPEN first (the OpenSent path), then establish properly. */
  #openWithFuzz(p: Peer, r: Rng): void {
    this.#connect(p);
    const open = mutateOpen(r, peerOpen(p.session.settings.asn, `10.9.${this.peers.indexOf(p)}.1`, p.kind, r));
    this.send(p, [open], r, [open[18]!], declaredLength(open) === open.length);
    if (!p.session.isEstablished && p.wire && !p.wire.destroyed) {
      // still in OpenSent (a valid OPEN after all): finish, or start over
      this.#feed(p, [encodeKeepalive()]);
    }
    if (!p.session.isEstablished) {
      this.#hangUp(p);
      this.establish(p, r);
    } else p.options = p.conn!.options;
  }

  /** Run `count` messages from seed `seed`, round robin over the peers. */
  run(count: number, seed: number, progress?: (done: number) => void): void {
    const r = new Rng(seed);
    for (const p of this.peers) if (!p.session.isEstablished) this.establish(p, r);
    for (let i = 0; i < count; i++) {
      const p = this.peers[i % this.peers.length]!;
      if (r.chance(0.08)) {
        // a stream: several messages, cut at random points (framing splits)
        const msgs = Array.from({ length: r.range(2, 6) }, () => (r.chance(0.5) ? pooledUpdate(r, p.options) : generate(r, p.options)));
        const all = Buffer.concat(msgs.map((m) => Buffer.from(m)));
        const cuts = Array.from({ length: r.range(1, 6) }, () => r.int(all.length + 1)).sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const c of [...cuts, all.length]) {
          chunks.push(all.subarray(at, c));
          at = c;
        }
        this.send(p, chunks, r, msgs.map((m) => m[18]!), msgs.every((m) => declaredLength(m) === m.length));
        i += msgs.length - 1;
      } else {
        const m = generate(r, p.options);
        const chunks = r.chance(0.1) ? splitAt(m, r) : [m];
        this.send(p, chunks, r, [m[18] ?? 0], declaredLength(m) === m.length);
      }
      if ((i & 255) === 0) this.rib.flush();
      if (progress && (i & 1023) === 0) progress(this.#messages);
    }
    this.rib.flush();
  }

  /** Replay saved octets as one message from the peer of kind `kindName` (the test's corpus). */
  replay(kindName: string, hex: string, seed = 1): string {
    const r = new Rng(seed);
    const p = this.peers.find((x) => x.kind.name === kindName) ?? this.peers[0]!;
    if (!p.session.isEstablished) this.establish(p, r);
    const m = Buffer.from(hex, 'hex');
    return this.send(p, [m], r, [m[18] ?? 0], declaredLength(m) === m.length);
  }

  async close(): Promise<void> {
    for (const p of this.peers) {
      this.#hangUp(p);
      await p.session.stop(null, 'fuzz over', 100);
    }
  }
}

/** `during: Type: message` of a BUG log line (the rest of it is the hex the finding holds). */
function bugDetail(line: string | undefined): string {
  try {
    const l = JSON.parse(line ?? '') as { during?: string; err?: { type?: string; message?: string; stack?: string } };
    return `${l.during}: ${l.err?.type}: ${l.err?.message}`;
  } catch {
    return line ?? 'internal error';
  }
}

const declaredLength = (m: Uint8Array): number => (m.length >= 18 ? (m[16]! << 8) | m[17]! : Infinity);

function splitAt(m: Uint8Array, r: Rng): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < m.length) {
    const n = r.range(1, Math.max(1, m.length - at));
    out.push(m.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** An UPDATE that reached the RIB: its errors must be the table's, non-fatal, and applied. */
function classifyUpdate(m: UpdateMessage, bad: (why: string) => void): string {
  if (m.endOfRib) return 'end-of-rib';
  let strongest = 'ok';
  const rank: Record<string, number> = { ok: 0, ignore: 1, 'attribute-discard': 2, 'treat-as-withdraw': 3, 'session-reset': 4 };
  for (const e of m.errors) {
    const row = MALFORMATIONS[e.code as MalformationCode];
    if (!row) bad(`error ${e.code} is not in the malformation table`);
    else if (row.action !== e.action) bad(`${e.code}: action ${e.action}, the table says ${row.action}`);
    if (e.action === 'session-reset') bad(`${e.code}: a session-reset case returned instead of thrown`);
    if (rank[e.action]! > rank[strongest]!) strongest = e.action;
  }
  if (strongest === 'treat-as-withdraw' && m.reach.length > 0) bad('treat-as-withdraw, yet routes announced');
  return strongest;
}

// ---------------------------------------------------------------------------------------
// The campaign

export interface Report {
  messages: number;
  seconds: number;
  rate: number;
  peakRssMiB: number;
  rssMiB: number[];
  outcomes: Record<string, number>;
  findings: Finding[];
}

export async function runCampaign(
  count: number,
  seed: number,
  opts: HarnessOptions & { onProgress?: (done: number, rssMiB: number) => void; heartbeat?: (messages: number) => void; shouldStop?: () => boolean } = {},
): Promise<Report> {
  const h = new Harness(opts);
  const t0 = performance.now();
  const rss: number[] = [];
  // slices of 1,000 messages with a turn of the event loop between them, as the agent has:
  // the connections' setImmediate drains and timers (a closed socket's 2 s destroy) run
  const slice = 1000;
  let nextReport = 20_000;
  let nextRss = 100_000;
  for (let done = 0, s = seed; done < count && !opts.shouldStop?.(); done += slice, s++) {
    h.run(Math.min(slice, count - done), s, opts.heartbeat);
    if (h.messages >= nextRss) {
      rss.push(Math.round(process.memoryUsage().rss / 2 ** 20));
      nextRss += 100_000;
    }
    if (h.messages >= nextReport || done + slice >= count) {
      opts.onProgress?.(h.messages, process.memoryUsage().rss / 2 ** 20);
      nextReport += 20_000;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seconds = (performance.now() - t0) / 1000;
  await h.close();
  const total = h.messages;
  return {
    messages: total,
    seconds,
    rate: total / seconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    rssMiB: rss,
    outcomes: Object.fromEntries([...h.outcomes.entries()].sort((a, b) => b[1] - a[1])),
    findings: h.findings,
  };
}

// ---------------------------------------------------------------------------------------
// Command line: the campaign in a worker, watched for hangs

interface Args {
  messages: number;
  seed: number;
  out: string | null;
  hangMs: number;
  workers: number;
  slowMs: number;
  /** a time budget: the workers stop after it and report what they did */
  seconds: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { messages: 10_000_000, seed: 1, out: null, hangMs: 30_000, workers: 1, slowMs: 1000, seconds: Infinity };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--messages') a.messages = Number(v?.replace(/_/g, ''));
    else if (argv[i] === '--seed') a.seed = Number(v);
    else if (argv[i] === '--out') a.out = v ?? null;
    else if (argv[i] === '--hang-ms') a.hangMs = Number(v);
    else if (argv[i] === '--workers') a.workers = Number(v);
    else if (argv[i] === '--slow-ms') a.slowMs = Number(v);
    else if (argv[i] === '--seconds') a.seconds = Number(v);
    else continue;
    i++;
  }
  return a;
}

async function worker(): Promise<void> {
  const { messages, seed, beat, slowMs } = workerData as { messages: number; seed: number; beat: SharedArrayBuffer; slowMs: number };
  // every malformation is a BgpError, and capturing its stack was the largest single cost;
  // outcomes do not depend on it (a finding is replayed with stacks: Harness.replay)
  Error.stackTraceLimit = 0;
  const progress = new Int32Array(beat);
  let stop = false;
  parentPort!.on('message', (m: string) => {
    if (m === 'stop') stop = true;
  });
  const report = await runCampaign(messages, seed, {
    slowMs,
    shouldStop: () => stop,
    heartbeat: (n) => Atomics.store(progress, 0, n),
    onProgress: (done, mib) => parentPort!.postMessage({ type: 'progress', done, mib }),
  });
  parentPort!.postMessage({ type: 'report', report });
}

/** One worker's campaign, watched: resolves with its report, or null when it stalled (a hang). */
function watched(args: Args, seed: number, messages: number, started: number, tag: string): Promise<Report | null> {
  const beat = new SharedArrayBuffer(4);
  const progress = new Int32Array(beat);
  const w = new Worker(fileURLToPath(import.meta.url), { workerData: { messages, seed, beat, slowMs: args.slowMs } });
  const budget = setTimeout(() => w.postMessage('stop'), Math.min(2 ** 31 - 1, args.seconds * 1000));
  let last = 0;
  let lastAt = Date.now();
  return new Promise<Report | null>((resolve, reject) => {
    const watch = setInterval(() => {
      const now = Atomics.load(progress, 0);
      if (now !== last) {
        last = now;
        lastAt = Date.now();
      } else if (Date.now() - lastAt > args.hangMs) {
        clearInterval(watch);
        clearTimeout(budget);
        console.log(`${tag} HANG: no progress for ${args.hangMs} ms after ${now} messages`);
        void w.terminate();
        resolve(null);
      }
    }, 500);
    w.on('message', (m: { type: string; done?: number; mib?: number; report?: Report }) => {
      if (m.type === 'progress') {
        const s = (Date.now() - started) / 1000;
        console.log(`${tag} ${m.done!.toLocaleString('en')} messages, ${Math.round(m.done! / s).toLocaleString('en')}/s, RSS ${m.mib!.toFixed(0)} MiB`);
      } else if (m.type === 'report') {
        clearInterval(watch);
        clearTimeout(budget);
        // the sessions' timers (hold, the closed sockets' destroy) would keep the worker a while
        void w.terminate();
        resolve(m.report!);
      }
    });
    w.on('error', (e) => {
      clearInterval(watch);
      reject(e);
    });
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  console.log(
    `fuzz: ${args.messages.toLocaleString('en')} messages, seed ${args.seed}, ${args.workers} worker(s), ${PEER_KINDS.length} sessions each (${PEER_KINDS.map((k) => k.name).join(', ')})`,
  );
  const per = Math.ceil(args.messages / args.workers);
  const reports = await Promise.all(Array.from({ length: args.workers }, (_, i) => watched(args, args.seed + i * 1_000_003, per, started, `[worker ${i}]`)));
  if (reports.some((r) => r === null)) {
    process.exitCode = 2;
    return;
  }
  const rs = reports as Report[];
  const seconds = (Date.now() - started) / 1000;
  const messages = rs.reduce((a, r) => a + r.messages, 0);
  const outcomes = new Map<string, number>();
  for (const r of rs) for (const [k, v] of Object.entries(r.outcomes)) outcomes.set(k, (outcomes.get(k) ?? 0) + v);
  const findings = rs.flatMap((r) => r.findings);
  if (messages < args.messages) console.log(`STOPPED by the time budget (--seconds ${args.seconds}) before ${args.messages.toLocaleString('en')} messages`);
  console.log(`messages ${messages.toLocaleString('en')} in ${seconds.toFixed(1)} s: ${Math.round(messages / seconds).toLocaleString('en')} messages/s (${args.workers} worker(s))`);
  console.log(`peak RSS ${Math.max(...rs.map((r) => r.peakRssMiB)).toFixed(0)} MiB (process.resourceUsage().maxRSS, the whole process)`);
  for (const [i, r] of rs.entries()) console.log(`  worker ${i}: ${r.messages.toLocaleString('en')} messages, RSS every 100,000 messages: first ${r.rssMiB.slice(0, 3).join(', ')} … last ${r.rssMiB.slice(-3).join(', ')} MiB`);
  console.log('outcomes:');
  for (const [k, v] of [...outcomes.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(22)} ${v.toLocaleString('en')}`);
  console.log(`findings: ${findings.length}`);
  const byKind = new Map<string, Finding[]>();
  for (const f of findings) {
    const k = `${f.kind}: ${f.detail.slice(0, 160)}`;
    byKind.set(k, [...(byKind.get(k) ?? []), f]);
  }
  for (const [k, fs] of byKind) console.log(`  ${fs.length} × ${k}\n    e.g. ${fs[0]!.peer} ${fs[0]!.hex.slice(0, 400)}`);
  if (args.out && findings.length) {
    mkdirSync(args.out, { recursive: true });
    findings.slice(0, 50).forEach((f, i) => writeFileSync(join(args.out!, `finding-${args.seed}-${i}.json`), JSON.stringify(f, null, 1)));
  }
  process.exitCode = findings.length ? 1 : 0;
}

if (!isMainThread && (workerData as { beat?: unknown } | null)?.beat) void worker();
else if (isMainThread && process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void main();
