// Every manifest in deploy/ against the Kubernetes API schemas (kubernetes-models: the official
// OpenAPI definitions compiled to ajv validators), and the RBAC of deploy/rbac.yaml checked to
// grant exactly what src/kubernetes reads.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const DEPLOY = join(import.meta.dirname, '../deploy');

type Validate = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string; keyword: string; params: unknown }[] | null };

/** apiVersion/kind → the schema module of kubernetes-models (IoK8sApi<Group><Version><Kind>). */
async function validatorFor(apiVersion: string, kind: string): Promise<Validate> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  const groupName = group!.split('.')[0]!; // apps, rbac (rbac.authorization.k8s.io), core
  const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);
  const name = `IoK8sApi${cap(groupName)}${cap(version!)}${kind}`;
  const mod = (await import(`kubernetes-models/_schemas/${name}`)) as { validate: Validate };
  return mod.validate;
}

interface Manifest {
  file: string;
  doc: Record<string, any>;
}

function manifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DEPLOY).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'))) {
      expect(d.errors, file).toEqual([]);
      const doc = d.toJS() as Record<string, any> | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

async function check(doc: Record<string, any>): Promise<string[]> {
  const validate = await validatorFor(String(doc.apiVersion), String(doc.kind));
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.keyword} ${e.message ?? JSON.stringify(e.params)}`);
}

describe('deploy/ manifests', () => {
  const all = manifests();

  it('are found: the DaemonSet and the RBAC objects', () => {
    const kinds = all.map((m) => `${m.file}:${m.doc.kind}`);
    expect(kinds).toEqual(expect.arrayContaining(['daemonset.yaml:DaemonSet', 'rbac.yaml:ServiceAccount', 'rbac.yaml:ClusterRole', 'rbac.yaml:ClusterRoleBinding', 'rbac.yaml:Role', 'rbac.yaml:RoleBinding']));
  });

  for (const m of all)
    it(`${m.file}: ${m.doc.kind} ${m.doc.metadata?.name} is valid against the ${m.doc.apiVersion} schema`, async () => {
      expect(await check(m.doc)).toEqual([]);
    });

  it('the validators reject what the API would (they can fail)', async () => {
    const rbac = all.filter((m) => m.file === 'rbac.yaml');
    const role = structuredClone(rbac.find((m) => m.doc.kind === 'ClusterRole')!.doc);
    delete role.rules[0].verbs;
    expect((await check(role)).join()).toMatch(/verbs/);
    const binding = structuredClone(rbac.find((m) => m.doc.kind === 'RoleBinding')!.doc);
    delete binding.roleRef.name;
    expect((await check(binding)).join()).toMatch(/name/);
    const ds = structuredClone(all.find((m) => m.doc.kind === 'DaemonSet')!.doc);
    ds.spec.template.spec.containers[0].ports[0].containerPort = 'bgp';
    expect((await check(ds)).length).toBeGreaterThan(0);
  });
});

describe('deploy/rbac.yaml grants exactly what src/kubernetes reads', () => {
  const rbac = manifests().filter((m) => m.file === 'rbac.yaml').map((m) => m.doc);
  const sa = rbac.find((d) => d.kind === 'ServiceAccount')!;

  it('nodes: get, list, watch cluster-wide; leases: get, list, watch in kube-node-lease only; nothing else', () => {
    const grants: string[] = [];
    for (const r of rbac.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role'))
      for (const rule of r.rules)
        for (const g of rule.apiGroups) for (const res of rule.resources) for (const v of rule.verbs) grants.push(`${r.metadata.namespace ?? '*'}/${g || 'core'}/${res}/${v}`);
    expect(grants.sort()).toEqual([
      '*/core/nodes/get',
      '*/core/nodes/list',
      '*/core/nodes/watch',
      'kube-node-lease/coordination.k8s.io/leases/get',
      'kube-node-lease/coordination.k8s.io/leases/list',
      'kube-node-lease/coordination.k8s.io/leases/watch',
    ]);
    expect(rbac.some((d) => (d.rules ?? []).some((r: any) => r.resourceNames || r.nonResourceURLs))).toBe(false);
  });

  it('each role is bound to the routelet ServiceAccount, in the role\'s namespace', () => {
    for (const b of rbac.filter((d) => d.kind === 'ClusterRoleBinding' || d.kind === 'RoleBinding')) {
      const role = rbac.find((d) => d.kind === b.roleRef.kind && d.metadata.name === b.roleRef.name)!;
      expect(role, b.metadata.name).toBeDefined();
      expect(b.metadata.namespace).toBe(role.metadata.namespace);
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    }
  });

  it('the ServiceAccount lives in the namespace daemonset.yaml creates', () => {
    const ns = manifests().find((m) => m.doc.kind === 'Namespace')!.doc;
    expect(sa.metadata.namespace).toBe(ns.metadata.name);
  });
});

describe('deploy/daemonset.yaml runs the Kubernetes mode', () => {
  const all = manifests().map((m) => m.doc);
  const ds = all.find((d) => d.kind === 'DaemonSet')!;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  const sa = all.find((d) => d.kind === 'ServiceAccount')!;

  /** The container's environment as the kubelet gives it on node `node-a` (host IP 10.0.0.5). */
  function environment(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const e of c.env) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = 'node-a';
      else if (e.valueFrom?.fieldRef?.fieldPath === 'status.hostIP') env[e.name] = '10.0.0.5';
      else throw new Error(`${e.name}: a source this test does not model`);
    }
    return env;
  }

  /** The file at `path` inside the container: from the ConfigMap and Secret volumes. */
  function readFile(path: string): string {
    for (const m of c.volumeMounts) {
      if (!path.startsWith(`${m.mountPath}/`)) continue;
      const key = path.slice(m.mountPath.length + 1);
      if (key.includes('/')) continue;
      const vol = pod.volumes.find((v: any) => v.name === m.name);
      const cm = vol.configMap && all.find((d) => d.kind === 'ConfigMap' && d.metadata.name === vol.configMap.name);
      const secret = vol.secret && all.find((d) => d.kind === 'Secret' && d.metadata.name === vol.secret.secretName);
      const text = (cm?.data ?? secret?.stringData)?.[key];
      if (text !== undefined) return text;
    }
    throw Object.assign(new Error(`${path}: not in any volume`), { code: 'ENOENT' });
  }

  it('runs as the ServiceAccount of rbac.yaml, in its namespace', () => {
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(ds.metadata.namespace).toBe(sa.metadata.namespace);
  });

  it('its environment loads: the mode on, the node name from spec.nodeName, no static peers', async () => {
    const { loadConfig } = await import('../src/config/index.js');
    const env = environment();
    expect(c.env.find((e: any) => e.name === 'ROUTELET_NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
    expect(env.ROUTELET_PEERS).toBeUndefined();
    expect(env.ROUTELET_ADVERTISE).toBeUndefined(); // the pod CIDRs come from the Node
    const host = { firstGlobalIPv4: () => '10.0.0.5', localAddresses: () => ['10.0.0.5'], readFile, hostName: () => 'not-the-node' };
    const { config, warnings } = loadConfig(env, host);
    expect(warnings).toEqual([]);
    expect(config.kubernetes).toMatchObject({ enabled: true, nodeName: 'node-a', reflectors: { mode: 'mesh' } });
    expect(config.peers).toEqual([]);
    expect(config.selectedPeers).toEqual([]);
    expect(config.routerId).toBe('10.0.0.5');
    expect(config.password).toBe('change-me');
  });

  it('keeps the state directory on the node (hostPath), writable', () => {
    const dir = environment().ROUTELET_STATE_DIR;
    const mount = c.volumeMounts.find((m: any) => m.mountPath === dir);
    expect(mount, `a volume mounted at ${dir}`).toBeDefined();
    expect(mount.readOnly ?? false).toBe(false);
    const vol = pod.volumes.find((v: any) => v.name === mount.name);
    expect(vol.hostPath).toEqual({ path: dir, type: 'DirectoryOrCreate' });
  });

  it('probes /livez and /readyz on the HTTP address it sets, and limits memory', () => {
    const port = Number(environment().ROUTELET_HTTP_ADDRESS!.split(':').pop());
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/livez', port });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port });
    expect(c.startupProbe.httpGet).toMatchObject({ path: '/livez', port });
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)![1]);
    // measured (bench/kubernetes.ts, 8 agents): an agent in the Kubernetes mode holds
    // 129–137 MiB RSS with the client library loaded
    expect(mib(c.resources.requests.memory)).toBeGreaterThanOrEqual(140);
    expect(mib(c.resources.limits.memory)).toBeGreaterThanOrEqual(2 * mib(c.resources.requests.memory));
  });
});
