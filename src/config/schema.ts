// The schemas of routelet's configuration: the environment of `routelet agent` and the
// entries of ROUTELET_PEERS_FILE. Each value is validated here; the loader (load.ts)
// combines them into one Config.
import { z } from 'zod';
import { parseIP } from '../net/ip.js';
import type { BpfMode, LogLevel } from './types.js';
import { LOG_LEVELS } from './types.js';
import {
  checkUserTimeout,
  parseAsn,
  parseCidrList,
  parseHostPort,
  parseOnOff,
  parsePeerList,
  parseRouterId,
  parseTable,
  parseUint,
  TCP_USER_TIMEOUT_MS,
} from './values.js';

export const ASN = 'an AS number 1–4294967295, asplain or asdot (65000.10)';
export const HOLD = 'seconds, 0 or 3–65535';
const KEEPALIVE = 'seconds, 1–21845';
const USER_TIMEOUT = `milliseconds, 0 (off) or ${TCP_USER_TIMEOUT_MS.min}–${TCP_USER_TIMEOUT_MS.max}`;
const ONOFF = '"on" or "off"';

/** A variable whose text is read by `parse`; undefined from parse means "not of the form". */
function v<T>(expected: string, parse: (s: string) => T | undefined) {
  return z.string().transform((s, ctx): T => {
    const out = parse(s);
    if (out === undefined) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return out;
  });
}

export const holdTime = (s: string) => {
  const n = parseUint(s, 0, 65535);
  return n === undefined || n === 1 || n === 2 ? undefined : n;
};

/** The schema of the environment: one entry per variable of CONTRACT.md. */
export const envSchema = z.object({
  ROUTELET_ASN: v(ASN, parseAsn).optional(),
  ROUTELET_ROUTER_ID: v('a BGP identifier as a dotted quad other than 0.0.0.0', parseRouterId).optional(),
  ROUTELET_LISTEN_ADDRESS: v('an IPv4 or IPv6 address', (s) => parseIP(s.trim()) && s.trim()).optional(),
  ROUTELET_LISTEN_PORT: v('a TCP port 1–65535', (s) => parseUint(s, 1, 65535)).optional(),
  ROUTELET_PEERS: v(
    'comma-separated ADDRESS[:PORT]@ASN, IPv6 as [fd00::2]:1179@65001',
    parsePeerList,
  ).optional(),
  ROUTELET_PEERS_FILE: z.string().optional(),
  ROUTELET_LISTEN_RANGE: v('comma-separated CIDR prefixes such as 10.0.0.0/16', parseCidrList).optional(),
  ROUTELET_LISTEN_ASN: v(ASN, parseAsn).optional(),
  ROUTELET_RR_CLUSTER_ID: v('a cluster ID as a dotted quad (or 32-bit number) other than 0', parseRouterId).optional(),
  ROUTELET_PASSWORD: v('a TCP-MD5 key of 1–80 bytes', (s) => (s.length >= 1 && Buffer.byteLength(s) <= 80 ? s : undefined)).optional(),
  ROUTELET_PASSWORD_FILE: z.string().optional(),
  ROUTELET_HOLD_TIME: v(HOLD, holdTime).optional(),
  ROUTELET_KEEPALIVE_TIME: v(KEEPALIVE, (s) => parseUint(s, 1, 21845)).optional(),
  ROUTELET_TCP_USER_TIMEOUT: v(USER_TIMEOUT, (s) => checkUserTimeout(parseUint(s, 0, TCP_USER_TIMEOUT_MS.max))).optional(),
  ROUTELET_CONNECT_RETRY: v('seconds, 1–3600', (s) => parseUint(s, 1, 3600)).optional(),
  ROUTELET_CONNECT_RETRY_MAX: v('seconds, 1–86400', (s) => parseUint(s, 1, 86400)).optional(),
  ROUTELET_GR: v(ONOFF, parseOnOff).optional(),
  ROUTELET_GR_RESTART_TIME: v('seconds, 0–4095 (the 12-bit field of RFC 4724)', (s) => parseUint(s, 0, 4095)).optional(),
  ROUTELET_GR_WAIT: v('seconds, 0–86400', (s) => parseUint(s, 0, 86400)).optional(),
  ROUTELET_GR_FAST_UNLOCK: v(ONOFF, parseOnOff).optional(),
  ROUTELET_ADVERTISE: v('comma-separated CIDR prefixes with no host bits set, such as 10.65.3.0/26', parseCidrList).optional(),
  ROUTELET_KERNEL: v(ONOFF, parseOnOff).optional(),
  ROUTELET_KERNEL_TABLE: v('a routing table name from rt_tables (main, local, default) or a number 1–4294967295', (s) => parseTable(s)).optional(),
  ROUTELET_KERNEL_PROTOCOL: v('an rtm_protocol number 1–255', (s) => parseUint(s, 1, 255)).optional(),
  ROUTELET_ECMP_MAX_PATHS: v('a number of paths 1–256', (s) => parseUint(s, 1, 256)).optional(),
  ROUTELET_BPF: v('"on", "auto" or "off"', (s) => {
    const t = s.trim().toLowerCase();
    return t === 'on' || t === 'auto' || t === 'off' ? (t as BpfMode) : undefined;
  }).optional(),
  ROUTELET_HTTP_ADDRESS: v('HOST:PORT with an IP address, IPv6 as [::1]:9179', (s) => parseHostPort(s)).optional(),
  ROUTELET_LOG_LEVEL: v(`one of ${LOG_LEVELS.join(', ')}`, (s) => {
    const t = s.trim().toLowerCase();
    return (LOG_LEVELS as readonly string[]).includes(t) ? (t as LogLevel) : undefined;
  }).optional(),
});
export type Env = z.infer<typeof envSchema>;

/** Options one peer may set in ROUTELET_PEERS_FILE. */
export const peerFileEntry = z
  .object({
    address: z.string().refine((s) => parseIP(s.trim()) !== undefined, 'an IPv4 or IPv6 address'),
    port: z.number().int().min(1).max(65535).optional(),
    asn: z.union([z.number(), z.string()]).transform((a, ctx) => {
      const n = parseAsn(String(a));
      if (n === undefined) ctx.addIssue({ code: 'custom', message: 'an AS number 1–4294967295' });
      return n ?? 0;
    }),
    password: z.string().min(1).max(80).optional(),
    passwordFile: z.string().optional(),
    holdTime: z.number().int().refine((n) => holdTime(String(n)) !== undefined, HOLD).optional(),
    keepaliveTime: z.number().int().min(1).max(21845).optional(),
    tcpUserTimeout: z.number().int().refine((n) => checkUserTimeout(n) !== undefined, USER_TIMEOUT).optional(),
    passive: z.boolean().optional(),
    routeReflectorClient: z.boolean().optional(),
    ttlSecurity: z.union([z.boolean(), z.number().int().min(1).max(254)]).optional(),
    multihop: z.union([z.boolean(), z.number().int().min(1).max(255)]).optional(),
    gracefulRestart: z.boolean().optional(),
    maxPrefixes: z.number().int().min(1).optional(),
    description: z.string().optional(),
  })
  .strict();
export type PeerFileEntry = z.infer<typeof peerFileEntry>;

/** Every variable routelet reads; an unknown ROUTELET_* variable gets a warning. */
export const KNOWN_VARIABLES: readonly string[] = [...Object.keys(envSchema.shape), 'ROUTELET_ADDON_PATH'];
