// Privileged tests check their prerequisites and fail loudly (never skip) when they are missing.
import { execFileSync } from 'node:child_process';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (network namespaces, rtnetlink, BPF); run the suite as root');
}

export function requireCommand(cmd: string, pkg = cmd): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`this test needs ${cmd} (Debian package ${pkg}); run npm run setup`);
  }
}
