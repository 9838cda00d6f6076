// The BGP-4 wire codec: pure functions and values, no sockets, timers, logging or I/O.
//
//   bytes ─► Framer.push() ─► Frame ─► decodeMessage(frame, options) ─► Message
//   Message parts ─► encodeOpen / encodeUpdate / encodeAnnouncements / encodeWithdrawals /
//                    encodeNotification / encodeRouteRefresh / encodeKeepalive / encodeEndOfRib
//
// Session-dependent behaviour comes from a CodecOptions value (negotiate() builds it from
// two OPENs). Malformations are BgpError values whose `action` is the RFC 7606 outcome;
// only session resets are thrown. Attribute sets are interned (AttributeInterner).

export * from './constants.js';
export { BgpError, isBgpError, MALFORMATIONS, ACTION_STRENGTH, strongest, type Action, type Malformation, type MalformationCode } from './errors.js';
export { Framer, checkHeader, type Frame } from './framing.js';
export { decodeMessage, encodeKeepalive, type KeepaliveMessage, type Message } from './message.js';
export { decodeOpen, encodeOpen, type OpenInit, type OpenMessage } from './open.js';
export {
  CAPABILITIES,
  capabilityCode,
  decodeCapability,
  encodeCapability,
  formatCapability,
  type Capability,
  type CapabilityKind,
  type FamilyKey,
} from './capabilities.js';
export { BASE_OPTIONS, codecOptions, maxMessageLength, negotiate, type CodecOptions, type CodecOptionsInit, type Direction } from './options.js';
export { decodeUpdate, type Family, type Reach, type Reach4, type Reach6, type UpdateMessage } from './update.js';
export { encodeUpdate, encodeAnnouncements, encodeWithdrawals, encodeEndOfRib, attributeBytes, type ReachInit, type UpdateInit } from './update-encode.js';
export { encodeAttributes, formatAttributes } from './attribute-list.js';
export {
  ATTRIBUTES,
  attributeName,
  type Aggregator,
  type AttributeSpec,
  type PathAttributes,
  type PathAttributesInit,
  type UnknownAttribute,
} from './attributes.js';
export { AttributeInterner, sharedInterner, makeAttributes, withAttributes, type InternStats } from './intern.js';
export { asPathLength, formatAsPath, parseAsPath, mergeAs4Path, EMPTY_AS_PATH, type AsPath, type AsPathSegment, type AsPathSegmentType } from './aspath.js';
export {
  formatCommunity,
  parseCommunity,
  formatExtendedCommunity,
  formatLargeCommunity,
  routeTarget,
  WELL_KNOWN_COMMUNITIES,
  type LargeCommunity,
} from './communities.js';
export { decodeNlri4, decodeNlri6, type Prefix4List } from './nlri.js';
export {
  NOTIFICATION_NAMES,
  NotificationCode,
  CeaseSubcode,
  FsmErrorSubcode,
  HeaderSubcode,
  OpenSubcode,
  UpdateSubcode,
  UNSPECIFIC,
  ceaseCallsForHardReset,
  isCease,
  isVersionError,
  isHardReset,
  describeNotification,
  notificationName,
  shutdownCommunication,
  decodeNotification,
  encodeNotification,
  shutdownCommunicationData,
  shutdownNotification,
  maxPrefixesNotification,
  hardResetNotification,
  type NotificationMessage,
} from './notification.js';
export { decodeRouteRefresh, encodeRouteRefresh, type RouteRefreshMessage } from './refresh.js';
