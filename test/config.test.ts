import { describe, expect, it } from 'vitest';
import { ConfigError, KNOWN_VARIABLES, loadConfig, type Config, type HostFacts } from '../src/config/index.js';
import { formatCidr } from '../src/net/ip.js';

const files: Record<string, string> = {};
const host: HostFacts = {
  firstGlobalIPv4: () => '192.0.2.10',
  localAddresses: () => ['127.0.0.1', '192.0.2.10', '::1', 'fd00:99::10', 'fe80::99'],
  readFile: (p) => {
    if (p in files) return files[p]!;
    throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  },
  hostName: () => 'Worker-1',
};
const base = { ROUTELET_ASN: '65000' };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env }, host).config;
const fails = (env: Record<string, string>, variable: string) => {
  try {
    load(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).variable).toBe(variable);
    expect((e as ConfigError).message).toContain(variable);
    expect((e as ConfigError).message).toMatch(/expected/);
    return (e as ConfigError).message;
  }
  throw new Error(`expected ${variable} to be rejected for ${JSON.stringify(env)}`);
};

interface Case {
  variable: string;
  /** what the default config holds for it */
  def: (c: Config) => unknown;
  defValue: unknown;
  valid: [string, unknown];
  invalid: string[];
  extra?: Record<string, string>;
  /** a key: the error must not echo it */
  secret?: boolean;
}

const cases: Case[] = [
  { variable: 'ROUTELET_ROUTER_ID', def: (c) => c.routerId, defValue: '192.0.2.10', valid: ['10.1.2.3', '10.1.2.3'], invalid: ['10.1.2', '0.0.0.0', 'fd00::1'] },
  { variable: 'ROUTELET_LISTEN_ADDRESS', def: (c) => c.listen.address, defValue: '::', valid: ['10.0.0.1', '10.0.0.1'], invalid: ['localhost', '10.0.0.256'] },
  { variable: 'ROUTELET_LISTEN_PORT', def: (c) => c.listen.port, defValue: 179, valid: ['1179', 1179], invalid: ['0', '70000', 'bgp'] },
  { variable: 'ROUTELET_LISTEN_RANGE', def: (c) => c.listenRange.map(formatCidr), defValue: [], valid: ['10.0.0.0/16, fd00::/64', ['10.0.0.0/16', 'fd00::/64']], invalid: ['10.0.0.0', '10.0.0.1/16', '10.0.0.0/33'] },
  { variable: 'ROUTELET_LISTEN_ASN', def: (c) => c.listenAsn, defValue: 65000, valid: ['65001', 65001], invalid: ['0', 'abc'] },
  { variable: 'ROUTELET_RR_CLUSTER_ID', def: (c) => c.rrClusterId, defValue: undefined, valid: ['1.1.1.1', '1.1.1.1'], invalid: ['1.1.1', '0.0.0.0'] },
  { variable: 'ROUTELET_PASSWORD', def: (c) => c.password, defValue: undefined, valid: ['s3cret', 's3cret'], invalid: ['x'.repeat(81), 'k€y'.repeat(20)], secret: true },
  { variable: 'ROUTELET_HOLD_TIME', def: (c) => c.holdTime, defValue: 90, valid: ['0', 0], invalid: ['1', '2', '65536', '-3'] },
  { variable: 'ROUTELET_KEEPALIVE_TIME', def: (c) => c.keepaliveTime, defValue: undefined, valid: ['1', 1], invalid: ['0', '21846', 'fast'] },
  { variable: 'ROUTELET_TCP_USER_TIMEOUT', def: (c) => c.tcpUserTimeout, defValue: 5000, valid: ['300', 300], invalid: ['99', '600001', '1s'] },
  { variable: 'ROUTELET_CONNECT_RETRY', def: (c) => c.connectRetry, defValue: 5, valid: ['2', 2], invalid: ['0', 'soon'] },
  { variable: 'ROUTELET_CONNECT_RETRY_MAX', def: (c) => c.connectRetryMax, defValue: 60, valid: ['120', 120], invalid: ['0', '3'], extra: { ROUTELET_CONNECT_RETRY: '10' } },
  { variable: 'ROUTELET_GR', def: (c) => c.gr.enabled, defValue: true, valid: ['off', false], invalid: ['maybe'] },
  { variable: 'ROUTELET_GR_RESTART_TIME', def: (c) => c.gr.restartTime, defValue: 120, valid: ['300', 300], invalid: ['4096', 'x'] },
  { variable: 'ROUTELET_GR_WAIT', def: (c) => c.gr.wait, defValue: 240, valid: ['30', 30], invalid: ['-1', 'forever'] },
  { variable: 'ROUTELET_GR_FAST_UNLOCK', def: (c) => c.gr.fastUnlock, defValue: true, valid: ['off', false], invalid: ['sometimes'] },
  { variable: 'ROUTELET_ADVERTISE', def: (c) => c.advertise.map(formatCidr), defValue: [], valid: ['10.65.3.0/26,fd00:65::/112', ['10.65.3.0/26', 'fd00:65::/112']], invalid: ['10.65.3.1/26', 'pods'] },
  { variable: 'ROUTELET_KERNEL', def: (c) => c.kernel.enabled, defValue: true, valid: ['off', false], invalid: ['no-thanks'] },
  { variable: 'ROUTELET_KERNEL_TABLE', def: (c) => c.kernel.table, defValue: 254, valid: ['100', 100], invalid: ['0', 'no-such-table'] },
  { variable: 'ROUTELET_KERNEL_METRIC', def: (c) => c.kernel.metric, defValue: 32, valid: ['0', 0, '100', 4294967295], invalid: ['-1', '4294967296', 'low'] },
  { variable: 'ROUTELET_KERNEL_PROTOCOL', def: (c) => c.kernel.protocol, defValue: 201, valid: ['42', 42], invalid: ['0', '256', 'bird'] },
  { variable: 'ROUTELET_ECMP_MAX_PATHS', def: (c) => c.ecmpMaxPaths, defValue: 8, valid: ['1', 1], invalid: ['0', '257'] },
  { variable: 'ROUTELET_BPF', def: (c) => c.bpf, defValue: 'auto', valid: ['off', 'off'], invalid: ['yes'] },
  { variable: 'ROUTELET_BFD', def: (c) => c.bfd.enabled, defValue: true, valid: ['off', false], invalid: ['sometimes'] },
  { variable: 'ROUTELET_BFD_INTERVAL', def: (c) => c.bfd.interval, defValue: 300, valid: ['100', 100], invalid: ['9', '60001', '300ms'] },
  { variable: 'ROUTELET_BFD_MULTIPLIER', def: (c) => c.bfd.multiplier, defValue: 3, valid: ['5', 5], invalid: ['0', '256', 'x'] },
  { variable: 'ROUTELET_HTTP_ADDRESS', def: (c) => c.http, defValue: { host: '127.0.0.1', port: 9179 }, valid: ['[::1]:9180', { host: '::1', port: 9180 }], invalid: ['9180', 'localhost:9180', '127.0.0.1:99999'] },
  { variable: 'ROUTELET_LOG_LEVEL', def: (c) => c.logLevel, defValue: 'info', valid: ['debug', 'debug'], invalid: ['loud'] },
  { variable: 'ROUTELET_V8_WORKERS', def: (c) => c.v8Workers, defValue: 'batch', valid: ['Normal', 'normal'], invalid: ['idle', 'fifo'] },
  { variable: 'ROUTELET_KUBERNETES', def: (c) => c.kubernetes.enabled, defValue: false, valid: ['on', true], invalid: ['maybe', 'yes'] },
  { variable: 'ROUTELET_NODE_NAME', def: (c) => c.kubernetes.nodeName, defValue: 'worker-1', valid: ['node-7.rack-2', 'node-7.rack-2'], invalid: ['Not_A_Name', '-node', 'a'.repeat(254)] },
  { variable: 'ROUTELET_STATE_DIR', def: (c) => c.kubernetes.stateDir, defValue: '/var/lib/routelet', valid: ['/run/routelet', '/run/routelet'], invalid: ['relative/dir'] },
  { variable: 'ROUTELET_RR_NODE_SELECTOR', def: (c) => c.kubernetes.reflectors, defValue: { mode: 'mesh' }, valid: ['routelet.io/rr=true', { mode: 'selector', selector: [{ op: 'in', key: 'routelet.io/rr', values: ['true'] }] }], invalid: ['a=b=c', 'x in (a'] },
  { variable: 'ROUTELET_RR_AUTO', def: (c) => c.kubernetes.reflectors, defValue: { mode: 'mesh' }, valid: ['on', { mode: 'auto', count: 3 }], invalid: ['0', '65', 'some'] },
  { variable: 'ROUTELET_NODE_LEASE_GRACE', def: (c) => c.kubernetes.leaseGraceMs, defValue: 0, valid: ['10', 10_000], invalid: ['-1', '3601', '10s'] },
];

describe('configuration from the environment', () => {
  it('ROUTELET_ASN is required, asplain or asdot, 1–4294967295', () => {
    expect(() => loadConfig({}, host)).toThrow(/ROUTELET_ASN is required/);
    expect(load({ ROUTELET_ASN: '4200000000' }).asn).toBe(4200000000);
    expect(load({ ROUTELET_ASN: '65000.10' }).asn).toBe(65000 * 65536 + 10);
    for (const bad of ['x', '0', '4294967296', '65536.1', '1.2.3', '-1']) fails({ ROUTELET_ASN: bad }, 'ROUTELET_ASN');
  });

  for (const c of cases) {
    describe(c.variable, () => {
      it('has its default', () => expect(c.def(load(c.extra ?? {}))).toEqual(c.defValue));
      it('takes a valid value', () => expect(c.def(load({ ...c.extra, [c.variable]: c.valid[0] }))).toEqual(c.valid[1]));
      it('rejects invalid values naming the variable and the value', () => {
        for (const bad of c.invalid) {
          const msg = fails({ ...c.extra, [c.variable]: bad }, c.variable);
          if (c.secret) expect(msg).not.toContain(bad.slice(0, 8));
          else expect(msg).toContain(JSON.stringify(bad));
        }
      });
    });
  }

  it('the table covers every variable of the contract', () => {
    const tested = new Set(['ROUTELET_ASN', 'ROUTELET_PEERS', 'ROUTELET_PEERS_FILE', 'ROUTELET_PASSWORD_FILE', ...cases.map((c) => c.variable)]);
    expect(KNOWN_VARIABLES.filter((v) => v !== 'ROUTELET_ADDON_PATH' && !tested.has(v))).toEqual([]);
  });

  it('ROUTELET_ROUTER_ID fails when unset on a host without a global IPv4 address', () => {
    expect(() => loadConfig(base, { ...host, firstGlobalIPv4: () => undefined })).toThrow(/ROUTELET_ROUTER_ID/);
  });

  describe('ROUTELET_PEERS', () => {
    it('defaults to no peers', () => expect(load({}).peers).toEqual([]));
    it('parses IPv4, IPv4 with port, bracketed and bare IPv6, asdot', () => {
      const peers = load({ ROUTELET_PEERS: '10.0.0.2@65000, 10.0.0.3:1179@65001,[fd00::2]:1180@65002,FD00:0::3@1.10' }).peers;
      expect(peers.map((p) => [p.address, p.port, p.asn, p.ibgp, p.family])).toEqual([
        ['10.0.0.2', 179, 65000, true, 4],
        ['10.0.0.3', 1179, 65001, false, 4],
        ['fd00::2', 1180, 65002, false, 6],
        ['fd00::3', 179, 65546, false, 6],
      ]);
    });
    it('peers get the global hold time, password and GR setting', () => {
      const [p] = load({ ROUTELET_PEERS: '10.0.0.2@65000', ROUTELET_HOLD_TIME: '30', ROUTELET_PASSWORD: 'k', ROUTELET_GR: 'off' }).peers;
      expect(p).toMatchObject({ holdTime: 30, password: 'k', gracefulRestart: false, passive: false, routeReflectorClient: false });
    });
    it('iBGP peers are route-reflector clients in RR mode', () => {
      const peers = load({ ROUTELET_PEERS: '10.0.0.2@65000,10.0.0.3@65001', ROUTELET_RR_CLUSTER_ID: '1.1.1.1' }).peers;
      expect(peers.map((p) => p.routeReflectorClient)).toEqual([true, false]);
    });
    it('rejects malformed items', () => {
      for (const bad of ['10.0.0.2', '10.0.0.2@', 'host@65000', '10.0.0.2:0@65000', '[fd00::2@65000', '10.0.0.2@x']) fails({ ROUTELET_PEERS: bad }, 'ROUTELET_PEERS');
    });
  });

  describe('ROUTELET_PEERS_FILE', () => {
    it('reads YAML with per-peer options, and wins over ROUTELET_PEERS for the same peer', () => {
      files['/peers.yaml'] = [
        '- address: 10.0.0.2',
        '  asn: 65000',
        '  password: own',
        '  holdTime: 9',
        '  keepaliveTime: 1',
        '  passive: true',
        '  routeReflectorClient: false',
        '  ttlSecurity: true',
        '  gracefulRestart: false',
        '  maxPrefixes: 100',
        '- {address: "fd00::9", asn: "65009", port: 1179, multihop: 4, passwordFile: /key}',
      ].join('\n');
      files['/key'] = 'from-file\n';
      const c = load({ ROUTELET_PEERS: '10.0.0.2:1180@65000,10.0.0.7@65000', ROUTELET_PEERS_FILE: '/peers.yaml', ROUTELET_RR_CLUSTER_ID: '1.1.1.1' });
      const byAddr = Object.fromEntries(c.peers.map((p) => [p.address, p]));
      expect(c.peers).toHaveLength(3);
      expect(byAddr['10.0.0.2']).toMatchObject({ asn: 65000, port: 1180, password: 'own', holdTime: 9, keepaliveTime: 1, passive: true, routeReflectorClient: false, ttlSecurity: 1, gracefulRestart: false, maxPrefixes: 100 });
      expect(byAddr['10.0.0.7']).toMatchObject({ asn: 65000, routeReflectorClient: true });
      expect(byAddr['fd00::9']).toMatchObject({ asn: 65009, port: 1179, multihop: 4, password: 'from-file', family: 6 });
    });
    it('reads JSON', () => {
      files['/peers.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005 }]);
      expect(load({ ROUTELET_PEERS_FILE: '/peers.json' }).peers[0]).toMatchObject({ asn: 65005, keepaliveTime: undefined });
      files['/ka.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005, keepaliveTime: 0 }]);
      expect(fails({ ROUTELET_PEERS_FILE: '/ka.json' }, 'ROUTELET_PEERS_FILE')).toMatch(/keepaliveTime/);
    });
    it('takes per-peer BFD options over ROUTELET_BFD*, and refuses them out of range', () => {
      files['/bfd.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005, bfd: false }, { address: '10.0.0.6', asn: 65006, bfd: true, bfdInterval: 50, bfdMultiplier: 5 }, { address: '10.0.0.7', asn: 65007 }]);
      const c = load({ ROUTELET_PEERS_FILE: '/bfd.json', ROUTELET_BFD: 'off', ROUTELET_BFD_INTERVAL: '200' });
      expect(c.peers.map((p) => [p.bfd, p.bfdInterval, p.bfdMultiplier])).toEqual([[false, 200, 3], [true, 50, 5], [false, 200, 3]]);
      for (const bad of [{ bfdInterval: 5 }, { bfdMultiplier: 0 }, { bfd: 'yes' }]) {
        files['/bfd-bad.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005, ...bad }]);
        expect(fails({ ROUTELET_PEERS_FILE: '/bfd-bad.json' }, 'ROUTELET_PEERS_FILE')).toMatch(new RegExp(Object.keys(bad)[0]!));
      }
    });
    it('takes bfdAuth with its key inline (password) or from a file (passwordFile)', () => {
      files['/bfd-key'] = 'from-a-secret-20byte\n';
      files['/auth.yaml'] = [
        '- address: 10.0.0.5',
        '  asn: 65005',
        '  bfdAuth: { type: keyed-sha1, keyId: 5, password: s3cret }',
        '- address: 10.0.0.6',
        '  asn: 65006',
        '  bfdAuth: { type: meticulous-keyed-sha1, keyId: 0, passwordFile: /bfd-key }',
        '- address: 10.0.0.7',
        '  asn: 65007',
        '  bfdAuth: { type: simple, keyId: 255, password: sixteen-bytes-pw }',
        '- address: 10.0.0.8',
        '  asn: 65008',
      ].join('\n');
      const c = load({ ROUTELET_PEERS_FILE: '/auth.yaml' });
      expect(c.peers.map((p) => p.bfdAuth)).toEqual([
        { type: 'keyed-sha1', keyId: 5, key: 's3cret' },
        { type: 'meticulous-keyed-sha1', keyId: 0, key: 'from-a-secret-20byte' },
        { type: 'simple', keyId: 255, key: 'sixteen-bytes-pw' },
        undefined,
      ]);
      expect('bfdAuth' in c.peers[3]!).toBe(false);
      for (const type of ['keyed-md5', 'meticulous-keyed-md5']) {
        files['/md5.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005, bfdAuth: { type, keyId: 1, password: 'k' } }]);
        expect(load({ ROUTELET_PEERS_FILE: '/md5.json' }).peers[0]!.bfdAuth).toEqual({ type, keyId: 1, key: 'k' });
      }
    });
    it('refuses a bad bfdAuth naming the field, never echoing the key', () => {
      const bad = (auth: unknown) => {
        files['/auth-bad.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005 }, { address: '10.0.0.6', asn: 65006, bfdAuth: auth }]);
        const m = fails({ ROUTELET_PEERS_FILE: '/auth-bad.json' }, 'ROUTELET_PEERS_FILE');
        expect(m).not.toMatch(/\n/);
        return m;
      };
      expect(bad({ type: 'sha256', keyId: 1, password: 'k' })).toMatch(/peers\[1\]\.bfdAuth\.type: one of simple, keyed-md5, meticulous-keyed-md5, keyed-sha1, meticulous-keyed-sha1/);
      expect(bad({ type: 'keyed-sha1', password: 'k' })).toMatch(/peers\[1\]\.bfdAuth\.keyId/);
      expect(bad({ type: 'keyed-sha1', keyId: 256, password: 'k' })).toMatch(/peers\[1\]\.bfdAuth\.keyId/);
      expect(bad({ type: 'keyed-sha1', keyId: 1 })).toMatch(/peers\[1\]\.bfdAuth\.password: the key: one of password or passwordFile/);
      expect(bad({ type: 'keyed-sha1', keyId: 1, password: 'k', passwordFile: '/bfd-key' })).toMatch(/peers\[1\]\.bfdAuth\.password: the key: one of password or passwordFile/);
      expect(bad({ type: 'keyed-sha1', keyId: 1, secret: 'k' })).toMatch(/peers\[1\]\.bfdAuth.*secret/);
      const long = bad({ type: 'keyed-md5', keyId: 1, password: 'seventeen-bytes-k' });
      expect(long).toMatch(/peers\[1\]\.bfdAuth\.password: a keyed-md5 key of 1–16 bytes \(value hidden, 17 bytes\)/);
      expect(long).not.toContain('seventeen');
      expect(bad({ type: 'keyed-sha1', keyId: 1, password: 'twenty-one-bytes-key!' })).toMatch(/1–20 bytes \(value hidden, 21 bytes\)/);
      expect(bad({ type: 'keyed-sha1', keyId: 1, password: '' })).toMatch(/peers\[1\]\.bfdAuth\.password/);
      expect(bad({ type: 'keyed-sha1', keyId: 1, passwordFile: '/no-such-key' })).toMatch(/peers\[1\]\.bfdAuth\.passwordFile: a readable file \(ENOENT\)/);
      files['/long-key'] = 'x'.repeat(21) + '\n';
      const f = bad({ type: 'keyed-sha1', keyId: 1, passwordFile: '/long-key' });
      expect(f).toMatch(/peers\[1\]\.bfdAuth\.passwordFile: a file holding a keyed-sha1 key of 1–20 bytes \(\/long-key holds 21 bytes\)/);
      expect(f).not.toContain('xxxx');
      files['/empty-key'] = '\n';
      expect(bad({ type: 'simple', keyId: 1, passwordFile: '/empty-key' })).toMatch(/peers\[1\]\.bfdAuth\.passwordFile: .*holds 0 bytes/);
    });
    it('takes a per-peer TCP user timeout over ROUTELET_TCP_USER_TIMEOUT, and refuses one out of range', () => {
      files['/ut.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005, tcpUserTimeout: 500 }, { address: '10.0.0.6', asn: 65006 }]);
      const c = load({ ROUTELET_PEERS_FILE: '/ut.json', ROUTELET_TCP_USER_TIMEOUT: '300' });
      expect(c.peers.map((p) => p.tcpUserTimeout)).toEqual([500, 300]);
      // the default (5000 ms, chosen by bench:keepalive-loss), and 0 turns it off
      expect(load({ ROUTELET_PEERS_FILE: '/ut.json' }).peers[1]!.tcpUserTimeout).toBe(5000);
      expect(load({ ROUTELET_PEERS_FILE: '/ut.json', ROUTELET_TCP_USER_TIMEOUT: '0' }).peers.map((p) => p.tcpUserTimeout)).toEqual([500, 0]);
      files['/ut-bad.json'] = JSON.stringify([{ address: '10.0.0.5', asn: 65005, tcpUserTimeout: 50 }]);
      expect(fails({ ROUTELET_PEERS_FILE: '/ut-bad.json' }, 'ROUTELET_PEERS_FILE')).toMatch(/tcpUserTimeout/);
    });
    it('names the file and the bad entry', () => {
      files['/bad.yaml'] = '- address: 10.0.0.2\n  asn: 65000\n- address: 10.0.0.3\n  asn: banana\n';
      expect(fails({ ROUTELET_PEERS_FILE: '/bad.yaml' }, 'ROUTELET_PEERS_FILE')).toMatch(/peers\[1\]\.asn/);
      files['/typo.yaml'] = '- address: 10.0.0.2\n  asn: 65000\n  pasword: x\n';
      expect(fails({ ROUTELET_PEERS_FILE: '/typo.yaml' }, 'ROUTELET_PEERS_FILE')).toMatch(/pasword/);
      fails({ ROUTELET_PEERS_FILE: '/missing.yaml' }, 'ROUTELET_PEERS_FILE');
      files['/notyaml'] = 'a: [';
      fails({ ROUTELET_PEERS_FILE: '/notyaml' }, 'ROUTELET_PEERS_FILE');
    });
    it('a peer with a nodeSelector is kept apart for the Kubernetes mode, and refused without it', () => {
      files['/tor.yaml'] = '- address: 10.0.0.2\n  asn: 65000\n- address: 192.0.2.1\n  asn: 65100\n  nodeSelector: "routelet.io/rack in (r12,r13)"\n';
      const c = load({ ROUTELET_PEERS_FILE: '/tor.yaml', ROUTELET_KUBERNETES: 'on' });
      expect(c.peers.map((p) => p.address)).toEqual(['10.0.0.2']);
      expect(c.selectedPeers).toHaveLength(1);
      expect(c.selectedPeers[0]!.peer).toMatchObject({ address: '192.0.2.1', asn: 65100, ibgp: false });
      expect(c.selectedPeers[0]!.nodeSelector).toEqual([{ op: 'in', key: 'routelet.io/rack', values: ['r12', 'r13'] }]);
      expect(fails({ ROUTELET_PEERS_FILE: '/tor.yaml', ROUTELET_KUBERNETES: 'off' }, 'ROUTELET_PEERS_FILE')).toMatch(/nodeSelector.*Kubernetes mode/);
      files['/badsel.yaml'] = '- address: 192.0.2.1\n  asn: 65100\n  nodeSelector: "a=b=c"\n';
      expect(fails({ ROUTELET_PEERS_FILE: '/badsel.yaml', ROUTELET_KUBERNETES: 'on' }, 'ROUTELET_PEERS_FILE')).toMatch(/peers\[0\]\.nodeSelector/);
    });
  });

  describe('ROUTELET_PASSWORD_FILE', () => {
    it('defaults to unset, reads the key without its newline', () => {
      expect(load({}).password).toBeUndefined();
      files['/secret'] = 'mesh-key\n';
      expect(load({ ROUTELET_PASSWORD_FILE: '/secret' }).password).toBe('mesh-key');
    });
    it('fails for a missing file, and when both forms are set', () => {
      fails({ ROUTELET_PASSWORD_FILE: '/nope' }, 'ROUTELET_PASSWORD_FILE');
      files['/secret'] = 'k';
      fails({ ROUTELET_PASSWORD_FILE: '/secret', ROUTELET_PASSWORD: 'k' }, 'ROUTELET_PASSWORD_FILE');
    });
  });

  it('the result is deeply frozen', () => {
    const c = load({ ROUTELET_PEERS: '10.0.0.2@65000' });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.peers[0])).toBe(true);
    expect(Object.isFrozen(c.gr)).toBe(true);
  });

  it('warns about unknown ROUTELET_* variables with the nearest known name', () => {
    const { warnings } = loadConfig({ ...base, ROUTELET_HOLDTIME: '30', ROUTELET_PEER: 'x', OTHER: '1' }, host);
    expect(warnings).toEqual([
      'unknown variable ROUTELET_HOLDTIME is ignored; did you mean ROUTELET_HOLD_TIME?',
      'unknown variable ROUTELET_PEER is ignored; did you mean ROUTELET_PEERS?',
    ]);
  });

  describe('refuses peer addresses that cannot be peers, naming them', () => {
    const refused = (env: Record<string, string>, variable: string, address: string, why: RegExp) => {
      const msg = fails(env, variable);
      expect(msg).toContain(address);
      expect(msg).toMatch(why);
    };
    it('multicast, broadcast and unspecified addresses', () => {
      refused({ ROUTELET_PEERS: '10.0.0.2@65001,224.0.0.1@65001' }, 'ROUTELET_PEERS', '224.0.0.1', /multicast/);
      refused({ ROUTELET_PEERS: 'ff02::5@65001' }, 'ROUTELET_PEERS', 'ff02::5', /multicast/);
      refused({ ROUTELET_PEERS: '0.0.0.0@65001' }, 'ROUTELET_PEERS', '0.0.0.0', /unspecified/);
      refused({ ROUTELET_PEERS: '[::]:1179@65001' }, 'ROUTELET_PEERS', '::', /unspecified/);
      refused({ ROUTELET_PEERS: '255.255.255.255@65001' }, 'ROUTELET_PEERS', '255.255.255.255', /broadcast/);
      files['/mcast.yaml'] = '- address: 10.0.0.2\n  asn: 65001\n- address: 239.1.1.1\n  asn: 65001\n';
      refused({ ROUTELET_PEERS_FILE: '/mcast.yaml' }, 'ROUTELET_PEERS_FILE', '239.1.1.1', /multicast/);
    });
    it("the node's own addresses (injected host addresses)", () => {
      refused({ ROUTELET_PEERS: '192.0.2.10@65001' }, 'ROUTELET_PEERS', '192.0.2.10', /own/);
      refused({ ROUTELET_PEERS: '127.0.0.1:1179@65001' }, 'ROUTELET_PEERS', '127.0.0.1', /own/);
      refused({ ROUTELET_PEERS: 'FD00:99:0::10@65001' }, 'ROUTELET_PEERS', 'fd00:99::10', /own/);
      files['/own.json'] = JSON.stringify([{ address: '192.0.2.10', asn: 65001 }]);
      refused({ ROUTELET_PEERS_FILE: '/own.json' }, 'ROUTELET_PEERS_FILE', '192.0.2.10', /own/);
      expect(load({ ROUTELET_PEERS: '192.0.2.11@65001' }).peers).toHaveLength(1);
    });
    it('a link-local address, with or without a zone (not supported: exit 2 rather than EINVAL at connect)', () => {
      refused({ ROUTELET_PEERS: 'fe80::1%eth0@65001' }, 'ROUTELET_PEERS', 'fe80::1%eth0', /link-local/);
      refused({ ROUTELET_PEERS: '[fe80::1%eth0]:179@65001' }, 'ROUTELET_PEERS', 'fe80::1%eth0', /link-local/);
      refused({ ROUTELET_PEERS: 'fe80::1@65001' }, 'ROUTELET_PEERS', 'fe80::1', /link-local/);
      files['/ll.yaml'] = '- address: fe80::1%eth0\n  asn: 65001\n';
      refused({ ROUTELET_PEERS_FILE: '/ll.yaml' }, 'ROUTELET_PEERS_FILE', 'fe80::1%eth0', /link-local/);
    });
    it('the same address twice in ROUTELET_PEERS or in the file', () => {
      refused({ ROUTELET_PEERS: '10.0.0.2@65001,10.0.0.3@65001,10.0.0.2:1179@65001' }, 'ROUTELET_PEERS', '10.0.0.2', /twice/);
      refused({ ROUTELET_PEERS: 'fd00::2@65001,[FD00::2]@65002' }, 'ROUTELET_PEERS', 'fd00::2', /twice/);
      files['/dup.yaml'] = '- address: 10.0.0.2\n  asn: 65001\n- address: 10.0.0.2\n  asn: 65001\n  passive: true\n';
      refused({ ROUTELET_PEERS_FILE: '/dup.yaml' }, 'ROUTELET_PEERS_FILE', '10.0.0.2', /twice/);
    });
    it('the same address with another ASN in ROUTELET_PEERS and in the file', () => {
      files['/other-asn.yaml'] = '- address: 10.0.0.2\n  asn: 65000\n';
      const msg = fails({ ROUTELET_PEERS: '10.0.0.2@65001', ROUTELET_PEERS_FILE: '/other-asn.yaml' }, 'ROUTELET_PEERS_FILE');
      expect(msg).toContain('10.0.0.2');
      expect(msg).toMatch(/65001/);
    });
  });

  describe('AS numbers in the peers file', () => {
    it('refuses an unquoted asdot number (YAML reads 65000.10 as 65000.1), telling to quote it', () => {
      for (const asn of ['65000.10', '1.5', '65000.1']) {
        files['/asdot.yaml'] = `- address: 10.0.0.2\n  asn: ${asn}\n`;
        const msg = fails({ ROUTELET_PEERS_FILE: '/asdot.yaml' }, 'ROUTELET_PEERS_FILE');
        expect(msg).toMatch(/peers\[0\]\.asn/);
        expect(msg).toMatch(/quote/);
      }
      files['/asdot.json'] = JSON.stringify([{ address: '10.0.0.2', asn: 1.5 }]);
      expect(fails({ ROUTELET_PEERS_FILE: '/asdot.json' }, 'ROUTELET_PEERS_FILE')).toMatch(/quote/);
    });
    it('takes a quoted asdot number and a plain integer', () => {
      files['/asdot-ok.yaml'] = '- address: 10.0.0.2\n  asn: "65000.10"\n- address: 10.0.0.3\n  asn: 4200000000\n';
      expect(load({ ROUTELET_PEERS_FILE: '/asdot-ok.yaml' }).peers.map((p) => p.asn)).toEqual([65000 * 65536 + 10, 4200000000]);
    });
  });
});
