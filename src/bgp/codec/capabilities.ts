// Capabilities (RFC 5492) as a table: one entry per code with its name, decoder, encoder and
// formatter. Unknown capabilities are kept as bytes. A malformed known capability is an
// OPEN Message Error / Unspecific (RFC 4271 §6.2, RFC 5492 §3).
import { checkUint, toHex, u16, u32, Writer, copyBytes } from './bytes.js';
import { CapabilityCode } from './constants.js';
import { BgpError } from './errors.js';

export interface FamilyKey {
  readonly afi: number;
  readonly safi: number;
}

export type Capability =
  | { readonly kind: 'multiprotocol'; readonly afi: number; readonly safi: number }
  | { readonly kind: 'route-refresh' }
  | { readonly kind: 'route-refresh-cisco' }
  | { readonly kind: 'enhanced-route-refresh' }
  | { readonly kind: 'extended-message' }
  | { readonly kind: 'as4'; readonly asn: number }
  | { readonly kind: 'role'; readonly role: number }
  | {
      readonly kind: 'graceful-restart';
      /** R bit: the sender has restarted */
      readonly restarting: boolean;
      /** N bit (RFC 8538): the sender supports graceful restart for NOTIFICATION messages */
      readonly notification: boolean;
      /** seconds, 0–4095 */
      readonly restartTime: number;
      readonly families: readonly (FamilyKey & { readonly forwarding: boolean })[];
    }
  | {
      readonly kind: 'long-lived-graceful-restart';
      readonly families: readonly (FamilyKey & { readonly forwarding: boolean; readonly staleTime: number })[];
    }
  | { readonly kind: 'add-path'; readonly families: readonly (FamilyKey & { readonly send: boolean; readonly receive: boolean })[] }
  | { readonly kind: 'extended-next-hop'; readonly families: readonly (FamilyKey & { readonly nextHopAfi: number })[] }
  | { readonly kind: 'fqdn'; readonly hostname: string; readonly domain: string }
  | { readonly kind: 'unknown'; readonly code: number; readonly value: Uint8Array };

export type CapabilityKind = Capability['kind'];

interface CapabilitySpec<K extends CapabilityKind> {
  code: number;
  kind: K;
  name: string;
  decode(v: Uint8Array): Extract<Capability, { kind: K }>;
  encode(c: Extract<Capability, { kind: K }>, w: Writer): void;
  format(c: Extract<Capability, { kind: K }>): string;
}

const bad = (name: string, why: string): BgpError => new BgpError('OPEN_MALFORMED', { detail: `${name} capability ${why}` });

function tuples(v: Uint8Array, size: number, name: string): number {
  if (v.length % size !== 0) throw bad(name, `length ${v.length} is not a multiple of ${size}`);
  return v.length / size;
}

function fixed(v: Uint8Array, n: number, name: string): void {
  if (v.length !== n) throw bad(name, `length ${v.length}, expected ${n}`);
}

const fam = (f: FamilyKey): string => `${f.afi === 1 ? 'ipv4' : f.afi === 2 ? 'ipv6' : `afi ${f.afi}`}${f.safi === 1 ? '' : `/safi ${f.safi}`}`;

function empty<K extends 'route-refresh' | 'route-refresh-cisco' | 'enhanced-route-refresh' | 'extended-message'>(code: number, kind: K, name: string): CapabilitySpec<K> {
  return {
    code,
    kind,
    name,
    decode(v) {
      fixed(v, 0, name);
      return { kind } as Extract<Capability, { kind: K }>;
    },
    encode() {},
    format: () => name,
  };
}

const decoder = new TextDecoder('utf-8');

export const CAPABILITIES = [
  {
    code: CapabilityCode.Multiprotocol,
    kind: 'multiprotocol',
    name: 'multiprotocol',
    decode(v) {
      fixed(v, 4, 'multiprotocol');
      return { kind: 'multiprotocol', afi: u16(v, 0), safi: v[3]! };
    },
    encode(c, w) {
      w.u16(c.afi).u8(0).u8(c.safi);
    },
    format: (c) => `multiprotocol ${fam(c)}`,
  } satisfies CapabilitySpec<'multiprotocol'>,
  empty(CapabilityCode.RouteRefresh, 'route-refresh', 'route refresh'),
  empty(CapabilityCode.RouteRefreshCisco, 'route-refresh-cisco', 'route refresh (pre-standard)'),
  empty(CapabilityCode.EnhancedRouteRefresh, 'enhanced-route-refresh', 'enhanced route refresh'),
  empty(CapabilityCode.ExtendedMessage, 'extended-message', 'extended message'),
  {
    code: CapabilityCode.As4,
    kind: 'as4',
    name: '4-octet AS',
    decode(v) {
      fixed(v, 4, '4-octet AS');
      return { kind: 'as4', asn: u32(v, 0) };
    },
    encode(c, w) {
      w.u32(c.asn);
    },
    format: (c) => `4-octet AS ${c.asn}`,
  } satisfies CapabilitySpec<'as4'>,
  {
    code: CapabilityCode.Role,
    kind: 'role',
    name: 'BGP role',
    decode(v) {
      fixed(v, 1, 'BGP role');
      return { kind: 'role', role: v[0]! };
    },
    encode(c, w) {
      w.u8(c.role);
    },
    format: (c) => `role ${['provider', 'route server', 'route server client', 'customer', 'peer'][c.role] ?? c.role}`,
  } satisfies CapabilitySpec<'role'>,
  {
    code: CapabilityCode.GracefulRestart,
    kind: 'graceful-restart',
    name: 'graceful restart',
    decode(v) {
      if (v.length < 2) throw bad('graceful restart', `length ${v.length}`);
      const n = tuples(v.subarray(2), 4, 'graceful restart');
      const head = u16(v, 0);
      const families = [];
      for (let i = 0; i < n; i++) {
        const o = 2 + i * 4;
        families.push({ afi: u16(v, o), safi: v[o + 2]!, forwarding: (v[o + 3]! & 0x80) !== 0 });
      }
      return { kind: 'graceful-restart', restarting: (head & 0x8000) !== 0, notification: (head & 0x4000) !== 0, restartTime: head & 0x0fff, families };
    },
    encode(c, w) {
      checkUint('graceful restart time', c.restartTime, 4095);
      w.u16((c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | c.restartTime);
      for (const f of c.families) w.u16(f.afi).u8(f.safi).u8(f.forwarding ? 0x80 : 0);
    },
    format: (c) =>
      `graceful restart ${c.restartTime}s${c.restarting ? ' restarting' : ''}${c.notification ? ' notification' : ''} [${c.families.map((f) => `${fam(f)}${f.forwarding ? ' F' : ''}`).join(', ')}]`,
  } satisfies CapabilitySpec<'graceful-restart'>,
  {
    code: CapabilityCode.LongLivedGracefulRestart,
    kind: 'long-lived-graceful-restart',
    name: 'long-lived graceful restart',
    decode(v) {
      const n = tuples(v, 7, 'long-lived graceful restart');
      const families = [];
      for (let i = 0; i < n; i++) {
        const o = i * 7;
        families.push({ afi: u16(v, o), safi: v[o + 2]!, forwarding: (v[o + 3]! & 0x80) !== 0, staleTime: (v[o + 4]! << 16) | (v[o + 5]! << 8) | v[o + 6]! });
      }
      return { kind: 'long-lived-graceful-restart', families };
    },
    encode(c, w) {
      for (const f of c.families) {
        checkUint('long-lived stale time', f.staleTime, 0xffffff);
        w.u16(f.afi).u8(f.safi).u8(f.forwarding ? 0x80 : 0).u24(f.staleTime);
      }
    },
    format: (c) => `long-lived graceful restart [${c.families.map((f) => `${fam(f)} ${f.staleTime}s${f.forwarding ? ' F' : ''}`).join(', ')}]`,
  } satisfies CapabilitySpec<'long-lived-graceful-restart'>,
  {
    code: CapabilityCode.AddPath,
    kind: 'add-path',
    name: 'ADD-PATH',
    decode(v) {
      const n = tuples(v, 4, 'ADD-PATH');
      const families = [];
      for (let i = 0; i < n; i++) {
        const o = i * 4;
        const mode = v[o + 3]!;
        // RFC 7911 §4: values other than 1–3 are not defined; such a tuple enables nothing
        families.push({ afi: u16(v, o), safi: v[o + 2]!, receive: mode === 1 || mode === 3, send: mode === 2 || mode === 3 });
      }
      return { kind: 'add-path', families };
    },
    encode(c, w) {
      for (const f of c.families) w.u16(f.afi).u8(f.safi).u8((f.receive ? 1 : 0) | (f.send ? 2 : 0));
    },
    format: (c) => `ADD-PATH [${c.families.map((f) => `${fam(f)} ${f.send && f.receive ? 'send/receive' : f.send ? 'send' : f.receive ? 'receive' : 'none'}`).join(', ')}]`,
  } satisfies CapabilitySpec<'add-path'>,
  {
    code: CapabilityCode.ExtendedNextHop,
    kind: 'extended-next-hop',
    name: 'extended next hop',
    decode(v) {
      const n = tuples(v, 6, 'extended next hop');
      const families = [];
      for (let i = 0; i < n; i++) families.push({ afi: u16(v, i * 6), safi: u16(v, i * 6 + 2), nextHopAfi: u16(v, i * 6 + 4) });
      return { kind: 'extended-next-hop', families };
    },
    encode(c, w) {
      for (const f of c.families) w.u16(f.afi).u16(f.safi).u16(f.nextHopAfi);
    },
    format: (c) => `extended next hop [${c.families.map((f) => `${fam(f)} via ${f.nextHopAfi === 2 ? 'ipv6' : `afi ${f.nextHopAfi}`}`).join(', ')}]`,
  } satisfies CapabilitySpec<'extended-next-hop'>,
  {
    code: CapabilityCode.Fqdn,
    kind: 'fqdn',
    name: 'FQDN',
    decode(v) {
      if (v.length < 1 || 1 + v[0]! + 1 > v.length) throw bad('FQDN', 'hostname overruns the capability');
      const hl = v[0]!;
      const dl = v[1 + hl]!;
      if (2 + hl + dl > v.length) throw bad('FQDN', 'domain overruns the capability');
      return { kind: 'fqdn', hostname: decoder.decode(v.subarray(1, 1 + hl)), domain: decoder.decode(v.subarray(2 + hl, 2 + hl + dl)) };
    },
    encode(c, w) {
      const h = Buffer.from(c.hostname, 'utf8');
      const d = Buffer.from(c.domain, 'utf8');
      if (h.length > 255 || d.length > 255) throw new RangeError('FQDN hostname and domain are at most 255 octets each');
      w.u8(h.length).bytes(h).u8(d.length).bytes(d);
    },
    format: (c) => `FQDN ${c.hostname}${c.domain ? `.${c.domain}` : ''}`,
  } satisfies CapabilitySpec<'fqdn'>,
] as const;

type AnySpec = CapabilitySpec<CapabilityKind>;
const BY_CODE = new Map<number, AnySpec>(CAPABILITIES.map((s) => [s.code, s as unknown as AnySpec]));
const BY_KIND = new Map<string, AnySpec>(CAPABILITIES.map((s) => [s.kind, s as unknown as AnySpec]));

export function decodeCapability(code: number, value: Uint8Array): Capability {
  const spec = BY_CODE.get(code);
  if (!spec) return { kind: 'unknown', code, value: copyBytes(value) };
  return spec.decode(value);
}

/** code, then value bytes */
export function encodeCapability(c: Capability): { code: number; value: Buffer } {
  if (c.kind === 'unknown') return { code: c.code, value: Buffer.from(c.value) };
  const spec = BY_KIND.get(c.kind)!;
  const w = new Writer(64);
  spec.encode(c, w);
  return { code: spec.code, value: w.finish() };
}

export function capabilityCode(c: Capability): number {
  return c.kind === 'unknown' ? c.code : BY_KIND.get(c.kind)!.code;
}

export function formatCapability(c: Capability): string {
  if (c.kind === 'unknown') return `capability ${c.code} (${toHex(c.value)})`;
  return BY_KIND.get(c.kind)!.format(c);
}
