// Parsers for the value forms of routelet's environment variables. Each returns undefined
// for text that is not of its form; the schema turns that into "expected …".
import { isIP } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { canonicalIP, ipv4ToNumber, numberToIPv4, parseCidr, type Cidr } from '../net/ip.js';

/** TCP_USER_TIMEOUT (ROUTELET_TCP_USER_TIMEOUT, peer tcpUserTimeout): 0 (off) or this range, milliseconds. */
export const TCP_USER_TIMEOUT_MS = { min: 100, max: 600_000 } as const;

/**
 * ROUTELET_TCP_USER_TIMEOUT when unset, milliseconds. Chosen by `npm run bench:keepalive-loss`
 * (issue 14; figures in bench/README.md): with the default keepalive (a third of the hold time)
 * a write goes unanswered for 5 s on a path losing 20 % of packets both ways about once in 200
 * (3 s: once in 50), a fraction of a false reset per hour even there and none measurable at
 * 10 %; a host gone silent under a session without BFD is noticed within the next keepalive
 * plus 5 s (measured 15–20 s) instead of at the hold timer (88 s).
 */
export const DEFAULT_TCP_USER_TIMEOUT_MS = 5000;

/** A TCP user timeout in milliseconds: 0, or within TCP_USER_TIMEOUT_MS; undefined otherwise. */
export function checkUserTimeout(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && (n === 0 || (n >= TCP_USER_TIMEOUT_MS.min && n <= TCP_USER_TIMEOUT_MS.max)) ? n : undefined;
}

export function parseAsn(text: string): number | undefined {
  const t = text.trim();
  let v: number;
  if (/^\d+$/.test(t)) v = Number(t);
  else {
    const m = /^(\d+)\.(\d+)$/.exec(t);
    if (!m) return undefined;
    const hi = Number(m[1]);
    const lo = Number(m[2]);
    if (hi > 65535 || lo > 65535) return undefined;
    v = hi * 65536 + lo;
  }
  return Number.isSafeInteger(v) && v >= 1 && v <= 4294967295 ? v : undefined;
}

export function parseUint(text: string, min: number, max: number): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const v = Number(t);
  return v >= min && v <= max ? v : undefined;
}

const ON = new Set(['on', 'true', '1', 'yes', 'enabled']);
const OFF = new Set(['off', 'false', '0', 'no', 'disabled']);
export function parseOnOff(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (ON.has(t)) return true;
  if (OFF.has(t)) return false;
  return undefined;
}

/** A BGP identifier or cluster ID: dotted quad, not 0.0.0.0. Also accepts a 32-bit number. */
export function parseRouterId(text: string): string | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= 0xffffffff ? numberToIPv4(n) : undefined;
  }
  const n = ipv4ToNumber(t);
  return n === undefined || n === 0 ? undefined : numberToIPv4(n);
}

export function parseCidrList(text: string): Cidr[] | undefined {
  const parts = splitList(text);
  const out: Cidr[] = [];
  for (const p of parts) {
    const c = parseCidr(p);
    if (!c) return undefined;
    out.push(c);
  }
  return out;
}

export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port`; the host must be an IP address. */
export function parseHostPort(text: string, minPort = 0): HostPort | undefined {
  const t = text.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(t) ?? /^([^:]+):(\d+)$/.exec(t);
  if (!m) return undefined;
  const host = canonicalIP(m[1]!);
  const port = parseUint(m[2]!, minPort, 65535);
  if (!host || port === undefined) return undefined;
  return { host, port };
}

export interface PeerSpec {
  address: string;
  port?: number;
  asn: number;
}

/** One `ADDRESS[:PORT]@ASN` item; IPv6 as `[fd00::2]:1179@65001` or bare `fd00::2@65001`. */
export function parsePeerSpec(text: string): PeerSpec | undefined {
  const at = text.lastIndexOf('@');
  if (at < 0) return undefined;
  const asn = parseAsn(text.slice(at + 1));
  const where = text.slice(0, at).trim();
  if (asn === undefined || where === '') return undefined;
  let addr = where;
  let portText: string | undefined;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(where);
  if (br) {
    addr = br[1]!;
    portText = br[2];
  } else if ((where.match(/:/g) ?? []).length === 1) {
    [addr, portText] = where.split(':') as [string, string];
  }
  let address = canonicalIP(addr);
  if (!address) return undefined;
  // a zone (fe80::1%eth0) is kept as written: the loader refuses it by name
  if (addr.includes('%')) address = addr.trim();
  if (portText === undefined) return { address, asn };
  const port = parseUint(portText, 1, 65535);
  return port === undefined ? undefined : { address, port, asn };
}

export function parsePeerList(text: string): PeerSpec[] | undefined {
  const out: PeerSpec[] = [];
  for (const item of splitList(text)) {
    const p = parsePeerSpec(item);
    if (!p) return undefined;
    out.push(p);
  }
  return out;
}

const BUILTIN_TABLES: Record<string, number> = { default: 253, main: 254, local: 255 };

/** Routing table by name (iproute2's rt_tables) or number 1–4294967295. */
export function parseTable(text: string, tableFiles = RT_TABLE_FILES): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return parseUint(t, 1, 4294967295);
  if (t in BUILTIN_TABLES) return BUILTIN_TABLES[t];
  for (const f of tableFiles) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const m = /^\s*(\d+)\s+(\S+)/.exec(line);
      if (m && m[2] === t) return parseUint(m[1]!, 1, 4294967295);
    }
  }
  return undefined;
}
export const RT_TABLE_FILES = ['/etc/iproute2/rt_tables', '/usr/share/iproute2/rt_tables'];

export function isIPAddress(text: string): boolean {
  return isIP(text.trim()) !== 0;
}

/** Levenshtein distance, for "did you mean" on unknown variable names. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}
