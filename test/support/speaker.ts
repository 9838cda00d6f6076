// A minimal BGP speaker for tests, built on the codec: it connects (or accepts one
// connection), sends an OPEN, KEEPALIVEs, UPDATEs or arbitrary crafted octets, and records
// everything it receives — raw octets and decoded messages.
//
// Inside a network namespace the TCP socket belongs to a tiny relay process started with
// `ip netns exec`; its stdin/stdout carry the connection's bytes, so the peer sees a real
// TCP connection from the namespace while the test drives it from here.
//
//   const s = await TestSpeaker.connect({ host: '10.0.0.2', netns: ns, asn: 65001, routerId: '10.0.0.1' });
//   await s.establish();                        // OPEN ⇄ OPEN, KEEPALIVE ⇄ KEEPALIVE, keepalives from then on
//   await s.next((m) => m.type === 'update' && m.endOfRib === 4);
//   s.sendRaw(craftedBytes);                    // anything at all, e.g. a malformed UPDATE
//   await s.close();
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import {
  BgpError,
  codecOptions,
  decodeMessage,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  encodeUpdate,
  Framer,
  negotiate,
  sharedInterner,
  type Capability,
  type CodecOptions,
  type Message,
  type OpenMessage,
  type UpdateInit,
} from '../../src/bgp/codec/index.js';
import type { Netns } from './netns.js';

export interface SpeakerIdentity {
  asn: number;
  routerId: string;
  /** seconds (default 90) */
  holdTime?: number;
  /** capabilities in our OPEN (default: IPv4 and IPv6 unicast, route refresh, 4-octet AS) */
  capabilities?: Capability[];
}

export interface Received {
  /** milliseconds since the speaker started */
  at: number;
  /** the whole message as framed */
  raw: Buffer;
  /** decoded message, or the codec's error for it */
  message?: Message;
  error?: BgpError;
}

export const defaultCapabilities = (asn: number): Capability[] => [
  { kind: 'multiprotocol', afi: 1, safi: 1 },
  { kind: 'multiprotocol', afi: 2, safi: 1 },
  { kind: 'route-refresh' },
  { kind: 'as4', asn },
];

// The relay: stdin → socket, socket → stdout. Argv: connect HOST PORT [LOCAL] | listen HOST PORT.
const RELAY = `
const net = require('node:net');
const [mode, host, port, local] = process.argv.slice(1);
const pipe = (s) => {
  process.stderr.write('connected\\n');
  process.stdin.pipe(s);
  s.pipe(process.stdout);
  s.on('close', () => process.exit(0));
  s.on('error', (e) => { process.stderr.write('error ' + e.code + '\\n'); process.exit(1); });
  process.stdin.on('end', () => s.end());
};
if (mode === 'connect') {
  const s = net.connect({ host, port: Number(port), localAddress: local || undefined });
  s.on('connect', () => pipe(s));
  s.on('error', (e) => { process.stderr.write('error ' + e.code + '\\n'); process.exit(1); });
} else {
  const srv = net.createServer((s) => { srv.close(); pipe(s); });
  srv.listen(Number(port), host, () => process.stderr.write('listening\\n'));
  srv.on('error', (e) => { process.stderr.write('error ' + e.code + '\\n'); process.exit(1); });
}
`;

const relays = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of relays) if (c.exitCode === null) c.kill('SIGKILL');
});

/** A duplex byte stream: a socket here, or a relay's stdio inside a namespace. */
interface Transport {
  input: Readable;
  output: Writable;
  close(): Promise<void>;
  /** close gracefully: send a FIN, read until the other side closes too */
  end(timeoutMs: number): Promise<void>;
}

function socketTransport(s: Socket): Transport {
  return {
    input: s,
    output: s,
    close: () =>
      new Promise((resolve) => {
        if (s.destroyed) return resolve();
        s.once('close', () => resolve());
        s.destroy();
      }),
    end: (timeoutMs) =>
      new Promise((resolve) => {
        if (s.destroyed) return resolve();
        const t = setTimeout(() => s.destroy(), timeoutMs);
        s.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        s.resume();
        s.end();
      }),
  };
}

/**
 * Run Node code inside `ns` (one of the relays, killed at exit); resolves once its stderr says
 * `ready`. `onStderr` sees all it writes there.
 */
async function spawnIn(ns: Netns, code: string, args: string[], what: string, ready: string, onStderr?: (text: string) => void): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', code, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  relays.add(child);
  child.once('exit', () => relays.delete(child));
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes(ready)) resolve();
      onStderr?.(err);
    });
    child.once('exit', (c) => reject(new Error(`${what} in ${ns.name} exited (${c}): ${err.trim()}`)));
  });
  return child;
}

/** SIGTERM, resolved once it exited. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function relayTransport(ns: Netns, args: string[], ready: 'connected' | 'listening', onConnected?: () => void): Promise<Transport> {
  const child = await spawnIn(ns, RELAY, args, 'relay', ready, (err) => {
    if (err.includes('connected')) onConnected?.();
  });
  return {
    input: child.stdout!,
    output: child.stdin!,
    close: () => stopChild(child),
    end: (timeoutMs) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // the relay sends a FIN when its stdin ends and exits once the other side closes too
        const t = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.stdin!.end();
      }),
  };
}

/**
 * A port that accepts TCP connections inside `ns` and holds them open without a BGP byte: the
 * host of a peer that is restarting rather than dead (its BGP port answers).
 */
export async function holdPort(ns: Netns, host: string, port = 179): Promise<{ close: () => Promise<void> }> {
  const code = `require('net').createServer((s) => s.on('error', () => {})).listen(${port}, ${JSON.stringify(host)}, () => process.stderr.write('listening'))`;
  const child = await spawnIn(ns, code, [], `listener on ${host}:${port}`, 'listening');
  return { close: () => stopChild(child) };
}

export class TestSpeaker {
  readonly received: Received[] = [];
  /** every octet received, in order */
  rx: Buffer = Buffer.alloc(0);
  /** every octet sent, in order */
  tx: Buffer = Buffer.alloc(0);
  /** the peer's OPEN, once received */
  peerOpen: OpenMessage | undefined;
  /** options for decoding and encoding UPDATEs; set by establish() */
  options: CodecOptions = codecOptions();
  closed = false;
  #t0 = Date.now();
  #framer = new Framer();
  #waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  #closeWaiters: (() => void)[] = [];
  #keepalive: NodeJS.Timeout | undefined;

  private constructor(
    private transport: Transport,
    readonly identity: SpeakerIdentity,
  ) {
    transport.input.on('data', (d: Buffer) => this.#onData(d));
    transport.input.on('close', () => this.#onClose());
    transport.input.on('end', () => this.#onClose());
    (transport.input as Duplex).on?.('error', () => this.#onClose());
    transport.output.on('error', () => this.#onClose());
  }

  /** Connect to a BGP speaker (from inside `netns` when given). */
  static async connect(o: SpeakerIdentity & { host: string; port?: number; netns?: Netns; localAddress?: string }): Promise<TestSpeaker> {
    const port = o.port ?? 179;
    if (o.netns) return new TestSpeaker(await relayTransport(o.netns, ['connect', o.host, String(port), o.localAddress ?? ''], 'connected'), o);
    const s = connect({ host: o.host, port, localAddress: o.localAddress });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new TestSpeaker(socketTransport(s), o);
  }

  /**
   * Listen (inside `netns` when given) and resolve with the speaker once `ready` was called
   * back and a peer connected: `const s = TestSpeaker.listen({...}, () => startDaemon(...))`.
   */
  static async listen(o: SpeakerIdentity & { host: string; port?: number; netns?: Netns }, ready?: () => unknown): Promise<TestSpeaker> {
    const port = o.port ?? 179;
    if (o.netns) {
      let connected!: () => void;
      const conn = new Promise<void>((r) => (connected = r));
      const t = await relayTransport(o.netns, ['listen', o.host, String(port)], 'listening', () => connected());
      await ready?.();
      await conn;
      return new TestSpeaker(t, o);
    }
    return new Promise((resolve, reject) => {
      const srv = createServer((s) => {
        srv.close();
        resolve(new TestSpeaker(socketTransport(s), o));
      });
      srv.once('error', reject);
      srv.listen(port, o.host, () => void Promise.resolve(ready?.()).catch(reject));
    });
  }

  #onData(d: Buffer): void {
    this.rx = Buffer.concat([this.rx, d]);
    let frames;
    try {
      frames = this.#framer.push(d);
    } catch (e) {
      this.#record({ at: Date.now() - this.#t0, raw: Buffer.from(d), error: e as BgpError });
      return;
    }
    for (const f of frames) {
      const r: Received = { at: Date.now() - this.#t0, raw: Buffer.from(f.raw) };
      try {
        const m = decodeMessage(f, this.options, sharedInterner);
        if (m instanceof BgpError) r.error = m;
        else r.message = m;
      } catch (e) {
        if (!(e instanceof BgpError)) throw e;
        r.error = e;
      }
      if (r.message?.type === 'open') this.peerOpen = r.message;
      this.#record(r);
    }
  }

  #record(r: Received): void {
    this.received.push(r);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(r)) return true;
      w.resolve(r);
      return false;
    });
  }

  #onClose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.#keepalive);
    for (const w of this.#closeWaiters) w();
  }

  /** Send octets as they are. */
  sendRaw(b: Uint8Array): void {
    this.tx = Buffer.concat([this.tx, b]);
    this.transport.output.write(b);
  }

  sendOpen(): void {
    const i = this.identity;
    this.sendRaw(encodeOpen({ asn: i.asn, holdTime: i.holdTime ?? 90, routerId: i.routerId, capabilities: i.capabilities ?? defaultCapabilities(i.asn) }));
  }

  sendKeepalive(): void {
    this.sendRaw(encodeKeepalive());
  }

  sendUpdate(u: UpdateInit): void {
    this.sendRaw(encodeUpdate(u, this.options));
  }

  sendNotification(n: { code: number; subcode: number; data?: Uint8Array }): void {
    this.sendRaw(encodeNotification(n));
  }

  /** The first received message (already here or yet to come) that matches. */
  next(match: (m: Message) => boolean = () => true, timeoutMs = 20_000, from = 0): Promise<Message> {
    return this.nextReceived((r) => r.message !== undefined && match(r.message), timeoutMs, from).then((r) => r.message!);
  }

  nextReceived(match: (r: Received) => boolean, timeoutMs = 20_000, from = 0): Promise<Received> {
    const have = this.received.slice(from).find(match);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching message within ${timeoutMs} ms; received: ${this.received.map((r) => r.message?.type ?? r.error?.code).join(', ')}`));
      }, timeoutMs);
      const done = (r: Received) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.#waiters.push({ match, resolve: done });
    });
  }

  /**
   * OPEN ⇄ OPEN and KEEPALIVE ⇄ KEEPALIVE (RFC 4271 §8), then keepalives every third of the
   * negotiated hold time. Returns the peer's OPEN; `options` then holds the negotiated codec options.
   */
  async establish(timeoutMs = 20_000): Promise<OpenMessage> {
    this.sendOpen();
    const open = (await this.next((m) => m.type === 'open' || m.type === 'notification', timeoutMs)) as OpenMessage;
    if (open.type !== 'open') throw new Error(`peer refused the session: ${JSON.stringify(open)}`);
    const mine = { asn: this.identity.asn, capabilities: this.identity.capabilities ?? defaultCapabilities(this.identity.asn) };
    this.options = negotiate(mine, open);
    this.#framer.extendedMessage = this.options.extendedMessage;
    this.sendKeepalive();
    await this.next((m) => m.type === 'keepalive', timeoutMs);
    const hold = Math.min(this.identity.holdTime ?? 90, open.holdTime);
    if (hold > 0) this.#keepalive = setInterval(() => !this.closed && this.sendKeepalive(), (hold * 1000) / 3).unref();
    return open;
  }

  /** Resolves when the peer closes the connection. */
  whenClosed(timeoutMs = 20_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#keepalive);
    await this.transport.close();
    this.#onClose();
  }

  /**
   * Close as a daemon that exits cleanly does: a FIN, then read until the peer closes too.
   * (close() kills the process; with the peer's data unread its kernel sends a reset.)
   */
  async finish(timeoutMs = 5000): Promise<void> {
    clearInterval(this.#keepalive);
    await this.transport.end(timeoutMs);
    this.#onClose();
  }
}
