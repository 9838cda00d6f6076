// Shared by the graceful-restart interop and cycle tests: BIRD 2 and GoBGP peers with
// graceful restart on, and a kernel route watcher that sees every change of routelet's routes.
//
//   const d = await startGrPeer('bird', ns, { local: '10.0.0.2', neighbor: '10.0.0.1', asn: 65001, prefixes })
//   d.has('10.65.3.0/26')     // the daemon holds routelet's prefix
//   d.established()           // its session with routelet is Established
//   await d.crash()           // SIGKILL by PID: no NOTIFICATION, the peer may help
//   d = await d.restart()     // same config, graceful-restart flag (bird -R, gobgpd -r)
//
//   const w = new KernelWatch(ns, 201)   // `ip monitor route` (one long-lived process)
//   w.history('10.201.0.0/24')           // [{ at, present }] every change since the start
import { type ChildProcess, spawn } from 'node:child_process';
import { type Daemon, type DaemonKind, startDaemon } from '../support/daemons.js';
import type { Netns } from '../support/netns.js';

export type GrKind = Extract<DaemonKind, 'bird' | 'gobgp'>;

export interface GrPeerPlan {
  /** the daemon's address on the link */
  local: string;
  /** routelet's address */
  neighbor: string;
  asn: number;
  routerId: string;
  /** prefixes the daemon announces (IPv4) */
  prefixes: string[];
  /** GoBGP: the N-bit (RFC 8538, `notification-enabled`); BIRD 2.0.12 has no such option */
  notification?: boolean;
  /** BIRD: passive (never connects) */
  passive?: boolean;
}

function birdConf(p: GrPeerPlan): string {
  const statics = p.prefixes.map((x, i) => `protocol static s${i} { ipv4; route ${x} blackhole; }`).join('\n');
  return `router id ${p.routerId};
log stderr all;
protocol device {}
${statics}
protocol bgp r {
  local ${p.local} as ${p.asn};
  neighbor ${p.neighbor} as 65000;
  hold time 9;
  connect retry time 2;
  connect delay time 1;
  error wait time 1, 5;
  ${p.passive ? 'passive on;' : ''}
  graceful restart on;
  graceful restart time 120;
  ipv4 { import all; export all; };
}
`;
}

function gobgpConf(p: GrPeerPlan): string {
  return `[global.config]
  as = ${p.asn}
  router-id = "${p.routerId}"
  port = 179
  local-address-list = ["${p.local}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "${p.neighbor}"
    peer-as = 65000
  [neighbors.transport.config]
    local-address = "${p.local}"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
    notification-enabled = ${p.notification === false ? 'false' : 'true'}
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
`;
}

export class GrPeer {
  constructor(
    readonly kind: GrKind,
    readonly ns: Netns,
    readonly plan: GrPeerPlan,
    public daemon: Daemon,
    /** prefixes currently announced */
    readonly announced: Set<string>,
  ) {}

  /** The daemon holds `prefix` in its RIB (learned from routelet, or its own). */
  has(prefix: string): boolean {
    if (this.kind === 'gobgp') return this.daemon.cli(`global rib -a ipv4 ${prefix}`).includes(prefix);
    try {
      return this.daemon.cli(`show route for ${prefix.split('/')[0]}`).includes(prefix);
    } catch (e) {
      if (/Network not found/.test(String(e))) return false;
      throw e;
    }
  }

  /** The daemon's session with routelet is Established. */
  established(): boolean {
    if (!this.daemon.running) return false;
    if (this.kind === 'bird') return /\bup\b.*Established/.test(this.daemon.cli('show protocols r'));
    return /BGP state = (BGP_FSM_)?ESTABLISHED/i.test(this.daemon.cli(`neighbor ${this.plan.neighbor}`));
  }

  /** What the daemon says about the session (for failure messages and capability checks). */
  status(): string {
    if (!this.daemon.running) return `${this.kind} not running`;
    return this.kind === 'bird' ? this.daemon.cli('show protocols all r') : this.daemon.cli(`neighbor ${this.plan.neighbor}`);
  }

  /** Stop announcing `prefix`. */
  withdraw(prefix: string): void {
    const i = this.plan.prefixes.indexOf(prefix);
    if (this.kind === 'bird') this.daemon.cli(`disable s${i}`);
    else this.daemon.cli(`global rib del -a ipv4 ${prefix}`);
    this.announced.delete(prefix);
  }

  /** SIGKILL by PID: sockets closed by the kernel, no NOTIFICATION (a crash). */
  async crash(): Promise<void> {
    await this.daemon.stop('SIGKILL');
  }

  /** SIGTERM by PID (BIRD and GoBGP send a Cease: no graceful restart). */
  async stop(): Promise<void> {
    await this.daemon.stop('SIGTERM');
  }

  /**
   * Start the daemon again with the same configuration, in graceful-restart recovery (bird
   * -R, gobgpd -r) unless `recovery` is false; `without` prefixes are no longer announced.
   */
  async restart(opts: { recovery?: boolean; without?: string[] } = {}): Promise<void> {
    if (this.daemon.running) throw new Error(`${this.kind} still running`);
    const plan = { ...this.plan, prefixes: this.plan.prefixes.filter((x) => !(opts.without ?? []).includes(x)) };
    const next = await launch(this.kind, this.ns, plan, opts.recovery ?? true);
    this.daemon = next.daemon;
    this.announced.clear();
    for (const x of next.announced) this.announced.add(x);
  }
}

async function launch(kind: GrKind, ns: Netns, plan: GrPeerPlan, recovery: boolean): Promise<{ daemon: Daemon; announced: Set<string> }> {
  const args = recovery ? [kind === 'bird' ? '-R' : '-r'] : [];
  const daemon = await startDaemon(kind, ns, kind === 'bird' ? birdConf(plan) : gobgpConf(plan), { args });
  // GoBGP has no static routes in its config: they are added at once (its first outgoing
  // connection waits a few seconds; in recovery it also defers its UPDATEs until End-of-RIB)
  if (kind === 'gobgp') for (const x of plan.prefixes) daemon.cli(`global rib add -a ipv4 ${x} origin igp`);
  return { daemon, announced: new Set(plan.prefixes) };
}

export async function startGrPeer(kind: GrKind, ns: Netns, plan: GrPeerPlan, opts: { recovery?: boolean } = {}): Promise<GrPeer> {
  const { daemon, announced } = await launch(kind, ns, plan, opts.recovery ?? false);
  // later restarts keep every configured prefix unless told otherwise
  return new GrPeer(kind, ns, { ...plan }, daemon, announced);
}

export interface RouteChange {
  /** ms since the epoch, when the watcher read it */
  at: number;
  present: boolean;
  line: string;
}

/**
 * Every change of the kernel routes of one protocol in a namespace, from one long-lived
 * `ip monitor route` (netlink notifications: no change is missed between polls), on top of a
 * dump taken once the monitor runs.
 */
export class KernelWatch {
  readonly #child: ChildProcess;
  readonly #history = new Map<string, RouteChange[]>();
  readonly #current = new Map<string, boolean>();
  #buf = '';
  #exited = false;

  constructor(
    readonly ns: Netns,
    readonly protocol: number,
  ) {
    this.#child = spawn('ip', ['-n', ns.name, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.#child.once('exit', () => (this.#exited = true));
    this.#child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.#buf += d;
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        this.#line(line);
      }
    });
  }

  /** Take the dump after the monitor started (call once, right after construction). */
  async ready(): Promise<this> {
    // the monitor subscribes as soon as it runs: give it a moment, then read the table
    await new Promise((r) => setTimeout(r, 300));
    const at = Date.now();
    for (const r of this.ns.json<{ dst: string }[]>('route', 'show', 'proto', String(this.protocol))) {
      const prefix = r.dst.includes('/') ? r.dst : `${r.dst}/32`;
      if (!this.#current.has(prefix)) this.#note(prefix, true, at, 'dump');
    }
    return this;
  }

  #line(line: string): void {
    if (!new RegExp(`\\bproto ${this.protocol}\\b`).test(line)) return;
    const deleted = line.startsWith('Deleted ');
    const rest = deleted ? line.slice(8) : line;
    let dst = rest.split(' ')[0]!;
    if (dst === 'unicast' || dst === 'blackhole') dst = rest.split(' ')[1]!;
    const prefix = dst.includes('/') ? dst : `${dst}/32`;
    this.#note(prefix, !deleted, Date.now(), line);
  }

  #note(prefix: string, present: boolean, at: number, line: string): void {
    this.#current.set(prefix, present);
    let h = this.#history.get(prefix);
    if (!h) this.#history.set(prefix, (h = []));
    h.push({ at, present, line });
  }

  present(prefix: string): boolean {
    return this.#current.get(prefix) ?? false;
  }

  history(prefix: string): RouteChange[] {
    return this.#history.get(prefix) ?? [];
  }

  /** Whether `prefix` was missing at any moment of [from, to] (ms since the epoch). */
  missingDuring(prefix: string, from: number, to: number): RouteChange[] {
    const h = this.history(prefix);
    let before: RouteChange | undefined;
    for (const c of h) if (c.at <= from) before = c;
    const out: RouteChange[] = [];
    if (!before || !before.present) out.push(before ?? { at: from, present: false, line: 'never seen before the window' });
    for (const c of h) if (c.at > from && c.at <= to && !c.present) out.push(c);
    return out;
  }

  get running(): boolean {
    return !this.#exited;
  }

  stop(): void {
    if (!this.#exited) this.#child.kill('SIGTERM');
  }
}

/** Poll `check` (async allowed) until it returns a value other than undefined, or throw. */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let error: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      error = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${error ? `: ${(error as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
