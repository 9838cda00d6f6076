// Peer sources and the pure peer plan (see plan.ts): what the configured peers are, and what
// a change of them means for the sessions.
export { changedOptions, PEER_OPTIONS, peerKey, planPeers, planReload, RESTART_SETTINGS, type PeerChange, type PeerOption, type PeerPlan, type ReloadPlan } from './plan.js';
export { dynamicPeerSettings, type DynamicSettingsConfig } from './dynamic.js';
