// `routelet agent` as a real child process inside a network namespace: the tests' (through
// test/support/agent.ts) and the benchmarks'. It imports the product as it runs, compiled
// (`#dist/…`): vitest resolves that to ./dist as Node does.
//
//   const a = await startAgent(ns, { ROUTELET_ASN: '65000', ROUTELET_PEERS: '10.0.0.2@65001' });
//   await a.waitPeer('10.0.0.2', (p) => p.state === 'Established');
//   await a.readyz();                 // { status, body }
//   await a.stop();                   // SIGTERM by PID; resolves with the exit code and time
//   a.log()                           // everything it printed (shown by dumpAgentLogs on failure)
//
// HTTP goes over a socket made inside the namespace by the addon (transport connect() with
// `netns`), so the test reaches 127.0.0.1 of the namespace without any link to the host.
// Only processes started here are signalled, always by PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PeerView, RouteView } from '#dist/api/types.js';
import { nsHttpGet } from '#dist/lab/http.js';
import type { Netns } from '#dist/lab/netns.js';

/** the checkout (bench/ and dist-bench/ are both one level down) and its `routelet` command */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/routelet.js', import.meta.url));

export interface AgentProcess {
  readonly pid: number;
  readonly ns: Netns;
  readonly env: Record<string, string>;
  /** everything the agent printed so far (JSON log lines, then stderr) */
  log(): string;
  /** what it printed so far, each stream apart */
  output(): { stdout: string; stderr: string };
  /** the JSON log lines parsed */
  lines(): Record<string, unknown>[];
  get(path: string, timeoutMs?: number): Promise<{ status: number; body: string }>;
  json<T>(path: string): Promise<T>;
  peers(): Promise<PeerView[]>;
  peer(address: string): Promise<PeerView | undefined>;
  routes(prefix?: string): Promise<RouteView[]>;
  readyz(): Promise<{ status: number; body: string }>;
  /** poll the peer until `check` holds (or time out with its last view in the message) */
  waitPeer(address: string, check: (p: PeerView) => boolean, timeoutMs?: number): Promise<PeerView>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (or sig) by PID; resolves when it exited, with how long that took */
  stop(sig?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  readonly running: boolean;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<AgentProcess & { kill(): void }>();

process.on('exit', () => {
  for (const a of live) a.kill();
});

function clean(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ROUTELET_') && v !== undefined) out[k] = v;
  return out;
}

const httpGet = (ns: Netns, port: number, path: string, timeoutMs: number) => nsHttpGet(ns.name, port, path, timeoutMs);

/** Start `routelet agent` in `ns` with this environment (plus defaults); resolves once /livez answers. */
export async function startAgent(ns: Netns, env: Record<string, string>, opts: { readyTimeoutMs?: number; bin?: string; cwd?: string } = {}): Promise<AgentProcess> {
  const started = Date.now();
  const a = spawnLive(ns, env, opts);
  const deadline = started + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (!a.running) throw new Error(`routelet agent exited during startup (${JSON.stringify(await a.exited)}):\n${a.log()}`);
    try {
      const r = await a.get('/livez', 1000);
      if (r.status === 200) return a;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      a.kill();
      throw new Error(`routelet agent did not answer /livez within ${opts.readyTimeoutMs ?? 30_000} ms:\n${a.log()}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Spawn `routelet agent` in `ns` without waiting for anything (a test of its start-up itself). */
export function spawnAgent(ns: Netns, env: Record<string, string>, opts: { bin?: string; cwd?: string } = {}): AgentProcess {
  return spawnLive(ns, env, opts);
}

function spawnLive(ns: Netns, env: Record<string, string>, opts: { bin?: string; cwd?: string }): AgentProcess & { kill(): void } {
  const full: Record<string, string> = { ROUTELET_LOG_LEVEL: 'debug', ...env };
  const port = Number((full.ROUTELET_HTTP_ADDRESS ?? '127.0.0.1:9179').split(':').pop());
  // opts.bin: another copy of the command (test/image.test.ts runs the image's file set)
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns.name, process.execPath, opts.bin ?? BIN, 'agent'], {
    env: { ...clean(), ...full },
    cwd: opts.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const a: AgentProcess & { kill(): void } = {
    pid: child.pid!,
    ns,
    env: full,
    log: () => out + (err ? `\n--- stderr ---\n${err}` : ''),
    output: () => ({ stdout: out, stderr: err }),
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    get: (path, timeoutMs = 5000) => httpGet(ns, port, path, timeoutMs),
    async json<T>(path: string): Promise<T> {
      const r = await httpGet(ns, port, path, 10_000);
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as T;
    },
    peers: () => a.json<PeerView[]>('/api/v1/peers'),
    peer: async (address) => (await a.peers()).find((p) => p.address === address),
    routes: (prefix) => a.json<RouteView[]>(`/api/v1/routes${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`),
    readyz: () => httpGet(ns, port, '/readyz', 5000),
    async waitPeer(address, check, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: PeerView | undefined;
      for (;;) {
        if (done) throw new Error(`the agent exited while waiting for ${address}:\n${a.log().slice(-4000)}`);
        try {
          last = await a.peer(address);
          if (last && check(last)) return last;
        } catch {
          // not answering yet
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for peer ${address}; last seen: ${JSON.stringify(last)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    signal: (sig) => {
      if (!done) process.kill(child.pid!, sig);
    },
    async stop(sig = 'SIGTERM') {
      const t0 = Date.now();
      if (!done) process.kill(child.pid!, sig);
      const killer = setTimeout(() => !done && process.kill(child.pid!, 'SIGKILL'), 15_000);
      const r = await exited;
      clearTimeout(killer);
      live.delete(a);
      return { ...r, ms: Date.now() - t0 };
    },
    get running() {
      return !done;
    },
    exited,
    kill: () => {
      if (!done) {
        try {
          process.kill(child.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    },
  };
  live.add(a);
  return a;
}

/** Stop every agent still running (afterAll). */
export async function stopAllAgents(): Promise<void> {
  await Promise.all([...live].map((a) => a.stop('SIGKILL')));
}

/** Print the logs of agents (for afterEach when a test failed). */
export function dumpAgentLogs(agents: (AgentProcess | undefined)[], maxChars = 20_000): void {
  for (const a of agents) if (a) process.stderr.write(`\n===== routelet agent ${a.pid} in ${a.ns.name} =====\n${a.log().slice(-maxChars)}\n`);
}
