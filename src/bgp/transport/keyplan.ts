// The TCP-MD5 key plan of the listening socket: the fewest (prefix, password) keys that give
// every configured peer and every listen range exactly its password, under the kernel's rule
// that the longest matching prefix decides — pure, no I/O.
//
// Why: each key costs ~136 bytes of the listening socket's option memory (net.core.optmem_max,
// 128 KiB: 963 keys; 20 KiB: 150), so one key per peer stops near a thousand peers. Peers
// sharing a password are covered by a few prefix keys (TCP_MD5SIG_EXT with a prefix length), a
// peer with another password inside such a prefix gets a longer (/32, /128) exception, and a
// peer WITHOUT a password is never inside any key (the kernel would then drop its unsigned
// SYNs): prefixes are split around it. Addresses that are neither configured peers nor in a
// listen range are "don't care": a key may cover them (they are refused at accept anyway).
//
// How: a binary trie of the peers and ranges (compressed outside ranges; inside a range every
// empty branch is a "filler" leaf that needs the range's password, so a range is covered
// exactly), then dynamic programming bottom-up: cost(node, x) = fewest keys in the subtree
// when the password in force from above is x (x = a password, "another password", or none);
// a key may sit at a node only if no password-less address is below it. Keys are read off
// top-down. Linear in (nodes × distinct passwords below each node).
import { type Cidr, type Family, formatIP, parseIP } from '../../net/ip.js';

/** What one configured peer needs: its password, or none (unsigned connections). */
export interface KeyNeedPeer {
  address: string;
  password: string | undefined;
}

/** What the addresses of a listen range need (dynamic neighbours). */
export interface KeyNeedRange {
  cidr: Cidr;
  password: string | undefined;
}

export interface Md5Key {
  family: Family;
  /** network address, canonical text */
  address: string;
  length: number;
  password: string;
  /** prefix shorter than a full address: set with TCP_MD5SIG_FLAG_PREFIX */
  prefix: boolean;
}

export interface KeyPlan {
  keys: Md5Key[];
  /** the key that authenticates each configured peer (absent: the peer has no password) */
  keyOf: Map<string, Md5Key>;
  /** keys one per peer and per range would take (what BIRD does), for comparison */
  naiveKeys: number;
}

export function keyId(k: Pick<Md5Key, 'address' | 'length'>): string {
  return `${k.address}/${k.length}`;
}

/** Value of a leaf: a password, or NONE (must not be covered by any key). */
const NONE = null;
type Val = string | null;

interface Item {
  val: bigint;
  len: number;
  peer: boolean;
  need: Val;
  address?: string;
}

interface Node {
  val: bigint;
  len: number;
  /** leaf requirement (peer, range or filler leaf); undefined for branch nodes */
  req?: Val;
  peer?: string;
  children: Node[];
  // dynamic programming results
  costOf: Map<string, number>;
  other: number;
  none: number;
  best: number;
  bestVal: string | undefined;
  hasNone: boolean;
}

const INF = Number.POSITIVE_INFINITY;

function toBig(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function fromBig(v: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width / 8);
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function hostMask(len: number, width: number): bigint {
  return (1n << BigInt(width - len)) - 1n;
}

function bitAt(v: bigint, i: number, width: number): number {
  return Number((v >> BigInt(width - 1 - i)) & 1n);
}

/** Length of the common prefix of a and b (width bits). */
function commonLength(a: bigint, b: bigint, width: number): number {
  const x = a ^ b;
  if (x === 0n) return width;
  return width - x.toString(2).length;
}

function leaf(val: bigint, len: number, req: Val, peer?: string): Node {
  const n: Node = { val, len, req, children: [], costOf: new Map(), other: 0, none: 0, best: INF, bestVal: undefined, hasNone: req === NONE };
  if (peer !== undefined) n.peer = peer;
  if (req === NONE) {
    n.other = INF;
    n.none = 0;
  } else {
    n.costOf.set(req, 0);
    n.other = 1;
    n.none = 1;
    n.best = 1;
    n.bestVal = req;
  }
  return n;
}

function childCost(n: Node, x: Val | undefined): number {
  // x undefined: a password no node below needs ("another password")
  let s = 0;
  for (const c of n.children) s += x === NONE ? c.none : x === undefined ? c.other : (c.costOf.get(x) ?? c.other);
  return s;
}

function branch(val: bigint, len: number, children: Node[]): Node {
  const n: Node = { val, len, children, costOf: new Map(), other: 0, none: 0, best: INF, bestVal: undefined, hasNone: children.some((c) => c.hasNone) };
  const vals = new Set<string>();
  for (const c of children) for (const v of c.costOf.keys()) vals.add(v);
  if (!n.hasNone) {
    for (const v of [...vals].sort()) {
      const c = 1 + childCost(n, v);
      if (c < n.best) {
        n.best = c;
        n.bestVal = v;
      }
    }
  }
  for (const v of vals) n.costOf.set(v, Math.min(childCost(n, v), n.best));
  n.other = Math.min(childCost(n, undefined), n.best);
  n.none = Math.min(childCost(n, NONE), n.best);
  return n;
}

/** Build the trie below prefix (val, len); items lie within it, sorted by val. d: the requirement of the innermost range here. */
function build(items: Item[], val: bigint, len: number, d: Val | undefined, width: number): Node | null {
  let here = d;
  let peerHere: Item | undefined;
  const rest: Item[] = [];
  for (const it of items) {
    if (it.len === len) {
      if (it.peer) peerHere = it;
      else if (here === d) here = it.need; // a range exactly here (the first one named wins)
    } else rest.push(it);
  }
  if (peerHere) return leaf(val, len, peerHere.need, peerHere.address);
  if (rest.length === 0) return here !== undefined ? leaf(val, len, here) : null;
  if (here === undefined) {
    // outside any range only the items matter: jump to their common prefix
    let lo = rest[0]!.val;
    let hi = rest[0]!.val | hostMask(rest[0]!.len, width);
    for (const it of rest) {
      if (it.val < lo) lo = it.val;
      const end = it.val | hostMask(it.len, width);
      if (end > hi) hi = end;
    }
    const common = commonLength(lo, hi, width);
    if (common > len) return build(rest, lo & ~hostMask(common, width), common, undefined, width);
  }
  const left = rest.filter((it) => bitAt(it.val, len, width) === 0);
  const right = rest.filter((it) => bitAt(it.val, len, width) === 1);
  const children = [
    build(left, val, len + 1, here, width),
    build(right, val | (1n << BigInt(width - 1 - len)), len + 1, here, width),
  ].filter((c): c is Node => c !== null);
  if (children.length === 1 && here === undefined) return children[0]!;
  return branch(val, len, children);
}

function planFamily(family: Family, peers: Item[], ranges: Item[], keys: Md5Key[], keyOf: Map<string, Md5Key>): void {
  const width = family === 4 ? 32 : 128;
  const items = [...peers, ...ranges].sort((x, y) => (x.val < y.val ? -1 : x.val > y.val ? 1 : x.len - y.len));
  if (items.length === 0) return;
  const root = build(items, 0n, 0, undefined, width);
  if (!root) return;
  const emit = (n: Node, password: string): Md5Key => {
    const k: Md5Key = { family, address: formatIP(family, fromBig(n.val, width)), length: n.len, password, prefix: n.len < width };
    keys.push(k);
    return k;
  };
  // top-down: x is the password in force from above and `cover` the key that gives it
  const walk = (n: Node, x: Val, cover: Md5Key | undefined): void => {
    if (n.req !== undefined) {
      let k = cover;
      if (n.req !== NONE && n.req !== x) k = emit(n, n.req);
      if (n.peer !== undefined && n.req !== NONE && k) keyOf.set(n.peer, k);
      return;
    }
    let y = x;
    let k = cover;
    if (n.bestVal !== undefined && n.best < childCost(n, x)) {
      k = emit(n, n.bestVal);
      y = n.bestVal;
    }
    for (const c of n.children) walk(c, y, k);
  };
  walk(root, NONE, undefined);
}

/** Plan the listening socket's TCP-MD5 keys for these peers and listen ranges. */
export function planKeys(peers: readonly KeyNeedPeer[], ranges: readonly KeyNeedRange[]): KeyPlan {
  const keys: Md5Key[] = [];
  const keyOf = new Map<string, Md5Key>();
  const byFamily: Record<Family, { peers: Item[]; ranges: Item[] }> = { 4: { peers: [], ranges: [] }, 6: { peers: [], ranges: [] } };
  const seen = new Set<string>();
  let naiveKeys = ranges.filter((r) => r.password !== undefined).length;
  for (const p of peers) {
    const ip = parseIP(p.address);
    if (!ip) throw new TypeError(`not an IP address: ${p.address}`);
    const address = formatIP(ip.family, ip.bytes);
    if (seen.has(address)) continue;
    seen.add(address);
    if (p.password !== undefined) naiveKeys++;
    byFamily[ip.family].peers.push({ val: toBig(ip.bytes), len: ip.family === 4 ? 32 : 128, peer: true, need: p.password ?? NONE, address });
  }
  for (const r of ranges) {
    byFamily[r.cidr.family].ranges.push({ val: toBig(r.cidr.bytes), len: r.cidr.length, peer: false, need: r.password ?? NONE });
  }
  for (const f of [4, 6] as const) planFamily(f, byFamily[f].peers, byFamily[f].ranges, keys, keyOf);
  return { keys, keyOf, naiveKeys };
}

/** The password the kernel would use for `address` given these keys (longest prefix wins), or undefined. */
export function lookupKey(keys: readonly Md5Key[], address: string): Md5Key | undefined {
  const ip = parseIP(address);
  if (!ip) return undefined;
  const width = ip.family === 4 ? 32 : 128;
  const v = toBig(ip.bytes);
  let best: Md5Key | undefined;
  for (const k of keys) {
    if (k.family !== ip.family) continue;
    const kv = toBig(parseIP(k.address)!.bytes);
    if ((v & ~hostMask(k.length, width)) !== kv) continue;
    if (!best || k.length > best.length) best = k;
  }
  return best;
}
