// Text forms of communities (RFC 1997, RFC 4360, RFC 8092) and the well-known values.

export type LargeCommunity = readonly [globalAdmin: number, local1: number, local2: number];

/** Well-known communities (IANA "BGP Well-known Communities"). */
export const WELL_KNOWN_COMMUNITIES: Readonly<Record<number, string>> = {
  0xffff0000: 'GRACEFUL_SHUTDOWN',
  0xffff0001: 'ACCEPT_OWN',
  0xffff0006: 'LLGR_STALE',
  0xffff0007: 'NO_LLGR',
  0xffff029a: 'BLACKHOLE',
  0xffffff01: 'NO_EXPORT',
  0xffffff02: 'NO_ADVERTISE',
  0xffffff03: 'NO_EXPORT_SUBCONFED',
  0xffffff04: 'NOPEER',
};

/** `65000:100`, or the well-known name. */
export function formatCommunity(c: number): string {
  return WELL_KNOWN_COMMUNITIES[c] ?? `${c >>> 16}:${c & 0xffff}`;
}

export function parseCommunity(text: string): number {
  for (const [v, name] of Object.entries(WELL_KNOWN_COMMUNITIES)) if (name === text.toUpperCase()) return Number(v);
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[1]) > 65535 || Number(m[2]) > 65535) throw new RangeError(`bad community ${JSON.stringify(text)}`);
  return ((Number(m[1]) << 16) | Number(m[2])) >>> 0;
}

export const formatLargeCommunity = (c: LargeCommunity): string => `${c[0]}:${c[1]}:${c[2]}`;

/** RFC 4360 / RFC 5668: route target and route origin in their usual text; anything else as hex. */
export function formatExtendedCommunity(v: bigint): string {
  const type = Number((v >> 56n) & 0xffn);
  const sub = Number((v >> 48n) & 0xffn);
  const name = sub === 0x02 ? 'rt' : sub === 0x03 ? 'soo' : undefined;
  const low32 = Number(v & 0xffffffffn);
  const low16 = Number(v & 0xffffn);
  if (name && type === 0x00) return `${name}:${Number((v >> 32n) & 0xffffn)}:${low32}`;
  if (name && type === 0x01) {
    const a = Number((v >> 16n) & 0xffffffffn);
    return `${name}:${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}:${low16}`;
  }
  if (name && type === 0x02) return `${name}:${Number((v >> 16n) & 0xffffffffn)}:${low16}`;
  return `0x${v.toString(16).padStart(16, '0')}`;
}

/** Route target `rt:65000:100` (2-octet AS), `rt:4200000000:100` (4-octet AS) or `rt:10.0.0.1:100`. */
export function routeTarget(admin: number | string, assigned: number, subtype: 0x02 | 0x03 = 0x02): bigint {
  const sub = BigInt(subtype) << 48n;
  if (typeof admin === 'string') {
    const parts = admin.split('.').map(Number);
    const a = BigInt(((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
    return (0x01n << 56n) | sub | (a << 16n) | BigInt(assigned & 0xffff);
  }
  if (admin > 65535) return (0x02n << 56n) | sub | (BigInt(admin) << 16n) | BigInt(assigned & 0xffff);
  return sub | (BigInt(admin) << 32n) | BigInt(assigned >>> 0);
}
