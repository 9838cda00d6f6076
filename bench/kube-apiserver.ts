// A stand-in kube-apiserver for the tests and bench/kubernetes.ts: plain HTTP, the real list/watch protocol for Nodes and
// Leases (kube-node-lease), objects shaped as the API serves them.
//
// - one resourceVersion counter for both kinds, as etcd's revision is;
// - list: items without kind/apiVersion (as the API serves list items), metadata.resourceVersion,
//   chunking by `limit` and an opaque `continue` token that pins the list's snapshot; a token
//   older than the compaction point answers 410 Gone (reason Expired);
// - watch (`?watch=true`): newline-delimited JSON events ADDED/MODIFIED/DELETED from the given
//   resourceVersion (replayed from the history, then live), BOOKMARK when allowWatchBookmarks=true,
//   closes after timeoutSeconds; a resourceVersion older than the compaction point is answered
//   as the API does — 200, one ERROR event carrying a Status with code 410, end of stream — or,
//   with `watchGone: 'status'`, an HTTP 410 Status response;
// - HTTPS with `tls: true`: a self-signed certificate for 127.0.0.1 made by openssl, given to
//   the client as certificate-authority-data (the client refuses plain HTTP unless told to skip
//   TLS verification);
// - test controls: add/update/delete Nodes, renew/delete Leases, dropWatches (connections
//   destroyed, no clean end), compact, stop/start on the same port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';

type Kind = 'nodes' | 'leases';
type Obj = Record<string, any> & { metadata: Record<string, any> };

interface Event {
  kind: Kind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  object: Obj;
}

interface Watcher {
  kind: Kind;
  res: ServerResponse;
  bookmarks: boolean;
  timer: NodeJS.Timeout | undefined;
  bookmarkTimer: NodeJS.Timeout | undefined;
}

export const LEASE_NAMESPACE = 'kube-node-lease';
const NODES_PATH = '/api/v1/nodes';
const LEASES_PATH = `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases`;

export interface NodeInput {
  name: string;
  internalIPs?: string[];
  podCIDRs?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  zone?: string;
  ready?: 'True' | 'False' | 'Unknown';
  /** Ready condition's lastTransitionTime; default now */
  readySince?: Date;
  creationTimestamp?: Date;
}

/** RFC 3339 with seconds, as metav1.Time serializes. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** metav1.MicroTime: RFC 3339 with six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function condition(type: string, status: string, reason: string, message: string, since: Date, now: Date) {
  return { type, status, lastHeartbeatTime: rfc3339(now), lastTransitionTime: rfc3339(since), reason, message };
}

/** A Node as the API serves it (kubelet-registered, with the node IPAM controller's podCIDRs). */
export function makeNode(n: NodeInput, now = new Date()): Obj {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': n.name,
    'kubernetes.io/os': 'linux',
    ...(n.zone !== undefined ? { 'topology.kubernetes.io/zone': n.zone } : {}),
    ...n.labels,
  };
  const ready = n.ready ?? 'True';
  const since = n.readySince ?? now;
  const podCIDRs = n.podCIDRs ?? [];
  return {
    kind: 'Node',
    apiVersion: 'v1',
    metadata: {
      name: n.name,
      uid: randomUUID(),
      resourceVersion: '0',
      creationTimestamp: rfc3339(n.creationTimestamp ?? now),
      labels,
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        ...n.annotations,
      },
    },
    spec: {
      ...(podCIDRs[0] !== undefined ? { podCIDR: podCIDRs[0], podCIDRs } : {}),
      providerID: `kind://docker/routelet/${n.name}`,
    },
    status: {
      capacity: { cpu: '2', 'ephemeral-storage': '41152736Ki', memory: '8148160Ki', pods: '110' },
      allocatable: { cpu: '2', 'ephemeral-storage': '41152736Ki', memory: '8148160Ki', pods: '110' },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', since, now),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', since, now),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', since, now),
        ready === 'True'
          ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', since, now)
          : ready === 'False'
            ? condition('Ready', 'False', 'KubeletNotReady', 'container runtime network not ready', since, now)
            : condition('Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.', since, now),
      ],
      addresses: [
        ...(n.internalIPs ?? []).map((address) => ({ type: 'InternalIP', address })),
        { type: 'Hostname', address: n.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: randomUUID(),
        containerRuntimeVersion: 'containerd://1.7.18',
        kernelVersion: '6.12.0',
        kubeProxyVersion: 'v1.31.0',
        kubeletVersion: 'v1.31.0',
        machineID: randomUUID().replace(/-/g, ''),
        operatingSystem: 'linux',
        osImage: 'Debian GNU/Linux 13 (trixie)',
        systemUUID: randomUUID(),
      },
    },
  };
}

/** A node's Lease in kube-node-lease, as the kubelet keeps it. */
export function makeLease(node: Obj, renewTime: Date, leaseDurationSeconds = 40): Obj {
  return {
    kind: 'Lease',
    apiVersion: 'coordination.k8s.io/v1',
    metadata: {
      name: node.metadata.name,
      namespace: LEASE_NAMESPACE,
      uid: randomUUID(),
      resourceVersion: '0',
      creationTimestamp: rfc3339(renewTime),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.metadata.name, uid: node.metadata.uid }],
    },
    spec: { holderIdentity: node.metadata.name, leaseDurationSeconds, renewTime: microTime(renewTime) },
  };
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const clone = <T>(o: T): T => structuredClone(o);

export interface KubeApiServerOptions {
  /** how a watch from a compacted resourceVersion is refused */
  watchGone?: 'event' | 'status';
  /** interval of BOOKMARK events on watches that asked for them; 0: only on bookmark() */
  bookmarkIntervalMs?: number;
  /** serve HTTPS with a self-signed certificate for the listening address */
  tls?: boolean;
  /** the address to listen on (default 127.0.0.1): the cluster test serves agents in network namespaces */
  host?: string;
}

/** A self-signed certificate and key for IP 127.0.0.1, made by openssl. */
export function selfSignedCert(ip = '127.0.0.1'): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'routelet-kube-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=kube-apiserver', '-addext', `subjectAltName=IP:${ip}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class KubeApiServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly objects: Record<Kind, Map<string, Obj>> = { nodes: new Map(), leases: new Map() };
  private readonly history: Event[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly continues = new Map<string, { kind: Kind; rv: number; items: Obj[]; page: number }>();
  private rv = 100;
  private compactedRv = 0;
  port = 0;
  /** called before each list page is served (page 0 is the first): tests change the cluster mid-list */
  onListPage: ((kind: Kind, page: number) => void) | undefined;
  /** every request: method and URL, in order */
  readonly requests: { method: string; url: string }[] = [];

  private readonly tls: { cert: string; key: string } | undefined;

  constructor(private readonly opts: KubeApiServerOptions = {}) {
    this.tls = opts.tls ? selfSignedCert(opts.host) : undefined;
  }

  get url(): string {
    const host = this.opts.host ?? '127.0.0.1';
    return `${this.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  /** the CA of the server's certificate (itself), PEM; undefined for plain HTTP */
  get caPem(): string | undefined {
    return this.tls?.cert;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** open watch streams */
  get watchCount(): number {
    return this.watchers.size;
  }

  /** A kubeconfig file's text (JSON, which is YAML), as KUBECONFIG would name it. */
  kubeconfigFile(): string {
    const cluster: Record<string, unknown> = { server: this.url };
    if (this.tls) cluster['certificate-authority-data'] = Buffer.from(this.tls.cert).toString('base64');
    else cluster['insecure-skip-tls-verify'] = true;
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster }],
      users: [{ name: 'routelet', user: { token: 'stand-in-token' } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'routelet' } }],
      'current-context': 'stand-in',
    });
  }

  /** A kubeconfig (as an object for KubeConfig.loadFromOptions) pointing at this server. */
  kubeconfig() {
    const cluster = this.tls
      ? { name: 'stand-in', server: this.url, caData: Buffer.from(this.tls.cert).toString('base64'), skipTLSVerify: false }
      : { name: 'stand-in', server: this.url, skipTLSVerify: true };
    return {
      clusters: [cluster],
      users: [{ name: 'routelet', token: 'stand-in-token' }],
      contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'routelet' }],
      currentContext: 'stand-in',
    };
  }

  async start(port = this.port): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server: Server = this.tls ? createTlsServer({ cert: this.tls.cert, key: this.tls.key }, handler) : createServer(handler);
    // every TCP connection, the TLS ones from before their handshake: one still shaking hands
    // when stop() comes would otherwise hold server.close() for ever
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** Stop listening and cut every connection (the API server gone). State is kept for start(). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropWatches();
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Cut every watch connection without a clean end of stream. */
  dropWatches(): void {
    for (const w of [...this.watchers]) {
      this.endWatch(w);
      w.res.socket?.destroy();
    }
  }

  /** Forget the history up to now: a watch or continue token from an older resourceVersion gets 410. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  /** A BOOKMARK now on every watch that allows them. */
  bookmark(): void {
    for (const w of this.watchers) if (w.bookmarks) this.sendBookmark(w);
  }

  node(name: string): Obj | undefined {
    const n = this.objects.nodes.get(name);
    return n && clone(n);
  }

  lease(name: string): Obj | undefined {
    const l = this.objects.leases.get(name);
    return l && clone(l);
  }

  /** A Node and (unless lease: false) its Lease renewed now. */
  addNode(n: NodeInput, opts: { lease?: boolean; renewTime?: Date; leaseDurationSeconds?: number } = {}): Obj {
    const node = makeNode(n);
    this.put('nodes', node, 'ADDED');
    if (opts.lease !== false) this.put('leases', makeLease(node, opts.renewTime ?? new Date(), opts.leaseDurationSeconds), 'ADDED');
    return clone(node);
  }

  /** Change a Node in place (a MODIFIED event with a new resourceVersion, even if nothing changed). */
  updateNode(name: string, change: (node: Obj) => void): Obj {
    const node = this.objects.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    const copy = clone(node);
    change(copy);
    this.put('nodes', copy, 'MODIFIED');
    return clone(copy);
  }

  /** Set the Node's Ready condition (lastTransitionTime now when the status changes). */
  setReady(name: string, value: 'True' | 'False' | 'Unknown', at = new Date()): Obj {
    return this.updateNode(name, (n) => {
      const c = n.status.conditions.find((x: { type: string }) => x.type === 'Ready');
      if (c.status !== value) c.lastTransitionTime = rfc3339(at);
      c.status = value;
      c.lastHeartbeatTime = rfc3339(at);
      c.reason = value === 'True' ? 'KubeletReady' : value === 'False' ? 'KubeletNotReady' : 'NodeStatusUnknown';
    });
  }

  /** Delete the Node and its Lease (the Lease has the Node as owner: garbage collected). */
  deleteNode(name: string): void {
    const node = this.objects.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    this.remove('nodes', name);
    if (this.objects.leases.has(name)) this.remove('leases', name);
  }

  /** The kubelet renewing its Lease at `at` (creates it if missing). */
  renewLease(name: string, at = new Date()): Obj {
    const lease = this.objects.leases.get(name);
    if (!lease) {
      const node = this.objects.nodes.get(name);
      if (!node) throw new Error(`no node ${name}`);
      const l = makeLease(node, at);
      this.put('leases', l, 'ADDED');
      return clone(l);
    }
    const copy = clone(lease);
    copy.spec.renewTime = microTime(at);
    this.put('leases', copy, 'MODIFIED');
    return clone(copy);
  }

  deleteLease(name: string): void {
    this.remove('leases', name);
  }

  private put(kind: Kind, obj: Obj, type: 'ADDED' | 'MODIFIED'): void {
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    this.objects[kind].set(obj.metadata.name, obj);
    this.emit({ kind, type, rv, object: clone(obj) });
  }

  private remove(kind: Kind, name: string): void {
    const obj = this.objects[kind].get(name);
    if (!obj) throw new Error(`no ${kind} ${name}`);
    this.objects[kind].delete(name);
    const rv = ++this.rv;
    const gone = clone(obj);
    gone.metadata.resourceVersion = String(rv);
    this.emit({ kind, type: 'DELETED', rv, object: gone });
  }

  private emit(e: Event): void {
    this.history.push(e);
    for (const w of this.watchers) if (w.kind === e.kind) this.send(w, { type: e.type, object: e.object });
  }

  private send(w: Watcher, event: unknown): void {
    w.res.write(JSON.stringify(event) + '\n');
  }

  private sendBookmark(w: Watcher): void {
    const [kind, apiVersion] = w.kind === 'nodes' ? ['Node', 'v1'] : ['Lease', 'coordination.k8s.io/v1'];
    this.send(w, { type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: String(this.rv) } } });
  }

  private endWatch(w: Watcher): void {
    clearTimeout(w.timer);
    clearInterval(w.bookmarkTimer);
    this.watchers.delete(w);
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '' });
    const url = new URL(req.url ?? '/', 'http://x');
    const kind: Kind | undefined = url.pathname === NODES_PATH ? 'nodes' : url.pathname === LEASES_PATH ? 'leases' : undefined;
    if (req.headers.authorization !== 'Bearer stand-in-token') {
      this.json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (req.method !== 'GET' || kind === undefined) {
      this.json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const q = url.searchParams;
    if (q.get('watch') === 'true' || q.get('watch') === '1') this.watch(kind, q, res);
    else this.list(kind, q, res);
  }

  private list(kind: Kind, q: URLSearchParams, res: ServerResponse): void {
    const [listKind, apiVersion] = kind === 'nodes' ? ['NodeList', 'v1'] : ['LeaseList', 'coordination.k8s.io/v1'];
    const token = q.get('continue');
    this.onListPage?.(kind, token ? (this.continues.get(token)?.page ?? 1) : 0);
    let snapshot: { kind: Kind; rv: number; items: Obj[]; page: number };
    if (token) {
      const s = this.continues.get(token);
      if (!s || s.kind !== kind) {
        this.json(res, 400, status(400, 'BadRequest', 'continue key is not valid'));
        return;
      }
      if (s.rv < this.compactedRv) {
        this.json(res, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.'));
        return;
      }
      snapshot = s;
      this.continues.delete(token);
    } else {
      const items = [...this.objects[kind].values()]
        .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
        .map((o) => {
          const { kind: _k, apiVersion: _a, ...rest } = clone(o);
          return rest as Obj;
        });
      snapshot = { kind, rv: this.rv, items, page: 0 };
    }
    const limit = Number(q.get('limit') ?? 0);
    const page = limit > 0 ? snapshot.items.slice(0, limit) : snapshot.items;
    const rest = snapshot.items.slice(page.length);
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (rest.length > 0) {
      const next = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: snapshot.rv, start: randomUUID() })).toString('base64');
      this.continues.set(next, { kind, rv: snapshot.rv, items: rest, page: snapshot.page + 1 });
      metadata.continue = next;
      metadata.remainingItemCount = rest.length;
    }
    this.json(res, 200, { kind: listKind, apiVersion, metadata, items: page });
  }

  private watch(kind: Kind, q: URLSearchParams, res: ServerResponse): void {
    const from = q.get('resourceVersion');
    const fromRv = from === null || from === '' || from === '0' ? undefined : Number(from);
    if (fromRv !== undefined && (!Number.isFinite(fromRv) || fromRv < this.compactedRv)) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`);
      if (this.opts.watchGone === 'status') {
        this.json(res, 410, gone);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.end(JSON.stringify({ type: 'ERROR', object: gone }) + '\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { kind, res, bookmarks: q.get('allowWatchBookmarks') === 'true', timer: undefined, bookmarkTimer: undefined };
    if (fromRv === undefined) {
      // "any" resourceVersion: the current state as ADDED events, then changes
      for (const o of this.objects[kind].values()) this.send(w, { type: 'ADDED', object: clone(o) });
    } else {
      for (const e of this.history) if (e.kind === kind && e.rv > fromRv) this.send(w, { type: e.type, object: e.object });
    }
    this.watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0)
      w.timer = setTimeout(() => {
        this.endWatch(w);
        res.end();
      }, timeout * 1000);
    if (w.bookmarks && (this.opts.bookmarkIntervalMs ?? 0) > 0)
      w.bookmarkTimer = setInterval(() => this.sendBookmark(w), this.opts.bookmarkIntervalMs);
    res.on('close', () => this.endWatch(w));
  }
}
