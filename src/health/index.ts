// Peer health: the socket-level evidence that a BGP peer is dead, for graceful restart's
// fast unlock. The GR policy, the sessions and the HTTP layer import from here.
export { PeerWatch, PeerWatchError } from './service.js';
export type { BpfSetting, PeerCounters, PeerHealthListener, PeerWatchMode, PeerWatchOptions, PeerWatchStatus } from './service.js';
export { KINDS, TCP_STATES, classify, errnoName, kindOfErrorCode } from './events.js';
export type { Evidence, Hook, PeerHealthEvent, PeerHealthKind, TcpState } from './events.js';
export { Dedup, eventFromSocketError } from './fallback.js';
export type { SocketErrorReport } from './fallback.js';
export { WatchError } from './watchlist.js';
export type { WatchedPeer } from './watchlist.js';
export { md5ProblemLine } from './peerstats.js';
// metrics.ts (prom-client) is imported from './metrics.js' by who needs it: loading it here
// would put prom-client on the agent's start-up path
