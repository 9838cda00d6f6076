// Real BGP daemons for the tests: BIRD 2 as `routelet lab` runs it (src/lab/daemons.ts,
// re-exported here), and GoBGP and FRR bgpd, which only the tests run, by their recipes here.
//
//   const d = await startDaemon('gobgp', ns, toml)   // resolves once its control socket answers
//   d.cli('neighbor')                                  // birdc / gobgp / vtysh, inside the namespace
import { join } from 'node:path';
import { type Daemon, type DaemonOptions, type Recipe, birdRecipe, launchDaemon } from '../../src/lab/daemons.js';
import type { Netns } from './netns.js';

export * from '../../src/lab/daemons.js';

export type DaemonKind = 'bird' | 'gobgp' | 'frr';

export interface TestDaemonOptions extends DaemonOptions {
  /** GoBGP gRPC port inside the namespace (default: a free one per daemon) */
  apiPort?: number;
}

const FRR_BGPD = '/usr/lib/frr/bgpd';
// below the ephemeral range (32768–60999): a port in it can be held by a gobgp CLI's own
// client socket (an earlier call's source port) and make the next gobgpd fail to listen
let nextApiPort = 20000 + (process.pid % 1000) * 10;

function recipe(kind: DaemonKind, opts: TestDaemonOptions): Recipe {
  switch (kind) {
    case 'bird':
      return birdRecipe(opts);
    case 'gobgp': {
      const port = opts.apiPort ?? nextApiPort++;
      return {
        config: 'gobgpd.toml',
        argv: (d) => ['gobgpd', '-f', join(d, 'gobgpd.toml'), '-t', 'toml', '--api-hosts', `127.0.0.1:${port}`, '--pprof-disable', '-p', '-l', 'info', ...(opts.args ?? [])],
        cli: () => (c) => ['gobgp', '-u', '127.0.0.1', '-p', String(port), ...c.split(/\s+/)],
        probe: 'global',
      };
    }
    case 'frr':
      return {
        config: 'bgpd.conf',
        // bgpd alone: no zebra (-Z), no kernel routes (-n), no telnet vty (-P 0), vtysh socket in our dir
        argv: (d) => [FRR_BGPD, '-f', join(d, 'bgpd.conf'), '-i', join(d, 'bgpd.pid'), '-Z', '-S', '-n', '-P', '0', '--vty_socket', d, '--log', `file:${join(d, 'daemon.log')}`, ...(opts.args ?? [])],
        cli: (d) => (c) => ['vtysh', '--vty_socket', d, '-d', 'bgpd', '-c', c],
        probe: 'show version',
      };
  }
}

/** Start a daemon of `kind` in `netns` with this configuration text; resolves when its CLI answers. */
export function startDaemon(kind: DaemonKind, netns: Netns, config: string, opts: TestDaemonOptions = {}): Promise<Daemon> {
  return launchDaemon(kind, recipe(kind, opts), netns, config, opts);
}

/** Poll `check` until it returns a value (not undefined) or the time is up; a throw is retried (the benchmarks' own). */
export { waitFor } from '../../bench/ns.js';
