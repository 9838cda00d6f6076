// NOTIFICATION messages: encoding, decoding, and human words for every code and subcode
// (RFC 4271 §4.5 and §6, RFC 4486, RFC 5492, RFC 6608, RFC 7313, RFC 8538, RFC 9003,
// RFC 9234, RFC 9384, RFC 9687), for `lastError` and logs.
import { toHex, u16, u32, copyBytes } from './bytes.js';
import { frame } from './header.js';
import { AFI_IPV4, AFI_IPV6, MessageType, SAFI_UNICAST } from './constants.js';

export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

export const NotificationCode = {
  MessageHeaderError: 1,
  OpenMessageError: 2,
  UpdateMessageError: 3,
  HoldTimerExpired: 4,
  FsmError: 5,
  Cease: 6,
  RouteRefreshMessageError: 7,
  SendHoldTimerExpired: 8,
} as const;

/** Subcode 0: "Unspecific" (Hold Timer Expired, Send Hold Timer Expired, and any code). */
export const UNSPECIFIC = 0;

/** RFC 4271 §6.1 Message Header Error subcodes. */
export const HeaderSubcode = { ConnectionNotSynchronized: 1, BadMessageLength: 2, BadMessageType: 3 } as const;

/** RFC 4271 §6.2 OPEN Message Error subcodes (those routelet names). */
export const OpenSubcode = { UnsupportedVersionNumber: 1 } as const;

/** RFC 4271 §6.3 UPDATE Message Error subcodes (those routelet names). */
export const UpdateSubcode = { MissingWellKnownAttribute: 3 } as const;

/** RFC 6608 Finite State Machine Error subcodes: an unexpected message in the named state. */
export const FsmErrorSubcode = { OpenSent: 1, OpenConfirm: 2, Established: 3 } as const;

export const CeaseSubcode = {
  MaxPrefixes: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
  HardReset: 9,
  BfdDown: 10,
} as const;

/**
 * RFC 8538 §5: the Cease subcodes that call for a Hard Reset when both sides negotiated the
 * N-bit (Maximum Number of Prefixes Reached, Administrative Shutdown, Peer De-configured).
 * Administrative Reset is left to the provider: routelet sends it without a Hard Reset so the
 * peer keeps our routes across a restart. Other Cease subcodes keep graceful restart.
 */
const HARD_RESET_CEASES: ReadonlySet<number> = new Set([CeaseSubcode.MaxPrefixes, CeaseSubcode.AdministrativeShutdown, CeaseSubcode.PeerDeconfigured]);

/** Whether a Cease with this subcode is sent as a Hard Reset once the N-bit is negotiated (RFC 8538 §5). */
export function ceaseCallsForHardReset(subcode: number): boolean {
  return HARD_RESET_CEASES.has(subcode);
}

/** Whether the NOTIFICATION is OPEN Message Error/Unsupported Version Number (the FSM's event 24, NotifMsgVerErr). */
export function isVersionError(n: { code: number; subcode: number }): boolean {
  return n.code === NotificationCode.OpenMessageError && n.subcode === OpenSubcode.UnsupportedVersionNumber;
}

/** Whether the NOTIFICATION is a Cease with this subcode. */
export function isCease(n: { code: number; subcode: number }, subcode: number): boolean {
  return n.code === NotificationCode.Cease && n.subcode === subcode;
}

/** Whether the NOTIFICATION is a Cease/Hard Reset (RFC 8538 §3): graceful restart does not apply. */
export function isHardReset(n: { code: number; subcode: number }): boolean {
  return isCease(n, CeaseSubcode.HardReset);
}

interface CodeNames {
  name: string;
  subcodes: Readonly<Record<number, string>>;
}

/** IANA "BGP Error (Notification) Codes" and "BGP Error Subcodes". */
export const NOTIFICATION_NAMES: Readonly<Record<number, CodeNames>> = {
  1: {
    name: 'Message Header Error',
    subcodes: { 0: 'Unspecific', 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  },
  2: {
    name: 'OPEN Message Error',
    subcodes: {
      0: 'Unspecific',
      1: 'Unsupported Version Number',
      2: 'Bad Peer AS',
      3: 'Bad BGP Identifier',
      4: 'Unsupported Optional Parameter',
      5: 'Authentication Failure (deprecated)',
      6: 'Unacceptable Hold Time',
      7: 'Unsupported Capability',
      8: 'Grouping Conflict (deprecated)',
      9: 'Grouping Required (deprecated)',
      10: 'Capability Value Mismatch (deprecated)',
      11: 'Role Mismatch',
    },
  },
  3: {
    name: 'UPDATE Message Error',
    subcodes: {
      0: 'Unspecific',
      1: 'Malformed Attribute List',
      2: 'Unrecognized Well-known Attribute',
      3: 'Missing Well-known Attribute',
      4: 'Attribute Flags Error',
      5: 'Attribute Length Error',
      6: 'Invalid ORIGIN Attribute',
      7: 'AS Routing Loop (deprecated)',
      8: 'Invalid NEXT_HOP Attribute',
      9: 'Optional Attribute Error',
      10: 'Invalid Network Field',
      11: 'Malformed AS_PATH',
    },
  },
  4: { name: 'Hold Timer Expired', subcodes: { 0: 'Unspecific' } },
  5: {
    name: 'Finite State Machine Error',
    subcodes: {
      0: 'Unspecified Error',
      1: 'Receive Unexpected Message in OpenSent State',
      2: 'Receive Unexpected Message in OpenConfirm State',
      3: 'Receive Unexpected Message in Established State',
    },
  },
  6: {
    name: 'Cease',
    subcodes: {
      0: 'Unspecific',
      1: 'Maximum Number of Prefixes Reached',
      2: 'Administrative Shutdown',
      3: 'Peer De-configured',
      4: 'Administrative Reset',
      5: 'Connection Rejected',
      6: 'Other Configuration Change',
      7: 'Connection Collision Resolution',
      8: 'Out of Resources',
      9: 'Hard Reset',
      10: 'BFD Down',
    },
  },
  7: { name: 'ROUTE-REFRESH Message Error', subcodes: { 0: 'Reserved', 1: 'Invalid Message Length' } },
  8: { name: 'Send Hold Timer Expired', subcodes: { 0: 'Unspecific' } },
};

/** `Cease/Administrative Shutdown` — the names alone, for metrics labels and short logs. */
export function notificationName(code: number, subcode: number): string {
  const c = NOTIFICATION_NAMES[code];
  if (!c) return `Unknown error code ${code}/${subcode}`;
  const s = c.subcodes[subcode];
  return `${c.name}/${s ?? `unknown subcode ${subcode}`}`;
}

/** The RFC 9003 shutdown communication in Cease/2 and Cease/4 data, if the data holds one. */
export function shutdownCommunication(n: { code: number; subcode: number; data: Uint8Array }): { text: string } | { malformed: string } | undefined {
  if (n.code !== NotificationCode.Cease) return undefined;
  if (n.subcode !== CeaseSubcode.AdministrativeShutdown && n.subcode !== CeaseSubcode.AdministrativeReset) return undefined;
  if (n.data.length === 0) return undefined;
  const len = n.data[0]!;
  if (len + 1 > n.data.length) return { malformed: `length ${len} exceeds the ${n.data.length - 1} octets present` };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(n.data.subarray(1, 1 + len)) };
  } catch {
    return { malformed: 'not valid UTF-8' };
  }
}

/**
 * Human words for a NOTIFICATION, as the session layer shows in `lastError`:
 * `Cease/Administrative Shutdown: "maintenance"`,
 * `Cease/Hard Reset (Cease/Administrative Reset: "new config")`,
 * `UPDATE Message Error/Malformed AS_PATH (data 4002…)`.
 */
export function describeNotification(n: { code: number; subcode: number; data: Uint8Array }): string {
  const name = notificationName(n.code, n.subcode);
  const d = n.data;
  if (n.code === NotificationCode.Cease) {
    if (n.subcode === CeaseSubcode.HardReset && d.length >= 2) {
      return `${name} (${describeNotification({ code: d[0]!, subcode: d[1]!, data: d.subarray(2) })})`;
    }
    const sc = shutdownCommunication(n);
    if (sc && 'text' in sc) return `${name}: ${JSON.stringify(sc.text)}${d.length > d[0]! + 1 ? ` (data ${toHex(d.subarray(d[0]! + 1))})` : ''}`;
    if (sc) return `${name} (malformed shutdown communication: ${sc.malformed}; data ${toHex(d)})`;
    if (n.subcode === CeaseSubcode.MaxPrefixes && d.length >= 7) {
      return `${name} (AFI ${u16(d, 0)} SAFI ${d[2]}, limit ${u32(d, 3)})`;
    }
  }
  if (d.length === 0) return name;
  if (n.code === NotificationCode.MessageHeaderError && n.subcode === HeaderSubcode.BadMessageLength && d.length === 2) return `${name} (length ${u16(d, 0)})`;
  if (n.code === NotificationCode.MessageHeaderError && n.subcode === HeaderSubcode.BadMessageType && d.length === 1) return `${name} (type ${d[0]})`;
  if (n.code === NotificationCode.OpenMessageError && n.subcode === OpenSubcode.UnsupportedVersionNumber && d.length === 2) return `${name} (we support version ${u16(d, 0)})`;
  if (n.code === NotificationCode.UpdateMessageError && n.subcode === UpdateSubcode.MissingWellKnownAttribute && d.length === 1) return `${name} (attribute type ${d[0]})`;
  return `${name} (data ${toHex(d.length > 64 ? d.subarray(0, 64) : d)}${d.length > 64 ? '…' : ''})`;
}

export function decodeNotification(body: Uint8Array): NotificationMessage {
  // the framer guarantees at least 2 octets (minimum length 21)
  return { type: 'notification', code: body[0]!, subcode: body[1]!, data: copyBytes(body, 2) };
}

export function encodeNotification(n: { code: number; subcode: number; data?: Uint8Array }, maxLength = 4096): Buffer {
  const data = n.data ?? new Uint8Array(0);
  const room = maxLength - 21;
  const body = Buffer.allocUnsafe(2 + Math.min(data.length, room));
  body[0] = n.code;
  body[1] = n.subcode;
  body.set(data.length > room ? data.subarray(0, room) : data, 2);
  return frame(MessageType.Notification, body);
}

/**
 * RFC 9003 §2: a shutdown communication as NOTIFICATION data — a length octet, then UTF-8 of
 * at most 255 octets, cut at a character boundary. An empty message is the single octet 0.
 */
export function shutdownCommunicationData(message: string): Uint8Array {
  let text = Buffer.from(message, 'utf8');
  if (text.length > 255) {
    let end = 255;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const data = new Uint8Array(1 + text.length);
  data[0] = text.length;
  data.set(text, 1);
  return data;
}

/** RFC 9003: Cease/Administrative Shutdown (or /Administrative Reset) with a UTF-8 message of up to 255 octets; no message, no data. */
export function shutdownNotification(message = '', subcode: 2 | 4 = CeaseSubcode.AdministrativeShutdown): NotificationMessage {
  const data = message === '' ? new Uint8Array(0) : shutdownCommunicationData(message);
  return { type: 'notification', code: NotificationCode.Cease, subcode, data };
}

/** RFC 4486 §4: Cease/Maximum Number of Prefixes Reached for an IPv4 or IPv6 unicast family — AFI, SAFI and the limit. */
export function maxPrefixesNotification(family: 4 | 6, limit: number): NotificationMessage {
  const data = new Uint8Array(7);
  const v = new DataView(data.buffer);
  v.setUint16(0, family === 4 ? AFI_IPV4 : AFI_IPV6);
  data[2] = SAFI_UNICAST;
  v.setUint32(3, limit >>> 0);
  return { type: 'notification', code: NotificationCode.Cease, subcode: CeaseSubcode.MaxPrefixes, data };
}

/** RFC 8538 §3: Cease/Hard Reset wrapping the NOTIFICATION that caused it. */
export function hardResetNotification(inner: { code: number; subcode: number; data?: Uint8Array }): NotificationMessage {
  const d = inner.data ?? new Uint8Array(0);
  const data = new Uint8Array(2 + d.length);
  data[0] = inner.code;
  data[1] = inner.subcode;
  data.set(d, 2);
  return { type: 'notification', code: NotificationCode.Cease, subcode: CeaseSubcode.HardReset, data };
}
