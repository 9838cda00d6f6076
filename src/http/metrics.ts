// The Prometheus registry of one agent. Each subsystem registers its own metrics on it;
// values are read from snapshots at scrape time (collect callbacks), never pushed per event
// on the hot path.
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'routelet_' });
  return registry;
}
