// The Cease NOTIFICATIONs the agent asks a session to send, by what happened, and the one place
// that decides their RFC 8538 Hard Reset wrapping: the session calls `ceaseOnWire` with the
// connection's negotiated N-bit. The bytes come from the codec (RFC 4486, RFC 9003, RFC 8538).
import type { Family } from '../../net/ip.js';
import {
  CeaseSubcode,
  ceaseCallsForHardReset,
  hardResetNotification,
  maxPrefixesNotification,
  NotificationCode,
  type NotificationMessage,
  shutdownCommunicationData,
  shutdownNotification,
} from '../codec/index.js';

/** A Cease for an Established peer: its subcode and data (the code is Cease). */
export interface Cease {
  readonly subcode: number;
  readonly data?: Uint8Array;
}

const of = (n: NotificationMessage): Cease => ({ subcode: n.subcode, data: n.data });

/** The Ceases routelet sends, by what happened. */
export const cease = {
  /** Administrative Shutdown with an RFC 9003 message: we stop and our routes go. */
  shutdown: (message: string): Cease => of(shutdownNotification(message, CeaseSubcode.AdministrativeShutdown)),
  /** Administrative Reset with an RFC 9003 message: we restart; with the N-bit the peer keeps our routes (RFC 8538). */
  reset: (message: string): Cease => of(shutdownNotification(message, CeaseSubcode.AdministrativeReset)),
  /** Peer De-configured with an RFC 9003 message: the peer was removed from the configuration. */
  deconfigured: (message: string): Cease => ({ subcode: CeaseSubcode.PeerDeconfigured, data: shutdownCommunicationData(message) }),
  /** Other Configuration Change: the peer's options changed and its session restarts. */
  configurationChange: (): Cease => ({ subcode: CeaseSubcode.OtherConfigurationChange }),
  /** Maximum Number of Prefixes Reached in a family (RFC 4486 data: AFI, SAFI, limit). */
  maxPrefixes: (family: Family, limit: number): Cease => of(maxPrefixesNotification(family, limit)),
} as const;

/**
 * The Cease as it goes on the wire: with the N-bit negotiated and a subcode RFC 8538 §5 names
 * (Maximum Prefixes, Administrative Shutdown, Peer De-configured), wrapped in Cease/Hard Reset
 * so the peer drops our routes rather than keeping them for a restart; otherwise unchanged.
 */
export function ceaseOnWire(c: Cease, nBit: boolean): Cease {
  if (!nBit || !ceaseCallsForHardReset(c.subcode)) return c;
  return of(hardResetNotification({ code: NotificationCode.Cease, subcode: c.subcode, ...(c.data ? { data: c.data } : {}) }));
}
