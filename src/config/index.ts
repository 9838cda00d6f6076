// routelet's configuration: every ROUTELET_* variable of docs/CONTRACT.md, validated with zod
// into one typed, deeply frozen object (load.ts). This module only re-exports.
export type { BfdAuthConfig, BfdAuthType, BpfMode, Config, LogLevel, PeerConfig, ReflectorSettings, SelectedPeer, V8WorkerPolicy } from './types.js';
export { BFD_AUTH_TYPES, bfdAuthKeyMax } from './types.js';
export { ConfigError } from './errors.js';
export { realHost, type HostFacts } from './host.js';
export { KNOWN_VARIABLES } from './schema.js';
export { loadConfig, readVariables, unknownVariableWarnings, type LoadResult } from './load.js';
