// The Prometheus registry of one agent. Each subsystem registers its own metrics on it;
// values are read from snapshots at scrape time (collect callbacks), never pushed per event
// on the hot path.
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(): Registry {
  const registry = new Registry();
  // event-loop lag sampled once a second: prom-client's default (10 ms) wakes the agent 100
  // times a second for nothing, a measurable share of its idle cost (npm run bench:idle)
  collectDefaultMetrics({ register: registry, prefix: 'routelet_', eventLoopMonitoringPrecision: 1000 });
  return registry;
}
