// The speaker under test on node A: routelet, or BIRD 2 configured as calico-node configures it.
// Both are started, stopped and asked about their sessions the same way by the scenario.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPeers } from '../api/format.js';
import { type LabAgent, spawnAgent } from './agent.js';
import { LAN, type Liveness, birdA, routeletEnv, routeletPeers } from './configs.js';
import { type Daemon, startDaemon } from './daemons.js';
import type { Netns } from './netns.js';

export type SpeakerKind = 'routelet' | 'bird';

export interface SpeakerOptions {
  grWait: number;
  cPassive: boolean;
  /** ROUTELET_GR_FAST_UNLOCK for routelet (unset: the agent's default) */
  fastUnlock?: 'on' | 'off';
  /** keepalive interval and TCP user timeout for routelet */
  liveness?: Liveness;
  /** a directory for the peers file */
  dir: string;
}

export interface Speaker {
  readonly kind: SpeakerKind;
  /** how it is stopped before a restart: routelet SIGTERM (contract), BIRD killed like a crash */
  readonly stopSignal: NodeJS.Signals;
  /** start it (restart: BIRD gets -R); resolves once the process is spawned, not when it is ready */
  start(restart: boolean): Promise<void>;
  stop(): Promise<void>;
  readonly running: boolean;
  /** the peers (by address) whose session is Established */
  established(): Promise<Set<string>>;
  /** a table of the sessions, like `routelet status` or `birdc show protocols` */
  sessions(): Promise<string>;
  /** for the JSON report: the peer's last error, when the speaker tells */
  lastErrors(): Promise<Record<string, string | null>>;
  /** seconds from `spawnedAt` (epoch ms) until the speaker said it runs (routelet's log line), when known */
  startupSeconds(spawnedAt: number): number | undefined;
  log(): string;
}

export function createSpeaker(kind: SpeakerKind, ns: Netns, o: SpeakerOptions): Speaker {
  return kind === 'routelet' ? new RouteletSpeaker(ns, o) : new BirdSpeaker(ns, o);
}

class RouteletSpeaker implements Speaker {
  readonly kind = 'routelet';
  readonly stopSignal = 'SIGTERM';
  #agent: LabAgent | undefined;
  #logs: string[] = [];
  readonly #env: Record<string, string>;

  constructor(
    private readonly ns: Netns,
    o: SpeakerOptions,
  ) {
    const peersFile = join(o.dir, 'peers.json');
    writeFileSync(peersFile, routeletPeers({ cPassive: o.cPassive }));
    this.#env = routeletEnv({ grWait: o.grWait, peersFile, ...(o.fastUnlock ? { fastUnlock: o.fastUnlock } : {}), ...(o.liveness ? { liveness: o.liveness } : {}) });
  }

  async start(): Promise<void> {
    this.#agent = spawnAgent(this.ns.name, this.#env);
  }

  async stop(): Promise<void> {
    if (!this.#agent) return;
    const r = await this.#agent.stop(this.stopSignal);
    this.#logs.push(this.#agent.log());
    this.#agent = undefined;
    if (r.code !== 0) throw new Error(`routelet agent did not stop cleanly on ${this.stopSignal} (${JSON.stringify(r)})`);
  }

  get running(): boolean {
    return this.#agent?.running ?? false;
  }

  async #peers() {
    if (!this.#agent?.running) throw new Error(`routelet agent is not running:\n${this.log().slice(-3000)}`);
    return this.#agent.peers();
  }

  async established(): Promise<Set<string>> {
    return new Set((await this.#peers()).filter((p) => p.state === 'Established').map((p) => p.address));
  }

  async sessions(): Promise<string> {
    return formatPeers(await this.#peers());
  }

  async lastErrors(): Promise<Record<string, string | null>> {
    return Object.fromEntries((await this.#peers()).map((p) => [p.address, p.lastError]));
  }

  startupSeconds(spawnedAt: number): number | undefined {
    for (const line of (this.#agent?.log() ?? '').split('\n')) {
      if (!line.includes('routelet agent running')) continue;
      try {
        const raw = (JSON.parse(line) as { time?: number | string }).time;
        const t = typeof raw === 'string' ? Date.parse(raw) : raw;
        if (typeof t === 'number' && Number.isFinite(t)) return Math.round(t - spawnedAt) / 1000;
      } catch {
        // not a JSON line
      }
    }
    return undefined;
  }

  log(): string {
    return [...this.#logs, this.#agent?.log() ?? ''].join('\n');
  }
}

class BirdSpeaker implements Speaker {
  readonly kind = 'bird';
  /** a crash or a pod restart without a clean shutdown: `persist` leaves the kernel routes */
  readonly stopSignal = 'SIGKILL';
  #bird: Daemon | undefined;
  #logs: string[] = [];
  readonly #config: string;

  constructor(
    private readonly ns: Netns,
    o: SpeakerOptions,
  ) {
    this.#config = birdA({ grWait: o.grWait, cPassive: o.cPassive });
  }

  async start(restart: boolean): Promise<void> {
    this.#bird = await startDaemon('bird', this.ns, this.#config, restart ? { args: ['-R'] } : {});
  }

  async stop(): Promise<void> {
    if (!this.#bird) return;
    this.#logs.push(this.#bird.log());
    await this.#bird.stop(this.stopSignal);
    this.#bird = undefined;
  }

  get running(): boolean {
    return this.#bird?.running ?? false;
  }

  #protocols(): { name: string; peer: string; state: string; info: string }[] {
    if (!this.#bird?.running) throw new Error(`BIRD on node A is not running:\n${this.log().slice(-3000)}`);
    const out: { name: string; peer: string; state: string; info: string }[] = [];
    for (const line of this.#bird.cli('show protocols').split('\n')) {
      const m = /^(Mesh_(\d+_\d+_\d+_\d+))\s+BGP\s+\S+\s+(\S+)\s+\S+(?:\s+\S+)?\s+(\S+)\s*(.*)$/.exec(line);
      if (m) out.push({ name: m[1]!, peer: m[2]!.replaceAll('_', '.'), state: m[3]!, info: `${m[4]} ${m[5] ?? ''}`.trim() });
    }
    return out;
  }

  async established(): Promise<Set<string>> {
    return new Set(this.#protocols().filter((p) => /^Established/.test(p.info)).map((p) => p.peer));
  }

  async sessions(): Promise<string> {
    return this.#bird!.cli('show protocols')
      .split('\n')
      .filter((l) => /^(Name|Mesh_)/.test(l))
      .join('\n');
  }

  async lastErrors(): Promise<Record<string, string | null>> {
    const out: Record<string, string | null> = {};
    for (const p of this.#protocols()) {
      let err: string | null = null;
      try {
        const m = /Last error:\s*(.*)/.exec(this.#bird!.cli(`show protocols all ${p.name}`));
        err = m?.[1]?.trim() ?? null;
      } catch {
        // the protocol is gone
      }
      out[p.peer] = err;
    }
    return out;
  }

  startupSeconds(): number | undefined {
    return undefined;
  }

  log(): string {
    return [...this.#logs, this.#bird?.log() ?? ''].join('\n');
  }
}

export const PEERS = [LAN.b, LAN.c] as const;
