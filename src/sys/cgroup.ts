// Where this process's cgroup v2 directory is, for attaching sockops programs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountCgroup2 } from '../native/probes.js';

/** Mount points of cgroup2 file systems visible to this process, from /proc/self/mountinfo. */
export function cgroup2Mounts(mountinfo = '/proc/self/mountinfo'): string[] {
  const out: string[] = [];
  for (const line of readFileSync(mountinfo, 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    if (right.split(' ')[0] === 'cgroup2') out.push(unescapeMount(left.split(' ')[4] ?? ''));
  }
  return out;
}

function unescapeMount(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** This process's own cgroup v2 path ("0::/x/y" in /proc/self/cgroup), or "/". */
export function ownCgroup2Path(procCgroup = '/proc/self/cgroup'): string {
  for (const line of readFileSync(procCgroup, 'utf8').split('\n')) {
    if (line.startsWith('0::')) return line.slice(3) || '/';
  }
  return '/';
}

export const PRIVATE_CGROUP2_MOUNT = '/run/routelet/cgroup2';

/**
 * The cgroup v2 directory holding this process, mounting a private cgroup2 hierarchy when
 * none is visible (as under `ip netns exec`, which remounts /sys). Throws with the reason.
 */
export function ownCgroup2Dir(): string {
  let mounts = cgroup2Mounts();
  if (mounts.length === 0) {
    const r = mountCgroup2(PRIVATE_CGROUP2_MOUNT);
    if (!r.ok) throw new Error(`no cgroup v2 mount, and mounting one on ${PRIVATE_CGROUP2_MOUNT} failed: ${r.code} ${r.syscall}`);
    mounts = [PRIVATE_CGROUP2_MOUNT];
  }
  const own = ownCgroup2Path();
  for (const m of mounts) {
    const dir = join(m, own);
    if (existsSync(dir)) return dir;
  }
  return mounts[0]!;
}
