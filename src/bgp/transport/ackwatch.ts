// A peer that stops acknowledging: the check behind ROUTELET_TCP_USER_TIMEOUT that does not
// wait for the kernel's retransmission timer. The kernel applies TCP_USER_TIMEOUT only when
// its retransmission timer fires, and the first firing waits for the RTO (or the loss probe)
// the connection's RTT estimate gives: early in a session, after a retransmitted SYN or a few
// delayed ACKs, that is seconds, not milliseconds. So the session also looks itself: a while
// after it writes, it asks the socket (TCP_INFO) whether data is outstanding and no ACK came
// for that long.
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { sockets } from '../../native/sockets.js';

export interface AckSilence {
  /** milliseconds since the last ACK from the peer */
  sinceAckMs: number;
  /** segments sent and not acknowledged */
  unacked: number;
}

/** Data outstanding on the socket and how long the peer has been silent; null when nothing is outstanding or the socket is gone. */
export function ackSilence(socket: Socket): AckSilence | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (fd === undefined || fd < 0 || socket.destroyed) return null;
  let tcp;
  try {
    tcp = sockets.info(fd).tcp;
  } catch {
    return null;
  }
  if (!tcp || tcp.unacked === 0) return null;
  return { sinceAckMs: tcp.lastAckRecvMs, unacked: tcp.unacked };
}

/** The error a silent peer's connection is closed with: ETIMEDOUT in Node's shape. */
export function silenceError(s: AckSilence, timeoutMs: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`no acknowledgement for ${s.sinceAckMs} ms with ${s.unacked} segments outstanding (TCP user timeout ${timeoutMs} ms)`), {
    code: 'ETIMEDOUT',
    errno: -constants.errno.ETIMEDOUT,
    syscall: 'read',
  });
}
