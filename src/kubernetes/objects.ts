// Nodes and Leases reduced to what routelet reads from them. The API serves timestamps as
// RFC 3339 text; the client's list calls turn them into Date objects while watch events keep
// the text, so both are accepted. No I/O.
import { canonicalIP, parseCidr, formatCidr, parseIP } from '../net/ip.js';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const LEASE_NAMESPACE = 'kube-node-lease';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface NodeInfo {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** canonical InternalIP addresses, the API's order; the first of each family is the peering address */
  readonly internalIPv4: string | undefined;
  readonly internalIPv6: string | undefined;
  /** spec.podCIDRs (spec.podCIDR when the list is absent), canonical, the API's order */
  readonly podCIDRs: readonly string[];
  readonly zone: string | undefined;
  /** the Ready condition's status; undefined when the node has none yet */
  readonly ready: ConditionStatus | undefined;
  /** the Ready condition's lastTransitionTime, ms since the epoch */
  readonly readySince: number | undefined;
  /** metadata.deletionTimestamp set: the node is being deleted */
  readonly deleting: boolean;
}

export interface LeaseInfo {
  readonly name: string;
  readonly holderIdentity: string | undefined;
  /** spec.renewTime, ms since the epoch */
  readonly renewTime: number | undefined;
  readonly leaseDurationSeconds: number | undefined;
}

/** A Date or RFC 3339 text as ms since the epoch; undefined if absent or unreadable. */
export function timeOf(v: unknown): number | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime();
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const record = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
};

/** A Node object (as listed or watched) in routelet's terms. */
export function nodeInfo(raw: any): NodeInfo {
  const md = raw?.metadata ?? {};
  const spec = raw?.spec ?? {};
  const st = raw?.status ?? {};
  let v4: string | undefined;
  let v6: string | undefined;
  for (const a of Array.isArray(st.addresses) ? st.addresses : []) {
    if (a?.type !== 'InternalIP' || typeof a.address !== 'string') continue;
    const ip = parseIP(a.address.trim());
    if (!ip) continue;
    const text = canonicalIP(a.address.trim())!;
    if (ip.family === 4) v4 ??= text;
    else v6 ??= text;
  }
  const cidrTexts: unknown[] = Array.isArray(spec.podCIDRs) ? spec.podCIDRs : typeof spec.podCIDR === 'string' ? [spec.podCIDR] : [];
  const podCIDRs: string[] = [];
  for (const c of cidrTexts) {
    const p = typeof c === 'string' ? parseCidr(c.trim()) : undefined;
    if (p) podCIDRs.push(formatCidr(p));
  }
  const ready = (Array.isArray(st.conditions) ? st.conditions : []).find((c: any) => c?.type === 'Ready');
  const readyStatus = ready?.status === 'True' || ready?.status === 'False' || ready?.status === 'Unknown' ? (ready.status as ConditionStatus) : undefined;
  const labels = record(md.labels);
  return {
    name: str(md.name) ?? '',
    uid: str(md.uid) ?? '',
    resourceVersion: str(md.resourceVersion) ?? '',
    labels,
    annotations: record(md.annotations),
    internalIPv4: v4,
    internalIPv6: v6,
    podCIDRs,
    zone: labels[ZONE_LABEL],
    ready: readyStatus,
    readySince: ready ? timeOf(ready.lastTransitionTime) : undefined,
    deleting: md.deletionTimestamp !== undefined && md.deletionTimestamp !== null,
  };
}

/** A Lease object in routelet's terms. */
export function leaseInfo(raw: any): LeaseInfo {
  const md = raw?.metadata ?? {};
  const spec = raw?.spec ?? {};
  return {
    name: str(md.name) ?? '',
    holderIdentity: str(spec.holderIdentity),
    renewTime: timeOf(spec.renewTime),
    leaseDurationSeconds: typeof spec.leaseDurationSeconds === 'number' ? spec.leaseDurationSeconds : undefined,
  };
}

/** This node's pod CIDRs to advertise: spec.podCIDRs, IPv4 and IPv6. */
export function podCIDRs(node: NodeInfo | undefined): readonly string[] {
  return node ? node.podCIDRs : [];
}
