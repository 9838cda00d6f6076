// Capability probes (native/check.cc) and the cgroup2 mount helper (native/cgroup.cc).
import { addon, checkInt, type NativeOutcome } from './addon.js';

interface ProbesAddon {
  probeRtnetlink(): NativeOutcome;
  probeTracepoint(btfPath?: string): NativeOutcome;
  probeSockops(cgroupPath: string, btfPath?: string): NativeOutcome;
  probeTcpMd5(keyLength: number): NativeOutcome;
  probeMinTtl(value: number): NativeOutcome;
  mountCgroup2(dir: string): NativeOutcome;
}

const a = () => addon<ProbesAddon>();

export const probes = {
  /** route add, dump and delete through rtnetlink in a namespace private to one thread */
  rtnetlink: (): NativeOutcome => a().probeRtnetlink(),
  /** load, attach and run a tp_btf program; btfPath overrides the kernel BTF (for tests) */
  tracepoint: (btfPath?: string): NativeOutcome => a().probeTracepoint(btfPath),
  /** attach a sockops program to a cgroup v2 directory and see this process's connection */
  sockops: (cgroupPath: string, btfPath?: string): NativeOutcome => a().probeSockops(cgroupPath, btfPath),
  /** TCP_MD5SIG per address and TCP_MD5SIG_EXT per prefix with a key of keyLength bytes */
  tcpMd5: (keyLength = 16): NativeOutcome => {
    checkInt('keyLength', keyLength, 0, 1024);
    return a().probeTcpMd5(keyLength);
  },
  /** IP_MINTTL / IPV6_MINHOPCOUNT at value, TTL 255 on send */
  minTtl: (value = 255): NativeOutcome => {
    checkInt('value', value, 0, 65535);
    return a().probeMinTtl(value);
  },
};

/** Mount a cgroup v2 hierarchy on dir (created if missing); "already mounted" is success. */
export function mountCgroup2(dir: string): NativeOutcome {
  return a().mountCgroup2(dir);
}
