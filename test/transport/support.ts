// Helpers of the transport tests: a logger that keeps its lines, waiting for connections,
// and exchanging a greeting over a pair of sockets.
import { Writable } from 'node:stream';
import type { Socket } from 'node:net';
import { createLogger, type Logger } from '../../src/log.js';
import type { InboundConnection, Listener } from '../../src/bgp/transport/listener.js';
import type { TransportPeer } from '../../src/bgp/transport/peers.js';

export interface MemoryLog {
  log: Logger;
  lines: () => Record<string, unknown>[];
}

export function memoryLog(level = 'debug'): MemoryLog {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger(level, stream), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

export const nsPath = (name: string) => `/var/run/netns/${name}`;

export function peer(address: string, o: Partial<TransportPeer> = {}): TransportPeer {
  return { address, family: address.includes(':') ? 6 : 4, password: undefined, ttlSecurity: 0, multihop: 0, ibgp: true, ...o };
}

/** Collect the listener's connections by peer address. */
export class Inbox {
  readonly byAddress = new Map<string, InboundConnection>();
  private waiters: { address: string; resolve: (c: InboundConnection) => void }[] = [];
  constructor(l: Listener) {
    l.on('connection', (c) => {
      this.byAddress.set(c.remote.address, c);
      this.waiters = this.waiters.filter((w) => (w.address === c.remote.address ? (w.resolve(c), false) : true));
    });
  }
  wait(address: string, ms = 5000): Promise<InboundConnection> {
    const have = this.byAddress.get(address);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no connection from ${address} within ${ms} ms`)), ms);
      this.waiters.push({ address, resolve: (c) => (clearTimeout(t), resolve(c)) });
    });
  }
  closeAll(): void {
    for (const c of this.byAddress.values()) c.socket.destroy();
    this.byAddress.clear();
  }
}

/** Read exactly n bytes from a socket. */
export function readBytes(s: Socket, n: number, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => done(new Error(`read ${buf.length} of ${n} bytes within ${ms} ms`)), ms);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) done(null);
    };
    const onEnd = () => done(new Error(`connection ended after ${buf.length} of ${n} bytes`));
    const onError = (e: Error) => done(e);
    const done = (e: Error | null) => {
      clearTimeout(t);
      s.off('data', onData).off('end', onEnd).off('error', onError);
      if (e) reject(e);
      else resolve(buf.subarray(0, n));
    };
    s.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/** Each side writes its greeting, each reads the other's: data flows both ways. */
export async function exchange(server: Socket, client: Socket, tag: string): Promise<void> {
  const a = Buffer.from(`server->${tag}`);
  const b = Buffer.from(`client->${tag}`);
  server.write(a);
  client.write(b);
  const [gotByClient, gotByServer] = await Promise.all([readBytes(client, a.length), readBytes(server, b.length)]);
  if (!gotByClient.equals(a) || !gotByServer.equals(b)) throw new Error(`garbled exchange for ${tag}`);
}

/** The fd under a net.Socket, to read its options. */
export function fdOf(s: Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}
