// OPEN (RFC 4271 §4.2) with capabilities in optional parameters (RFC 5492), including the
// extended optional parameters length of RFC 9072.
import { numberToIPv4 } from '../../net/ip.js';
import { checkUint, ipv4Bytes, u16, u32, Writer } from './bytes.js';
import { type Capability, decodeCapability, encodeCapability } from './capabilities.js';
import { AS_TRANS, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType } from './constants.js';
import { BgpError } from './errors.js';
import { writeHeader } from './header.js';

export interface OpenMessage {
  readonly type: 'open';
  readonly version: number;
  /** the 2-octet My Autonomous System field (AS_TRANS when the AS needs 4 octets) */
  readonly myAs: number;
  /** the sender's AS: the 4-octet AS capability when present, else myAs */
  readonly asn: number;
  readonly holdTime: number;
  /** BGP identifier, dotted quad */
  readonly routerId: string;
  readonly capabilities: readonly Capability[];
}

export interface OpenInit {
  asn: number;
  holdTime: number;
  routerId: string;
  capabilities: readonly Capability[];
}

const PARAM_CAPABILITIES = 2;
const PARAM_EXTENDED = 255;

export function decodeOpen(body: Uint8Array): OpenMessage {
  const version = body[0]!;
  if (version !== 4) throw new BgpError('OPEN_VERSION', { data: Uint8Array.of(0, 4), detail: `version ${version}` });
  const myAs = u16(body, 1);
  const holdTime = u16(body, 3);
  const id = u32(body, 5);
  let optLen = body[9]!;
  let p = 10;
  let wide = false;
  // RFC 9072: a non-extended length of 255 followed by parameter type 255 announces a 2-octet length
  if (optLen === 255 && body.length > 10 && body[10] === PARAM_EXTENDED) {
    if (body.length < 13) throw new BgpError('OPEN_MALFORMED', { detail: 'truncated extended optional parameters length' });
    optLen = u16(body, 11);
    p = 13;
    wide = true;
  }
  if (p + optLen !== body.length) throw new BgpError('OPEN_MALFORMED', { detail: `optional parameters length ${optLen} does not match the message` });
  const capabilities: Capability[] = [];
  while (p < body.length) {
    const hdr = wide ? 3 : 2;
    if (p + hdr > body.length) throw new BgpError('OPEN_MALFORMED', { detail: 'truncated optional parameter' });
    const type = body[p]!;
    const len = wide ? u16(body, p + 1) : body[p + 1]!;
    const start = p + hdr;
    const end = start + len;
    if (end > body.length) throw new BgpError('OPEN_MALFORMED', { detail: `optional parameter ${type} overruns the message` });
    if (type !== PARAM_CAPABILITIES) throw new BgpError('OPEN_OPTIONAL_PARAMETER', { detail: `parameter type ${type}` });
    for (let q = start; q < end; ) {
      if (q + 2 > end) throw new BgpError('OPEN_MALFORMED', { detail: 'truncated capability' });
      const code = body[q]!;
      const clen = body[q + 1]!;
      if (q + 2 + clen > end) throw new BgpError('OPEN_MALFORMED', { detail: `capability ${code} overruns its parameter` });
      capabilities.push(decodeCapability(code, body.subarray(q + 2, q + 2 + clen)));
      q += 2 + clen;
    }
    p = end;
  }
  if (holdTime === 1 || holdTime === 2) throw new BgpError('OPEN_HOLD_TIME', { detail: `hold time ${holdTime}` });
  if (id === 0) throw new BgpError('OPEN_BGP_ID', { detail: 'BGP identifier 0.0.0.0' });
  const as4 = capabilities.find((c) => c.kind === 'as4');
  const asn = as4 ? as4.asn : myAs;
  if (myAs === 0 || asn === 0) throw new BgpError('OPEN_PEER_AS', { data: Uint8Array.of(myAs >>> 8, myAs & 0xff) });
  return { type: 'open', version, myAs, asn, holdTime, routerId: numberToIPv4(id), capabilities };
}

export function encodeOpen(o: OpenInit): Buffer {
  checkUint('asn', o.asn, 0xffffffff);
  checkUint('hold time', o.holdTime, 65535);
  const as4 = o.capabilities.find((c) => c.kind === 'as4');
  if (o.asn > 65535 && !as4) throw new RangeError(`AS ${o.asn} needs the 4-octet AS capability in the OPEN`);
  // capabilities, grouped into optional parameters of at most 255 octets each
  const params: Buffer[] = [];
  let cur = new Writer(255);
  for (const c of o.capabilities) {
    const { code, value } = encodeCapability(c);
    if (value.length > 255) throw new RangeError(`capability ${code} value is ${value.length} octets, at most 255`);
    if (cur.pos + 2 + value.length > 255) {
      params.push(cur.finish());
      cur = new Writer(255);
    }
    cur.u8(code).u8(value.length).bytes(value);
  }
  if (cur.pos > 0) params.push(cur.finish());
  const plain = params.reduce((n, b) => n + 2 + b.length, 0);
  const wide = plain > 254;
  const optLen = wide ? params.reduce((n, b) => n + 3 + b.length, 0) : plain;
  const length = HEADER_LENGTH + 10 + (wide ? 3 : 0) + optLen;
  if (length > MAX_MESSAGE_LENGTH) throw new RangeError(`OPEN would be ${length} octets, more than ${MAX_MESSAGE_LENGTH}`);
  const w = new Writer(length);
  w.reserve(HEADER_LENGTH);
  w.u8(4).u16(o.asn > 65535 ? AS_TRANS : o.asn).u16(o.holdTime).bytes(ipv4Bytes(o.routerId, 'router id'));
  if (wide) w.u8(255).u8(PARAM_EXTENDED).u16(optLen);
  else w.u8(optLen);
  for (const b of params) {
    w.u8(PARAM_CAPABILITIES);
    if (wide) w.u16(b.length);
    else w.u8(b.length);
    w.bytes(b);
  }
  writeHeader(w.buf, 0, MessageType.Open, w.pos);
  return w.finish();
}
