// `routelet agent --check`: perform each native operation routelet relies on and say,
// for this host, whether it works and if not why. Exit 1 when a required one fails.
import { nativeAvailable, type NativeOutcome } from '../native/addon.js';
import { probes } from '../native/probes.js';
import { ownCgroup2Dir } from '../sys/cgroup.js';

export interface CapabilityResult {
  name: string;
  required: boolean;
  ok: boolean;
  code?: string;
  syscall?: string;
  message: string;
}

export interface CheckOptions {
  /** the kernel installs routes (ROUTELET_KERNEL): rtnetlink is required */
  kernel: boolean;
  /** ROUTELET_BPF=on: the BPF programs are required */
  bpfRequired: boolean;
  /** kernel BTF to load against instead of /sys/kernel/btf/vmlinux */
  btfPath?: string;
  /** cgroup v2 directory for the sockops attach instead of this process's own */
  cgroupPath?: string;
}

function fromOutcome(name: string, required: boolean, o: NativeOutcome): CapabilityResult {
  const r: CapabilityResult = { name, required, ok: o.ok, message: o.message.replace(/\s*\n\s*/g, '; ') };
  if (o.code) r.code = o.code;
  if (o.syscall) r.syscall = o.syscall;
  return r;
}

function attempt(name: string, required: boolean, f: () => NativeOutcome): CapabilityResult {
  try {
    return fromOutcome(name, required, f());
  } catch (e) {
    return { name, required, ok: false, message: (e as Error).message };
  }
}

export function runChecks(opts: CheckOptions): CapabilityResult[] {
  const native = nativeAvailable();
  const names: [string, boolean][] = [
    ['rtnetlink', opts.kernel],
    ['tp_btf', opts.bpfRequired],
    ['sockops', opts.bpfRequired],
    ['tcp-md5', true],
    ['gtsm', true],
  ];
  if (!native.ok) return names.map(([name, required]) => ({ name, required, ok: false, message: native.reason }));
  return [
    attempt('rtnetlink', opts.kernel, () => probes.rtnetlink()),
    attempt('tp_btf', opts.bpfRequired, () => probes.tracepoint(opts.btfPath)),
    attempt('sockops', opts.bpfRequired, () => {
      let dir = opts.cgroupPath;
      if (dir === undefined) {
        try {
          dir = ownCgroup2Dir();
        } catch (e) {
          return { ok: false, code: 'ENOENT', syscall: 'mount', message: (e as Error).message };
        }
      }
      return probes.sockops(dir, opts.btfPath);
    }),
    attempt('tcp-md5', true, () => probes.tcpMd5(16)),
    attempt('gtsm', true, () => probes.minTtl(255)),
  ];
}

export function formatChecks(results: CapabilityResult[]): string {
  const lines = results.map((r) => {
    const status = r.ok ? 'ok  ' : 'FAIL';
    const why = r.ok ? r.message : `${[r.code, r.syscall].filter(Boolean).join(' ')}${r.code || r.syscall ? ': ' : ''}${r.message}`;
    const req = r.ok || r.required ? '' : ' (optional here: routelet falls back without it)';
    return `${status}  ${r.name.padEnd(10)} ${why}${req}`;
  });
  const failed = results.filter((r) => !r.ok && r.required);
  lines.push(failed.length === 0 ? 'all required capabilities work' : `required capabilities failing: ${failed.map((r) => r.name).join(', ')}`);
  return lines.join('\n');
}

export function checksPassed(results: CapabilityResult[]): boolean {
  return results.every((r) => r.ok || !r.required);
}
