// ROUTE-REFRESH (RFC 2918) with the enhanced route refresh subtypes (RFC 7313).
import { u16, copyBytes } from './bytes.js';
import { MessageType, REFRESH_BORR, REFRESH_EORR, REFRESH_NORMAL } from './constants.js';
import { BgpError } from './errors.js';
import { frame } from './header.js';

export interface RouteRefreshMessage {
  readonly type: 'route-refresh';
  readonly afi: number;
  readonly safi: number;
  /** 0 normal request, 1 Beginning of RIB refresh, 2 End of RIB refresh */
  readonly subtype: number;
}

/**
 * Decode a ROUTE-REFRESH body. A wrong length is ROUTE_REFRESH_LENGTH (a reset, with the
 * whole message as NOTIFICATION data); an unknown subtype returns the ROUTE_REFRESH_SUBTYPE
 * case ('ignore', RFC 7313 §5) instead of a message.
 */
export function decodeRouteRefresh(body: Uint8Array, raw?: Uint8Array): RouteRefreshMessage | BgpError {
  if (body.length !== 4) {
    throw new BgpError('ROUTE_REFRESH_LENGTH', { data: raw ? copyBytes(raw) : undefined, detail: `body of ${body.length} octets` });
  }
  const subtype = body[2]!;
  if (subtype !== REFRESH_NORMAL && subtype !== REFRESH_BORR && subtype !== REFRESH_EORR) {
    return new BgpError('ROUTE_REFRESH_SUBTYPE', { detail: `subtype ${subtype}`, afi: u16(body, 0), safi: body[3] });
  }
  return { type: 'route-refresh', afi: u16(body, 0), safi: body[3]!, subtype };
}

export function encodeRouteRefresh(r: { afi: number; safi: number; subtype?: number }): Buffer {
  return frame(MessageType.RouteRefresh, Uint8Array.of(r.afi >>> 8, r.afi & 0xff, r.subtype ?? REFRESH_NORMAL, r.safi));
}
