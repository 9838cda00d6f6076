// Real bytes from BIRD 2, GoBGP and FRR: each daemon runs in a network namespace and talks
// to the test speaker; what it sends is decoded and checked against its configuration.
// With ROUTELET_WRITE_FIXTURES=1 the captures are also written to test/fixtures/bgp/, which
// fixtures.test.ts decodes without daemons.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeNotification, encodeKeepalive, type NotificationMessage } from '../../src/bgp/codec/index.js';
import { startDaemon, stopAllDaemons, waitFor } from '../support/daemons.js';
import { link, Netns } from '../support/netns.js';
import { TestSpeaker } from '../support/speaker.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { captureDaemon } from './capture.js';
import { checkCapture } from './check-capture.js';
import { birdConfig, frrConfig, plan, SPEAKER_ASN, SPEAKER_ID } from './daemon-configs.js';

const FIXTURES = new URL('../fixtures/bgp/', import.meta.url);
const cleanups: (() => unknown)[] = [];
const cleanup = (f: () => unknown) => cleanups.push(f);

beforeAll(() => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('birdc', 'bird2');
  requireCommand('gobgpd', 'gobgpd');
  requireCommand('vtysh', 'frr');
  requireCommand('/usr/lib/frr/bgpd', 'frr');
});

afterAll(async () => {
  for (const f of cleanups.reverse()) await f();
  await stopAllDaemons();
});

describe('real daemons talking to the test speaker', () => {
  for (const [n, kind] of (['bird', 'frr', 'gobgp'] as const).entries()) {
    it(`${kind}: OPEN, UPDATEs and End-of-RIB decode to exactly what it was configured to send`, async () => {
      const captures = await captureDaemon(kind, n + 1, cleanup);
      expect(captures.map((c) => c.family)).toEqual([4, 6]);
      for (const c of captures) {
        checkCapture(c);
        if (process.env.ROUTELET_WRITE_FIXTURES === '1') {
          if (!existsSync(FIXTURES)) mkdirSync(FIXTURES, { recursive: true });
          writeFileSync(new URL(`${kind}-ipv${c.family}.json`, FIXTURES), `${JSON.stringify(c, null, 2)}\n`);
        }
      }
    });
  }

  it('the speaker sends crafted octets: FRR answers a bad marker with the NOTIFICATION we decode and describe', async () => {
    const p = plan('frr', 4);
    const dns = new Netns('dfrrn');
    const sns = new Netns('sfrrn');
    cleanup(() => [dns, sns].forEach((ns) => ns.delete()));
    link(dns, `${p.v4}/24`, sns, `${p.peer4}/24`);
    const d = await startDaemon('frr', dns, frrConfig(p, 'fe80::1'));
    cleanup(() => d.stop());
    const s = await TestSpeaker.connect({ host: p.v4, netns: sns, asn: SPEAKER_ASN, routerId: SPEAKER_ID });
    cleanup(() => s.close());
    await s.establish();
    await waitFor('FRR to see the session Established', () => (/Established/.test(d.cli(`show bgp neighbors ${p.peer4}`)) ? true : undefined));
    const bad = encodeKeepalive();
    bad[3] = 0;
    s.sendRaw(bad);
    const n = (await s.next((m) => m.type === 'notification')) as NotificationMessage;
    expect(describeNotification(n)).toBe('Message Header Error/Connection Not Synchronized');
    await s.whenClosed();
  });

  it('runs several daemons of one kind at once in different namespaces, and stops them by PID', async () => {
    const nets = [new Netns('par1'), new Netns('par2')];
    cleanup(() => nets.forEach((ns) => ns.delete()));
    const ds = await Promise.all(nets.map((ns, i) => startDaemon('bird', ns, birdConfig(plan('bird', 10 + i)))));
    expect(new Set(ds.map((d) => d.dir)).size).toBe(2);
    expect(ds[0]!.pid).not.toBe(ds[1]!.pid);
    for (const [i, d] of ds.entries()) expect(d.cli('show status')).toContain(`Router ID is 10.255.0.${10 + i}`);
    await ds[0]!.stop();
    expect(ds[0]!.running).toBe(false);
    expect(existsSync(ds[0]!.dir)).toBe(false);
    expect(() => process.kill(ds[0]!.pid, 0)).toThrow();
    expect(ds[1]!.cli('show status')).toContain('Daemon is up and running');
    await ds[1]!.stop();
  });

  it('reports a daemon that cannot start, with its log', async () => {
    const ns = new Netns('bad');
    cleanup(() => ns.delete());
    await expect(startDaemon('bird', ns, 'router id 1.2.3.4;\nprotocol device {}\nthis is not bird syntax;\n')).rejects.toThrow(/bird exited during startup/);
  });
});
