// A cluster without a cluster (test/kubernetes/cluster.test.ts and bench/kubernetes.ts): routelet nodes in network namespaces on one LAN (a bridge in a
// namespace of its own), each with its Node object and Lease in the stand-in API server, which
// serves HTTPS on the LAN (a veth from the test's own namespace into the bridge) with its CA in
// the kubeconfig every agent gets as KUBECONFIG. The test renews the Leases of the nodes it
// calls alive, as their kubelets would. With `dualStack`, every node also has an IPv6 address
// on the LAN (an InternalIP of its Node) and an IPv6 pod CIDR: `missing6()`, `routes(n, 6)`.
//
//   const c = await Cluster.create({ nodes: 6 });
//   await c.startAll();
//   await c.waitConverged();            // every kernel holds every other node's pod CIDR
//   c.kernelHas(c.nodes[0], '10.244.2.0/24')
//   await c.destroy();
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, sh } from '#dist/lab/netns.js';
import { canonicalIP } from '#dist/net/ip.js';
import { type AgentProcess, startAgent } from './agent.js';
import { KubeApiServer } from './kube-apiserver.js';

let clusters = 0;
const run = promisify(execFile);

export interface ClusterNode {
  readonly index: number;
  readonly name: string;
  readonly ns: Netns;
  readonly address: string;
  readonly podCIDR: string;
  /** dualStack: the node's IPv6 InternalIP and pod CIDR */
  readonly address6: string | undefined;
  readonly podCIDR6: string | undefined;
  readonly stateDir: string;
  agent: AgentProcess | undefined;
}

export interface ClusterOptions {
  nodes: number;
  /** environment for every agent */
  env?: Record<string, string>;
  /** seconds a Lease lasts (leaseDurationSeconds) */
  leaseSeconds?: number;
  /** zones, by node index (1-based) */
  zone?: (i: number) => string;
  /** an IPv6 InternalIP and an IPv6 pod CIDR beside the IPv4 ones on every node */
  dualStack?: boolean;
}

export class Cluster {
  readonly api: KubeApiServer;
  readonly nodes: ClusterNode[] = [];
  /** nodes whose Leases the test renews (their kubelet is alive) */
  readonly renewing = new Set<string>();
  readonly dir: string;
  readonly kubeconfig: string;
  readonly subnet: string;
  /** the LAN's IPv6 prefix (dualStack), e.g. fd00:18:12:: for 198.18.12.0/24 */
  readonly subnet6: string;
  #renewTimer: NodeJS.Timeout | undefined;
  readonly #hosts: Netns[] = [];
  #hostDev: string;

  private constructor(
    readonly lan: Netns,
    readonly opts: ClusterOptions,
    subnet: string,
    hostDev: string,
  ) {
    this.subnet = subnet;
    this.subnet6 = `fd00:18:${subnet.split('.')[2]}::`;
    this.#hostDev = hostDev;
    this.dir = mkdtempSync(join(tmpdir(), 'routelet-cluster-'));
    this.api = new KubeApiServer({ tls: true, host: `${subnet}.254`, bookmarkIntervalMs: 5000 });
    this.kubeconfig = join(this.dir, 'kubeconfig');
  }

  static async create(opts: ClusterOptions): Promise<Cluster> {
    clusters++;
    const lan = new Netns('klan');
    lan.ip('link', 'add', 'br0', 'type', 'bridge');
    lan.ip('link', 'set', 'br0', 'up');
    // a subnet of the benchmarking range, one per cluster of this process
    const subnet = `198.18.${(process.pid * 7 + clusters) % 250}`;
    const hostDev = `rk${process.pid % 100000}${clusters}h`;
    const lanDev = `rk${process.pid % 100000}${clusters}l`;
    sh('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', lanDev, 'netns', lan.name]);
    sh('ip', ['addr', 'add', `${subnet}.254/24`, 'dev', hostDev]);
    sh('ip', ['link', 'set', hostDev, 'up']);
    lan.ip('link', 'set', lanDev, 'master', 'br0');
    lan.ip('link', 'set', lanDev, 'up');
    const c = new Cluster(lan, opts, subnet, hostDev);
    await c.api.start();
    writeFileSync(c.kubeconfig, c.api.kubeconfigFile());
    for (let i = 1; i <= opts.nodes; i++) c.addNetNode(i);
    c.#renewTimer = setInterval(() => {
      for (const n of c.renewing) if (c.api.node(n)) c.api.renewLease(n);
    }, 2000);
    c.#renewTimer.unref();
    return c;
  }

  /** A node's namespace on the LAN; its Node object and Lease unless `object: false`. */
  addNetNode(i: number, object = true): ClusterNode {
    const ns = new Netns(`kn${i}`);
    const dev = `k${process.pid % 100000}${clusters}n${i}`;
    sh('ip', ['link', 'add', `${dev}a`, 'netns', ns.name, 'type', 'veth', 'peer', 'name', `${dev}b`, 'netns', this.lan.name]);
    ns.ip('addr', 'add', `${this.subnet}.${i}/24`, 'dev', `${dev}a`);
    // no duplicate address detection: the address is usable at once, not tentative for a second
    if (this.opts.dualStack) ns.ip('-6', 'addr', 'add', `${this.subnet6}${i}/64`, 'dev', `${dev}a`, 'nodad');
    ns.ip('link', 'set', `${dev}a`, 'up');
    this.lan.ip('link', 'set', `${dev}b`, 'master', 'br0');
    this.lan.ip('link', 'set', `${dev}b`, 'up');
    const node: ClusterNode = {
      index: i,
      name: `node-${i}`,
      ns,
      address: `${this.subnet}.${i}`,
      podCIDR: `10.244.${i}.0/24`,
      // canonical, as ip(8) and the agent print it: fd00:18:0::2 is fd00:18::2 (the subnet's third octet can be 0)
      address6: this.opts.dualStack ? canonicalIP(`${this.subnet6}${i}`) : undefined,
      podCIDR6: this.opts.dualStack ? `fd10:244:${i}::/64` : undefined,
      stateDir: join(this.dir, `node-${i}`),
      agent: undefined,
    };
    this.nodes.push(node);
    if (object) this.addObject(node);
    return node;
  }

  /**
   * A host on the LAN that is not a node (a top-of-rack router, say): its namespace and
   * address `subnet.i`, removed with the cluster.
   */
  lanHost(i: number): { ns: Netns; address: string } {
    const ns = new Netns(`kh${i}`);
    const dev = `k${process.pid % 100000}${clusters}h${i}`;
    sh('ip', ['link', 'add', `${dev}a`, 'netns', ns.name, 'type', 'veth', 'peer', 'name', `${dev}b`, 'netns', this.lan.name]);
    ns.ip('addr', 'add', `${this.subnet}.${i}/24`, 'dev', `${dev}a`);
    ns.ip('link', 'set', `${dev}a`, 'up');
    this.lan.ip('link', 'set', `${dev}b`, 'master', 'br0');
    this.lan.ip('link', 'set', `${dev}b`, 'up');
    this.#hosts.push(ns);
    return { ns, address: `${this.subnet}.${i}` };
  }

  addObject(n: ClusterNode, labels: Record<string, string> = {}): void {
    this.api.addNode(
      {
        name: n.name,
        internalIPs: [n.address, ...(n.address6 ? [n.address6] : [])],
        podCIDRs: [n.podCIDR, ...(n.podCIDR6 ? [n.podCIDR6] : [])],
        labels,
        ...(this.opts.zone ? { zone: this.opts.zone(n.index) } : {}),
      },
      { leaseDurationSeconds: this.opts.leaseSeconds ?? 40 },
    );
    this.renewing.add(n.name);
  }

  node(i: number): ClusterNode {
    return this.nodes.find((n) => n.index === i)!;
  }

  env(n: ClusterNode): Record<string, string> {
    return {
      ROUTELET_ASN: '64512',
      ROUTELET_ROUTER_ID: n.address,
      ROUTELET_KUBERNETES: 'on',
      ROUTELET_NODE_NAME: n.name,
      KUBECONFIG: this.kubeconfig,
      ROUTELET_STATE_DIR: n.stateDir,
      ROUTELET_CONNECT_RETRY: '1',
      ROUTELET_CONNECT_RETRY_MAX: '2',
      ROUTELET_BPF: 'off',
      // The node-health path is under test here: what a peer without BFD relies on. With BFD
      // (on by default) a silent node is gone within its detection time whatever its Lease
      // says — BFD sees the forwarding path, a Lease only the kubelet (test/bfd/agent.test.ts).
      ROUTELET_BFD: 'off',
      ROUTELET_LOG_LEVEL: 'info',
      ...this.opts.env,
    };
  }

  async start(n: ClusterNode, env: Record<string, string> = {}): Promise<AgentProcess> {
    n.agent = await startAgent(n.ns, { ...this.env(n), ...env }, { readyTimeoutMs: 60_000 });
    return n.agent;
  }

  async startAll(env: Record<string, string> = {}): Promise<void> {
    // one at a time: two cores shared with other work
    for (const n of this.nodes) if (!n.agent?.running) await this.start(n, env);
  }

  /**
   * The routes routelet installed in the kernel of `n` (proto 201): prefix → gateways. Never
   * blocks this process: the stand-in API server runs on its event loop.
   */
  async routes(n: ClusterNode, family: 4 | 6 = 4): Promise<Map<string, string[]>> {
    const { stdout } = await run('ip', [`-${family}`, '-j', '-n', n.ns.name, 'route', 'show', 'proto', '201']);
    const out = new Map<string, string[]>();
    for (const r of JSON.parse(stdout || '[]') as { dst: string; gateway?: string; nexthops?: { gateway: string }[] }[])
      out.set(r.dst.includes('/') ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`, r.gateway ? [r.gateway] : (r.nexthops ?? []).map((h) => h.gateway));
    return out;
  }

  /** dualStack: which IPv6 pod CIDRs of `others` are missing from the kernel of each of `on`, via their node's IPv6 address. */
  async missing6(on: ClusterNode[] = this.nodes, others: ClusterNode[] = this.nodes): Promise<string[]> {
    const out: string[] = [];
    const tables = await Promise.all(on.map((n) => this.routes(n, 6)));
    on.forEach((n, i) => {
      for (const o of others) if (o !== n && !(tables[i]!.get(o.podCIDR6!) ?? []).includes(o.address6!)) out.push(`${n.name} lacks ${o.podCIDR6} via ${o.address6}`);
    });
    return out;
  }

  /** Which pod CIDRs of `others` are missing from the kernel of each of `on`, via their node (empty: converged). */
  async missing(on: ClusterNode[] = this.nodes, others: ClusterNode[] = this.nodes): Promise<string[]> {
    const out: string[] = [];
    const tables = await Promise.all(on.map((n) => this.routes(n)));
    on.forEach((n, i) => {
      for (const o of others) if (o !== n && !(tables[i]!.get(o.podCIDR) ?? []).includes(o.address)) out.push(`${n.name} lacks ${o.podCIDR} via ${o.address}`);
    });
    return out;
  }

  /** Which of `prefixes` are in the kernel of any of `on` (empty: gone everywhere). */
  async present(on: ClusterNode[], prefixes: string[]): Promise<string[]> {
    const families = [...new Set(prefixes.map((p) => (p.includes(':') ? 6 : 4) as 4 | 6))];
    const tables = await Promise.all(on.map(async (n) => new Map((await Promise.all(families.map((f) => this.routes(n, f)))).flatMap((m) => [...m]))));
    return on.flatMap((n, i) => prefixes.filter((p) => tables[i]!.has(p)).map((p) => `${n.name} holds ${p}`));
  }

  /** Poll until `check` holds; throws with its last result when it does not within timeoutMs. */
  async until(check: () => Promise<string[]>, timeoutMs: number, stepMs = 100): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      const left = await check();
      if (left.length === 0) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${left.slice(0, 6).join('; ')}`);
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }

  async waitConverged(on: ClusterNode[] = this.nodes, others: ClusterNode[] = this.nodes, timeoutMs = 90_000): Promise<number> {
    return this.until(() => this.missing(on, others), timeoutMs);
  }

  async destroy(): Promise<void> {
    clearInterval(this.#renewTimer);
    await Promise.all(this.nodes.map((n) => (n.agent?.running ? n.agent.stop('SIGKILL') : undefined)));
    await this.api.stop();
    for (const n of this.nodes) n.ns.delete();
    for (const h of this.#hosts) h.delete();
    this.lan.delete();
    sh('ip', ['link', 'del', this.#hostDev], { allowFail: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
