// Import sanity: the fixed rules every announcement passes (after the RFC loop guards) before import policy and the
// decision process, and the per-peer import limits. Pure: the node's own addresses and
// connected subnets come from outside (LocalAddresses, which the agent fills from
// os.networkInterfaces()), so this module reads nothing itself.
//
// The rules, in the order they are checked (the first that matches is the reason):
//
//   martian     the prefix lies inside one of MARTIANS (below, with the RFC for each);
//               169.254.0.0/16 is accepted from a peer with `allowLinkLocal`
//   default     0.0.0.0/0 or ::/0, unless the peer has `allowDefault`
//   local       the prefix holds one of the node's own addresses and is at least as
//               specific as that address's connected subnet: the subnet itself, the
//               address's host route, anything between. Less specific prefixes (an
//               aggregate, a default) are accepted; so are more specifics inside a
//               connected subnet that hold none of the node's addresses.
//   next-hop    the next hop is one of the node's own addresses, or a loopback address
//   not-allowed the peer has `importPrefixes` and the prefix matches none of them (a default
//               route the peer is allowed to send need not be listed)
//
// Without options a peer may send anything the first four rules do not reject. The
// prefix-list syntax of importPrefixes is src/net/prefixlist.ts.
import { type Family, ipv4ToNumber, parseIP } from '../net/ip.js';
import { compilePrefixRange, type ImportRange, type PrefixRange } from '../net/prefixlist.js';
export { parseImportRange, type ImportRange } from '../net/prefixlist.js';
import { formatPrefix, parsePrefix, type Prefix, prefix4, prefix4Length, prefix6, prefix6Length, type Prefix4, type Prefix6 } from '../net/prefix.js';

export type RejectKind = 'martian' | 'default' | 'local' | 'next-hop' | 'not-allowed';
export const REJECT_KINDS: readonly RejectKind[] = Object.freeze(['martian', 'default', 'local', 'next-hop', 'not-allowed']);

export interface Rejection {
  readonly kind: RejectKind;
  /** for people: the rule and what matched, e.g. `martian: 127.0.0.0/8 (loopback, RFC 1122 3.2.1.3)` */
  readonly reason: string;
}

interface Martian {
  readonly prefix: Prefix;
  readonly text: string;
  readonly what: string;
  /** accepted from a peer with allowLinkLocal */
  readonly linkLocal?: boolean;
}

function martian(text: string, what: string, linkLocal = false): Martian {
  return { prefix: parsePrefix(text)!, text, what, ...(linkLocal ? { linkLocal } : {}) };
}

/** Address blocks no peer may route to us; a prefix inside one of them is rejected. */
export const MARTIANS: readonly Martian[] = Object.freeze([
  martian('0.0.0.0/8', '"this network", RFC 1122 3.2.1.3'),
  martian('127.0.0.0/8', 'loopback, RFC 1122 3.2.1.3'),
  martian('169.254.0.0/16', 'link-local, RFC 3927', true),
  martian('224.0.0.0/4', 'multicast, RFC 5771'),
  martian('240.0.0.0/4', 'reserved, RFC 1112 4 (with the broadcast address, RFC 919)'),
  martian('::/128', 'unspecified address, RFC 4291 2.5.2'),
  martian('::1/128', 'loopback, RFC 4291 2.5.3'),
  martian('fe80::/10', 'link-local, RFC 4291 2.5.6'),
  martian('ff00::/8', 'multicast, RFC 4291 2.7'),
]);

// ---------------------------------------------------------------------------------------
// per-peer import limits

/** Per-peer import options, plain data (from the peer's configuration). */
export interface ImportOptions {
  /** accept 0.0.0.0/0 and ::/0 from this peer; default false */
  readonly allowDefault?: boolean;
  /** accept prefixes inside 169.254.0.0/16 from this peer; default false */
  readonly allowLinkLocal?: boolean;
  /**
   * The only ranges accepted from this peer: `{ prefix, ge?, le? }` or text such as
   * `10.64.0.0/10 le 26`. Empty or absent: anything the fixed rules do not reject.
   */
  readonly importPrefixes?: readonly (string | ImportRange)[];
}


/** The compiled form of ImportOptions. */
export interface ImportRules {
  readonly allowDefault: boolean;
  readonly allowLinkLocal: boolean;
  /** null: no list (everything the fixed rules accept) */
  readonly ranges: readonly PrefixRange[] | null;
}

export const DEFAULT_RULES: ImportRules = Object.freeze({ allowDefault: false, allowLinkLocal: false, ranges: null });

/** Compile a peer's options; RangeError naming the bad entry. */
export function importRules(o: ImportOptions | undefined): ImportRules {
  if (!o || (!o.allowDefault && !o.allowLinkLocal && !o.importPrefixes?.length)) return DEFAULT_RULES;
  const ranges = o.importPrefixes?.length ? Object.freeze(o.importPrefixes.map(compilePrefixRange)) : null;
  return Object.freeze({ allowDefault: o.allowDefault ?? false, allowLinkLocal: o.allowLinkLocal ?? false, ranges });
}

// ---------------------------------------------------------------------------------------
// the node's own addresses

/** One address of the node with the length of its connected subnet (32/128: a host address). */
export interface LocalAddress {
  readonly address: string;
  readonly prefixLength: number;
}

/**
 * The node's own addresses and connected subnets, as the agent last saw them. The agent calls
 * update() (from os.networkInterfaces()); the RIB listens and re-checks what it holds when
 * the set changed.
 */
export class LocalAddresses {
  /** own IPv4 addresses by their connected subnet (as a Prefix4), the subnet lengths in use */
  #subnets4 = new Map<Prefix4, number[]>();
  #lengths4: number[] = [];
  #subnets6 = new Map<Prefix6, Uint8Array[]>();
  #lengths6: number[] = [];
  /** canonical text of every own address */
  #own = new Set<string>();
  #key = '';
  readonly #listeners: (() => void)[] = [];

  constructor(list: readonly LocalAddress[] = []) {
    this.update(list);
  }

  /** Replace the set; returns whether it changed (listeners run only then). */
  update(list: readonly LocalAddress[]): boolean {
    const parsed: { family: Family; bytes: Uint8Array; text: string; len: number }[] = [];
    for (const a of list) {
      const ip = parseIP(a.address.replace(/%.*$/, ''));
      if (!ip) continue;
      const max = ip.family === 4 ? 32 : 128;
      const len = Number.isInteger(a.prefixLength) && a.prefixLength >= 0 && a.prefixLength <= max ? a.prefixLength : max;
      const text = ip.family === 4 ? ip.bytes.join('.') : canonical6(ip.bytes);
      parsed.push({ family: ip.family, bytes: ip.bytes, text, len });
    }
    const key = parsed
      .map((x) => `${x.text}/${x.len}`)
      .sort()
      .join(',');
    if (key === this.#key) return false;
    this.#key = key;
    const s4 = new Map<Prefix4, number[]>();
    const s6 = new Map<Prefix6, Uint8Array[]>();
    const own = new Set<string>();
    for (const x of parsed) {
      own.add(x.text);
      if (x.family === 4) {
        const n = ipv4ToNumber(x.text)!;
        const p = prefix4(n, x.len);
        const l = s4.get(p);
        if (l) l.push(n);
        else s4.set(p, [n]);
      } else {
        const p = prefix6(x.bytes, x.len);
        const l = s6.get(p);
        if (l) l.push(x.bytes);
        else s6.set(p, [x.bytes]);
      }
    }
    this.#subnets4 = s4;
    this.#subnets6 = s6;
    this.#lengths4 = [...new Set([...s4.keys()].map(prefix4Length))].sort((a, b) => a - b);
    this.#lengths6 = [...new Set([...s6.keys()].map(prefix6Length))].sort((a, b) => a - b);
    this.#own = own;
    for (const f of this.#listeners) f();
    return true;
  }

  onChange(f: () => void): void {
    this.#listeners.push(f);
  }

  get size(): number {
    return this.#own.size;
  }

  /** Whether `address` (canonical text, as the codec produces it) is one of the node's. */
  isOwn(address: string): boolean {
    return this.#own.has(address);
  }

  /**
   * The rejection reason when `p` holds one of the node's addresses and is at least as
   * specific as that address's connected subnet; null otherwise.
   */
  localPrefix(p: Prefix): string | null {
    if (typeof p === 'number') {
      const len = prefix4Length(p);
      const addr = Math.floor(p / 64);
      for (const L of this.#lengths4) {
        if (L > len) break;
        const s = prefix4(addr, L);
        const owns = this.#subnets4.get(s);
        if (owns === undefined) continue;
        for (const a of owns) if (prefix4(a, len) === p) return describe(p, s, a === addr && len === 32 ? null : numberText(a));
      }
      return null;
    }
    const len = prefix6Length(p);
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = p.charCodeAt(i + 1);
    for (const L of this.#lengths6) {
      if (L > len) break;
      const s = prefix6(bytes, L);
      const owns = this.#subnets6.get(s);
      if (owns === undefined) continue;
      for (const a of owns) if (prefix6(a, len) === p) return describe(p, s, canonical6(a));
    }
    return null;
  }
}

function numberText(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

function canonical6(b: Uint8Array): string {
  // the same text formatPrefix gives, without the length
  const t = formatPrefix(prefix6(b, 128));
  return t.slice(0, t.lastIndexOf('/'));
}

function describe(p: Prefix, subnet: Prefix, addr: string | null): string {
  if (p === subnet) return `local: ${formatPrefix(p)} is a connected subnet of this node`;
  return `local: ${formatPrefix(p)} holds this node's address ${addr ?? formatPrefix(p).replace(/\/\d+$/, '')} (connected subnet ${formatPrefix(subnet)})`;
}

const NO_LOCAL = new LocalAddresses();

// ---------------------------------------------------------------------------------------
// the check

const LOOP4 = parsePrefix('127.0.0.0/8') as number;

function inside(p: Prefix, block: Prefix): boolean {
  if (typeof p === 'number') {
    if (typeof block !== 'number') return false;
    const bl = prefix4Length(block);
    return prefix4Length(p) >= bl && prefix4(Math.floor(p / 64), bl) === block;
  }
  if (typeof block === 'number') return false;
  const bl = prefix6Length(block);
  if (prefix6Length(p) < bl) return false;
  const whole = bl >> 3;
  for (let i = 1; i <= whole; i++) if (p.charCodeAt(i) !== block.charCodeAt(i)) return false;
  const rest = bl & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (p.charCodeAt(whole + 1) & mask) === block.charCodeAt(whole + 1);
}

// The first address byte of every martian block, per family: almost every prefix starts with
// a byte no martian does, and is done with one table read instead of the loop below.
const FIRST4 = new Uint8Array(256);
const FIRST6 = new Uint8Array(256);
for (const m of MARTIANS) {
  const p = m.prefix;
  const len = typeof p === 'number' ? prefix4Length(p) : prefix6Length(p);
  const first = typeof p === 'number' ? Math.floor(p / 64) >>> 24 : p.charCodeAt(1);
  const span = len >= 8 ? 1 : 1 << (8 - len);
  for (let b = first; b < first + span; b++) (typeof p === 'number' ? FIRST4 : FIRST6)[b] = 1;
}

function martianOf(p: Prefix, allowLinkLocal: boolean): Martian | undefined {
  if (typeof p === 'number') {
    if (FIRST4[Math.floor(p / 64) >>> 24] === 0) return undefined;
  } else if (FIRST6[p.charCodeAt(1)] === 0) return undefined;
  for (const m of MARTIANS) if (!(m.linkLocal && allowLinkLocal) && inside(p, m.prefix)) return m;
  return undefined;
}

/** Why a next hop is unacceptable (the node's own address, loopback), or null. */
export function nextHopProblem(nextHop: string | undefined, local: LocalAddresses = NO_LOCAL): string | null {
  if (nextHop === undefined) return null;
  if (local.isOwn(nextHop)) return `next-hop: ${nextHop} is this node's own address`;
  if (nextHop === '::1') return `next-hop: ${nextHop} is a loopback address`;
  const n = ipv4ToNumber(nextHop);
  if (n !== undefined && prefix4(n, 8) === LOOP4) return `next-hop: ${nextHop} is a loopback address`;
  return null;
}

/** The prefix rules alone (martian, default, local, importPrefixes); null when accepted. */
export function checkPrefix(p: Prefix, rules: ImportRules = DEFAULT_RULES, local: LocalAddresses = NO_LOCAL): Rejection | null {
  const len = typeof p === 'number' ? prefix4Length(p) : prefix6Length(p);
  if (len === 0) {
    if (!rules.allowDefault) return { kind: 'default', reason: `default: ${formatPrefix(p)} is a default route and the peer may not send one (allowDefault)` };
  } else {
    const m = martianOf(p, rules.allowLinkLocal);
    if (m) return { kind: 'martian', reason: `martian: ${formatPrefix(p)} is inside ${m.text} (${m.what})` };
  }
  if (local.size > 0) {
    const l = local.localPrefix(p);
    if (l !== null) return { kind: 'local', reason: l };
  }
  // allowDefault is explicit consent: the default route need not be in importPrefixes too
  if (rules.ranges !== null && !(len === 0 && rules.allowDefault) && !allowed(p, len, rules.ranges)) return { kind: 'not-allowed', reason: `not-allowed: ${formatPrefix(p)} is outside the peer's importPrefixes` };
  return null;
}

function allowed(p: Prefix, len: number, ranges: readonly PrefixRange[]): boolean {
  for (const r of ranges) if (len >= r.ge && len <= r.le && inside(p, r.prefix)) return true;
  return false;
}

/**
 * Whether an announcement may enter the RIB: null, or the first rule it breaks. `nextHop`
 * is the announcement's next hop (canonical text); `local` the node's addresses.
 */
export function checkImport(prefix: Prefix, nextHop: string | undefined, rules: ImportRules = DEFAULT_RULES, local: LocalAddresses = NO_LOCAL): Rejection | null {
  const r = checkPrefix(prefix, rules, local);
  if (r !== null && r.kind !== 'not-allowed') return r;
  const nh = nextHopProblem(nextHop, local);
  if (nh !== null) return { kind: 'next-hop', reason: nh };
  return r;
}

/** The import options among a peer's settings (allowDefault, allowLinkLocal, importPrefixes), for addPeer. */
export function importOptionsOf(settings: object): ImportOptions {
  const s = settings as ImportOptions;
  return {
    ...(s.allowDefault !== undefined ? { allowDefault: s.allowDefault } : {}),
    ...(s.allowLinkLocal !== undefined ? { allowLinkLocal: s.allowLinkLocal } : {}),
    ...(s.importPrefixes !== undefined ? { importPrefixes: s.importPrefixes } : {}),
  };
}
