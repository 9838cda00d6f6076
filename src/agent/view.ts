// What HTTP shows of the agent: snapshots built on request from the agent's read-only state
// (state.ts), in the CONTRACT shapes (src/api/types.ts). Nothing here changes state.
import type { PeerView, RouteView } from '../api/types.js';
import type { AgentView, RouteFilter } from '../http/server.js';
import type { Registry } from 'prom-client';
import type { Session } from '../bgp/session/index.js';
import type { AgentState, PeerEntry } from './state.js';
import type { DeadPeer } from '../gr/index.js';

const LIVE_TIMEOUT_MS = 2000;

function deadView(d: DeadPeer | null): PeerView['dead'] {
  return d ? { evidence: d.evidence, kind: d.kind, since: new Date(d.since).toISOString() } : null;
}

/** peer lines in /readyz; the rest are counted in one line */
const MAX_PEER_LINES = 100;

export class AgentSnapshots implements AgentView {
  constructor(private readonly a: AgentState) {}

  get metrics(): Registry {
    return this.a.registry;
  }

  /** Configured peers in configuration order, then dynamic neighbours by address. */
  #ordered(): PeerEntry[] {
    const configured: PeerEntry[] = [];
    const dynamic: PeerEntry[] = [];
    const order = new Map(this.a.config.peers.map((p, i) => [p.address, i]));
    for (const e of this.a.entries.values()) (e.configured ? configured : dynamic).push(e);
    configured.sort((x, y) => (order.get(x.session.address) ?? 0) - (order.get(y.session.address) ?? 0));
    dynamic.sort((x, y) => (x.session.address < y.session.address ? -1 : 1));
    return [...configured, ...dynamic];
  }

  peers(): PeerView[] {
    return this.#ordered().map((e) => this.peer(e));
  }

  peer(e: PeerEntry): PeerView {
    const s = e.session;
    const a = this.a;
    const counts = a.rib.peerCounts(e.rib);
    const c = s.current;
    const n = c?.negotiated ?? null;
    const md5 = a.watch.md5Failures(s.address);
    const v: PeerView = {
      address: s.address,
      port: s.settings.port,
      asn: s.settings.asn,
      dynamic: s.dynamic,
      state: s.state,
      uptimeSeconds: s.isEstablished ? Math.floor((Date.now() - s.establishedAt) / 1000) : 0,
      lastError: s.lastError?.text ?? null,
      gracefulRestart: { negotiated: n?.gracefulRestart != null, restarting: a.gr.peerRestarting(e), staleRoutes: counts.staleRoutes },
      prefixes: { received: counts.received, accepted: counts.accepted, advertised: counts.advertised, ...(counts.rejected ? { rejected: counts.rejected } : {}) },
      md5Failures: md5,
      description: s.settings.description ?? null,
      type: s.settings.ibgp ? 'ibgp' : 'ebgp',
      routeReflectorClient: s.settings.routeReflectorClient,
      detection: a.watch.mode === 'bpf' ? 'bpf' : 'socket',
      dead: deadView(a.gr.peerDead(e)),
      bfd: e.configured ? (a.bfd?.peer(s.address) ?? null) : null,
      holdTime: n ? n.holdTime : s.settings.holdTime,
      keepaliveTime: n ? n.keepaliveTime : Math.floor(s.settings.holdTime / 3),
      tcpUserTimeout: s.settings.tcpUserTimeout ?? 0,
      routerId: n?.routerId ?? null,
      problem: e.configured ? this.#problem(s, md5) : null,
    };
    const kube = a.kube;
    if (kube && !s.dynamic) {
      const info = kube.info.get(s.address);
      v.origin = info?.origin ?? 'file';
      v.nodeName = info?.nodeName ?? null;
      v.nodeHealth = kube.health(s.address);
    }
    if (c && n) {
      v.connection = { direction: c.direction, localAddress: c.local?.address ?? null, localPort: c.local?.port ?? null, remotePort: c.remote?.port ?? null };
      v.families = n.families.map((f) => (f === 4 ? 'ipv4' : 'ipv6'));
      v.hostname = n.hostname;
    }
    return v;
  }

  /**
   * `BGP not established with 10.0.0.3: Active (last error ECONNREFUSED)`, or null when up. A
   * reason the last error already gives is left out, told by the kinds of the reasons (never
   * by their words): the death that closed the session, or the same socket error, and the
   * TCP-MD5 key refusal.
   */
  #problem(s: Session, md5: number): string | null {
    if (s.isEstablished) return null;
    const why: string[] = [];
    const last = s.lastError;
    if (last) why.push(`last error ${last.short}`);
    const dead = this.a.gr.peerDead(this.a.entries.get(s)!);
    const deadSaid = last !== null && (last.kind === 'peer-dead' || (last.kind === 'socket' && dead?.code != null && dead.code === last.code));
    if (dead && !deadSaid) why.push(`dead: ${dead.evidence}`);
    const key = this.a.listener.keyStatus(s.address);
    if (key?.state === 'failed' && last?.kind !== 'key-refused') why.push(`TCP-MD5 key refused by the kernel: ${key.code}`);
    if (md5 > 0) why.push(`TCP-MD5 authentication failing: ${md5} segment${md5 === 1 ? '' : 's'} dropped`);
    return `BGP not established with ${s.address}: ${s.state}${why.length ? ` (${why.join('; ')})` : ''}`;
  }

  problems(): string[] {
    const a = this.a;
    const out: string[] = [];
    if (a.reloads.lastError !== null) out.push(`configuration reload refused, the previous peers stay: ${a.reloads.lastError}`);
    let more = 0;
    for (const e of this.#ordered()) {
      if (!e.configured) continue;
      const p = this.#problem(e.session, a.watch.md5Failures(e.session.address));
      if (!p) continue;
      // thousands of peers down must not make /readyz megabytes long
      if (out.length < MAX_PEER_LINES) out.push(p);
      else more++;
    }
    if (more) out.push(`BGP not established with ${more} more configured peer${more === 1 ? '' : 's'} (/api/v1/peers lists them all)`);
    out.push(...a.listener.problems());
    out.push(...a.watch.readinessProblems());
    if (a.fib) out.push(...a.fib.problems());
    out.push(...a.gr.problems());
    return out;
  }

  routes(f: RouteFilter): Iterable<RouteView> {
    const fib = this.a.fib;
    const kernel = fib ? (p: Parameters<typeof fib.state>[0]) => fib.state(p) ?? 'not installed (originated here, or no next hop)' : () => 'not installed (ROUTELET_KERNEL=off)';
    return this.a.rib.routes(f.prefix === undefined ? {} : { prefix: f.prefix }, kernel);
  }

  async live(): Promise<{ ok: boolean; reason?: string }> {
    const fib = this.a.fib;
    if (!fib) return { ok: true };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        fib.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the route-install path did not answer within ${LIVE_TIMEOUT_MS} ms`)), LIVE_TIMEOUT_MS);
        }),
      ]);
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
