// Capture what a real daemon sends to the test speaker: one namespace for the daemon, one
// for the speaker, a veth between them, one BGP session per family (IPv4 over IPv4, IPv6
// over IPv6 so the daemon adds its link-local next hop). Used by daemons.test.ts, which
// also writes the captures as fixtures when ROUTELET_WRITE_FIXTURES=1.
import { birdConfig, frrConfig, gobgpConfig, gobgpRoutes, type Kind, plan, type Plan, SPEAKER_ASN, SPEAKER_ID } from './daemon-configs.js';
import type { Capability, CodecOptions } from '../../src/bgp/codec/index.js';
import { startDaemon, type Daemon } from '../support/daemons.js';
import { link, Netns } from '../support/netns.js';
import { TestSpeaker } from '../support/speaker.js';

export interface Capture {
  daemon: Kind;
  version: string;
  family: 4 | 6;
  plan: Plan;
  /** the daemon's link-local address on the link (its IPv6 next hop's second half) */
  linkLocal: string;
  speakerCapabilities: Capability[];
  options: CodecOptions;
  config: string;
  commands: string[];
  /** every octet the daemon sent on the session, hex */
  rx: string;
}

export const SPEAKER_CAPS: Capability[] = [
  { kind: 'multiprotocol', afi: 1, safi: 1 },
  { kind: 'multiprotocol', afi: 2, safi: 1 },
  { kind: 'route-refresh' },
  { kind: 'enhanced-route-refresh' },
  { kind: 'as4', asn: SPEAKER_ASN },
  { kind: 'graceful-restart', restarting: false, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }, { afi: 2, safi: 1, forwarding: true }] },
  { kind: 'add-path', families: [{ afi: 1, safi: 1, send: true, receive: true }, { afi: 2, safi: 1, send: true, receive: true }] },
  { kind: 'extended-next-hop', families: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
  { kind: 'extended-message' },
  { kind: 'long-lived-graceful-restart', families: [{ afi: 1, safi: 1, forwarding: true, staleTime: 3600 }, { afi: 2, safi: 1, forwarding: true, staleTime: 3600 }] },
];

function version(kind: Kind, ns: Netns): string {
  const out = (cmd: string, args: string[]) => ns.exec(cmd, args, { allowFail: true });
  if (kind === 'bird') return (out('bird', ['--version']) || ns.exec('sh', ['-c', 'bird --version 2>&1'])).trim();
  if (kind === 'gobgp') return out('gobgpd', ['--version']).trim();
  return out('/usr/lib/frr/bgpd', ['--version']).split('\n')[0]!.trim();
}

/** Start `kind`, hold one session per family with the speaker until End-of-RIB, return the captures. */
export async function captureDaemon(kind: Kind, n: number, cleanup: (f: () => unknown) => void): Promise<Capture[]> {
  const p = plan(kind, n);
  const dns = new Netns(`d${kind.slice(0, 2)}`);
  const sns = new Netns(`s${kind.slice(0, 2)}`);
  cleanup(() => {
    dns.delete();
    sns.delete();
  });
  // no duplicate address detection: link-local addresses usable at once
  for (const ns of [dns, sns]) ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
  const { aDev } = link(dns, [`${p.v4}/24`, `${p.v6}/64`], sns, [`${p.peer4}/24`, `${p.peer6}/64`]);
  const linkLocal = dns.json<{ addr_info: { family: string; scope: string; local: string }[] }[]>('addr', 'show', 'dev', aDev)[0]!.addr_info.find((a) => a.family === 'inet6' && a.scope === 'link')!.local;
  const config = kind === 'bird' ? birdConfig(p) : kind === 'frr' ? frrConfig(p, linkLocal) : gobgpConfig(p);
  const daemon: Daemon = await startDaemon(kind, dns, config);
  cleanup(() => daemon.stop());
  const commands = kind === 'gobgp' ? gobgpRoutes(p) : [];
  for (const c of commands) daemon.cli(c);
  const captures: Capture[] = [];
  for (const family of [4, 6] as const) {
    const s = await TestSpeaker.connect({ host: family === 4 ? p.v4 : p.v6, netns: sns, asn: SPEAKER_ASN, routerId: SPEAKER_ID, holdTime: 90, capabilities: SPEAKER_CAPS });
    cleanup(() => s.close());
    await s.establish();
    // a daemon with graceful restart ends its initial table with End-of-RIB (RFC 4724 §4)
    await s.next((m) => m.type === 'update' && m.endOfRib === family, 30_000);
    await s.close();
    captures.push({
      daemon: kind,
      version: version(kind, dns),
      family,
      plan: p,
      linkLocal,
      speakerCapabilities: SPEAKER_CAPS,
      options: s.options,
      config,
      commands,
      rx: s.rx.toString('hex'),
    });
  }
  return captures;
}
