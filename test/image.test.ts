// The container image's runtime stage holds everything the agent loads. No container builder
// can pull a base image on these machines, so the runtime stage's file set is assembled here
// from deploy/Dockerfile itself: every COPY of the last stage, read from the Dockerfile (a file
// the agent needs and the Dockerfile leaves out makes this test fail), node_modules with the
// production dependencies only (`npm ls --omit=dev`, as `npm prune --omit=dev` leaves them).
// From that directory, outside the checkout (module resolution cannot reach the checkout's
// node_modules): `routelet agent --check`, and two agents in network namespaces that peer,
// exchange their prefixes into the kernels and stop.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from './support/agent.js';
import { ROOT } from './support/cli.js';
import { link, Netns } from './support/netns.js';
import { requireRoot } from './support/privileges.js';

interface Copy {
  /** a path of the build stage (/src/…) or of the build context */
  from: string;
  fromStage: boolean;
  /** the destination inside the image */
  to: string;
}

interface RuntimeStage {
  workdir: string;
  copies: Copy[];
  entrypoint: string[];
  cmd: string[];
}

/** The last stage of deploy/Dockerfile: its WORKDIR, COPY lines, ENTRYPOINT and CMD. */
function runtimeStage(text: string): RuntimeStage {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const last = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0).pop()!;
  const out: RuntimeStage = { workdir: '/', copies: [], entrypoint: [], cmd: [] };
  for (const raw of lines.slice(last + 1)) {
    const l = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^WORKDIR\s+(\S+)$/i.exec(l))) out.workdir = m[1]!;
    else if ((m = /^ENTRYPOINT\s+(\[.*\])$/i.exec(l))) out.entrypoint = JSON.parse(m[1]!) as string[];
    else if ((m = /^CMD\s+(\[.*\])$/i.exec(l))) out.cmd = JSON.parse(m[1]!) as string[];
    else if (/^COPY\s/i.test(l)) {
      const words = l.split(/\s+/).slice(1);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      if (paths.length !== 2) throw new Error(`a COPY this test does not model (one source, one destination): ${l}`);
      const fromStage = flags.some((f) => f.startsWith('--from='));
      const to = paths[1]!.startsWith('/') ? paths[1]! : join(out.workdir, paths[1]!);
      out.copies.push({ from: paths[0]!, fromStage, to: paths[1]!.endsWith('/') ? join(to, paths[0]!.split('/').pop()!) : to });
    }
  }
  return out;
}

/** The production dependencies, as directories under node_modules (npm ls --omit=dev). */
function productionPackages(): string[] {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: ROOT, encoding: 'utf8' });
  const nm = join(ROOT, 'node_modules');
  return out
    .split('\n')
    .filter((p) => p.startsWith(`${nm}/`))
    .map((p) => relative(nm, p))
    .sort();
}

/** Every .ts under src has its .js in dist, no older: dist is what the build stage would make. */
function staleDist(): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const js = join(ROOT, 'dist', relative('src', p).replace(/\.ts$/, '.js'));
        if (!existsSync(js) || statSync(js).mtimeMs < statSync(join(ROOT, p)).mtimeMs) stale.push(p);
      }
    }
  };
  walk('src');
  // the bundle bin runs (scripts/bundle.mjs) is made from dist's modules: none newer than it
  const bundle = join(ROOT, 'dist', 'routelet.mjs');
  if (!existsSync(bundle)) stale.push('dist/routelet.mjs');
  else {
    const newer = (dir: string): boolean =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).some((e) =>
        e.isDirectory() ? newer(join(dir, e.name)) : e.name.endsWith('.js') && statSync(join(ROOT, dir, e.name)).mtimeMs > statSync(bundle).mtimeMs,
      );
    if (newer('dist')) stale.push('dist/routelet.mjs');
  }
  return stale;
}

const stage = runtimeStage(readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8'));
let image: string;
let app: string;
let A: Netns | undefined;
let B: Netns | undefined;
const agents: AgentProcess[] = [];

beforeAll(() => {
  requireRoot();
  const stale = staleDist();
  if (stale.length) throw new Error(`dist/ is older than src/ (${stale.slice(0, 3).join(', ')}…): run npx tsc -p tsconfig.json && npm run build:bundle first`);
  image = mkdtempSync(join(tmpdir(), 'routelet-image-'));
  app = join(image, stage.workdir);
  for (const c of stage.copies) {
    const dest = join(image, c.to);
    mkdirSync(dirname(dest), { recursive: true });
    if (c.fromStage) {
      // the build stage works in /src on a copy of the checkout
      if (!c.from.startsWith('/src/')) throw new Error(`a build-stage path outside /src: ${c.from}`);
      const rel = c.from.slice('/src/'.length);
      if (rel === 'node_modules') {
        for (const pkg of productionPackages()) cpSync(join(ROOT, 'node_modules', pkg), join(dest, pkg), { recursive: true, dereference: true });
      } else cpSync(join(ROOT, rel), dest, { recursive: true, dereference: true });
    } else cpSync(join(ROOT, c.from), dest, { recursive: true, dereference: true });
  }
}, 120_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs(agents);
});

afterAll(async () => {
  await stopAllAgents();
  A?.delete();
  B?.delete();
  if (image) rmSync(image, { recursive: true, force: true });
});

describe('the runtime stage of deploy/Dockerfile', () => {
  it('is read from the Dockerfile: the entry point is the copied bin/routelet.js', () => {
    expect(stage.workdir).toBe('/opt/routelet');
    expect(stage.entrypoint).toEqual(['node', '/opt/routelet/bin/routelet.js']);
    expect(stage.cmd).toEqual(['agent']);
    expect(existsSync(join(image, stage.entrypoint[1]!))).toBe(true);
    expect(stage.copies.map((c) => c.to)).toEqual(expect.arrayContaining(['/opt/routelet/node_modules', '/opt/routelet/dist']));
  });

  it('holds the production dependencies and none of the development ones', () => {
    const nm = join(app, 'node_modules');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const d of Object.keys(pkg.dependencies)) expect(existsSync(join(nm, d, 'package.json')), d).toBe(true);
    // a development dependency may also be a production one's dependency (@types/node of the
    // Kubernetes client): only those npm ls names as production stay
    const prod = new Set(productionPackages());
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => !prod.has(d));
    expect(devOnly).toEqual(expect.arrayContaining(['vitest', 'typescript', 'kubernetes-models', 'cmake-js']));
    for (const d of devOnly) expect(existsSync(join(nm, d)), d).toBe(false);
  });

  it('runs `routelet agent --check` from the image alone', () => {
    const out = execFileSync(process.execPath, [join(image, stage.entrypoint[1]!), 'agent', '--check', '--json'], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: process.env.PATH!, NODE_ENV: 'production' },
    });
    const checks = JSON.parse(out) as { name: string; required: boolean; ok: boolean }[];
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(['rtnetlink', 'tcp-md5', 'gtsm']));
    expect(checks.filter((c) => c.required && !c.ok)).toEqual([]);
  }, 60_000);

  it('loads the Kubernetes client library from its production dependencies', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const k = await import('@kubernetes/client-node'); process.stdout.write(typeof k.makeInformer)`],
      { cwd: app, encoding: 'utf8' },
    );
    expect(out).toBe('function');
  }, 60_000);

  it('two agents from the image peer, and each kernel holds the other one\'s prefix', async () => {
    A = new Netns('imga');
    B = new Netns('imgb');
    link(A, '10.0.0.1/24', B, '10.0.0.2/24');
    const bin = join(image, stage.entrypoint[1]!);
    const common = { ROUTELET_ASN: '65000', ROUTELET_CONNECT_RETRY: '1', ROUTELET_CONNECT_RETRY_MAX: '2', ROUTELET_KUBERNETES: 'off', NODE_ENV: 'production' };
    agents.push(await startAgent(A, { ...common, ROUTELET_ROUTER_ID: '10.0.0.1', ROUTELET_PEERS: '10.0.0.2@65000', ROUTELET_ADVERTISE: '10.65.1.0/26' }, { bin, cwd: app }));
    agents.push(await startAgent(B, { ...common, ROUTELET_ROUTER_ID: '10.0.0.2', ROUTELET_PEERS: '10.0.0.1@65000', ROUTELET_ADVERTISE: '10.65.2.0/26' }, { bin, cwd: app }));
    await agents[0]!.waitPeer('10.0.0.2', (p) => p.state === 'Established');
    const has = (ns: Netns, prefix: string, via: string) => ns.ip('route', 'show', prefix, 'proto', '201').includes(`via ${via}`);
    const deadline = Date.now() + 20_000;
    while (!(has(A, '10.65.2.0/26', '10.0.0.2') && has(B, '10.65.1.0/26', '10.0.0.1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(has(A, '10.65.2.0/26', '10.0.0.2')).toBe(true);
    expect(has(B, '10.65.1.0/26', '10.0.0.1')).toBe(true);
    // the agent loaded from the image: its log names no path in the checkout, and its code
    // ran from the image's bundle, not from the compiled modules beside it
    for (const a of agents) {
      expect(a.log()).not.toContain(ROOT);
      const starting = a.lines().find((l) => l.msg === 'routelet agent starting');
      expect(starting?.code).toBe(join(app, 'dist', 'routelet.mjs'));
      const r = await a.stop();
      expect(r.code).toBe(0);
    }
  }, 90_000);
});
