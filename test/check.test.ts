// `routelet agent --check`: every probe performs its operation for real, and fails when the
// kernel refuses it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probes } from '../src/native/probes.js';
import type { CapabilityResult } from '../src/agent/check.js';
import { routelet } from './support/cli.js';
import { Netns } from './support/netns.js';
import { requireCommand, requireRoot } from './support/privileges.js';

const byName = (stdout: string) => Object.fromEntries((JSON.parse(stdout) as CapabilityResult[]).map((r) => [r.name, r]));

describe('routelet agent --check', () => {
  beforeAll(() => {
    requireRoot();
    requireCommand('setpriv', 'util-linux');
  });

  it('reports every capability working on this machine and exits 0', () => {
    const r = routelet(['agent', '--check', '--json'], { ROUTELET_BPF: 'on' });
    expect(r.stderr).toBe('');
    const res = byName(r.stdout);
    for (const name of ['rtnetlink', 'tp_btf', 'sockops', 'tcp-md5', 'gtsm']) expect(res[name], name).toMatchObject({ ok: true });
    expect(res.tp_btf.message).toMatch(/saw [1-9]\d* state changes/);
    expect(res.sockops.message).toMatch(/saw [1-9]\d* callbacks/);
    expect(r.status).toBe(0);
    const text = routelet(['agent', '--check']);
    expect(text.stdout).toMatch(/^ok +rtnetlink/m);
    expect(text.stdout).toMatch(/all required capabilities work/);
  });

  it('without privileges: rtnetlink and BPF fail with EPERM, and the command exits 1', () => {
    const r = routelet(['agent', '--check', '--json'], {}, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all']);
    const res = byName(r.stdout);
    expect(res.rtnetlink).toMatchObject({ ok: false, code: 'EPERM', syscall: 'unshare', required: true });
    expect(res.tp_btf).toMatchObject({ ok: false, code: 'EPERM', required: false });
    expect(res.sockops).toMatchObject({ ok: false, code: 'EPERM' });
    expect(r.status).toBe(1);
    // with the kernel off and BPF on auto, nothing failing is required
    expect(routelet(['agent', '--check'], { ROUTELET_KERNEL: 'off' }, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']).status).toBe(0);
    // with BPF required, its failure fails the check
    expect(routelet(['agent', '--check'], { ROUTELET_KERNEL: 'off', ROUTELET_BPF: 'on' }, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']).status).toBe(1);
  });

  it('with a missing kernel BTF the tp_btf load fails with ENOENT', () => {
    const r = routelet(['agent', '--check', '--json', '--btf', '/nonexistent/vmlinux'], { ROUTELET_BPF: 'on' });
    const res = byName(r.stdout);
    expect(res.tp_btf).toMatchObject({ ok: false, code: 'ENOENT', syscall: 'bpf(BPF_PROG_LOAD)' });
    expect(res.tp_btf.message).toMatch(/BTF/);
    expect(r.status).toBe(1);
  });

  it('with a missing cgroup directory the sockops attach fails with ENOENT', () => {
    const res = byName(routelet(['agent', '--check', '--json', '--cgroup', '/nonexistent/cgroup']).stdout);
    expect(res.sockops).toMatchObject({ ok: false, code: 'ENOENT', syscall: 'open' });
  });

  describe('in a namespace whose socket option memory is too small for an MD5 key', () => {
    let ns: Netns;
    beforeAll(() => {
      ns = new Netns('chk');
      ns.exec('sysctl', ['-qw', 'net.core.optmem_max=64']);
    });
    afterAll(() => ns?.delete());

    it('tcp-md5 fails with ENOMEM and the command exits 1', () => {
      const r = routelet(['agent', '--check', '--json'], {}, ['ip', 'netns', 'exec', ns.name]);
      const res = byName(r.stdout);
      expect(res['tcp-md5']).toMatchObject({ ok: false, code: 'ENOMEM', syscall: 'setsockopt(TCP_MD5SIG)' });
      // the rest still works there, including sockops on a privately mounted cgroup2
      expect(res.rtnetlink?.ok).toBe(true);
      expect(res.tp_btf?.ok).toBe(true);
      expect(res.sockops?.ok).toBe(true);
      expect(r.status).toBe(1);
    });
  });

  it('probes report kernel refusals of their socket options', () => {
    expect(probes.minTtl(255).ok).toBe(true);
    expect(probes.minTtl(256)).toMatchObject({ ok: false, code: 'EINVAL', errno: -22, syscall: 'setsockopt(IP_MINTTL)' });
    expect(probes.tcpMd5(80).ok).toBe(true);
    expect(probes.tcpMd5(81)).toMatchObject({ ok: false, code: 'EINVAL', syscall: 'setsockopt(TCP_MD5SIG)' });
  });
});

describe('routelet agent', () => {
  it('exits 2 naming ROUTELET_ASN when it is not a number', () => {
    const r = routelet(['agent'], { ROUTELET_ASN: 'x' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ROUTELET_ASN="x".*expected/);
  });

  it('exits 2 for an unknown flag or command', () => {
    expect(routelet(['agent', '--bogus']).status).toBe(2);
    expect(routelet(['frobnicate']).status).toBe(2);
  });
});
