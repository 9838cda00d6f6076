// Plumbing for the namespaced benchmarks: network namespaces (src/lab/netns.ts, deleted at
// exit), child processes inside them speaking JSON lines, HTTP to an agent inside a
// namespace (a socket made there by the addon), and /proc figures of a process.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { nsHttpGet } from '#dist/lab/http.js';
import { Netns, deleteAll, sh } from '#dist/lab/netns.js';

export { Netns, sh };

const children = new Set<ChildProcess>();

/** Kill every child started here and delete every namespace made (at exit, on ^C and SIGTERM). */
export function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  deleteAll();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });

/** A process inside `ns`; its stdout JSON lines are events. */
export class Child {
  readonly proc: ChildProcess;
  readonly events: Record<string, unknown>[] = [];
  #waiters: { match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  stderr = '';
  exited = false;

  constructor(
    readonly name: string,
    ns: string,
    argv: string[],
    opts: { env?: NodeJS.ProcessEnv; stdout?: 'json' | 'ignore'; onLine?: (line: string) => void } = {},
  ) {
    this.proc = spawn('ip', ['netns', 'exec', ns, ...argv], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(this.proc);
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on('line', (line) => {
      opts.onLine?.(line);
      if (opts.stdout === 'ignore' || !line.startsWith('{')) return;
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      this.events.push(e);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(e)) return true;
        w.resolve(e);
        return false;
      });
    });
    this.proc.once('exit', () => {
      this.exited = true;
      children.delete(this.proc);
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  send(line: string): void {
    if (!this.exited) this.proc.stdin!.write(`${line}\n`);
  }

  /** The first event named `event` (already seen or to come). */
  wait(event: string, timeoutMs: number, onTimeout?: () => string): Promise<Record<string, unknown>> {
    const match = (e: Record<string, unknown>) => e.event === event;
    const have = this.events.find(match);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no "${event}" within ${timeoutMs} ms${onTimeout ? ` (${onTimeout()})` : ''}; events: ${JSON.stringify(this.events.slice(-5))}; stderr: ${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      const exitCheck = setInterval(() => {
        if (this.exited) {
          clearTimeout(timer);
          clearInterval(exitCheck);
          reject(new Error(`${this.name} exited before "${event}": ${this.stderr.slice(-3000)}`));
        }
      }, 200);
      this.#waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          clearInterval(exitCheck);
          resolve(e);
        },
      });
    });
  }

  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill(sig);
    await done;
  }
}

/** GET over a socket made inside `ns` by the addon (no link to the host needed). */
export const httpGet = nsHttpGet;

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU time (user + system, all threads) of a process so far, in ms. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** Resident memory now and at its peak, in MiB. */
export function memMiB(pid: number): { rss: number; peak: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wall-clock milliseconds with sub-millisecond steps: comparable across processes. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** Poll `check` until it returns a value (not undefined) or the time is up; a throw is retried. */
export async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let error: unknown;
  for (;;) {
    try {
      const v = check();
      if (v !== undefined) return v;
    } catch (e) {
      error = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${error ? `: ${(error as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * A benchmark's options: `parse` is its node:util parseArgs call (with a `help` flag); a bad
 * option exits 2 with the usage, --help prints it and exits 0. `int` reads an integer option
 * the same way.
 */
export function benchArgs<T extends { values: { help?: boolean | undefined } }>(usage: string, parse: () => T): T & { int: (name: string, text: string, min: number) => number } {
  let r: T;
  try {
    r = parse();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}\n`);
    process.exit(2);
  }
  if (r.values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const int = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min) {
      process.stderr.write(`--${name}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}\n${usage}\n`);
      process.exit(2);
    }
    return n;
  };
  return { ...r, int };
}

/** `out` in build/tmp (ignored by git), made by `make(tmpPath)` when missing or older than `src`. */
function buildOnce(root: string, src: string, name: string, make: (tmp: string) => void): string {
  const dir = join(root, 'build', 'tmp');
  const out = join(dir, name);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  mkdirSync(dir, { recursive: true });
  make(`${out}.tmp`);
  renameSync(`${out}.tmp`, out);
  return out;
}

/** A C helper of bench/, compiled into build/tmp; `libs` to link (`-lbpf`). */
export function cBinary(root: string, name: string, libs: string[] = []): string {
  const src = join(root, 'bench', `${name}.c`);
  return buildOnce(root, src, name, (tmp) => sh('cc', ['-O2', '-Wall', '-o', tmp, src, ...libs]));
}

/** A BPF program of bench/ (NAME.bpf.c, UAPI headers only, no CO-RE), compiled by clang into build/tmp. */
export function bpfObject(root: string, name: string): string {
  const src = join(root, 'bench', `${name}.bpf.c`);
  // <linux/types.h> wants <asm/types.h>, which Debian keeps under the multiarch directory
  const include = () => `-I/usr/include/${sh('cc', ['-dumpmachine']).trim()}`;
  return buildOnce(root, src, `${name}.bpf.o`, (tmp) => sh('clang', ['-O2', '-g', '-target', 'bpf', '-Wall', include(), '-c', src, '-o', tmp]));
}

/**
 * bench/nl-stamp in `ns` (built here with cc and clang): its socket filter stamps the kernel's
 * route notifications, and with `target` > 0 counts the main table's routes of `protocol`
 * shorter than /32, the feeds' (added and not replaced, less deleted), so that a load's end is seen without a process
 * reading every notification (bench/nl-stamp.c). Wait for its "ready" event before use.
 */
export function nlStamp(root: string, ns: string, protocol: number, target: number): Child {
  return new Child('nl-stamp', ns, [cBinary(root, 'nl-stamp', ['-lbpf']), bpfObject(root, 'nl-stamp'), String(protocol), String(target)]);
}

/**
 * When nl-stamp's count reached its target, in wall-clock ms (the filter stamps with the
 * kernel's CLOCK_MONOTONIC, process.hrtime's clock); undefined when not within `timeoutS`.
 */
export async function countReachedAt(stamper: Child, timeoutS: number): Promise<number | undefined> {
  stamper.send(`wait ${timeoutS}`);
  const ns = Number((await stamper.wait('load', (timeoutS + 10) * 1000).catch(() => undefined))?.ns ?? 0);
  return ns > 0 ? ns / 1e6 + (Date.now() - Number(process.hrtime.bigint()) / 1e6) : undefined;
}

/**
 * ../shared/bench/netlink-floor -W in `ns`, started: a process that reads every route
 * notification until `target` routes of `protocol` are in the main table (the watcher before
 * nl-stamp's count, kept for comparison). reachedAt(): that moment in wall-clock ms, or
 * undefined when it timed out or exited first.
 */
export async function floorWatch(floor: string, ns: string, protocol: number, target: number, timeoutS: number): Promise<{ child: Child; reachedAt: () => Promise<number | undefined> }> {
  const child: Child = new Child('netlink-floor', ns, [floor, '-W', String(target), '-p', String(protocol), '-T', String(timeoutS)], {
    stdout: 'ignore',
    onLine: (l) => {
      const m = /^watch (start|reached|timeout)\b(.*)$/.exec(l);
      if (m) child.events.push({ event: m[1], ...Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\S+)/g)].map((x) => [x[1], Number(x[2])])) });
    },
  });
  for (const t0 = Date.now(); !child.events.some((e) => e.event === 'start'); await sleep(20)) {
    if (Date.now() - t0 > 20_000 || child.exited) throw new Error(`netlink-floor -W did not start: ${child.stderr.slice(-2000)}`);
  }
  // (the watcher exits once it has printed its end: a short load may be over before this is called)
  const reachedAt = async (): Promise<number | undefined> => {
    for (const deadline = Date.now() + (timeoutS + 10) * 1000; ; await sleep(20)) {
      const e = child.events.find((x) => x.event === 'reached' || x.event === 'timeout');
      if (e) return e.event === 'reached' ? (e.realtime as number) * 1000 : undefined;
      if (child.exited || Date.now() > deadline) return undefined;
    }
  };
  return { child, reachedAt };
}

