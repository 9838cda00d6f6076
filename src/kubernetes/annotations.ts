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

/** One external peer of `routelet.io/peers`: the options of a ROUTELET_PEERS_FILE entry but the password (annotations are readable by everyone who may read Nodes). */
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
  /** one line per annotation ignored, naming it and why */
  readonly problems: readonly string[];
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
  return { asn, routeReflector, peers, problems };
}
