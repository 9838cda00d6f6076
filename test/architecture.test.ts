// The shape of src/ (docs/ARCHITECTURE.md): no import circles, and no import from a lower
// layer to a higher one — cli → lab → agent/http → kubernetes/peers → gr/health/fib/rib →
// bgp → native/net/config/api (bfd beside health: peer-health evidence). Type-only imports count: a circle of types is still a circle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = new URL('../src', import.meta.url).pathname;
const RANK: Record<string, number> = {
  cli: 7,
  lab: 6,
  agent: 5,
  http: 5,
  kubernetes: 4,
  peers: 4,
  gr: 3,
  health: 3,
  bfd: 3,
  fib: 3,
  rib: 3,
  bgp: 2,
  native: 1,
  net: 1,
  config: 1,
  api: 1,
  sys: 1,
  log: 1,
};

function graph(): Map<string, string[]> {
  const files: string[] = [];
  (function walk(d: string) {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  })(src);
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const to = (spec: string) => relative(src, resolve(dirname(f), spec)).replace(/\.js$/, '.ts');
    const out = [...text.matchAll(/^\s*(?:import|export)\s+(?:type\s+)?[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) => to(m[1]!));
    out.push(...[...text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => to(m[1]!)));
    edges.set(relative(src, f), out);
  }
  return edges;
}

const layer = (file: string) => file.split('/')[0]!.replace(/\.ts$/, '');

describe('src/ architecture', () => {
  const edges = graph();

  it('reads the whole tree (a sanity check of the parser)', () => {
    expect(edges.size).toBeGreaterThan(100);
    expect(edges.get('agent/agent.ts')).toContain('fib/index.ts');
  });

  it('every top-level folder has a layer, and no import points to a higher layer', () => {
    const problems: string[] = [];
    for (const [f, out] of edges)
      for (const t of out) {
        const a = RANK[layer(f)];
        const b = RANK[layer(t)];
        if (a === undefined || b === undefined) problems.push(`no layer for ${a === undefined ? f : t}`);
        else if (b > a) problems.push(`${f} imports ${t}, a higher layer`);
      }
    expect(problems).toEqual([]);
  });

  it('has no import circles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 1 | 2>();
    const stack: string[] = [];
    const dfs = (f: string) => {
      state.set(f, 1);
      stack.push(f);
      for (const t of edges.get(f) ?? []) {
        if (!edges.has(t)) continue;
        if (state.get(t) === 1) cycles.push([...stack.slice(stack.indexOf(t)), t].join(' → '));
        else if (!state.has(t)) dfs(t);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of edges.keys()) if (!state.has(f)) dfs(f);
    expect(cycles).toEqual([]);
  });
});
