// Which listening socket ("shard") of the SO_REUSEPORT group takes which peer — pure, no I/O.
//
// One socket holds only so many TCP-MD5 keys (its option memory, net.core.optmem_max), and
// IP_MINTTL / IPV6_MINHOPCOUNT are per socket, not per peer. So the listener is a group of
// sockets bound to the same address and port; a classic BPF program (cbpf.ts) sends each SYN
// to a member chosen by the source address, before the kernel checks the MD5 signature or the
// TTL. This module decides the members and the address → member map:
//  - keys shorter than a full address (prefix keys, few) are on every member;
//  - full-address keys (peers with their own password) are spread over members, each filled
//    to `capacity × (1 − headroom)` so later peers fit without moving others;
//  - peers with GTSM get members whose minimum TTL is theirs (one class per TTL value);
//  - member 0 has no minimum TTL and takes every address not listed (dynamic neighbours,
//    peers covered by a prefix key, strangers, who are refused at accept).
import { type Cidr, type Family, parseIP } from '../../net/ip.js';
import { type KeyPlan, type Md5Key } from './keyplan.js';

export interface ShardPeer {
  address: string;
  /** GTSM minimum TTL of this peer's packets; 0 = none */
  minTtl: number;
}

export interface LayoutInput {
  plan: KeyPlan;
  peers: readonly ShardPeer[];
  /** listen ranges: their addresses must land on a member without a minimum TTL */
  ranges: readonly Cidr[];
  /** keys one socket holds (measured with sockets.md5Capacity); Infinity when no key is needed */
  capacity: number;
  /** fraction of each member's capacity left free for peers configured later */
  headroom: number;
  maxShards: number;
}

export interface Shard {
  index: number;
  minTtl: number;
  keys: Md5Key[];
}

/** From `start` (inclusive) up to the next segment's start, SYNs go to member `shard`. */
export interface Segment {
  start: bigint;
  shard: number;
}

export interface ShardLayout {
  shards: Shard[];
  /** per family, sorted; addresses below the first start go to member 0 */
  segments: Record<Family, Segment[]>;
  /** peers whose GTSM class did not get a member of its own (maxShards): minimum TTL on the accepted socket only */
  gtsmOnAcceptOnly: string[];
}

interface Routed {
  address: string;
  family: Family;
  val: bigint;
  minTtl: number;
  key: Md5Key | undefined;
}

export function addressValue(address: string): { family: Family; val: bigint } | undefined {
  const ip = parseIP(address);
  if (!ip) return undefined;
  let v = 0n;
  for (const b of ip.bytes) v = (v << 8n) | BigInt(b);
  return { family: ip.family, val: v };
}

function rangeInterval(c: Cidr): [bigint, bigint] {
  const width = c.family === 4 ? 32 : 128;
  let v = 0n;
  for (const b of c.bytes) v = (v << 8n) | BigInt(b);
  return [v, v | ((1n << BigInt(width - c.length)) - 1n)];
}

function cmp(a: Routed, b: Routed): number {
  return a.family !== b.family ? a.family - b.family : a.val < b.val ? -1 : a.val > b.val ? 1 : 0;
}

export function layoutShards(input: LayoutInput): ShardLayout {
  const { plan } = input;
  const shared = plan.keys.filter((k) => k.prefix);
  const exact = new Map(plan.keys.filter((k) => !k.prefix).map((k) => [`${k.family}/${k.address}`, k]));
  const routed: Routed[] = [];
  for (const p of input.peers) {
    const a = addressValue(p.address);
    if (!a) continue;
    const k = plan.keyOf.get(p.address);
    const own = k && !k.prefix ? k : undefined;
    if (own) exact.delete(`${own.family}/${own.address}`);
    routed.push({ address: p.address, ...a, minTtl: p.minTtl, key: own });
  }
  // full-length keys that are not a configured peer's (a listen range of one address)
  for (const k of exact.values()) routed.push({ address: k.address, ...addressValue(k.address)!, minTtl: 0, key: k });

  const perShard = input.capacity === Infinity ? Infinity : Math.max(1, Math.floor(input.capacity * (1 - input.headroom)) - shared.length);
  const classes = [...new Set([0, ...routed.map((r) => r.minTtl)])].sort((x, y) => x - y);
  interface Chunk {
    minTtl: number;
    items: Routed[];
    keys: number;
  }
  const chunks: Chunk[] = [];
  for (const c of classes) {
    const items = routed.filter((r) => r.minTtl === c).sort(cmp);
    let cur: Chunk = { minTtl: c, items: [], keys: 0 };
    chunks.push(cur);
    for (const it of items) {
      if (it.key && cur.keys >= perShard) {
        cur = { minTtl: c, items: [], keys: 0 };
        chunks.push(cur);
      }
      cur.items.push(it);
      if (it.key) cur.keys++;
    }
  }
  // more members than allowed: the surplus joins the last member of its class, or member 0
  // (its keys then meet the kernel's limit, which says so per key)
  const gtsmOnAcceptOnly: string[] = [];
  const kept = chunks.slice(0, Math.max(1, input.maxShards));
  for (const ch of chunks.slice(kept.length)) {
    let target = kept.findLastIndex((k) => k.minTtl === ch.minTtl);
    if (target < 0) {
      target = 0;
      for (const it of ch.items) if (it.minTtl) gtsmOnAcceptOnly.push(it.address);
    }
    kept[target]!.items.push(...ch.items);
    kept[target]!.keys += ch.keys;
  }
  const shardOfItem = new Map<Routed, number>();
  const shards: Shard[] = kept.map((ch, index) => {
    for (const it of ch.items) shardOfItem.set(it, index);
    return { index, minTtl: ch.minTtl, keys: [...shared, ...ch.items.flatMap((it) => (it.key ? [it.key] : []))] };
  });

  const segments: Record<Family, Segment[]> = { 4: [], 6: [] };
  for (const family of [4, 6] as const) {
    const width = family === 4 ? 32 : 128;
    const top = 1n << BigInt(width);
    const items = routed.filter((r) => r.family === family).sort(cmp);
    const ranges = input.ranges.filter((r) => r.family === family).map(rangeInterval);
    const gapHasRange = (lo: bigint, hi: bigint) => lo <= hi && ranges.some(([a, b]) => a <= hi && b >= lo);
    // pieces: [lo, hi] → shard; items of one member next to each other form one piece unless a
    // member with a minimum TTL would swallow listen-range addresses in between
    const pieces: { lo: bigint; hi: bigint; shard: number }[] = [];
    for (const it of items) {
      const s = shardOfItem.get(it)!;
      const last = pieces[pieces.length - 1];
      if (last && last.shard === s && (shards[s]!.minTtl === 0 || !gapHasRange(last.hi + 1n, it.val - 1n))) last.hi = it.val;
      else pieces.push({ lo: it.val, hi: it.val, shard: s });
    }
    const pts: Segment[] = [];
    for (const p of pieces) {
      if (pts.length && pts[pts.length - 1]!.start === p.lo) pts.pop();
      pts.push({ start: p.lo, shard: p.shard });
      if (p.hi + 1n < top) pts.push({ start: p.hi + 1n, shard: 0 });
    }
    let prev = 0;
    for (const p of pts) {
      if (p.shard === prev) continue;
      segments[family].push(p);
      prev = p.shard;
    }
  }
  return { shards, segments, gtsmOnAcceptOnly };
}

/** The member a SYN from `address` goes to under these segments (what the BPF program computes). */
export function shardFor(segments: Record<Family, Segment[]>, address: string): number {
  const a = addressValue(address);
  if (!a) return 0;
  const segs = segments[a.family];
  let lo = 0;
  let hi = segs.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segs[mid]!.start <= a.val) {
      found = segs[mid]!.shard;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
