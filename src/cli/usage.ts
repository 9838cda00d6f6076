// The usage of `routelet` and of each command, every flag listed: `routelet --help`,
// `routelet <command> --help`. A flag added to a command's parse() belongs here too
// (test/cli.test.ts checks that each one is listed).

export interface CommandUsage {
  /** the command line, with every flag */
  readonly synopsis: string;
  readonly summary: string;
  /** [flag, what it does] */
  readonly flags: readonly (readonly [string, string])[];
  /** a closing paragraph */
  readonly notes?: string;
}

export const COMMANDS: Readonly<Record<string, CommandUsage>> = {
  agent: {
    synopsis: 'routelet agent [--check [--json] [--btf PATH] [--cgroup DIR]]',
    summary: 'run the node agent in the foreground (JSON log lines on stdout), or probe this host',
    flags: [
      ['--check', "probe this host's native capabilities (rtnetlink, BPF, sockops, TCP-MD5, GTSM); exit 1 if a required one fails"],
      ['--json', 'with --check: the results as JSON'],
      ['--btf PATH', 'with --check: the kernel BTF for the BPF probes (default: the running kernel’s, /sys/kernel/btf/vmlinux)'],
      ['--cgroup DIR', 'with --check: the cgroup v2 directory for the sockops probe (default: this process’s own)'],
    ],
    notes:
      'The agent is configured by ROUTELET_* environment variables (docs/CONFIGURATION.md); ROUTELET_ASN is required.\n' +
      'SIGTERM/SIGINT stop it within 5 s; SIGHUP re-reads the peers. Exit 2: bad configuration, named on one line.',
  },
  status: {
    synopsis: 'routelet status [--json] [--http ADDR]',
    summary: 'the BGP sessions of a running agent',
    flags: [
      ['--json', 'the /api/v1/peers array as JSON'],
      ['--http ADDR', "the agent's HTTP address, HOST:PORT (default ROUTELET_HTTP_ADDRESS, else 127.0.0.1:9179)"],
    ],
  },
  routes: {
    synopsis: 'routelet routes [--json] [--prefix P] [--http ADDR]',
    summary: 'the routing table of a running agent: paths, the best and why, kernel state',
    flags: [
      ['--json', 'the /api/v1/routes array as JSON'],
      ['--prefix P', 'only this prefix (10.0.0.0/24), or the routes covering this address'],
      ['--http ADDR', "the agent's HTTP address, HOST:PORT (default ROUTELET_HTTP_ADDRESS, else 127.0.0.1:9179)"],
    ],
  },
  bench: {
    synopsis: 'routelet bench fib [--routes N] [--repeat R] [--latency K] [--latency-warmup K] [--floor PATH] [--no-ip-batch] [--json]',
    summary: 'route-install benchmark (root): routelet beside ip -batch and a raw-netlink floor, in a scratch namespace',
    flags: [
      ['--routes N', 'routes per run (default 100000)'],
      ['--repeat R', 'runs, the median reported (default 5; 3 above 200000 routes)'],
      ['--latency K', 'single-change latency samples (default 1000; 0 leaves it out)'],
      ['--latency-warmup K', 'single changes before those, reported apart as the cold figures (default 2000: the JIT reaches steady state)'],
      ['--floor PATH', 'the netlink-floor reference loader (default ROUTELET_NETLINK_FLOOR, else shared/bench/ beside the checkout)'],
      ['--no-ip-batch', 'leave out ip -batch'],
      ['--json', 'the result as JSON'],
    ],
  },
  lab: {
    synopsis:
      'routelet lab [--compare-bird] [--gr-wait S] [--rounds LIST] [--keepalive S] [--tcp-user-timeout MS] [--fast-unlock on|off] [--timeout S] [--json]',
    summary: 'a self-contained demonstration (root): network namespaces, this agent and BIRD as peers',
    flags: [
      ['--compare-bird', 'run the same rounds with BIRD on node A as calico-node runs it, side by side'],
      ['--gr-wait S', "BIRD's graceful restart wait with --compare-bird (default 240)"],
      ['--rounds LIST', 'comma-separated: refused, unreachable, drop, passive, vanish (default refused,unreachable)'],
      ['--keepalive S', "node A's ROUTELET_KEEPALIVE_TIME for the vanish round"],
      ['--tcp-user-timeout MS', "node A's ROUTELET_TCP_USER_TIMEOUT for the vanish round"],
      ['--fast-unlock on|off', "node A's ROUTELET_GR_FAST_UNLOCK (default: the agent's default, on)"],
      ['--timeout S', 'the longest each measurement waits (default 60; gr-wait + 30 with --compare-bird)'],
      ['--json', 'the report as JSON'],
    ],
  },
};

const GENERAL: readonly (readonly [string, string])[] = [
  ['-h, --help', 'this usage; after a command, that command’s'],
  ['-V, --version', 'the version of routelet'],
];

function flagLines(flags: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...flags.map(([f]) => f.length)) + 2;
  return flags.map(([f, text]) => `  ${f.padEnd(width)}${text}`);
}

/** `routelet --help`: every command with every flag. */
export function usage(): string {
  const lines = ['usage: routelet <command> [options]', '', 'commands:'];
  for (const c of Object.values(COMMANDS)) lines.push(`  ${c.synopsis}`, `      ${c.summary}`);
  lines.push('', 'options:', ...flagLines(GENERAL), '', 'routelet <command> --help describes each flag.');
  return lines.join('\n');
}

/** `routelet <command> --help`. */
export function commandUsage(name: string): string {
  const c = COMMANDS[name]!;
  const lines = [`usage: ${c.synopsis}`, '', c.summary, '', 'options:', ...flagLines([...c.flags, ['-h, --help', 'this usage']])];
  if (c.notes) lines.push('', c.notes);
  return lines.join('\n');
}
