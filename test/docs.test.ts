// The documentation stands on its own: the configuration reference is what the schemas say,
// every variable routelet reads is in it, and every link resolves inside the repository.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_VARIABLES, loadConfig, type HostFacts } from '../src/config/index.js';
import { configurationReference, peerOptionDocs, PLANNED_VARIABLES, variableDocs } from '../src/config/reference.js';
import { ROOT } from './support/cli.js';

const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** Every file under dir (relative to ROOT) whose name passes keep; node_modules and build output left out. */
function walk(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!['node_modules', 'dist', 'build', '.git'].includes(e.name)) out.push(...walk(p, keep));
    } else if (keep(e.name)) out.push(p);
  }
  return out;
}

/** ROUTELET_* names read from the environment anywhere in src/ and bin/. */
function variablesRead(): Set<string> {
  const names = new Set<string>(KNOWN_VARIABLES);
  for (const f of [...walk('src', (n) => n.endsWith('.ts')), ...walk('bin', (n) => n.endsWith('.js'))]) {
    for (const m of read(f).matchAll(/env(?:\.|\[['"])(ROUTELET_[A-Z0-9_]+)/g)) names.add(m[1]!);
  }
  return names;
}

describe('docs/CONFIGURATION.md', () => {
  const committed = read('docs/CONFIGURATION.md');

  it('is what `npm run docs:config` generates from the schema', () => {
    expect(committed).toBe(configurationReference());
  });

  it('documents every ROUTELET_* variable routelet reads', () => {
    const documented = new Set([...committed.matchAll(/^### (ROUTELET_[A-Z0-9_]+)$/gm)].map((m) => m[1]!));
    const read = [...variablesRead()];
    expect(read.length).toBeGreaterThan(25);
    expect(read.filter((v) => !documented.has(v))).toEqual([]);
  });

  it('gives every variable a default, a range, an example and a description', () => {
    for (const [name, d] of variableDocs()) {
      for (const field of ['default', 'range', 'example', 'description'] as const)
        expect(d[field].trim().length, `${name}.${field}`).toBeGreaterThan(0);
    }
  });

  it('documents every option of the peers file', () => {
    const documented = new Set(peerOptionDocs().map(([n]) => n));
    expect([...committed.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!)).toEqual([...documented]);
    expect(documented.has('tcpUserTimeout')).toBe(true);
  });

  it('states the real defaults: setting a variable to its documented default changes nothing', () => {
    const host: HostFacts = { firstGlobalIPv4: () => '192.0.2.10', localAddresses: () => ['192.0.2.10'], readFile: () => '' };
    const base = { ROUTELET_ASN: '65000', ROUTELET_PEERS: '10.0.0.2@65001' };
    const plain = loadConfig(base, host).config;
    const withDefaults = variableDocs().filter(([, d]) => d.defaultValue !== undefined);
    expect(withDefaults.length).toBeGreaterThan(10);
    for (const [name, d] of withDefaults) expect(loadConfig({ ...base, [name]: d.defaultValue }, host).config, name).toEqual(plain);
  });

  it('each example is a valid value', () => {
    const host: HostFacts = { firstGlobalIPv4: () => '192.0.2.10', localAddresses: () => ['192.0.2.10'], readFile: () => 'key' };
    for (const [name, d] of variableDocs()) {
      const env = { ROUTELET_ASN: '65000', [name]: d.example };
      if (name === 'ROUTELET_PASSWORD_FILE') continue; // a file: its reading is tested in config.test.ts
      if (name === 'ROUTELET_PEERS_FILE') continue;
      expect(() => loadConfig(env, host), name).not.toThrow();
    }
  });

  it('the planned variables are not read yet (else they belong to the schema)', () => {
    const read = variablesRead();
    expect(PLANNED_VARIABLES.filter((v) => read.has(v))).toEqual([]);
  });
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchors(file: string): Set<string> {
  const text = read(file).replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

describe('links in the documentation', () => {
  const files = walk('.', (n) => n.endsWith('.md'));

  it('covers the README, docs/ and the READMEs under src/', () => {
    for (const f of ['README.md', 'docs/CONTRACT.md', 'docs/CONFIGURATION.md', 'docs/ARCHITECTURE.md', 'docs/DEVELOPING.md', 'src/gr/README.md'])
      expect(files).toContain(f);
  });

  it('every relative link resolves to a file inside the repository, and every anchor to a heading', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const f of files) {
      const text = read(f).replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        checked++;
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? f : normalize(join(dirname(f), path));
        if (resolved.startsWith('..') || !existsSync(join(ROOT, resolved))) broken.push(`${f}: ${target} (outside the repository or missing)`);
        else if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) broken.push(`${f}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });
});

describe('docs/CONTRACT.md', () => {
  it('every ROUTELET_* variable it names is read by this version or listed as planned', () => {
    const named = new Set([...read('docs/CONTRACT.md').matchAll(/ROUTELET_[A-Z0-9_]+/g)].map((m) => m[0]));
    const known = new Set([...variablesRead(), ...PLANNED_VARIABLES]);
    expect([...named].filter((v) => !known.has(v))).toEqual([]);
    for (const [v] of variableDocs()) expect(named.has(v), v).toBe(true);
  });
});
