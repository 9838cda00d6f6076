// The `routelet` command's own surface: usage for every command and flag, --version, and
// configuration mistakes that end with exit 2 and one line (never a stack trace or a secret).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, routelet } from './support/cli.js';
import { requireRoot } from './support/privileges.js';

const COMMANDS = ['agent', 'status', 'routes', 'bench', 'lab'];

/** The flags a command's source declares to parseArgs (`name: { type: … }`). */
function declaredFlags(command: string): string[] {
  const src = readFileSync(join(ROOT, 'src', 'cli', `${command}.ts`), 'utf8');
  return [...src.matchAll(/'?\b([a-z][\w-]*)'?: \{ type: '(?:boolean|string)'/g)].map((m) => `--${m[1]}`);
}

describe('routelet --help and <command> --help', () => {
  it('routelet --help lists every command and exits 0', () => {
    const r = routelet(['--help']);
    expect(r.status).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`routelet ${c}`);
    expect(r.stdout).toContain('--version');
  });

  for (const c of COMMANDS) {
    it(`routelet ${c} --help (and -h) prints its usage with every flag and exits 0`, () => {
      const flags = declaredFlags(c);
      expect(flags.length).toBeGreaterThan(0);
      const all = routelet(['--help']).stdout;
      for (const args of [[c, '--help'], [c, '-h'], ['help', c], ...(c === 'bench' ? [['bench', 'fib', '--help']] : [])]) {
        const r = routelet(args);
        expect(r.status, args.join(' ')).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout).toMatch(new RegExp(`^usage: routelet ${c}\\b`));
        for (const f of flags) {
          expect(r.stdout, `${c} ${f}`).toContain(f);
          expect(all, `routelet --help: ${c} ${f}`).toContain(f);
        }
      }
    });
  }

  it('an unknown option exits 2 with one line naming it and where the usage is', () => {
    const r = routelet(['status', '--bogus']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('routelet: routelet status: unknown option --bogus; see routelet status --help\n');
    const v = routelet(['routes', '--prefix']);
    expect(v.status).toBe(2);
    expect(v.stderr).toBe('routelet: routelet routes: option --prefix needs a value; see routelet routes --help\n');
  });

  it('routelet bench fib with a bad ROUTELET_V8_WORKERS exits 2 naming it, before it builds anything', () => {
    const r = routelet(['bench', 'fib', '--routes', '1'], { ROUTELET_V8_WORKERS: 'idle' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('routelet: ROUTELET_V8_WORKERS: expected "batch" or "normal", got "idle"\n');
  });

  it('routelet bench fib with a --floor that does not exist stops naming it, and looks for no other', () => {
    requireRoot();
    const r = routelet(['bench', 'fib', '--routes', '1', '--floor', '/nonexistent/netlink-floor']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('the reference loader netlink-floor was not found at /nonexistent/netlink-floor (--floor)');
    expect(r.stdout).toBe('');
  });

  it('routelet --version prints the package version and exits 0', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = routelet([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`routelet ${version}\n`);
    }
  });
});

describe('configuration mistakes end routelet agent with exit 2 and one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'routelet-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // no BPF, no kernel routes, an HTTP port of its own: the agent would start if the configuration were good
  const env = { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '10.0.0.1', ROUTELET_BPF: 'off', ROUTELET_KERNEL: 'off', ROUTELET_HTTP_ADDRESS: '127.0.0.1:0' };
  const refused = (extra: Record<string, string>) => {
    const r = routelet(['agent'], { ...env, ...extra });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    return r.stderr;
  };

  it('a multicast or unspecified peer address, named', () => {
    expect(refused({ ROUTELET_PEERS: '224.0.0.1@65001' })).toMatch(/ROUTELET_PEERS.*224\.0\.0\.1 is a multicast address/);
    expect(refused({ ROUTELET_PEERS: '0.0.0.0@65001' })).toMatch(/0\.0\.0\.0 is the unspecified address/);
  });

  it("the node's own address, and a link-local peer with a zone", () => {
    expect(refused({ ROUTELET_PEERS: '127.0.0.1:1179@65001' })).toMatch(/127\.0\.0\.1 is one of this node's own addresses/);
    expect(refused({ ROUTELET_PEERS: 'fe80::1%lo@65001' })).toMatch(/fe80::1%lo is link-local/);
  });

  it('an unquoted asdot ASN in a YAML peers file, telling to quote it', () => {
    const file = join(dir, 'peers.yaml');
    writeFileSync(file, '- address: 10.0.0.2\n  asn: 65000.10\n');
    expect(refused({ ROUTELET_PEERS_FILE: file })).toMatch(/peers\[0\]\.asn.*quote asdot/);
  });

  it('a bad bfdAuth in the peers file (type, missing key, over-long key), naming the field and never the key', () => {
    const file = join(dir, 'bfd-auth.json');
    const write = (bfdAuth: unknown) => writeFileSync(file, JSON.stringify([{ address: '10.0.0.2', asn: 65001, bfdAuth }]));
    write({ type: 'keyed-sha256', keyId: 1, password: 'k' });
    expect(refused({ ROUTELET_PEERS_FILE: file })).toMatch(/ROUTELET_PEERS_FILE.*peers\[0\]\.bfdAuth\.type: one of simple, keyed-md5/);
    write({ type: 'keyed-sha1', keyId: 1 });
    expect(refused({ ROUTELET_PEERS_FILE: file })).toMatch(/peers\[0\]\.bfdAuth\.password: the key: one of password or passwordFile/);
    write({ type: 'keyed-sha1', keyId: 1, password: 'Sup3r-secret-over-20-bytes' });
    const line = refused({ ROUTELET_PEERS_FILE: file });
    expect(line).toMatch(/peers\[0\]\.bfdAuth\.password: a keyed-sha1 key of 1–20 bytes \(value hidden, 26 bytes\)/);
    expect(line).not.toContain('Sup3r');
  });

  it('an over-long ROUTELET_PASSWORD without echoing it', () => {
    const secret = `Sup3r-${'s'.repeat(80)}`;
    const line = refused({ ROUTELET_PASSWORD: secret });
    expect(line).toMatch(/ROUTELET_PASSWORD/);
    expect(line).not.toContain('Sup3r');
  });
});
