// The `routelet` command: dispatch to subcommands. Exit codes per CONTRACT.md:
// 0 success, 1 runtime failure, 2 bad configuration or usage (one line naming what).
import { ConfigError } from '../config/index.js';
import { UsageError } from './errors.js';

const USAGE = `usage: routelet <command> [options]

commands:
  agent [--check [--json]]          run the node agent (or probe this host's native capabilities)
  status [--json] [--http ADDR]     BGP sessions of a running agent
  routes [--json] [--prefix P] [--http ADDR]
                                    the routing table of a running agent
  bench fib [--routes N] [--json]   route-install benchmark beside ip -batch and the raw floor
  lab [--compare-bird] [--gr-wait S] [--json]
                                    a self-contained demonstration in network namespaces`;

export type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  agent: async () => (await import('./agent.js')).agentCommand,
  status: async () => (await import('./status.js')).statusCommand,
  routes: async () => (await import('./routes.js')).routesCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
  lab: async () => (await import('./lab.js')).labCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`routelet: unknown command "${name}"; expected one of ${Object.keys(commands).join(', ')}\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UsageError) {
      process.stderr.write(`routelet: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`routelet: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
