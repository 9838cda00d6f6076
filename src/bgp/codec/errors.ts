// Every malformation the codec detects, in one table, with the outcome the RFCs prescribe.
//
// The codec throws exactly one error type, BgpError, and only for outcomes that end the
// session ('session-reset'). The weaker outcomes ('treat-as-withdraw', 'attribute-discard',
// 'ignore') are returned inside the decoded message (UpdateMessage.errors) as BgpError
// values too, so the session layer logs and counts them the same way and never has to
// guess what the wire meant.
//
// Rules applied on top of the table (RFC 7606):
//  - §3(h): when one UPDATE has several errors, the strongest action wins
//    (session-reset > treat-as-withdraw > attribute-discard).
//  - §5.2: an UPDATE that carries no reachable NLRI (no NLRI field, no MP_REACH_NLRI) and
//    has any error stronger than attribute-discard is a session reset; the thrown error is
//    UPDATE_ERROR_WITHOUT_NLRI and carries the NOTIFICATION of the underlying case.
//  - §3(j), §5.3: for MP_REACH_NLRI / MP_UNREACH_NLRI errors the RFCs allow "AFI/SAFI
//    disable" instead of a reset; those errors carry `afi`/`safi` so the session may choose it.

/** What the receiver must do (RFC 7606 §2), strongest first. */
export type Action = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard' | 'ignore';

export const ACTION_STRENGTH: Readonly<Record<Action, number>> = {
  'session-reset': 3,
  'treat-as-withdraw': 2,
  'attribute-discard': 1,
  ignore: 0,
};

export interface Malformation {
  action: Action;
  /** NOTIFICATION error code and subcode sent on a reset (and named in logs otherwise) */
  code: number;
  subcode: number;
  rfc: string;
  text: string;
}

const reset = (code: number, subcode: number, rfc: string, text: string): Malformation => ({ action: 'session-reset', code, subcode, rfc, text });
const withdraw = (subcode: number, rfc: string, text: string): Malformation => ({ action: 'treat-as-withdraw', code: 3, subcode, rfc, text });
const discard = (subcode: number, rfc: string, text: string): Malformation => ({ action: 'attribute-discard', code: 3, subcode, rfc, text });

/**
 * THE table: each case the codec can detect, its outcome, NOTIFICATION code/subcode and the
 * rule it follows. Keys are the stable `BgpError.code` values.
 */
export const MALFORMATIONS = {
  // Message header (RFC 4271 §6.1)
  HEADER_MARKER: reset(1, 1, 'RFC 4271 §6.1', 'marker is not all ones'),
  HEADER_LENGTH: reset(1, 2, 'RFC 4271 §6.1, RFC 8654', 'message length out of range for its type'),
  HEADER_TYPE: reset(1, 3, 'RFC 4271 §6.1', 'unknown message type'),

  // OPEN (RFC 4271 §6.2, RFC 5492, RFC 7607, RFC 6286, RFC 9072)
  OPEN_MALFORMED: reset(2, 0, 'RFC 4271 §6.2, RFC 5492 §3', 'optional parameters or a capability are malformed'),
  OPEN_VERSION: reset(2, 1, 'RFC 4271 §6.2', 'unsupported BGP version'),
  OPEN_PEER_AS: reset(2, 2, 'RFC 7607 §2', 'AS number 0 in OPEN'),
  OPEN_BGP_ID: reset(2, 3, 'RFC 6286 §2.2', 'BGP identifier is 0'),
  OPEN_OPTIONAL_PARAMETER: reset(2, 4, 'RFC 4271 §6.2', 'unsupported optional parameter type'),
  OPEN_HOLD_TIME: reset(2, 6, 'RFC 4271 §6.2', 'hold time of 1 or 2 seconds'),

  // UPDATE structure: the NLRI cannot be located reliably, so only a reset is safe
  UPDATE_LENGTHS: reset(3, 1, 'RFC 4271 §6.3, RFC 7606 §3(b)', 'withdrawn routes or total attribute length exceeds the message'),
  UPDATE_WITHDRAWN_SYNTAX: reset(3, 10, 'RFC 7606 §5.3', 'withdrawn routes field is syntactically incorrect'),
  UPDATE_NLRI_SYNTAX: reset(3, 10, 'RFC 4271 §6.3, RFC 7606 §5.3', 'NLRI field is syntactically incorrect'),
  UPDATE_ERROR_WITHOUT_NLRI: reset(3, 1, 'RFC 7606 §5.2', 'attribute error in an UPDATE without reachable NLRI'),

  // Generic attribute checks, run once for every attribute (RFC 7606 §3, §4)
  ATTR_OVERRUN: withdraw(1, 'RFC 7606 §4', 'attribute runs past the total path attribute length'),
  ATTR_FLAGS: withdraw(4, 'RFC 7606 §3(c)', 'Optional/Transitive flags conflict with the attribute type'),
  ATTR_DUPLICATE: discard(1, 'RFC 7606 §3(g)', 'attribute appears more than once; later copies discarded'),
  ATTR_MISSING: withdraw(3, 'RFC 7606 §3(d)', 'well-known mandatory attribute missing'),
  ATTR_UNRECOGNIZED_WELL_KNOWN: withdraw(2, 'RFC 4271 §6.3, RFC 7606 §3(c)', 'unrecognized attribute marked well-known'),

  // MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760 §7, RFC 7606 §3(g), §3(j), §5.3, §7.11)
  MP_DUPLICATE: reset(3, 1, 'RFC 7606 §3(g)', 'MP_REACH_NLRI or MP_UNREACH_NLRI appears more than once'),
  MP_FLAGS: reset(3, 4, 'RFC 7606 §5.3, RFC 4760 §7', 'MP_REACH_NLRI/MP_UNREACH_NLRI flags inconsistent with RFC 4760'),
  MP_REACH_MALFORMED: reset(3, 9, 'RFC 7606 §7.11, RFC 4760 §7', 'MP_REACH_NLRI too short or next hop length inconsistent'),
  MP_UNREACH_MALFORMED: reset(3, 9, 'RFC 7606 §5.3, RFC 4760 §7', 'MP_UNREACH_NLRI shorter than 3 octets'),
  MP_NLRI_SYNTAX: reset(3, 9, 'RFC 7606 §5.3, RFC 4760 §7', 'NLRI inside MP_REACH_NLRI/MP_UNREACH_NLRI is syntactically incorrect'),

  // Per attribute (RFC 7606 §7 and the attribute's own RFC)
  ORIGIN_LENGTH: withdraw(5, 'RFC 7606 §7.1', 'ORIGIN length is not 1'),
  ORIGIN_VALUE: withdraw(6, 'RFC 7606 §7.1', 'ORIGIN value undefined'),
  AS_PATH_MALFORMED: withdraw(11, 'RFC 7606 §7.2', 'AS_PATH segment type, length, overrun or underrun'),
  AS_PATH_AS0: withdraw(11, 'RFC 7607 §2', 'AS 0 in AS_PATH'),
  NEXT_HOP_LENGTH: withdraw(5, 'RFC 7606 §7.3', 'NEXT_HOP length is not 4'),
  MED_LENGTH: withdraw(5, 'RFC 7606 §7.4', 'MULTI_EXIT_DISC length is not 4'),
  LOCAL_PREF_LENGTH: withdraw(5, 'RFC 7606 §7.5', 'LOCAL_PREF length is not 4'),
  LOCAL_PREF_FROM_EBGP: discard(0, 'RFC 7606 §7.5, RFC 4271 §5.1.5', 'LOCAL_PREF from an external peer'),
  ATOMIC_AGGREGATE_LENGTH: discard(5, 'RFC 7606 §7.6', 'ATOMIC_AGGREGATE length is not 0'),
  AGGREGATOR_LENGTH: discard(5, 'RFC 7606 §7.7', 'AGGREGATOR length is not 6 (or 8 with 4-octet AS)'),
  AGGREGATOR_AS0: discard(9, 'RFC 7607 §2', 'AS 0 in AGGREGATOR'),
  COMMUNITIES_LENGTH: withdraw(5, 'RFC 7606 §7.8', 'COMMUNITIES length is not a non-zero multiple of 4'),
  ORIGINATOR_ID_LENGTH: withdraw(5, 'RFC 7606 §7.9', 'ORIGINATOR_ID length is not 4'),
  ORIGINATOR_ID_FROM_EBGP: discard(0, 'RFC 7606 §7.9', 'ORIGINATOR_ID from an external peer'),
  CLUSTER_LIST_LENGTH: withdraw(5, 'RFC 7606 §7.10', 'CLUSTER_LIST length is not a non-zero multiple of 4'),
  CLUSTER_LIST_FROM_EBGP: discard(0, 'RFC 7606 §7.10', 'CLUSTER_LIST from an external peer'),
  EXTENDED_COMMUNITIES_LENGTH: withdraw(5, 'RFC 7606 §7.14', 'EXTENDED_COMMUNITIES length is not a non-zero multiple of 8'),
  AS4_PATH_MALFORMED: discard(9, 'RFC 6793 §6, RFC 7607', 'AS4_PATH malformed'),
  AS4_AGGREGATOR_MALFORMED: discard(9, 'RFC 6793 §6, RFC 7607', 'AS4_AGGREGATOR malformed'),
  AS4_FROM_NEW_SPEAKER: discard(0, 'RFC 6793 §4.1', 'AS4_PATH/AS4_AGGREGATOR from a 4-octet AS speaker'),
  TUNNEL_ENCAPSULATION_MALFORMED: withdraw(9, 'RFC 9012 §13, RFC 7606 §2', 'TUNNEL_ENCAPSULATION TLVs overrun the attribute'),
  LARGE_COMMUNITIES_LENGTH: withdraw(5, 'RFC 8092 §6', 'LARGE_COMMUNITY length is not a non-zero multiple of 12'),
  OTC_LENGTH: withdraw(5, 'RFC 9234 §5', 'ONLY_TO_CUSTOMER length is not 4'),

  // ROUTE-REFRESH (RFC 2918, RFC 7313 §5)
  ROUTE_REFRESH_LENGTH: reset(7, 1, 'RFC 7313 §5', 'ROUTE-REFRESH body is not 4 octets'),
  ROUTE_REFRESH_SUBTYPE: { action: 'ignore', code: 7, subcode: 0, rfc: 'RFC 7313 §5', text: 'unknown ROUTE-REFRESH subtype; message ignored' },
} as const satisfies Record<string, Malformation>;

export type MalformationCode = keyof typeof MALFORMATIONS;

export interface BgpErrorInit {
  /** NOTIFICATION data (RFC 4271 §6 says what each subcode carries) */
  data?: Uint8Array;
  detail?: string;
  /** attribute type code involved, when there is one */
  attribute?: number;
  /** the family, for MP errors the session may answer with AFI/SAFI disable */
  afi?: number;
  safi?: number;
  /** override of the table's code/subcode (UPDATE_ERROR_WITHOUT_NLRI inherits the cause's) */
  notification?: { code: number; subcode: number };
  cause?: BgpError;
}

const EMPTY = new Uint8Array(0);

/** The codec's one error type. `code` is stable and names a row of MALFORMATIONS. */
export class BgpError extends Error {
  readonly code: MalformationCode;
  readonly action: Action;
  /** what to put in the NOTIFICATION when the action is a session reset */
  readonly notification: { readonly code: number; readonly subcode: number; readonly data: Uint8Array };
  readonly rfc: string;
  readonly attribute: number | undefined;
  readonly afi: number | undefined;
  readonly safi: number | undefined;

  constructor(code: MalformationCode, init: BgpErrorInit = {}) {
    const m: Malformation = MALFORMATIONS[code];
    super(`${m.text}${init.detail ? `: ${init.detail}` : ''} (${m.rfc}; ${m.action})`, init.cause ? { cause: init.cause } : undefined);
    this.name = 'BgpError';
    this.code = code;
    this.action = m.action;
    this.rfc = m.rfc;
    this.notification = {
      code: init.notification?.code ?? m.code,
      subcode: init.notification?.subcode ?? m.subcode,
      data: init.data ?? EMPTY,
    };
    this.attribute = init.attribute;
    this.afi = init.afi;
    this.safi = init.safi;
  }
}

export const isBgpError = (e: unknown): e is BgpError => e instanceof BgpError;

/** The strongest of some errors (RFC 7606 §3(h)), or undefined when there are none. */
export function strongest(errors: readonly BgpError[]): BgpError | undefined {
  let best: BgpError | undefined;
  for (const e of errors) if (!best || ACTION_STRENGTH[e.action] > ACTION_STRENGTH[best.action]) best = e;
  return best;
}
