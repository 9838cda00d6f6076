// Numbers from the BGP RFCs and IANA registries that the codec speaks. No logic here.

export const HEADER_LENGTH = 19;
/** RFC 4271 §4.1: the largest message without the extended-message capability. */
export const MAX_MESSAGE_LENGTH = 4096;
/** RFC 8654: the largest UPDATE, NOTIFICATION or ROUTE-REFRESH with extended messages. */
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;

export const MessageType = { Open: 1, Update: 2, Notification: 3, Keepalive: 4, RouteRefresh: 5 } as const;

/** Smallest legal total length of each message type, header included (RFC 4271 §4, RFC 2918). */
export const MIN_LENGTH: Readonly<Record<number, number>> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 23 };

export const AS_TRANS = 23456;

export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;

/** Attribute flag bits (RFC 4271 §4.3). */
export const OPTIONAL = 0x80;
export const TRANSITIVE = 0x40;
export const PARTIAL = 0x20;
export const EXTENDED_LENGTH = 0x10;

export const AttrCode = {
  Origin: 1,
  AsPath: 2,
  NextHop: 3,
  Med: 4,
  LocalPref: 5,
  AtomicAggregate: 6,
  Aggregator: 7,
  Communities: 8,
  OriginatorId: 9,
  ClusterList: 10,
  MpReach: 14,
  MpUnreach: 15,
  ExtendedCommunities: 16,
  As4Path: 17,
  As4Aggregator: 18,
  TunnelEncapsulation: 23,
  LargeCommunities: 32,
  Otc: 35,
} as const;

/** AS_PATH segment types (RFC 4271 §4.3, RFC 5065). */
export const AS_SET = 1;
export const AS_SEQUENCE = 2;
export const AS_CONFED_SEQUENCE = 3;
export const AS_CONFED_SET = 4;

export const ORIGIN_IGP = 0;
export const ORIGIN_EGP = 1;
export const ORIGIN_INCOMPLETE = 2;

export const CapabilityCode = {
  Multiprotocol: 1,
  RouteRefresh: 2,
  ExtendedNextHop: 5,
  ExtendedMessage: 6,
  Role: 9,
  GracefulRestart: 64,
  As4: 65,
  AddPath: 69,
  EnhancedRouteRefresh: 70,
  LongLivedGracefulRestart: 71,
  Fqdn: 73,
  RouteRefreshCisco: 128,
} as const;

/** ROUTE-REFRESH message subtypes (RFC 7313). */
export const REFRESH_NORMAL = 0;
export const REFRESH_BORR = 1;
export const REFRESH_EORR = 2;
