// Commands and network namespaces for `routelet lab`, `routelet bench fib`, the tests and the
// benchmarks (bench/): sh() runs a command and returns its output, Netns makes a namespace with
// a unique name, link() joins two with a veth pair, and every namespace made here is deleted
// at exit, even when a test or a benchmark fails. Only namespaces created here are ever deleted.
// test/support/netns.ts re-exports this module.
import { spawnSync } from 'node:child_process';

let counter = 0;
const created = new Set<string>();

/** A namespace name no other test run can collide with: rlt-<pid>-<n>-<tag>. */
export function uniqueName(tag: string): string {
  counter += 1;
  return `rlt${process.pid}${counter}${tag}`.slice(0, 15);
}

export interface RunOptions {
  /** written to the command's stdin */
  input?: string;
  /** ms after which the command is killed (SIGTERM) */
  timeout?: number;
}

export interface RunResult {
  /** null when a signal ended it (a timeout, for one) */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a command and wait for it: its exit status and output, whether it failed or not. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { input: opts.input, timeout: opts.timeout, encoding: 'utf8', maxBuffer: 256 << 20 });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr || (r.error?.message ?? '') };
}

export interface ShOptions extends RunOptions {
  /** return the output even when the command fails */
  allowFail?: boolean;
}

/** Run a command, wait for it and return its stdout; throws with its stderr when it fails. */
export function sh(cmd: string, args: string[], opts: ShOptions = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0 && !opts.allowFail) {
    const shown = args.length > 12 ? [...args.slice(0, 12), '…'] : args;
    throw new Error(`${cmd} ${shown.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

export class Netns {
  readonly name: string;
  constructor(tag: string) {
    this.name = uniqueName(tag);
    sh('ip', ['netns', 'add', this.name]);
    created.add(this.name);
    this.ip('link', 'set', 'lo', 'up');
  }

  /** `ip -n NS …` */
  ip(...args: string[]): string {
    return sh('ip', ['-n', this.name, ...args]);
  }

  /** `ip -n NS -batch -`: one `ip` command a line */
  batch(lines: string[]): void {
    if (lines.length) sh('ip', ['-n', this.name, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  }

  /** run a command inside the namespace */
  exec(cmd: string, args: string[], opts: ShOptions = {}): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  json<T = unknown>(...args: string[]): T {
    return JSON.parse(sh('ip', ['-j', '-n', this.name, ...args]) || '[]') as T;
  }

  delete(): void {
    if (!created.has(this.name)) return;
    sh('ip', ['netns', 'del', this.name], { allowFail: true });
    created.delete(this.name);
  }
}

/** A veth pair between two namespaces with addresses (CIDR form) on each end. */
export function link(a: Netns, aAddr: string | string[], b: Netns, bAddr: string | string[]): { aDev: string; bDev: string } {
  counter += 1;
  const aDev = `v${process.pid % 100000}${counter}a`;
  const bDev = `v${process.pid % 100000}${counter}b`;
  sh('ip', ['link', 'add', aDev, 'netns', a.name, 'type', 'veth', 'peer', 'name', bDev, 'netns', b.name]);
  for (const [ns, dev, addrs] of [
    [a, aDev, aAddr],
    [b, bDev, bAddr],
  ] as const) {
    for (const addr of [addrs].flat()) ns.ip('addr', 'add', addr, 'dev', dev, ...(addr.includes(':') ? ['nodad'] : []));
    ns.ip('link', 'set', dev, 'up');
  }
  return { aDev, bDev };
}

export function deleteAll(): void {
  for (const n of [...created]) sh('ip', ['netns', 'del', n], { allowFail: true });
  created.clear();
}

process.on('exit', deleteAll);
