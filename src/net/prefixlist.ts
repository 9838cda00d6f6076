// Prefix lists, the syntax of a peer's `importPrefixes`: `10.64.0.0/10`, `10.64.0.0/10 le 26`,
// `fd00::/8 ge 48 le 64`, or `{ prefix, ge?, le? }` — prefix-list semantics. Here (not in the
// RIB) because the configuration checks them when it loads.
import type { Family } from './ip.js';
import { parsePrefix, type Prefix, prefix4Length, prefix6Length } from './prefix.js';

/** One allowed range: the prefix and the lengths accepted inside it (prefix-list semantics). */
export interface ImportRange {
  readonly prefix: string;
  /** shortest length accepted; default the range's own length */
  readonly ge?: number;
  /** longest length accepted; default the family's maximum when `ge` is given, else the range's own length */
  readonly le?: number;
}

/** A compiled range: a prefix of `length` matches when ge ≤ its length ≤ le and it lies inside. */
export interface PrefixRange {
  readonly family: Family;
  readonly prefix: Prefix;
  readonly length: number;
  readonly ge: number;
  readonly le: number;
}

/** `10.64.0.0/10`, `10.64.0.0/10 le 26`, `fd00::/8 ge 48 le 64` → ImportRange; RangeError when malformed. */
export function parseImportRange(text: string): ImportRange {
  const words = text.trim().split(/\s+/);
  const out: { prefix: string; ge?: number; le?: number } = { prefix: words[0] ?? '' };
  for (let i = 1; i < words.length; i += 2) {
    const k = words[i]!.toLowerCase();
    const v = words[i + 1];
    if ((k !== 'ge' && k !== 'le') || v === undefined || !/^\d{1,3}$/.test(v) || out[k] !== undefined) throw new RangeError(`import prefix ${JSON.stringify(text)}: expected PREFIX [ge N] [le N], e.g. "10.64.0.0/10 le 26"`);
    out[k] = Number(v);
  }
  return out;
}

/** Compile one entry; RangeError naming it when malformed. */
export function compilePrefixRange(r: string | ImportRange): PrefixRange {
  const x = typeof r === 'string' ? parseImportRange(r) : r;
  const p = parsePrefix(String(x.prefix).trim());
  const shown = typeof r === 'string' ? r : JSON.stringify(r);
  if (p === undefined) throw new RangeError(`import prefix ${JSON.stringify(shown)}: ${JSON.stringify(x.prefix)} is not a prefix such as 10.64.0.0/10 (no host bits)`);
  const family: Family = typeof p === 'number' ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  const length = typeof p === 'number' ? prefix4Length(p) : prefix6Length(p);
  const ge = x.ge ?? length;
  const le = x.le ?? (x.ge !== undefined ? max : length);
  for (const v of [ge, le]) if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`import prefix ${shown}: length ${v} out of range 0–${max}`);
  if (!(length <= ge && ge <= le)) throw new RangeError(`import prefix ${shown}: expected ${length} ≤ ge (${ge}) ≤ le (${le})`);
  return { family, prefix: p, length, ge, le };
}

