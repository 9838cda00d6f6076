// The lab's network. A, B and a router R share one LAN (a bridge inside a switch namespace
// S); node C hangs off R on its own link, with an address of the LAN that R answers ARP for
// (proxy ARP, as routed-to-the-host fabrics do). So A sees C on its LAN (next hops resolve
// as for B) while C's host can fail behind a router that reports it. Namespaces are uniquely
// named and deleted at the end (and at process exit, even after a failure or Ctrl-C).
// Node C dies in the ways the issue names, each produced for real:
//   refused      its BGP daemon is killed: the host answers SYNs with RST (ECONNREFUSED)
//   unreachable  its daemon is killed and its link goes down (the host is off): R loses the
//                carrier, its ARP for C fails, it answers A with ICMP host unreachable
//                (EHOSTUNREACH on A's connects)
//   drop         C silently drops everything for A (a blackhole route, like a security-group
//                cut; this kernel has no tc drop action): no answer, no error
//   vanish       its link goes down while its session is Established: A's segments get ICMP
//                host unreachable from R (a soft error on an established socket)
import { type Daemon, startDaemon } from './daemons.js';
import { LAN, birdB, birdC } from './configs.js';
import { Netns, link } from './netns.js';

export type DeadMode = 'refused' | 'unreachable' | 'drop' | 'vanish';

export class LabTopology {
  readonly s: Netns;
  readonly r: Netns;
  readonly a: Netns;
  readonly b: Netns;
  readonly c: Netns;
  /** A's interface on the LAN */
  readonly aDev: string;
  #cDev = '';
  bird: { b?: Daemon; c?: Daemon } = {};
  #cPassive = false;

  constructor() {
    this.s = new Netns('labS');
    this.r = new Netns('labR');
    this.a = new Netns('labA');
    this.b = new Netns('labB');
    this.c = new Netns('labC');
    try {
      this.s.ip('link', 'add', 'br0', 'type', 'bridge');
      this.s.ip('link', 'set', 'br0', 'up');
      this.aDev = this.#attach(this.a, `${LAN.a}/${LAN.length}`);
      this.#attach(this.b, `${LAN.b}/${LAN.length}`);
      this.#attach(this.r, `${LAN.r}/${LAN.length}`);
      const { aDev: cDev, bDev: rDev } = link(this.c, `${LAN.c}/${LAN.length}`, this.r, []);
      this.#cDev = cDev;
      this.r.ip('route', 'add', `${LAN.c}/32`, 'dev', rDev);
      for (const k of ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.proxy_arp=1']) this.r.exec('sysctl', ['-qw', k]);
    } catch (e) {
      for (const n of [this.s, this.r, this.a, this.b, this.c]) n?.delete();
      throw e;
    }
  }

  #attach(ns: Netns, address: string): string {
    const { aDev, bDev } = link(ns, address, this.s, []);
    this.s.ip('link', 'set', bDev, 'master', 'br0');
    return aDev;
  }

  get names(): string[] {
    return [this.s.name, this.r.name, this.a.name, this.b.name, this.c.name];
  }

  async startPeers(opts: { cPassive: boolean }): Promise<void> {
    this.bird.b = await startDaemon('bird', this.b, birdB());
    this.#cPassive = opts.cPassive;
    this.bird.c = await startDaemon('bird', this.c, birdC({ aPassive: opts.cPassive }));
  }

  /** B withdraws one block and announces a new one (or back again). */
  changeB(changed: boolean): void {
    const b = this.bird.b!;
    b.cli(`${changed ? 'disable' : 'enable'} withdrawn`);
    b.cli(`${changed ? 'enable' : 'disable'} added`);
  }

  /** Node C dies in this way. */
  async killC(mode: DeadMode): Promise<void> {
    if (mode === 'drop') {
      // everything C would send to A goes into a blackhole: A's SYNs arrive, nothing answers
      this.c.ip('route', 'add', 'blackhole', `${LAN.a}/32`);
      return;
    }
    if (mode === 'vanish') {
      // the host goes first; its daemon with it
      this.c.ip('link', 'set', this.#cDev, 'down');
      await this.bird.c?.stop('SIGKILL');
      return;
    }
    await this.bird.c?.stop('SIGKILL');
    if (mode === 'unreachable') this.c.ip('link', 'set', this.#cDev, 'down');
  }

  /** Node C healthy again: link up, no blackhole, daemon running. */
  async reviveC(opts: { cPassive: boolean }): Promise<void> {
    this.c.ip('link', 'set', this.#cDev, 'up');
    if (this.c.ip('route', 'show', 'type', 'blackhole').trim()) this.c.ip('route', 'del', 'blackhole', `${LAN.a}/32`);
    if (!this.bird.c?.running || this.#cPassive !== opts.cPassive) {
      await this.bird.c?.stop('SIGKILL');
      this.#cPassive = opts.cPassive;
      this.bird.c = await startDaemon('bird', this.c, birdC({ aPassive: opts.cPassive }));
    }
  }

  async delete(): Promise<void> {
    await Promise.all([this.bird.b?.stop('SIGKILL'), this.bird.c?.stop('SIGKILL')]);
    for (const n of [this.s, this.r, this.a, this.b, this.c]) n?.delete();
  }
}
