// Dispatch: a frame from the framer to a decoded message, by type. A short switch; each
// message type has its own module.
import { HEADER_LENGTH, MessageType } from './constants.js';
import type { BgpError } from './errors.js';
import { ChunkFrame, type Frame } from './framing.js';
import { frame } from './header.js';
import { type AttributeInterner, sharedInterner } from './intern.js';
import { decodeNotification, type NotificationMessage } from './notification.js';
import { decodeOpen, type OpenMessage } from './open.js';
import type { CodecOptions } from './options.js';
import { decodeRouteRefresh, type RouteRefreshMessage } from './refresh.js';
import { decodeUpdate, decodeUpdateIn, type UpdateMessage } from './update.js';

export interface KeepaliveMessage {
  readonly type: 'keepalive';
}

export type Message = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

const KEEPALIVE: KeepaliveMessage = Object.freeze({ type: 'keepalive' });
const KEEPALIVE_BYTES = frame(MessageType.Keepalive, new Uint8Array(0));

/** A fresh copy of the 19-octet KEEPALIVE. */
export const encodeKeepalive = (): Buffer => Buffer.from(KEEPALIVE_BYTES);

/**
 * Decode one framed message. Throws BgpError for session-reset outcomes; returns the
 * 'ignore' case (an unknown ROUTE-REFRESH subtype) as a BgpError value.
 */
export function decodeMessage(f: Frame, o: CodecOptions, interner?: AttributeInterner): Message | BgpError {
  switch (f.type) {
    case MessageType.Update:
      // a frame from the Framer is decoded where it lies, without making its body view
      if (f instanceof ChunkFrame) return decodeUpdateIn(f.bytes, f.start + HEADER_LENGTH, f.end, o, interner ?? sharedInterner);
      return decodeUpdate(f.body, o, interner);
    case MessageType.Keepalive:
      return KEEPALIVE;
    case MessageType.Open:
      return decodeOpen(f.body);
    case MessageType.Notification:
      return decodeNotification(f.body);
    default:
      // the framer admits only types 1–5
      return decodeRouteRefresh(f.body, f.raw);
  }
}
