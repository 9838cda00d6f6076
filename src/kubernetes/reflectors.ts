// Automatic route-reflector selection. Every agent runs this on the same Node list and gets the
// same set: the input is only what the API stores (labels, the Ready condition and its
// lastTransitionTime, annotations), never a local clock or a local history. No I/O.
//
// Candidates: nodes not being deleted, Ready=True, with an InternalIP, not annotated
// routelet.io/route-reflector=false. Nodes annotated "true" are always in the set.
// Rank: the longest Ready first (Ready's lastTransitionTime, oldest first), then the name.
// Choice: first the best-ranked candidate of each zone not yet holding a reflector (zone spread),
// then the best-ranked remaining candidates, until `count`.
//
// Stability: a reflector stays one while it stays Ready — nodes added later have a later Ready
// time and rank after it, and a node that was NotReady and comes back has a new
// lastTransitionTime, so it does not take its place back from its replacement. The set changes
// when a reflector is deleted or stops being Ready, or when a node of a zone with no reflector
// becomes a candidate while another zone holds two (the spread improves; zones rarely appear).
import { ANNOTATION_ROUTE_REFLECTOR } from './annotations.js';
import type { NodeInfo } from './objects.js';

import { DEFAULT_REFLECTOR_COUNT } from '../config/types.js';
export { DEFAULT_REFLECTOR_COUNT };

function rankKey(n: NodeInfo): number {
  return n.readySince ?? Number.MAX_SAFE_INTEGER;
}

export function isCandidate(n: NodeInfo): boolean {
  return (
    !n.deleting &&
    n.ready === 'True' &&
    (n.internalIPv4 !== undefined || n.internalIPv6 !== undefined) &&
    n.annotations[ANNOTATION_ROUTE_REFLECTOR]?.trim().toLowerCase() !== 'false'
  );
}

/** The names of the reflectors among `nodes`, sorted. */
export function selectReflectors(nodes: Iterable<NodeInfo>, count = DEFAULT_REFLECTOR_COUNT): string[] {
  const all = [...nodes].filter((n) => !n.deleting);
  const forced = all.filter((n) => n.annotations[ANNOTATION_ROUTE_REFLECTOR]?.trim().toLowerCase() === 'true');
  const chosen = new Set(forced.map((n) => n.name));
  const zones = new Set(forced.map((n) => n.zone ?? ''));
  const ranked = all
    .filter((n) => isCandidate(n) && !chosen.has(n.name))
    .sort((a, b) => rankKey(a) - rankKey(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const n of ranked) {
    if (chosen.size >= count) break;
    const z = n.zone ?? '';
    if (zones.has(z)) continue;
    chosen.add(n.name);
    zones.add(z);
  }
  for (const n of ranked) {
    if (chosen.size >= count) break;
    chosen.add(n.name);
  }
  return [...chosen].sort();
}
