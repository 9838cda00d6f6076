// Why a session is not up, in words: lastError for /api/v1/peers and the log, and a short
// form for /readyz (`Active (last error ECONNREFUSED)`). One place builds them all.
import { BgpError, describeNotification } from '../codec/index.js';
import { socketErrorText } from '../transport/index.js';
import type { Notification } from './connection.js';

/**
 * What a lastError is, for /readyz to tell reasons apart without reading their words: a
 * socket error (its errno name in `code`), a NOTIFICATION, a TCP-MD5 key the kernel refused,
 * the peer's host found dead (graceful restart's fast unlock closed the session), or other.
 */
export type LastErrorKind = 'socket' | 'notification' | 'key-refused' | 'peer-dead' | 'other';

export interface LastError {
  readonly kind: LastErrorKind;
  /** full text: `ECONNREFUSED (connection refused: …)`, `sent NOTIFICATION Hold Timer Expired/Unspecific (hold timer expired)` */
  readonly text: string;
  /** short form for /readyz: the errno name, or the NOTIFICATION in words */
  readonly short: string;
  /** errno name of a socket error */
  readonly code: string | null;
  /** ms since the epoch */
  readonly at: number;
}

export function socketError(e: { code?: string; message?: string }, context?: string): LastError {
  const code = e.code ?? 'EUNKNOWN';
  const text = socketErrorText(e);
  return { kind: 'socket', text: context ? `${text}; ${context}` : text, short: code, code, at: Date.now() };
}

export function notificationError(direction: 'sent' | 'received', n: Notification, why?: BgpError | string): LastError {
  const words = describeNotification(n);
  const reason = why === undefined ? '' : typeof why === 'string' ? why : why.message;
  const text = `${direction} NOTIFICATION ${words}${reason && direction === 'sent' && !words.includes(reason) ? ` (${reason})` : ''}`;
  return { kind: 'notification', text, short: `${direction} NOTIFICATION ${words}`, code: null, at: Date.now() };
}

export function plainError(text: string, short = text, kind: LastErrorKind = 'other'): LastError {
  return { kind, text, short, code: null, at: Date.now() };
}
