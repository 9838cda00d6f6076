// The entry of the bundle, dist/routelet.mjs (scripts/bundle.mjs): the command line and what
// bin/routelet.js does before it, from one file. bin takes catchStopSignals and PeerWatch from
// here, not from dist/agent/ and dist/health/: a second copy of those modules would keep
// state of its own (the stop signal received, the preloaded BPF programs) that the bundle's
// agent never sees.
export { catchStopSignals } from '../agent/signals.js';
export { PeerWatch } from '../health/service.js';
export { main } from './main.js';
