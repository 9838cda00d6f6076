// Node health from what the API knows: the node's Lease in kube-node-lease (renewed by the
// kubelet every ~10 s) and its Ready condition (set by the kubelet, and to Unknown by the node
// controller when the Lease stops). Evidence for graceful restart, never a reason by itself to
// end a session that is up: BGP stays authoritative while the session is Established. No I/O.
import type { LeaseInfo, NodeInfo } from './objects.js';

export type NodeHealth = 'alive' | 'dead' | 'unknown';

export interface HealthVerdict {
  readonly health: NodeHealth;
  readonly reason: string;
  /** ms since the epoch when this verdict changes by time alone (a fresh Lease expiring); undefined: only an update changes it */
  readonly until: number | undefined;
}

/** Default grace beyond renewTime + leaseDurationSeconds before a Lease counts as expired. */
export const DEFAULT_LEASE_GRACE_MS = 0;

/**
 * The node's health at `now`. A Lease is fresh until renewTime + leaseDurationSeconds + grace
 * (leaseDurationSeconds 40 by default, as the node controller's grace period).
 * - dead: the node object is being deleted, its Ready condition is False or Unknown, or its
 *   Lease expired;
 * - alive: Ready is True and the Lease is fresh;
 * - unknown: no evidence either way (no node, no Lease, no Ready condition).
 */
export function nodeHealth(node: NodeInfo | undefined, lease: LeaseInfo | undefined, now: number, graceMs = DEFAULT_LEASE_GRACE_MS): HealthVerdict {
  if (!node) return { health: 'unknown', reason: 'no Node object', until: undefined };
  if (node.deleting) return { health: 'dead', reason: 'Node is being deleted', until: undefined };
  if (node.ready === 'False') return { health: 'dead', reason: 'Ready condition is False', until: undefined };
  if (node.ready === 'Unknown') return { health: 'dead', reason: 'Ready condition is Unknown (kubelet stopped posting status)', until: undefined };
  if (!lease || lease.renewTime === undefined)
    return { health: 'unknown', reason: lease ? 'Lease has no renewTime' : 'no Lease in kube-node-lease', until: undefined };
  const expires = lease.renewTime + (lease.leaseDurationSeconds ?? 40) * 1000 + graceMs;
  const age = ((now - lease.renewTime) / 1000).toFixed(1);
  if (now >= expires) return { health: 'dead', reason: `Lease not renewed for ${age} s`, until: undefined };
  if (node.ready !== 'True') return { health: 'unknown', reason: 'no Ready condition', until: expires };
  return { health: 'alive', reason: `Ready, Lease renewed ${age} s ago`, until: expires };
}

/** The earliest moment any verdict among these nodes changes by time alone, for a re-check timer. */
export function nextHealthChange(
  nodes: Iterable<NodeInfo>,
  leases: ReadonlyMap<string, LeaseInfo>,
  now: number,
  graceMs = DEFAULT_LEASE_GRACE_MS,
): number | undefined {
  let next: number | undefined;
  for (const n of nodes) {
    const u = nodeHealth(n, leases.get(n.name), now, graceMs).until;
    if (u !== undefined && (next === undefined || u < next)) next = u;
  }
  return next;
}
