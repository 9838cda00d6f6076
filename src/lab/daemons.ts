// Real BGP daemons inside a network namespace: BIRD 2 for `routelet lab`; the tests add GoBGP
// and FRR bgpd with their own recipes (test/support/daemons.ts, which re-exports this module).
//
//   const d = await startDaemon('bird', ns, birdConfig)   // resolves once its control socket answers
//   d.cli('show protocols all')                            // birdc, inside the namespace
//   await d.stop()                                         // SIGTERM by PID (SIGKILL after 5 s), temp files removed
//
// Every daemon gets its own directory under one per-process temp dir (config, control socket,
// pid file, log), so several of the same kind run at once in different namespaces. Only
// processes started here are ever signalled, always by PID; stopAllDaemons() (afterAll) and a
// process-exit hook clean up after failed tests too.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Netns, run } from './netns.js';

export interface DaemonOptions {
  /** how long to wait for the control socket (default 20 s) */
  readyTimeoutMs?: number;
  /** extra command-line arguments (e.g. ['-R'] for BIRD, ['-r'] for gobgpd: graceful restart recovery) */
  args?: string[];
}

export interface Daemon {
  /** 'bird', or a kind the tests add (see launchDaemon) */
  readonly kind: string;
  readonly netns: Netns;
  readonly pid: number;
  /** this daemon's directory: config, control socket, pid file, log */
  readonly dir: string;
  /** run a CLI command (birdc, gobgp or vtysh syntax) and return its output; throws on failure */
  cli(command: string): string;
  /** the CLI command's output parsed as JSON (gobgp -j, vtysh `… json`) */
  json<T = unknown>(command: string): T;
  /** the daemon's log so far */
  log(): string;
  /** whether the process is still running */
  readonly running: boolean;
  /**
   * SIGTERM (or `signal`, e.g. SIGKILL for a crash), then SIGKILL after 5 s; removes the
   * directory. Idempotent.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<DaemonImpl>();
let root: string | undefined;
let counter = 0;

function baseDir(): string {
  root ??= mkdtempSync(join(tmpdir(), `routelet-daemons-${process.pid}-`));
  return root;
}

class DaemonImpl implements Daemon {
  #child: ChildProcess;
  #exited: Promise<void>;
  #done = false;
  #stopped = false;

  constructor(
    readonly kind: string,
    readonly netns: Netns,
    readonly dir: string,
    child: ChildProcess,
    private cliArgv: (command: string) => string[],
  ) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      this.#done = true;
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get running(): boolean {
    return !this.#done;
  }

  cli(command: string): string {
    const r = run('ip', ['netns', 'exec', this.netns.name, ...this.cliArgv(command)], { timeout: 15_000 });
    if (r.status !== 0) throw new Error(`${this.kind} CLI "${command}" failed (${r.status}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  }

  json<T = unknown>(command: string): T {
    return JSON.parse(this.cli(command)) as T;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'daemon.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#stopped) return this.#exited;
    this.#stopped = true;
    if (!this.#done) {
      this.#child.kill(sig);
      const timer = setTimeout(() => {
        if (!this.#done) this.#child.kill('SIGKILL');
      }, 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** synchronous last resort at process exit */
  killNow(): void {
    if (!this.#done) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** How to run one kind of daemon from its own directory. */
export interface Recipe {
  /** file name of the config inside the daemon's directory */
  config: string;
  argv(dir: string): string[];
  cli(dir: string): (command: string) => string[];
  /** a command that succeeds once the control socket answers */
  probe: string;
  check?(config: string): void;
}

export function birdRecipe(opts: DaemonOptions = {}): Recipe {
  return {
    config: 'bird.conf',
    // -f: stay in the foreground so the PID we hold is BIRD's
    argv: (d) => ['bird', '-f', '-c', join(d, 'bird.conf'), '-s', join(d, 'bird.ctl'), '-P', join(d, 'bird.pid'), ...(opts.args ?? [])],
    cli: (d) => (c) => ['birdc', '-s', join(d, 'bird.ctl'), ...c.split(/\s+/)],
    probe: 'show status',
    check(c) {
      if (!/router id/.test(c)) throw new Error('BIRD config needs a "router id" (namespaces often have no global address to take it from)');
      if (!/protocol\s+device/.test(c)) throw new Error('BIRD config needs a "protocol device {}" so BGP sees the interfaces');
    },
  };
}

/** Start BIRD in `netns` with this configuration text; resolves when its CLI answers. */
export function startDaemon(kind: 'bird', netns: Netns, config: string, opts: DaemonOptions = {}): Promise<Daemon> {
  return launchDaemon(kind, birdRecipe(opts), netns, config, opts);
}

/** Start a daemon of `kind` by its recipe in `netns` with this configuration text; resolves when its CLI answers. */
export async function launchDaemon(kind: string, r: Recipe, netns: Netns, config: string, opts: DaemonOptions = {}): Promise<Daemon> {
  r.check?.(config);
  counter += 1;
  const dir = join(baseDir(), `${kind}-${counter}-${netns.name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, r.config), config);
  const logFd = openSync(join(dir, 'daemon.log'), 'a');
  const child = spawn('ip', ['netns', 'exec', netns.name, ...r.argv(dir)], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const d = new DaemonImpl(kind, netns, dir, child, r.cli(dir));
  live.add(d);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  let last = '';
  for (;;) {
    if (!d.running) {
      const log = d.log();
      await d.stop();
      throw new Error(`${kind} exited during startup:\n${log}`);
    }
    const p = run('ip', ['netns', 'exec', netns.name, ...r.cli(dir)(r.probe)], { timeout: 5000 });
    if (p.status === 0) return d;
    last = (p.stderr || p.stdout).trim();
    if (Date.now() > deadline) {
      const log = d.log();
      await d.stop();
      throw new Error(`${kind} control socket did not answer within ${opts.readyTimeoutMs ?? 20_000} ms (${last}):\n${log}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Stop every daemon this process started and remove the temp dir (afterAll). */
export async function stopAllDaemons(): Promise<void> {
  await Promise.all([...live].map((d) => d.stop()));
  // the test runner may end its worker with a signal, so do not count on the exit hook
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
}

process.on('exit', () => {
  for (const d of live) d.killNow();
  if (root) rmSync(root, { recursive: true, force: true });
});
