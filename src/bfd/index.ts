// BFD toward the configured peers: the agent's side of the native BFD service (peers.ts).
export { BfdPeers, bfdSettings, diagWords, type BfdPeerSettings, type BfdPeerView, type BfdRead } from './peers.js';
