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
