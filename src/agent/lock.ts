// One agent per network namespace and kernel table/protocol, and per BGP port: a second
// `routelet agent` started beside a running one would listen on the same port (SO_REUSEPORT
// lets it), receive no connections and adopt the first agent's routes as stale.
//
// The lock is an abstract Unix socket (Linux): its name lives in the network namespace, the
// kernel releases it when the process dies (no stale lock file after a crash), and the holder
// answers whoever connects with who it is, so the refusal names the first agent.
import { createConnection, createServer, type Server } from 'node:net';

/** What a lock holder says about itself. */
export interface LockHolder {
  pid: number;
  startedAt: string;
  http?: string;
}

export class InstanceLockedError extends Error {
  readonly code = 'ELOCKED';
  constructor(
    readonly what: string,
    readonly holder: LockHolder | null,
  ) {
    super(
      holder
        ? `another routelet agent (pid ${holder.pid}, started ${holder.startedAt}${holder.http ? `, HTTP ${holder.http}` : ''}) holds ${what} in this network namespace: stop it first`
        : `another routelet agent holds ${what} in this network namespace (it did not say who it is): stop it first`,
    );
  }
}

/** The lock names of an agent's configuration: its BGP port, and its kernel table and protocol. */
export function lockKeys(o: { listenPort: number; kernel?: { table: number; protocol: number } }): { name: string; what: string }[] {
  const keys = [{ name: `routelet/bgp-port/${o.listenPort}`, what: `BGP port ${o.listenPort}` }];
  if (o.kernel) keys.push({ name: `routelet/kernel/${o.kernel.table}/${o.kernel.protocol}`, what: `kernel table ${o.kernel.table} protocol ${o.kernel.protocol}` });
  return keys;
}

export class InstanceLock {
  private constructor(private readonly servers: Server[]) {}

  /**
   * Take every lock of keys, or none: throws InstanceLockedError naming the holder when
   * another process has one. `about` is what this process will tell a second agent.
   */
  static async acquire(keys: { name: string; what: string }[], about: () => LockHolder): Promise<InstanceLock> {
    const held: Server[] = [];
    try {
      for (const k of keys) held.push(await listenAbstract(k, about));
    } catch (e) {
      for (const s of held) s.close();
      throw e;
    }
    return new InstanceLock(held);
  }

  release(): void {
    for (const s of this.servers) s.close();
    this.servers.length = 0;
  }
}

function listenAbstract(key: { name: string; what: string }, about: () => LockHolder): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => {
      c.on('error', () => undefined);
      c.end(JSON.stringify(about()));
    });
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE') return reject(e);
      askHolder(key.name).then((h) => reject(new InstanceLockedError(key.what, h)));
    });
    server.listen(`\0${key.name}`, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Ask the holder of an abstract socket who it is (null when it does not answer in 1 s). */
function askHolder(name: string): Promise<LockHolder | null> {
  return new Promise((resolve) => {
    let text = '';
    const c = createConnection(`\0${name}`);
    const done = (h: LockHolder | null) => {
      clearTimeout(timer);
      c.destroy();
      resolve(h);
    };
    const timer = setTimeout(() => done(null), 1000);
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      text += d;
      if (text.length > 4096) done(null);
    });
    c.on('end', () => {
      try {
        const h = JSON.parse(text) as LockHolder;
        done(typeof h.pid === 'number' ? h : null);
      } catch {
        done(null);
      }
    });
    c.on('error', () => done(null));
  });
}
