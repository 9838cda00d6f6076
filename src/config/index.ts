// routelet's configuration: every ROUTELET_* variable of CONTRACT.md, validated with zod
// into one typed, deeply frozen object. A bad value is a ConfigError naming the variable,
// the value given and the form expected; the CLI prints it on one line and exits 2.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { z } from 'zod';
import { createRequire } from 'node:module';
import { type Cidr, canonicalIP, parseIP } from '../net/ip.js';
import { importRules } from '../rib/sanity.js'; // import sanity (issue 12): validates importPrefixes
import {
  checkUserTimeout,
  editDistance,
  parseAsn,
  parseCidrList,
  parseHostPort,
  parseOnOff,
  parsePeerList,
  parseRouterId,
  parseTable,
  parseUint,
  type PeerSpec,
  TCP_USER_TIMEOUT_MS,
} from './values.js';

export type BpfMode = 'on' | 'auto' | 'off';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface PeerConfig {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly asn: number;
  /** iBGP: the peer's AS is our own */
  readonly ibgp: boolean;
  readonly password: string | undefined;
  readonly holdTime: number;
  /** keepalive interval, seconds, when shorter than a third of the negotiated hold time; undefined: a third */
  readonly keepaliveTime: number | undefined;
  /** TCP_USER_TIMEOUT on the peer's connections, milliseconds; 0: the kernel's retransmission limits */
  readonly tcpUserTimeout: number;
  readonly passive: boolean;
  /** resolved: route-reflector mode and iBGP, unless the peer's options say otherwise */
  readonly routeReflectorClient: boolean;
  /** GTSM (RFC 5082): 0 off, else the most hops the peer may be away (minimum TTL 256-n) */
  readonly ttlSecurity: number;
  /** TTL of our packets to the peer: 0 = the default (1 for eBGP, 64 for iBGP) */
  readonly multihop: number;
  readonly gracefulRestart: boolean;
  /** Cease (RFC 4486 subcode 1) when the peer sends more prefixes; undefined = no limit */
  readonly maxPrefixes: number | undefined;
  readonly description: string | undefined;
  // import sanity (issue 12, src/rib/sanity.ts): per-peer import limits, peers file only
  /** accept a default route (0.0.0.0/0, ::/0) from this peer; default false */
  readonly allowDefault?: boolean;
  /** accept prefixes inside 169.254.0.0/16 from this peer; default false */
  readonly allowLinkLocal?: boolean;
  /** the only ranges accepted: `10.64.0.0/10 le 26` or { prefix, ge?, le? }; absent/empty: no limit */
  readonly importPrefixes?: readonly (string | { readonly prefix: string; readonly ge?: number; readonly le?: number })[];
}

export interface Config {
  readonly asn: number;
  readonly routerId: string;
  readonly listen: { readonly address: string; readonly port: number };
  readonly peers: readonly PeerConfig[];
  readonly listenRange: readonly Cidr[];
  readonly listenAsn: number;
  readonly rrClusterId: string | undefined;
  readonly password: string | undefined;
  readonly holdTime: number;
  /** ROUTELET_KEEPALIVE_TIME: keepalive interval when shorter than a third of the hold time */
  readonly keepaliveTime: number | undefined;
  /** ROUTELET_TCP_USER_TIMEOUT: milliseconds unacknowledged data may wait before the connection fails; 0 off */
  readonly tcpUserTimeout: number;
  readonly connectRetry: number;
  readonly connectRetryMax: number;
  readonly gr: {
    readonly enabled: boolean;
    readonly restartTime: number;
    readonly wait: number;
    readonly fastUnlock: boolean;
  };
  readonly advertise: readonly Cidr[];
  readonly kernel: { readonly enabled: boolean; readonly table: number; readonly protocol: number };
  readonly ecmpMaxPaths: number;
  readonly bpf: BpfMode;
  readonly http: { readonly host: string; readonly port: number };
  readonly logLevel: LogLevel;
}

/** A configuration value that is not of its form. `message` is the one line to print. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    readonly expected: string,
  ) {
    super(
      value === undefined
        ? `${variable} is required: expected ${expected}`
        : `invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`,
    );
    this.name = 'ConfigError';
  }
}

const HOLD = 'seconds, 0 or 3–65535';
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

const holdTime = (s: string) => {
  const n = parseUint(s, 0, 65535);
  return n === undefined || n === 1 || n === 2 ? undefined : n;
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The schema of the environment: one entry per variable of CONTRACT.md. */
const envSchema = z.object({
  ROUTELET_ASN: v('an AS number 1–4294967295, asplain or asdot (65000.10)', parseAsn).optional(),
  ROUTELET_ROUTER_ID: v('a BGP identifier as a dotted quad other than 0.0.0.0', parseRouterId).optional(),
  ROUTELET_LISTEN_ADDRESS: v('an IPv4 or IPv6 address', (s) => parseIP(s.trim()) && s.trim()).optional(),
  ROUTELET_LISTEN_PORT: v('a TCP port 1–65535', (s) => parseUint(s, 1, 65535)).optional(),
  ROUTELET_PEERS: v(
    'comma-separated ADDRESS[:PORT]@ASN, IPv6 as [fd00::2]:1179@65001',
    parsePeerList,
  ).optional(),
  ROUTELET_PEERS_FILE: z.string().optional(),
  ROUTELET_LISTEN_RANGE: v('comma-separated CIDR prefixes such as 10.0.0.0/16', parseCidrList).optional(),
  ROUTELET_LISTEN_ASN: v('an AS number 1–4294967295, asplain or asdot (65000.10)', parseAsn).optional(),
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

/** Every variable routelet reads; an unknown ROUTELET_* variable gets a warning. */
export const KNOWN_VARIABLES: readonly string[] = [...Object.keys(envSchema.shape), 'ROUTELET_ADDON_PATH'];

/** Options one peer may set in ROUTELET_PEERS_FILE. */
const peerFileEntry = z
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
    // import sanity (issue 12): per-peer import limits, checked as the RIB compiles them
    allowDefault: z.boolean().optional(),
    allowLinkLocal: z.boolean().optional(),
    importPrefixes: z
      .array(z.union([z.string(), z.object({ prefix: z.string(), ge: z.number().int().optional(), le: z.number().int().optional() }).strict()]))
      .superRefine((l, ctx) => {
        try {
          importRules({ importPrefixes: l });
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
        }
      })
      .optional(),
  })
  .strict();
type PeerFileEntry = z.infer<typeof peerFileEntry>;

export interface HostFacts {
  /** the first global IPv4 address of the host, for the default router ID */
  firstGlobalIPv4(): string | undefined;
  readFile(path: string): string;
}

export const realHost: HostFacts = {
  firstGlobalIPv4() {
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) {
        if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
      }
    }
    return undefined;
  },
  readFile: (p) => readFileSync(p, 'utf8'),
};

function readSecretFile(variable: string, path: string, host: HostFacts): string {
  let text: string;
  try {
    text = host.readFile(path);
  } catch (e) {
    throw new ConfigError(variable, path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const key = text.replace(/\r?\n$/, '');
  if (key.length < 1 || Buffer.byteLength(key) > 80)
    throw new ConfigError(variable, path, 'a file holding a TCP-MD5 key of 1–80 bytes');
  return key;
}

/**
 * JSON (a subset of YAML) is parsed as JSON; anything else by the yaml package, loaded only
 * then: it costs about 40 ms of the agent's start-up, which a restarting node spends waiting.
 */
function parsePeersText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    return parse(text) as unknown;
  }
}

function readPeersFile(path: string, host: HostFacts): PeerFileEntry[] {
  const variable = 'ROUTELET_PEERS_FILE';
  let text: string;
  try {
    text = host.readFile(path);
  } catch (e) {
    throw new ConfigError(variable, path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parsePeersText(text);
  } catch (e) {
    throw new ConfigError(variable, path, `YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return [];
  const list = z.array(peerFileEntry).safeParse(doc);
  if (!list.success) {
    const issue = list.error.issues[0]!;
    const where = issue.path.length ? `peers[${issue.path.map(String).join('].')}`.replace(/\]\.(\w+)$/, '].$1') : 'the file';
    throw new ConfigError(variable, path, `a list of peers; ${where}: ${issue.message}`);
  }
  return list.data;
}

export interface LoadResult {
  config: Config;
  /** one line each: unknown ROUTELET_* variables, with the nearest known name */
  warnings: string[];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !ArrayBuffer.isView(o) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

export function unknownVariableWarnings(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('ROUTELET_') || KNOWN_VARIABLES.includes(name)) continue;
    const nearest = [...KNOWN_VARIABLES].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
    out.push(`unknown variable ${name} is ignored; did you mean ${nearest}?`);
  }
  return out;
}

/** Parse and validate the environment. Throws ConfigError on the first bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, host: HostFacts = realHost): LoadResult {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const val = env[key];
    if (val !== undefined) raw[key] = val;
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0]);
    throw new ConfigError(variable, raw[variable], issue.message);
  }
  const e = parsed.data;
  if (e.ROUTELET_ASN === undefined)
    throw new ConfigError('ROUTELET_ASN', undefined, 'an AS number 1–4294967295, asplain or asdot (65000.10)');
  const asn = e.ROUTELET_ASN;

  const routerId = e.ROUTELET_ROUTER_ID ?? host.firstGlobalIPv4();
  if (routerId === undefined)
    throw new ConfigError('ROUTELET_ROUTER_ID', undefined, 'a dotted quad (this host has no global IPv4 address to take it from)');

  if (e.ROUTELET_PASSWORD !== undefined && e.ROUTELET_PASSWORD_FILE !== undefined)
    throw new ConfigError('ROUTELET_PASSWORD_FILE', e.ROUTELET_PASSWORD_FILE, 'to be unset when ROUTELET_PASSWORD is set (use one of them)');
  const password =
    e.ROUTELET_PASSWORD_FILE !== undefined
      ? readSecretFile('ROUTELET_PASSWORD_FILE', e.ROUTELET_PASSWORD_FILE, host)
      : e.ROUTELET_PASSWORD;

  const connectRetry = e.ROUTELET_CONNECT_RETRY ?? 5;
  const connectRetryMax = e.ROUTELET_CONNECT_RETRY_MAX ?? Math.max(60, connectRetry);
  if (connectRetryMax < connectRetry)
    throw new ConfigError('ROUTELET_CONNECT_RETRY_MAX', String(connectRetryMax), `seconds, at least ROUTELET_CONNECT_RETRY (${connectRetry})`);

  const holdTimeDefault = e.ROUTELET_HOLD_TIME ?? 90;
  const grEnabled = e.ROUTELET_GR ?? true;
  const rrClusterId = e.ROUTELET_RR_CLUSTER_ID;
  const listenPort = e.ROUTELET_LISTEN_PORT ?? 179;

  const fileEntries = e.ROUTELET_PEERS_FILE !== undefined ? readPeersFile(e.ROUTELET_PEERS_FILE, host) : [];
  const byAddress = new Map<string, PeerSpec & Partial<PeerFileEntry>>();
  for (const p of e.ROUTELET_PEERS ?? []) byAddress.set(p.address, p);
  for (const f of fileEntries) {
    const address = canonicalIP(f.address.trim())!;
    byAddress.set(address, { ...f, address });
  }
  const peers: PeerConfig[] = [...byAddress.values()].map((p) => {
    const fam = parseIP(p.address)!.family;
    const ibgp = p.asn === asn;
    const peerPassword = p.passwordFile !== undefined ? readSecretFile('ROUTELET_PEERS_FILE', p.passwordFile, host) : p.password;
    const ttl = p.ttlSecurity === true ? 1 : p.ttlSecurity === false || p.ttlSecurity === undefined ? 0 : p.ttlSecurity;
    const hop = p.multihop === true ? 255 : p.multihop === false || p.multihop === undefined ? 0 : p.multihop;
    return {
      address: p.address,
      family: fam,
      port: p.port ?? listenPort,
      asn: p.asn,
      ibgp,
      password: peerPassword ?? password,
      holdTime: p.holdTime ?? holdTimeDefault,
      keepaliveTime: p.keepaliveTime ?? e.ROUTELET_KEEPALIVE_TIME,
      tcpUserTimeout: p.tcpUserTimeout ?? e.ROUTELET_TCP_USER_TIMEOUT ?? 0,
      passive: p.passive ?? false,
      routeReflectorClient: p.routeReflectorClient ?? (rrClusterId !== undefined && ibgp),
      ttlSecurity: ttl,
      multihop: hop,
      gracefulRestart: p.gracefulRestart ?? grEnabled,
      maxPrefixes: p.maxPrefixes,
      description: p.description,
      // import sanity (issue 12)
      ...(p.allowDefault !== undefined ? { allowDefault: p.allowDefault } : {}),
      ...(p.allowLinkLocal !== undefined ? { allowLinkLocal: p.allowLinkLocal } : {}),
      ...(p.importPrefixes !== undefined ? { importPrefixes: p.importPrefixes } : {}),
    };
  });

  const config: Config = {
    asn,
    routerId,
    listen: { address: e.ROUTELET_LISTEN_ADDRESS ?? '::', port: listenPort },
    peers,
    listenRange: e.ROUTELET_LISTEN_RANGE ?? [],
    listenAsn: e.ROUTELET_LISTEN_ASN ?? asn,
    rrClusterId,
    password,
    holdTime: holdTimeDefault,
    keepaliveTime: e.ROUTELET_KEEPALIVE_TIME,
    tcpUserTimeout: e.ROUTELET_TCP_USER_TIMEOUT ?? 0,
    connectRetry,
    connectRetryMax,
    gr: {
      enabled: grEnabled,
      restartTime: e.ROUTELET_GR_RESTART_TIME ?? 120,
      wait: e.ROUTELET_GR_WAIT ?? 240,
      fastUnlock: e.ROUTELET_GR_FAST_UNLOCK ?? true,
    },
    advertise: e.ROUTELET_ADVERTISE ?? [],
    kernel: {
      enabled: e.ROUTELET_KERNEL ?? true,
      table: e.ROUTELET_KERNEL_TABLE ?? 254,
      protocol: e.ROUTELET_KERNEL_PROTOCOL ?? 201,
    },
    ecmpMaxPaths: e.ROUTELET_ECMP_MAX_PATHS ?? 8,
    bpf: e.ROUTELET_BPF ?? 'auto',
    http: e.ROUTELET_HTTP_ADDRESS ?? { host: '127.0.0.1', port: 9179 },
    logLevel: e.ROUTELET_LOG_LEVEL ?? 'info',
  };
  return { config: deepFreeze(config), warnings: unknownVariableWarnings(env) };
}

