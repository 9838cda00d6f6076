// Nodes and Leases (kube-node-lease) kept current with @kubernetes/client-node's informer:
// list (in pages of `pageSize`), then watch from the list's resourceVersion with bookmarks; a 410
// Gone (an ERROR event, a 410 answer, or an expired continue token) relists; a failed list or
// watch restarts after a backoff that doubles up to `backoff.maxMs`. Events only update the cache
// and MARK that something changed: `onChange` runs once per `debounceMs` burst and the consumer
// recomputes its desired state from the cache (desiredPeers, nodeHealth), never from an event.
//
// The client library is loaded by start(), not when this module is imported: it costs about
// 0.6 s of loading (measured on this machine), which a restarting agent must not spend before its
// sessions are up. Nothing here is on the restart-recovery path.
import type { KubeConfig, KubernetesListObject, KubernetesObject, Informer, ObjectCache } from '@kubernetes/client-node';
import { leaseInfo, nodeInfo, LEASE_NAMESPACE, type LeaseInfo, type NodeInfo } from './objects.js';

export type KubeConfigSource =
  /** in-cluster service account, else KUBECONFIG, else ~/.kube/config (KubeConfig.loadFromDefault) */
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string }
  /** an object for KubeConfig.loadFromOptions (tests) */
  | { readonly kind: 'options'; readonly options: object };

export interface ChangeMarks {
  /** a Node was added, changed or deleted: recompute the peers */
  readonly nodes: boolean;
  /** a Lease changed: re-judge node health */
  readonly leases: boolean;
}

export interface WatcherOptions {
  readonly source?: KubeConfigSource;
  readonly onChange: (marks: ChangeMarks) => void;
  readonly debounceMs?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly pageSize?: number;
  /** the API server ends each watch after this long, and it is renewed: a silently dead connection cannot last longer */
  readonly watchTimeoutSeconds?: number;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** a list page not answered within this long fails (and is retried after the backoff): a hung connection cannot stall the sync */
  readonly listTimeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

export interface ResourceStatus {
  /** the resourceVersion the next watch starts from ('' before the first list or after a 410) */
  readonly resourceVersion: string;
  readonly lists: number;
  readonly errors: number;
  readonly lastError: string | undefined;
  readonly synced: boolean;
}

type Kind = 'nodes' | 'leases';

/** makeInformer returns a ListWatch, which also tells the resourceVersion it watches from */
type RvInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject> & { latestResourceVersion(): string };

interface Resource<T> {
  readonly kind: Kind;
  informer: RvInformer | undefined;
  listed: boolean;
  readonly cache: Map<string, T>;
  lists: number;
  errors: number;
  lastError: string | undefined;
  synced: boolean;
  delay: number;
  retry: NodeJS.Timeout | undefined;
}

const errorText = (e: unknown): string => {
  const err = e as { code?: unknown; statusCode?: unknown; message?: unknown };
  const code = err?.statusCode ?? err?.code;
  return `${code !== undefined ? `${String(code)} ` : ''}${String(err?.message ?? e).split('\n')[0]}`;
};

export class KubeWatcher {
  private readonly nodeRes: Resource<NodeInfo> = this.resource('nodes');
  private readonly leaseRes: Resource<LeaseInfo> = this.resource('leases');
  private marks = { nodes: false, leases: false };
  private debounce: NodeJS.Timeout | undefined;
  private stopped = true;
  private syncWaiters: (() => void)[] = [];

  constructor(private readonly opts: WatcherOptions) {}

  private resource<T>(kind: Kind): Resource<T> {
    return { kind, informer: undefined, listed: false, cache: new Map(), lists: 0, errors: 0, lastError: undefined, synced: false, delay: 0, retry: undefined };
  }

  /** Nodes by name, as last listed or watched. Read-only for callers. */
  get nodes(): ReadonlyMap<string, NodeInfo> {
    return this.nodeRes.cache;
  }

  /** Leases of kube-node-lease by name. */
  get leases(): ReadonlyMap<string, LeaseInfo> {
    return this.leaseRes.cache;
  }

  /** true once both kinds have been listed at least once */
  get synced(): boolean {
    return this.nodeRes.synced && this.leaseRes.synced;
  }

  status(): { nodes: ResourceStatus; leases: ResourceStatus } {
    const s = (r: Resource<unknown>): ResourceStatus => ({
      resourceVersion: r.informer?.latestResourceVersion() ?? '',
      lists: r.lists,
      errors: r.errors,
      lastError: r.lastError,
      synced: r.synced,
    });
    return { nodes: s(this.nodeRes), leases: s(this.leaseRes) };
  }

  /** Resolves when both kinds are listed (at once if they are). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Load the client library and start listing and watching; returns without waiting for the lists. */
  async start(): Promise<void> {
    this.stopped = false;
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    const src = this.opts.source ?? { kind: 'default' };
    if (src.kind === 'default') kc.loadFromDefault();
    else if (src.kind === 'file') kc.loadFromFile(src.path);
    else kc.loadFromOptions(src.options);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    const limit = this.opts.pageSize ?? 500;
    const timeout = this.opts.watchTimeoutSeconds ?? 300;
    const query = `?allowWatchBookmarks=true&timeoutSeconds=${timeout}`;
    if (this.stopped) return;
    this.startResource(k8s.makeInformer, kc, this.nodeRes, `/api/v1/nodes${query}`, (cont) => core.listNode({ limit, _continue: cont }), nodeInfo);
    this.startResource(
      k8s.makeInformer,
      kc,
      this.leaseRes,
      `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases${query}`,
      (cont) => coord.listNamespacedLease({ namespace: LEASE_NAMESPACE, limit, _continue: cont }),
      leaseInfo,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    this.debounce = undefined;
    for (const r of [this.nodeRes, this.leaseRes] as Resource<unknown>[]) {
      clearTimeout(r.retry);
      r.retry = undefined;
      await r.informer?.stop();
    }
  }

  private mark(kind: Kind): void {
    this.marks[kind] = true;
    if (this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      const marks = this.marks;
      this.marks = { nodes: false, leases: false };
      this.opts.onChange(marks);
    }, this.opts.debounceMs ?? 100);
  }

  private startResource<T>(
    makeInformer: typeof import('@kubernetes/client-node').makeInformer,
    kc: KubeConfig,
    r: Resource<T>,
    path: string,
    page: (cont: string | undefined) => Promise<KubernetesListObject<KubernetesObject>>,
    reduce: (raw: unknown) => T,
  ): void {
    const backoff = this.opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      r.lists++;
      // pages of one consistent snapshot; an expired continue token (410) restarts the list once
      for (let attempt = 0; ; attempt++) {
        const items: KubernetesObject[] = [];
        let cont: string | undefined;
        let rv: string | undefined;
        try {
          do {
            const p = await withTimeout(page(cont), this.opts.listTimeoutMs ?? 15_000, `listing ${r.kind}`);
            items.push(...p.items);
            rv = p.metadata?.resourceVersion;
            cont = p.metadata?._continue || undefined;
          } while (cont);
        } catch (e) {
          if ((e as { code?: number }).code === 410 && attempt === 0) continue;
          throw e;
        }
        r.delay = 0;
        r.listed = true;
        // the informer puts the items into its cache as soon as this returns: synced then, not
        // only once start() resolves, which also waits for the watch request's answer
        setImmediate(() => this.checkSynced(r));
        return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: rv }, items };
      }
    };
    const informer = makeInformer(kc, path, list) as RvInformer;
    r.informer = informer;
    const key = (o: KubernetesObject) => o.metadata?.name ?? '';
    const upsert = (o: KubernetesObject) => {
      r.delay = 0;
      r.cache.set(key(o), reduce(o));
      this.mark(r.kind);
    };
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', (o) => {
      r.delay = 0;
      if (r.cache.delete(key(o))) this.mark(r.kind);
    });
    informer.on('error', (err) => {
      r.errors++;
      r.lastError = errorText(err);
      if (this.stopped) return;
      r.delay = r.delay === 0 ? backoff.initialMs : Math.min(r.delay * 2, backoff.maxMs);
      this.opts.log?.(`kubernetes ${r.kind}: ${r.lastError}; retrying in ${r.delay} ms`, { kind: r.kind, delayMs: r.delay });
      clearTimeout(r.retry);
      r.retry = setTimeout(() => {
        r.retry = undefined;
        if (!this.stopped) void informer.start().then(() => this.checkSynced(r));
      }, r.delay);
    });
    // start() resolves once the list (if one was due) has filled the cache and the watch is asked for
    void informer.start().then(() => this.checkSynced(r));
  }

  private checkSynced(r: Resource<unknown>): void {
    if (!r.synced && r.listed) {
      r.synced = true;
      this.mark(r.kind);
      if (this.synced) for (const w of this.syncWaiters.splice(0)) w();
    }
  }
}
