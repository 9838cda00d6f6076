// `routelet agent`: start, run until SIGTERM or SIGINT, stop within 5 s. SIGHUP reloads the
// peers (ROUTELET_PEERS_FILE, ROUTELET_PEERS): an extension of CONTRACT.md. The stop signals
// are caught before start-up (signals.ts): one that arrives while the agent starts stops it
// as soon as the start returns, within the same bound.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { HTTP_MAX_CONNECTIONS } from '../http/limits.js';
import { Agent, StartupStopped } from './agent.js';
import { catchStopSignals, nextStopSignal, stopSignal } from './signals.js';
import { installTestHooks } from './testhook.js';
import { InstanceLock, InstanceLockedError, lockKeys } from './lock.js';
import { startWorkerPolicy } from '../sys/workers.js';

/** Hard bound on stopping: CONTRACT.md says 5 s. */
const STOP_DEADLINE_MS = 4500;
/** descriptors per configured peer: its outgoing socket, one incoming (collision), a spare */
const FDS_PER_PEER = 3;
/** the process's own: stdio, the listening sockets, netlink, BPF maps and programs, modules */
const FDS_BASE = 256;

export async function runAgent(config: Config, log: Logger): Promise<number> {
  catchStopSignals();
  let deadline: NodeJS.Timeout | undefined;
  const stopping = nextStopSignal().then((signal) => {
    // the bound runs from the signal, whether the agent is running or still starting
    deadline = setTimeout(() => {
      log.error({ signal }, 'stopping took too long: exiting now');
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    return signal;
  });
  const early = stopSignal();
  if (early) {
    log.info({ signal: early }, `${early} before start-up: not starting`);
    setTimeout(() => process.exit(0), 300).unref();
    return 0;
  }
  checkDescriptorLimit(config, log);
  applyV8WorkerPolicy(config, log);
  // one agent per network namespace and BGP port, and per kernel table and protocol: a second
  // one would share the port (SO_REUSEPORT) and adopt the first one's routes as stale
  const startedAt = new Date().toISOString();
  try {
    await InstanceLock.acquire(
      lockKeys({ listenPort: config.listen.port, ...(config.kernel.enabled ? { kernel: { table: config.kernel.table, protocol: config.kernel.protocol } } : {}) }),
      () => ({ pid: process.pid, startedAt, http: `${config.http.host}:${config.http.port}` }),
    );
  } catch (e) {
    if (!(e instanceof InstanceLockedError)) throw e;
    log.fatal({ holder: e.holder }, `routelet agent not started: ${e.message}`);
    return 1;
  }
  let agent: Agent;
  try {
    agent = await Agent.start(config, log, { stopRequested: () => stopSignal() !== null });
  } catch (e) {
    if (e instanceof StartupStopped) {
      // Agent.start stopped what it had started
      clearTimeout(deadline);
      log.info({ signal: stopSignal() }, `${stopSignal()} during start-up: stopped`);
      setTimeout(() => process.exit(0), 300).unref();
      return 0;
    }
    const err = e as NodeJS.ErrnoException;
    log.fatal({ err, code: err.code }, `routelet agent could not start: ${err.message}`);
    return 1;
  }
  const during = stopSignal();
  if (during) log.info({ signal: during }, `${during} during start-up: stopping`);
  else log.info({ http: `${agent.http?.address.host}:${agent.http?.address.port}` }, 'routelet agent running');
  installTestHooks(process.env, log);
  const onHup = () => {
    log.info({ signal: 'SIGHUP' }, 'reloading the configuration');
    agent.reload().catch((e: unknown) => log.error({ err: e }, 'reload failed'));
  };
  process.on('SIGHUP', onHup);
  const signal = await stopping;
  process.off('SIGHUP', onHup);
  await agent.stop(`shutting down (${signal})`);
  clearTimeout(deadline);
  // native watchers may outlive the stop by a moment; do not let them hold the process
  setTimeout(() => process.exit(0), 300).unref();
  return 0;
}

/**
 * Say how many file descriptors the agent may open, and warn when that is fewer than its
 * peers and the HTTP connection cap need. Node raises the soft limit to the hard one when it
 * starts; the hard limit is the operator's (systemd LimitNOFILE, the container runtime).
 */
export function checkDescriptorLimit(config: Config, log: Logger, limitsText?: string): { limit: number | null; needed: number } {
  const needed = FDS_BASE + FDS_PER_PEER * config.peers.length + HTTP_MAX_CONNECTIONS;
  let limit: number | null = null;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(limitsText ?? readFileSync('/proc/self/limits', 'utf8'));
    if (m) limit = m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    // no /proc: nothing to say
  }
  if (limit === null) return { limit, needed };
  if (limit < needed)
    log.warn(
      { maxOpenFiles: limit, needed, peers: config.peers.length, httpMaxConnections: HTTP_MAX_CONNECTIONS },
      `the agent may open ${limit} file descriptors, fewer than the ${needed} its ${config.peers.length} peers and ${HTTP_MAX_CONNECTIONS} HTTP connections may need: raise the limit (systemd LimitNOFILE, ulimit -n)`,
    );
  else log.info({ maxOpenFiles: limit, needed }, `file descriptors: up to ${limit} (about ${needed} needed)`);
  return { limit, needed };
}

/**
 * ROUTELET_V8_WORKERS=batch: V8's worker threads at SCHED_BATCH while the agent is quiet, so
 * that a background compile handed to a worker does not preempt the JavaScript thread in the
 * middle of a route's path, and as Node starts them during bulk work (src/sys/workers.ts). A
 * failure costs only that, and is said.
 */
export function applyV8WorkerPolicy(config: Pick<Config, 'v8Workers'>, log: Logger): void {
  if (config.v8Workers !== 'batch') return;
  const r = startWorkerPolicy({ onError: (message) => log.warn(message) });
  if (r.ok) log.info({ threads: r.threads }, `V8 worker threads: SCHED_BATCH (${r.threads?.length ?? 0})`);
  else log.warn({ code: r.code, syscall: r.syscall, threads: r.threads }, `V8 worker threads not all set to SCHED_BATCH (${r.threads?.length ?? 0} set): ${r.message}`);
}
