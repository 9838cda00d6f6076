// Kubernetes label selectors in their text form (the `-l` of kubectl, the labelSelector query
// parameter): comma-separated requirements, each `key`, `!key`, `key=value`, `key==value`,
// `key!=value`, `key in (a,b)` or `key notin (a,b)`; all must hold. No I/O.

export type Requirement =
  | { readonly op: 'exists' | 'notexists'; readonly key: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] };

export type LabelSelector = readonly Requirement[];

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Split at commas outside parentheses. */
function split(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Parse a selector; undefined if it is not one. The empty text selects everything. */
export function parseSelector(text: string): LabelSelector | undefined {
  if (text.trim() === '') return [];
  const reqs: Requirement[] = [];
  for (const part of split(text)) {
    const p = part.trim();
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/))) {
      const values = m[3]!.split(',').map((s) => s.trim());
      if (!KEY.test(m[1]!) || !values.every((v) => VALUE.test(v))) return undefined;
      reqs.push({ op: m[2] as 'in' | 'notin', key: m[1]!, values });
    } else if ((m = p.match(/^([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)$/))) {
      if (!KEY.test(m[1]!) || !VALUE.test(m[3]!)) return undefined;
      reqs.push({ op: m[2] === '!=' ? 'notin' : 'in', key: m[1]!, values: [m[3]!] });
    } else if ((m = p.match(/^!\s*(\S+)$/))) {
      if (!KEY.test(m[1]!)) return undefined;
      reqs.push({ op: 'notexists', key: m[1]! });
    } else if (KEY.test(p)) {
      reqs.push({ op: 'exists', key: p });
    } else return undefined;
  }
  return reqs;
}

export function matches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'notexists':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]!);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]!);
    }
  });
}
