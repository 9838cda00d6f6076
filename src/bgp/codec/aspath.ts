// AS_PATH and AS4_PATH (RFC 4271 §4.3, RFC 5065, RFC 6793): decoding in 2- and 4-octet
// forms, the RFC 6793 §4.2.3 merge, the AS_TRANS form for old speakers, and text.
import { AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_SET, AS_TRANS } from './constants.js';
import type { Writer } from './bytes.js';

export type AsPathSegmentType = typeof AS_SET | typeof AS_SEQUENCE | typeof AS_CONFED_SEQUENCE | typeof AS_CONFED_SET;

export interface AsPathSegment {
  readonly type: AsPathSegmentType;
  readonly asns: readonly number[];
}

export type AsPath = readonly AsPathSegment[];

export const EMPTY_AS_PATH: AsPath = Object.freeze([]);

/**
 * Segments in b[start, end), 2 or 4 octets per AS. Returns a reason string when malformed
 * (RFC 7606 §7.2: unknown segment type, zero-length segment, overrun, underrun; RFC 7607: AS 0).
 */
export function decodeAsPath(b: Uint8Array, start: number, end: number, four: boolean): AsPath | { malformed: string; as0?: boolean } {
  const size = four ? 4 : 2;
  // most paths are one segment: no list grown by push (a literal [] takes 17 slots on its first push)
  let first: AsPathSegment | undefined;
  let more: AsPathSegment[] | undefined;
  let p = start;
  while (p < end) {
    if (p + 2 > end) return { malformed: 'one octet left after the last segment' };
    const type = b[p]!;
    const n = b[p + 1]!;
    if (type < AS_SET || type > AS_CONFED_SET) return { malformed: `segment type ${type}` };
    if (n === 0) return { malformed: 'segment of length 0' };
    p += 2;
    if (p + n * size > end) return { malformed: 'segment overruns the attribute' };
    const asns: number[] = new Array<number>(n);
    for (let i = 0; i < n; i++, p += size) {
      const a = four ? ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0 : (b[p]! << 8) | b[p + 1]!;
      if (a === 0) return { malformed: 'AS 0 in path', as0: true };
      asns[i] = a;
    }
    const seg: AsPathSegment = Object.freeze({ type: type as AsPathSegmentType, asns: Object.freeze(asns) });
    if (first === undefined) first = seg;
    else (more ??= [first]).push(seg);
  }
  return first === undefined ? EMPTY_AS_PATH : Object.freeze(more ?? [first]);
}

/** decodeAsPath() succeeded (Array.isArray, not an `in` test, which walks a path's prototypes). */
export const isAsPath = (r: AsPath | { malformed: string }): r is AsPath => Array.isArray(r);

/** Write segments (splitting runs longer than 255). `trans`: replace ASNs above 65535 with AS_TRANS. */
export function writeAsPath(w: Writer, path: AsPath, four: boolean, opts: { trans?: boolean; skipConfed?: boolean } = {}): void {
  for (const s of path) {
    if (opts.skipConfed && (s.type === AS_CONFED_SEQUENCE || s.type === AS_CONFED_SET)) continue;
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = s.asns.slice(i, i + 255);
      w.u8(s.type).u8(chunk.length);
      for (const a of chunk) {
        if (four) w.u32(a);
        else w.u16(a > 65535 ? (opts.trans ? AS_TRANS : a & 0xffff) : a);
      }
    }
  }
}

export const needsAs4 = (path: AsPath): boolean => path.some((s) => s.asns.some((a) => a > 65535));

/** Path length for best-path and for the RFC 6793 merge: a set counts 1, confederation segments 0. */
export function asPathLength(path: AsPath): number {
  let n = 0;
  for (const s of path) n += s.type === AS_SEQUENCE ? s.asns.length : s.type === AS_SET ? 1 : 0;
  return n;
}

/**
 * RFC 6793 §4.2.3: rebuild the path an old (2-octet) speaker carried: keep the leading
 * (len(AS_PATH) − len(AS4_PATH)) AS numbers of AS_PATH and append AS4_PATH. When AS4_PATH is
 * longer, it is ignored.
 */
export function mergeAs4Path(asPath: AsPath, as4Path: AsPath): AsPath {
  const keep = asPathLength(asPath) - asPathLength(as4Path);
  if (keep < 0) return asPath;
  const out: AsPathSegment[] = [];
  let left = keep;
  for (const s of asPath) {
    if (s.type === AS_CONFED_SEQUENCE || s.type === AS_CONFED_SET) {
      out.push(s);
      continue;
    }
    if (left === 0) break;
    if (s.type === AS_SET) {
      out.push(s);
      left -= 1;
    } else if (s.asns.length <= left) {
      out.push(s);
      left -= s.asns.length;
    } else {
      out.push(Object.freeze({ type: s.type, asns: Object.freeze(s.asns.slice(0, left)) }));
      left = 0;
    }
  }
  // where the kept part meets AS4_PATH, two sequences are one segment (as the old speaker sent it)
  for (const [i, s] of as4Path.entries()) {
    const last = out[out.length - 1];
    if (i === 0 && keep > 0 && last && last.type === AS_SEQUENCE && s.type === AS_SEQUENCE && last.asns.length + s.asns.length <= 255) {
      out[out.length - 1] = Object.freeze({ type: AS_SEQUENCE, asns: Object.freeze([...last.asns, ...s.asns]) });
    } else out.push(s);
  }
  return Object.freeze(out);
}

/** `65001 65002 {65003,65004} (65010 65011) [65020]` — sets in braces, confed sequence in parentheses, confed set in brackets. */
export function formatAsPath(path: AsPath): string {
  return path
    .map((s) => {
      const t = s.asns.join(s.type === AS_SEQUENCE || s.type === AS_CONFED_SEQUENCE ? ' ' : ',');
      return s.type === AS_SEQUENCE ? t : s.type === AS_SET ? `{${t}}` : s.type === AS_CONFED_SEQUENCE ? `(${t})` : `[${t}]`;
    })
    .join(' ');
}

/** Parse the text form of formatAsPath (for configuration and tests). */
export function parseAsPath(text: string): AsPath {
  const segs: AsPathSegment[] = [];
  const re = /\s*(?:\{([^}]*)\}|\(([^)]*)\)|\[([^\]]*)\]|(\d+))/gy;
  let m: RegExpExecArray | null;
  let seq: number[] = [];
  const flush = () => {
    if (seq.length) segs.push(Object.freeze({ type: AS_SEQUENCE, asns: Object.freeze(seq) }));
    seq = [];
  };
  const list = (s: string, sep: RegExp) => s.trim().split(sep).filter(Boolean).map(Number);
  let last = 0;
  while ((m = re.exec(text))) {
    last = re.lastIndex;
    if (m[4] !== undefined) seq.push(Number(m[4]));
    else {
      flush();
      const [type, asns] =
        m[1] !== undefined ? [AS_SET, list(m[1], /[\s,]+/)] : m[2] !== undefined ? [AS_CONFED_SEQUENCE, list(m[2], /\s+/)] : [AS_CONFED_SET, list(m[3]!, /[\s,]+/)];
      segs.push(Object.freeze({ type: type as AsPathSegmentType, asns: Object.freeze(asns) }));
    }
  }
  if (text.slice(last).trim() !== '') throw new RangeError(`bad AS path: ${JSON.stringify(text)}`);
  flush();
  for (const s of segs) for (const a of s.asns) if (!Number.isInteger(a) || a < 0 || a > 0xffffffff) throw new RangeError(`bad AS number ${a} in ${JSON.stringify(text)}`);
  return Object.freeze(segs);
}
