// Network namespaces for tests and `routelet lab`: unique names, veth links, and cleanup that
// runs even when a test fails. Only namespaces created here are ever deleted.
// test/support/netns.ts re-exports this module.
import { execFileSync, spawnSync } from 'node:child_process';

let counter = 0;
const created = new Set<string>();

/** A namespace name no other test run can collide with: rlt-<pid>-<n>-<tag>. */
export function uniqueName(tag: string): string {
  counter += 1;
  return `rlt${process.pid}${counter}${tag}`.slice(0, 15);
}

export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: 'utf8' });
  if (r.status !== 0 && !opts.allowFail)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
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

  /** run a command inside the namespace */
  exec(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
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

export function netnsExists(name: string): boolean {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').some((l) => l.split(' ')[0] === name);
}
