// The per-node annotations routelet reads (documented in src/kubernetes/README.md). A bad value
// is reported as a problem and ignored, never fatal: one mistyped annotation must not take a
// node's routing down. No I/O.
import { z } from 'zod';
import { canonicalIP, parseIP } from '../net/ip.js';
import { parseAsn } from '../config/values.js';
import type { NodeInfo } from './objects.js';

export const ANNOTATION_ASN = 'routelet.io/asn';
export const ANNOTATION_ROUTE_REFLECTOR = 'routelet.io/route-reflector';
export const ANNOTATION_PEERS = 'routelet.io/peers';
export const ANNOTATION_BFD = 'routelet.io/bfd';
export const ANNOTATION_BFD_INTERVAL = 'routelet.io/bfd-interval';
export const ANNOTATION_BFD_MULTIPLIER = 'routelet.io/bfd-multiplier';

/**
 * One external peer of `routelet.io/peers`: the options of a ROUTELET_PEERS_FILE entry but the
 * secrets — `password` and `bfdAuth` (annotations are readable by everyone who may read Nodes);
 * an entry with either is refused as an unknown option.
 */
const annotationPeer = z
  .object({
    address: z.string().refine((s) => parseIP(s.trim()) !== undefined, 'an IPv4 or IPv6 address'),
    asn: z.union([z.number(), z.string()]).refine((a) => parseAsn(String(a)) !== undefined, 'an AS number 1–4294967295'),
    port: z.number().int().min(1).max(65535).optional(),
    holdTime: z.number().int().refine((n) => n === 0 || (n >= 3 && n <= 65535), 'seconds, 0 or 3–65535').optional(),
    keepaliveTime: z.number().int().min(1).max(21845).optional(),
    tcpUserTimeout: z.number().int().refine((n) => n === 0 || (n >= 100 && n <= 600_000)).optional(),
    passive: z.boolean().optional(),
    routeReflectorClient: z.boolean().optional(),
    ttlSecurity: z.union([z.boolean(), z.number().int().min(1).max(254)]).optional(),
    multihop: z.union([z.boolean(), z.number().int().min(1).max(255)]).optional(),
    gracefulRestart: z.boolean().optional(),
    bfd: z.boolean().optional(),
    bfdInterval: z.number().int().min(10).max(60000).optional(),
    bfdMultiplier: z.number().int().min(1).max(255).optional(),
    maxPrefixes: z.number().int().min(1).optional(),
    description: z.string().optional(),
  })
  .strict();

export type AnnotationPeer = Omit<z.infer<typeof annotationPeer>, 'asn'> & { asn: number };

export interface NodeOverrides {
  /** routelet.io/asn */
  readonly asn: number | undefined;
  /** routelet.io/route-reflector: true forces the node into the reflector set, false keeps it out */
  readonly routeReflector: boolean | undefined;
  /** routelet.io/peers */
  readonly peers: readonly AnnotationPeer[];
  /** routelet.io/bfd, routelet.io/bfd-interval (ms), routelet.io/bfd-multiplier: BFD of the node-to-node sessions to and from this node */
  readonly bfd: NodeBfd;
  /** one line per annotation ignored, naming it and why */
  readonly problems: readonly string[];
}

/** A node's BFD annotations; each undefined when absent or malformed. */
export interface NodeBfd {
  readonly enabled: boolean | undefined;
  readonly interval: number | undefined;
  readonly multiplier: number | undefined;
}

function uintAnnotation(node: NodeInfo, name: string, min: number, max: number, what: string, problems: string[]): number | undefined {
  const text = node.annotations[name];
  if (text === undefined) return undefined;
  const t = text.trim();
  const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
  if (n >= min && n <= max) return n;
  problems.push(`node ${node.name}: ${name}=${JSON.stringify(text)} ignored: expected ${what}`);
  return undefined;
}

function nodeBfd(node: NodeInfo, problems: string[]): NodeBfd {
  let enabled: boolean | undefined;
  const text = node.annotations[ANNOTATION_BFD];
  const t = text?.trim().toLowerCase();
  if (t === 'true') enabled = true;
  else if (t === 'false') enabled = false;
  else if (text !== undefined) problems.push(`node ${node.name}: ${ANNOTATION_BFD}=${JSON.stringify(text)} ignored: expected "true" or "false"`);
  return {
    enabled,
    interval: uintAnnotation(node, ANNOTATION_BFD_INTERVAL, 10, 60000, 'milliseconds, 10–60000', problems),
    multiplier: uintAnnotation(node, ANNOTATION_BFD_MULTIPLIER, 1, 255, 'a number 1–255', problems),
  };
}

export function nodeOverrides(node: NodeInfo): NodeOverrides {
  const a = node.annotations;
  const problems: string[] = [];
  let asn: number | undefined;
  if (a[ANNOTATION_ASN] !== undefined) {
    asn = parseAsn(a[ANNOTATION_ASN]);
    if (asn === undefined) problems.push(`node ${node.name}: ${ANNOTATION_ASN}=${JSON.stringify(a[ANNOTATION_ASN])} ignored: expected an AS number 1–4294967295`);
  }
  let routeReflector: boolean | undefined;
  const rr = a[ANNOTATION_ROUTE_REFLECTOR]?.trim().toLowerCase();
  if (rr !== undefined) {
    if (rr === 'true') routeReflector = true;
    else if (rr === 'false') routeReflector = false;
    else problems.push(`node ${node.name}: ${ANNOTATION_ROUTE_REFLECTOR}=${JSON.stringify(a[ANNOTATION_ROUTE_REFLECTOR])} ignored: expected "true" or "false"`);
  }
  let peers: AnnotationPeer[] = [];
  if (a[ANNOTATION_PEERS] !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(a[ANNOTATION_PEERS]);
    } catch (e) {
      problems.push(`node ${node.name}: ${ANNOTATION_PEERS} ignored: not JSON (${(e as Error).message})`);
    }
    if (doc !== undefined) {
      const list = z.array(annotationPeer).safeParse(doc);
      if (list.success)
        peers = list.data.map((p) => ({ ...p, address: canonicalIP(p.address.trim())!, asn: parseAsn(String(p.asn))! }));
      else {
        const issue = list.error.issues[0]!;
        problems.push(`node ${node.name}: ${ANNOTATION_PEERS} ignored: peers[${issue.path.map(String).join('].')}: ${issue.message}`);
      }
    }
  }
  const bfd = nodeBfd(node, problems);
  return { asn, routeReflector, peers, bfd, problems };
}

/** The agent's own BFD defaults (ROUTELET_BFD, ROUTELET_BFD_INTERVAL, ROUTELET_BFD_MULTIPLIER). */
export interface BfdDefaults {
  readonly enabled: boolean;
  readonly interval: number;
  readonly multiplier: number;
}

/**
 * BFD of the node-to-node session between two nodes, from both nodes' annotations — the same
 * answer on both ends, computed from the two Node objects alone (with ROUTELET_BFD* alike on
 * every node, as a DaemonSet sets them):
 * - on unless either node says `routelet.io/bfd: "false"` (off wins: a node taken out of BFD has
 *   none with anyone); else on when either says `"true"` (over ROUTELET_BFD=off); else ROUTELET_BFD;
 * - interval and multiplier: the larger of the two nodes' (each node's annotation, else the
 *   default) — RFC 5880 negotiation gives the larger interval anyway; both ends asking for it
 *   makes the two ends' detection times alike and shows what is in effect.
 * Fields neither node annotates are left out (the agent's defaults apply, as without annotations).
 */
export function meshBfd(a: NodeBfd, b: NodeBfd, d: BfdDefaults): { bfd?: boolean; bfdInterval?: number; bfdMultiplier?: number } {
  const out: { bfd?: boolean; bfdInterval?: number; bfdMultiplier?: number } = {};
  if (a.enabled === false || b.enabled === false) out.bfd = false;
  else if (a.enabled === true || b.enabled === true) out.bfd = true;
  if (a.interval !== undefined || b.interval !== undefined) out.bfdInterval = Math.max(a.interval ?? d.interval, b.interval ?? d.interval);
  if (a.multiplier !== undefined || b.multiplier !== undefined) out.bfdMultiplier = Math.max(a.multiplier ?? d.multiplier, b.multiplier ?? d.multiplier);
  return out;
}
