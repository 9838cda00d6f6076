// Shared by the route-reflection tests: BIRD 2 client configurations and a parser for
// `birdc show route all`, so the tests read what the daemon itself holds.
import { rmSync } from 'node:fs';
import { afterAll, afterEach } from 'vitest';
import { type AgentProcess, dumpAgentLogs, stopAllAgents } from '../support/agent.js';
import { type Daemon, stopAllDaemons } from '../support/daemons.js';
import type { Netns } from '../support/netns.js';
import type { TestSpeaker } from '../support/speaker.js';

export interface BirdClient {
  /** protocol name of the session to routelet */
  name?: string;
  routerId: string;
  /** BIRD's address on the link, and routelet's */
  local: string;
  neighbor: string;
  asn: number;
  /** routelet's AS (iBGP when equal to asn) */
  peerAsn: number;
  /** announced with a blackhole static route, through BGP only */
  prefixes: string[];
  /** BIRD filter statements applied to the announced routes (e.g. `bgp_med = 77;`) */
  exportSet?: string;
  /** a static route for recursive next-hop resolution (iBGP next hops of other clients) */
  igp?: string;
  gracefulRestart?: boolean;
}

export function birdClientConf(c: BirdClient): string {
  const name = c.name ?? 'rl';
  const igp = c.igp ? `protocol static nhroute { ipv4; route ${c.igp}; }` : '';
  return `router id ${c.routerId};
log stderr all;
protocol device {}
protocol static s4 { ipv4; ${c.prefixes.map((p) => `route ${p} blackhole;`).join(' ')} }
${igp}
protocol bgp ${name} {
  local ${c.local} as ${c.asn};
  neighbor ${c.neighbor} as ${c.peerAsn};
  connect retry time 2;
  connect delay time 1;
  error wait time 1, 10;
  graceful restart ${c.gracefulRestart === false ? 'off' : 'on'};
  ipv4 {
    import all;
    export filter { if proto = "s4" then { ${c.exportSet ?? ''} accept; } reject; };
  };
}
`;
}

/** One route as `birdc show route all` prints it. */
export interface BirdRoute {
  prefix: string;
  /** protocol name (`s4`, `rl`, …) */
  proto: string;
  /** the gateway BIRD resolved the route to (`via ADDRESS on DEV`) */
  via: string | null;
  primary: boolean;
  /** BGP.* attributes by name (`originator_id`, `cluster_list`, `as_path`, `next_hop`, …) */
  bgp: Record<string, string>;
}

/** Parse `show route all [...]` output (several routes per prefix, attribute lines below each). */
export function parseBirdRoutes(text: string): BirdRoute[] {
  const out: BirdRoute[] = [];
  let prefix = '';
  let cur: BirdRoute | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+)?\s+(?:unicast|blackhole|unreachable|prohibited|prohibit)\s+\[(\S+)[^\]]*\]\s*(\*)?/.exec(line);
    if (head && !line.startsWith('Table') && !line.startsWith('\t')) {
      if (head[1]) prefix = head[1];
      cur = { prefix, proto: head[2]!, via: null, primary: head[3] === '*', bgp: {} };
      out.push(cur);
      continue;
    }
    const via = /^\s+via\s+(\S+)/.exec(line);
    if (via && cur) cur.via = via[1]!;
    const attr = /^\s+BGP\.(\w+):\s?(.*)$/.exec(line);
    if (attr && cur) cur.bgp[attr[1]!] = attr[2]!.trim();
  }
  return out;
}

/** The routes BIRD holds for a prefix (every protocol), or [] when none. */
export function birdRoutes(d: Daemon, prefix: string): BirdRoute[] {
  return parseBirdRoutes(birdShow(d, `show route ${prefix} all`));
}

/** `birdc CMD`, with "Network not found" (exit status 1) as empty output. */
export function birdShow(d: Daemon, command: string): string {
  try {
    return d.cli(command);
  } catch (e) {
    if (/Network not found/.test((e as Error).message)) return '';
    throw e;
  }
}

/** Whether BIRD holds the prefix at all (cheaper than parsing attributes). */
export function birdHas(d: Daemon, prefix: string): boolean {
  return birdShow(d, `show route ${prefix}`).includes(prefix);
}

/** Poll an async check until it returns a value (a rejection counts as not yet), every 100 ms. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What a route-reflection test file builds in its beforeAll (any of it may be missing when that failed). */
export interface Rig {
  agent?: AgentProcess;
  speaker?: TestSpeaker;
  daemons: readonly (Daemon | undefined)[];
  namespaces: readonly (Netns | undefined)[];
  dir?: string;
}

/**
 * The file's hooks: after a failed test, the agent's and each daemon's log; after the file,
 * the speaker closed, every agent and daemon stopped, the namespaces and the directory removed,
 * whatever happened before.
 */
export function rigHooks(rig: () => Rig, logChars = 3000): void {
  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    const r = rig();
    dumpAgentLogs([r.agent]);
    for (const d of r.daemons) if (d) process.stderr.write(`\n===== ${d.kind} ${d.netns.name} =====\n${d.log().slice(-logChars)}\n`);
  });
  afterAll(async () => {
    const r = rig();
    await r.speaker?.close();
    await stopAllAgents();
    await stopAllDaemons();
    for (const n of r.namespaces) n?.delete();
    if (r.dir) rmSync(r.dir, { recursive: true, force: true });
  });
}
