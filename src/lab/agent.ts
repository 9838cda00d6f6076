// `routelet agent` as a child process inside a lab namespace, signalled only by its PID.
// HTTP goes over a socket the addon opens inside the namespace, so the lab reaches the
// agent's 127.0.0.1 without any link to the host.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { PeerView } from '../api/types.js';
import { packageRoot } from '../sys/root.js';
import { nsHttpGet } from './http.js';

export const ROOT = packageRoot();
export const BIN = join(ROOT, 'bin', 'routelet.js');

export interface LabAgent {
  readonly pid: number;
  readonly ns: string;
  readonly running: boolean;
  /** what it printed (JSON log lines, then stderr) */
  log(): string;
  get(path: string, timeoutMs?: number): Promise<{ status: number; body: string }>;
  peers(): Promise<PeerView[]>;
  /** SIGTERM (or sig) by PID, SIGKILL after 10 s; resolves with how it ended */
  stop(sig?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

const live = new Set<{ kill(): void }>();
process.on('exit', () => {
  for (const a of live) a.kill();
});

const httpGet = nsHttpGet;

/** Spawn `routelet agent` in namespace `ns` with exactly this ROUTELET_* environment. Does not wait. */
export function spawnAgent(ns: string, env: Record<string, string>): LabAgent {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith('ROUTELET_') && v !== undefined)) as Record<string, string>;
  const port = Number((env.ROUTELET_HTTP_ADDRESS ?? '127.0.0.1:9179').split(':').pop());
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, 'agent'], { env: { ...base, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-2_000_000)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-200_000)));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const handle = {
    kill: () => {
      if (done) return;
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    },
  };
  live.add(handle);
  return {
    pid: child.pid!,
    ns,
    get running() {
      return !done;
    },
    log: () => out + (err ? `\n--- stderr ---\n${err}` : ''),
    get: (path, timeoutMs = 5000) => httpGet(ns, port, path, timeoutMs),
    async peers() {
      const r = await httpGet(ns, port, '/api/v1/peers', 10_000);
      if (r.status !== 200) throw new Error(`GET /api/v1/peers: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as PeerView[];
    },
    async stop(sig = 'SIGTERM') {
      const t0 = Date.now();
      if (!done) process.kill(child.pid!, sig);
      const killer = setTimeout(handle.kill, 10_000);
      const r = await exited;
      clearTimeout(killer);
      live.delete(handle);
      return { ...r, ms: Date.now() - t0 };
    },
  };
}
