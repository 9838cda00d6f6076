// The `routelet` command: dispatch to subcommands. Exit codes per docs/CONTRACT.md:
// 0 success, 1 runtime failure, 2 bad configuration or usage (one line naming what).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../sys/root.js';
import { ConfigError } from '../config/index.js';
import { UsageError } from './errors.js';
import { commandUsage, COMMANDS, usage } from './usage.js';

export type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  agent: async () => (await import('./agent.js')).agentCommand,
  status: async () => (await import('./status.js')).statusCommand,
  routes: async () => (await import('./routes.js')).routesCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
  lab: async () => (await import('./lab.js')).labCommand,
};

/** The package's version, from its package.json (in the checkout and the image). */
export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

const isHelp = (a: string) => a === '-h' || a === '--help';

/** --help/-h among a command's arguments, before a `--` that ends the options. */
function asksHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some(isHelp);
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || isHelp(name) || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !(topic in COMMANDS)) {
      process.stderr.write(`routelet: unknown command "${topic}"; expected one of ${Object.keys(commands).join(', ')}\n`);
      return 2;
    }
    process.stdout.write(`${topic !== undefined ? commandUsage(topic) : usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`routelet ${version()}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`routelet: unknown command "${name}"; expected one of ${Object.keys(commands).join(', ')} (routelet --help)\n`);
    return 2;
  }
  if (asksHelp(rest)) {
    process.stdout.write(`${commandUsage(name)}\n`);
    return 0;
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
