// Shared pieces of the BFD interop tests: FRR's bfdd in a namespace (its own directory,
// control sockets and pid file, stopped by PID), BIRD's `show bfd sessions` parsed, and an
// event log for a BfdService.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from '../support/netns.js';
import type { BfdStateEvent } from '../../src/native/bfd.js';

const FRR_BFDD = '/usr/lib/frr/bfdd';
const live = new Set<Bfdd>();

/** FRR bfdd alone (no zebra) in `ns`; it runs as the frr user, so its directory is world-writable. */
export class Bfdd {
  readonly dir: string;
  #child: ChildProcess;
  #exited: Promise<void>;
  #done = false;

  private constructor(
    readonly ns: Netns,
    dir: string,
    child: ChildProcess,
  ) {
    this.dir = dir;
    this.#child = child;
    this.#exited = new Promise((r) => child.once('exit', () => r()));
    child.once('exit', () => (this.#done = true));
  }

  static async start(ns: Netns, config: string): Promise<Bfdd> {
    const dir = mkdtempSync(join(tmpdir(), `routelet-bfdd-${process.pid}-`));
    chmodSync(dir, 0o777);
    writeFileSync(join(dir, 'bfdd.conf'), config);
    const log = openSync(join(dir, 'out.log'), 'a');
    // `ip netns exec` execs bfdd, so the child's PID is bfdd's
    const child = spawn(
      'ip',
      ['netns', 'exec', ns.name, FRR_BFDD, '-f', join(dir, 'bfdd.conf'), '-i', join(dir, 'bfdd.pid'), '--vty_socket', dir, '--bfdctl', join(dir, 'bfdd.sock'), '-P', '0', '--log', `file:${join(dir, 'daemon.log')}`],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const d = new Bfdd(ns, dir, child);
    live.add(d);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (d.#done) throw new Error(`bfdd exited during startup:\n${d.log()}`);
      const r = d.#vtysh(['show version']);
      if (r.status === 0) return d;
      if (Date.now() > deadline) {
        await d.stop();
        throw new Error(`bfdd did not answer within 20 s: ${r.stderr}\n${d.log()}`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  #vtysh(commands: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.ns.name, 'vtysh', '--vty_socket', this.dir, '-d', 'bfdd', ...commands.flatMap((c) => ['-c', c])], { encoding: 'utf8', timeout: 15_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** vtysh with one or more commands (e.g. 'configure terminal', 'bfd', 'peer …', 'shutdown') */
  cli(...commands: string[]): string {
    const r = this.#vtysh(commands);
    if (r.status !== 0) throw new Error(`vtysh ${commands.join(' / ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  peers(): FrrPeer[] {
    return JSON.parse(this.cli('show bfd peers json')) as FrrPeer[];
  }

  log(): string {
    let out = '';
    for (const f of ['out.log', 'daemon.log']) {
      try {
        out += readFileSync(join(this.dir, f), 'utf8');
      } catch {
        // not there yet
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    if (!this.#done) {
      this.#child.kill('SIGTERM');
      const t = setTimeout(() => !this.#done && this.#child.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(t);
    }
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  killNow(): void {
    if (!this.#done) {
      try {
        process.kill(this.#child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

process.on('exit', () => {
  for (const d of live) d.killNow();
});

export interface FrrPeer {
  peer: string;
  status: string;
  id: number;
  'remote-id': number;
  diagnostic: string;
  'remote-diagnostic': string;
  'receive-interval': number;
  'transmit-interval': number;
  'remote-receive-interval': number;
  'remote-transmit-interval': number;
  'detect-multiplier': number;
  'remote-detect-multiplier': number;
  uptime?: number;
}

export interface BirdBfdSession {
  address: string;
  iface: string;
  state: string;
  since: string;
  /** seconds: BIRD's transmit interval, max(its desired tx, our required rx) */
  interval: number;
  /** seconds: BIRD's detection time for us, max(its required rx, our desired tx) × our multiplier */
  timeout: number;
}

/** `birdc show bfd sessions` parsed */
export function parseBirdBfd(text: string): BirdBfdSession[] {
  const out: BirdBfdSession[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/[.:]/.test(f[0]!) || !/^\d/.test(f[4]!)) continue;
    out.push({ address: f[0]!, iface: f[1]!, state: f[2]!, since: f[3]!, interval: Number(f[4]), timeout: Number(f[5]) });
  }
  return out;
}

/**
 * Whether two of BIRD's "since" texts (HH:MM:SS.mmm) show the same state change. One unchanged
 * session showed a millisecond apart in two displays (CI: 20.144, then 20.145; BIRD turning a
 * stored monotonic time into wall-clock time at each display, we take it); a flap and recovery
 * would move it by at least a detection time.
 */
export function sameBirdChange(a: string, b: string): boolean {
  const ms = (t: string): number => {
    const m = /^(\d+):(\d+):(\d+)(?:\.(\d+))?$/.exec(t);
    return m ? ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number((m[4] ?? '0').padEnd(3, '0').slice(0, 3)) : NaN;
  };
  return a === b || Math.abs(ms(a) - ms(b)) <= 20;
}

/** Every event a BfdService delivered, with what the tests ask of them. */
export class EventLog {
  readonly all: BfdStateEvent[] = [];
  readonly push = (evs: BfdStateEvent[]): void => {
    this.all.push(...evs);
  };
  of(id: number): BfdStateEvent[] {
    return this.all.filter((e) => e.id === id);
  }
  last(id: number): BfdStateEvent | undefined {
    return this.of(id).at(-1);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The destinations of the agent's routes (protocol 201) in the kernel of `ns`, IPv4 and IPv6. */
export function agentRoutes(ns: Netns): Set<string> {
  const out = new Set<string>();
  for (const fam of ['-4', '-6']) for (const r of ns.json<{ dst: string }[]>(fam, 'route', 'show', 'proto', '201')) out.add(r.dst);
  return out;
}

/**
 * Poll the kernel every 20 ms until none of `prefixes` is in it: the milliseconds since t0.
 * Throws naming `whose` routes and what the kernel holds when they are still there after limitMs.
 */
export async function untilGone(kernel: () => Set<string>, prefixes: readonly string[], t0: number, whose: string, limitMs = 10_000): Promise<number> {
  for (;;) {
    const k = kernel();
    if (prefixes.every((p) => !k.has(p))) return Date.now() - t0;
    if (Date.now() - t0 > limitMs) throw new Error(`${whose} routes still in the kernel after ${limitMs / 1000} s: ${[...k].join(', ')}`);
    await sleep(20);
  }
}

/** Drop everything in and out of `ns` (no RST, no ICMP): the silent host. */
export function silence(ns: Netns): void {
  ns.exec('nft', ['-f', '-'], {
    input: `table inet rltsilent {
  chain in { type filter hook input priority -300; policy drop; }
  chain out { type filter hook output priority -300; policy drop; }
}
`,
  });
}

export function unsilence(ns: Netns): void {
  ns.exec('nft', ['delete', 'table', 'inet', 'rltsilent'], { allowFail: true });
}

/**
 * FRR's zebra, bfdd and bgpd together in `ns` (bgpd reaches bfdd through zebra), in a directory
 * of their own (config, zserv socket, vty sockets, pid files, logs); stopped by PID.
 */
export class FrrStack {
  readonly dir: string;
  readonly #children: ChildProcess[] = [];

  private constructor(
    readonly ns: Netns,
    dir: string,
  ) {
    this.dir = dir;
  }

  static async start(ns: Netns, bgpdConfig: string): Promise<FrrStack> {
    const dir = mkdtempSync(join(tmpdir(), `routelet-frr-${process.pid}-`));
    chmodSync(dir, 0o777);
    const s = new FrrStack(ns, dir);
    stacks.add(s);
    const zserv = join(dir, 'zserv.api');
    for (const [daemon, conf] of [
      ['zebra', ''],
      ['bfdd', 'bfd\n!\n'],
      ['bgpd', bgpdConfig],
    ] as const) {
      writeFileSync(join(dir, `${daemon}.conf`), conf);
      const log = openSync(join(dir, `${daemon}.out`), 'a');
      const args = ['-f', join(dir, `${daemon}.conf`), '-i', join(dir, `${daemon}.pid`), '-z', zserv, '--vty_socket', dir, '-P', '0', '--log', `file:${join(dir, `${daemon}.log`)}`];
      if (daemon === 'bfdd') args.push('--bfdctl', join(dir, 'bfdd.sock'));
      s.#children.push(spawn('ip', ['netns', 'exec', ns.name, `/usr/lib/frr/${daemon}`, ...args], { stdio: ['ignore', log, log] }));
      closeSync(log);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = s.#vtysh(daemon, ['show version']);
        if (r.status === 0) break;
        if (Date.now() > deadline) {
          const out = s.log();
          await s.stop();
          throw new Error(`${daemon} did not answer within 20 s: ${r.stderr}\n${out}`);
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    return s;
  }

  #vtysh(daemon: string, commands: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.ns.name, 'vtysh', '--vty_socket', this.dir, '-d', daemon, ...commands.flatMap((c) => ['-c', c])], { encoding: 'utf8', timeout: 15_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  cli(daemon: 'zebra' | 'bfdd' | 'bgpd', ...commands: string[]): string {
    const r = this.#vtysh(daemon, commands);
    if (r.status !== 0) throw new Error(`vtysh -d ${daemon} ${commands.join(' / ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  log(): string {
    let out = '';
    for (const d of ['zebra', 'bfdd', 'bgpd'])
      for (const f of [`${d}.out`, `${d}.log`]) {
        try {
          out += `--- ${f}\n${readFileSync(join(this.dir, f), 'utf8')}`;
        } catch {
          // not there
        }
      }
    return out;
  }

  async stop(): Promise<void> {
    // bgpd first, zebra last
    for (const c of [...this.#children].reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    stacks.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  killNow(): void {
    for (const c of this.#children) {
      try {
        if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const stacks = new Set<FrrStack>();
process.on('exit', () => {
  for (const s of stacks) s.killNow();
});
