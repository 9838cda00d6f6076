// Outgoing BGP connections: a socket made by the addon with what the peer needs (its own
// TCP-MD5 key on its own socket, GTSM minimum TTL, send TTL, DSCP CS6), a non-blocking connect
// watched on the event loop, a timeout, and a plain net.Socket for the session once connected.
// Failures are Errors in Node's shape: `err.code` is ECONNREFUSED, EHOSTUNREACH, ENETUNREACH,
// ETIMEDOUT, …, with errno, syscall, address and port.
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { SystemError } from '../../native/addon.js';
import { type Endpoint, connectError, sockets, watchConnect } from '../../native/sockets.js';
import { peerIdentity } from '../../net/ip.js';
import { type TransportPeer, minTtl, sendTtl } from './peers.js';
import { socketFromFd } from './reader.js';

export interface ConnectOptions {
  /** the peer's address (IPv4 or IPv6) and settings; PeerConfig fits */
  peer: TransportPeer;
  port: number;
  /** give up after this long with ETIMEDOUT (the kernel alone would try for about two minutes) */
  timeoutMs: number;
  /** source address (and port) to connect from */
  localAddress?: string;
  localPort?: number;
  /** path of a network namespace to make the socket in (tests, labs) */
  netns?: string;
  signal?: AbortSignal;
  /** for a session: the socket is read through reader.ts (receive()), not 'data' events */
  onread?: boolean;
}

export interface OutboundConnection {
  socket: Socket;
  local: Endpoint;
  remote: Endpoint;
}

export type ConnectError = SystemError & { address: string; port: number };

/** DSCP CS6 (network control), the class routing protocols send in. */
export const TOS_CS6 = 0xc0;

/**
 * Apply a peer's TTL settings to a connection with a peer of `family`: IPv4 peers (also on a
 * dual-stack IPv6 socket, where they are v4-mapped) take the IP_* options, IPv6 peers IPV6_*.
 */
export function applyPeerTtl(fd: number, family: 4 | 6, peer: Pick<TransportPeer, 'ttlSecurity' | 'multihop' | 'ibgp'>): void {
  const ttl = sendTtl(peer);
  const min = minTtl(peer);
  if (family === 4) {
    sockets.setOption(fd, 'IP_TTL', ttl);
    if (min) sockets.setOption(fd, 'IP_MINTTL', min);
    sockets.setOption(fd, 'IP_TOS', TOS_CS6);
  } else {
    sockets.setOption(fd, 'IPV6_UNICAST_HOPS', ttl);
    if (min) sockets.setOption(fd, 'IPV6_MINHOPCOUNT', min);
    sockets.setOption(fd, 'IPV6_TCLASS', TOS_CS6);
  }
}

/**
 * Options for a connected socket: TCP_USER_TIMEOUT when the peer has one, so that data left
 * unacknowledged that long (a host gone without a word) fails the connection with ETIMEDOUT
 * instead of after the kernel's 15 retransmissions. Set only once connected: in SYN_SENT the
 * kernel would apply it to the connect too, and connects have their own timeout.
 */
export function applyConnectedOptions(fd: number, peer: Pick<TransportPeer, 'tcpUserTimeout'>): void {
  if (peer.tcpUserTimeout) sockets.setOption(fd, 'TCP_USER_TIMEOUT', peer.tcpUserTimeout);
}

/**
 * Wrap a connected TCP fd as a net.Socket (it owns the fd from then on): read by reader.ts for
 * a session (onread, see there), else a plain socket with 'data' events.
 */
export function wrapFd(fd: number, onread = false): Socket {
  return onread ? socketFromFd(fd) : new Socket({ fd, readable: true, writable: true });
}

function failure(e: unknown, address: string, port: number): ConnectError {
  const s = e as Partial<SystemError>;
  const err = connectError({ errno: s.errno ?? 0, code: s.code ?? 'EUNKNOWN', syscall: s.syscall ?? 'connect' }, address, port);
  if (e instanceof Error && !(e as Partial<SystemError>).code) err.message = `${err.message}: ${e.message}`;
  return err;
}

/** Open a BGP connection to a peer. Rejects with a ConnectError; an abort rejects with the signal's reason. */
export function connect(o: ConnectOptions): Promise<OutboundConnection> {
  const id = peerIdentity(o.peer.address);
  if (!id) return Promise.reject(new TypeError(`not an IP address: ${JSON.stringify(o.peer.address)}`));
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) return Promise.reject(new RangeError(`port must be 1–65535, got ${o.port}`));
  if (!(o.timeoutMs > 0)) return Promise.reject(new RangeError(`timeoutMs must be positive, got ${o.timeoutMs}`));
  if (o.signal?.aborted) return Promise.reject(o.signal.reason);
  const { address, family } = id;
  const port = o.port;

  let fd: number;
  try {
    fd = sockets.open(family, o.netns);
  } catch (e) {
    return Promise.reject(failure(e, address, port));
  }
  try {
    applyPeerTtl(fd, family, o.peer);
    if (o.peer.password !== undefined) {
      const r = sockets.md5(fd, address, family === 4 ? 32 : 128, o.peer.password);
      if (!r.ok) throw Object.assign(new Error(r.message), { errno: r.errno, code: r.code, syscall: r.syscall });
    }
    if (o.localAddress !== undefined || o.localPort !== undefined) {
      sockets.setOption(fd, 'SO_REUSEADDR', 1);
      sockets.bind(fd, o.localAddress ?? (family === 4 ? '0.0.0.0' : '::'), o.localPort ?? 0);
    }
  } catch (e) {
    sockets.close(fd);
    return Promise.reject(failure(e, address, port));
  }

  return new Promise<OutboundConnection>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) {
        sockets.close(fd);
        reject(err);
        return;
      }
      try {
        applyConnectedOptions(fd, o.peer);
        const info = sockets.info(fd);
        const socket = wrapFd(fd, o.onread);
        resolve({ socket, local: info.local, remote: info.remote ?? { address, port, family } });
      } catch (e) {
        sockets.close(fd);
        reject(failure(e, address, port));
      }
    };
    const watch = watchConnect(fd, address, port, (err) => finish(err));
    const timer = setTimeout(() => {
      watch.cancel();
      finish(connectError({ errno: -constants.errno.ETIMEDOUT, code: 'ETIMEDOUT', syscall: 'connect' }, address, port));
    }, o.timeoutMs);
    const onAbort = () => {
      watch.cancel();
      finish(o.signal!.reason instanceof Error ? o.signal!.reason : new Error('aborted'));
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
