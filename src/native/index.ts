// The only importer of the native addon. Everything native reaches TypeScript through the
// typed functions here; native failures become Errors in Node's shape (errno, code, syscall).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a probe or a per-item native operation reports; never thrown. */
export interface NativeOutcome {
  ok: boolean;
  /** negative errno, as Node reports system errors */
  errno?: number;
  code?: string;
  syscall?: string;
  message: string;
}

interface RawAddon {
  probeRtnetlink(): NativeOutcome;
  probeTracepoint(btfPath?: string): NativeOutcome;
  probeSockops(cgroupPath: string, btfPath?: string): NativeOutcome;
  probeTcpMd5(keyLength: number): NativeOutcome;
  probeMinTtl(value: number): NativeOutcome;
  mountCgroup2(dir: string): NativeOutcome;
}

/** A system error as Node itself shapes them: `err.code === 'EPERM'` works. */
export interface SystemError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export function isSystemError(e: unknown): e is SystemError {
  return e instanceof Error && typeof (e as SystemError).code === 'string' && typeof (e as SystemError).errno === 'number';
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
export const addonPath = process.env.ROUTELET_ADDON_PATH ?? join(root, 'build', 'Release', 'routelet_native.node');

let loaded: RawAddon | undefined;
let loadError: Error | undefined;

function addon(): RawAddon {
  if (loaded) return loaded;
  if (loadError) throw loadError;
  if (!existsSync(addonPath)) {
    loadError = new Error(`native addon not built: ${addonPath} is missing (run: npm run setup)`);
    throw loadError;
  }
  try {
    loaded = createRequire(import.meta.url)(addonPath) as RawAddon;
    return loaded;
  } catch (e) {
    loadError = new Error(`native addon failed to load from ${addonPath}: ${(e as Error).message}`);
    throw loadError;
  }
}

/** The addon could be loaded (built, and compatible with this Node). */
export function nativeAvailable(): { ok: true } | { ok: false; reason: string } {
  try {
    addon();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer ${min}–${max}, got ${v}`);
}

export const probes = {
  /** route add, dump and delete through rtnetlink in a namespace private to one thread */
  rtnetlink: (): NativeOutcome => addon().probeRtnetlink(),
  /** load, attach and run a tp_btf program; btfPath overrides the kernel BTF (for tests) */
  tracepoint: (btfPath?: string): NativeOutcome => addon().probeTracepoint(btfPath),
  /** attach a sockops program to a cgroup v2 directory and see this process's connection */
  sockops: (cgroupPath: string, btfPath?: string): NativeOutcome => addon().probeSockops(cgroupPath, btfPath),
  /** TCP_MD5SIG per address and TCP_MD5SIG_EXT per prefix with a key of keyLength bytes */
  tcpMd5: (keyLength = 16): NativeOutcome => {
    checkInt('keyLength', keyLength, 0, 1024);
    return addon().probeTcpMd5(keyLength);
  },
  /** IP_MINTTL / IPV6_MINHOPCOUNT at value, TTL 255 on send */
  minTtl: (value = 255): NativeOutcome => {
    checkInt('value', value, 0, 65535);
    return addon().probeMinTtl(value);
  },
};

/** Mount a cgroup v2 hierarchy on dir (created if missing); "already mounted" is success. */
export function mountCgroup2(dir: string): NativeOutcome {
  return addon().mountCgroup2(dir);
}
