// The routing core (issue 5): Adj-RIB-In, decision process, Loc-RIB with multipath, route
// reflection, Adj-RIB-Out with update groups, origination. Pure: no sockets or timers.
//
//   session layer ─► Rib.peerUp / update / peerDown / routeRefresh / markStale / sweepStale
//   Rib.flush() ─► events.send(peer, messages)   (same Buffers for a whole update group)
//              ─► events.fib(changes)            (prefix → multipath next hops, or removal)
//   HTTP ─► Rib.routes(query, kernel), Rib.peerCounts(peer)
export { Rib, type ChangeMark, type FlushStats } from './rib.js';
export { flushFibNow, flushSoon, SMALL_FLUSH } from './schedule.js';
export type { RouteQuery, KernelState } from './routeviews.js';
export { compare, comparePaths, describeStep, explain, select, Step, type CostFn, type DecisionPath, type DecisionPeer, type Selection } from './decision.js';
export { computeFacts, type FactsContext, type RibAttrs } from './attrs.js';
export type {
  ExportPolicy,
  Family,
  FibChange,
  GroupRole,
  ImportPolicy,
  NextHop,
  PeerCounts,
  PeerHandle,
  PeerOptions,
  RibEvents,
  RibOptions,
  SessionInfo,
  UpdateOutcome,
} from './types.js';
export {
  checkImport,
  checkPrefix,
  DEFAULT_RULES,
  importOptionsOf,
  importRules,
  LocalAddresses,
  MARTIANS,
  nextHopProblem,
  parseImportRange,
  REJECT_KINDS,
  type ImportOptions,
  type ImportRange,
  type ImportRules,
  type LocalAddress,
  type Rejection,
  type RejectKind,
} from './sanity.js';
