// The only importer of the native addon (.node). The typed facades beside it
// (probes.ts, and one module per native part) call `addon()` and declare the slice of the
// raw interface they use; the rest of routelet imports those facades, never this file's
// raw object. Native failures become Errors in Node's shape (errno, code, syscall).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../sys/root.js';

/** What a probe or a per-item native operation reports; never thrown. */
export interface NativeOutcome {
  ok: boolean;
  /** negative errno, as Node reports system errors */
  errno?: number;
  code?: string;
  syscall?: string;
  message: string;
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

/** An Error in Node's shape from a failed outcome. */
export function systemError(o: NativeOutcome): SystemError {
  const e = new Error(`${o.syscall ?? 'native'} ${o.code ?? 'EUNKNOWN'}${o.message ? `: ${o.message}` : ''}`) as SystemError;
  e.errno = o.errno ?? 0;
  e.code = o.code ?? 'EUNKNOWN';
  e.syscall = o.syscall ?? '';
  return e;
}

/** ROUTELET_ADDON_PATH overrides where the built addon is loaded from. */
export const addonPath = process.env.ROUTELET_ADDON_PATH ?? join(packageRoot(), 'build', 'Release', 'routelet_native.node');

let loaded: unknown;
let loadError: Error | undefined;

/** The raw addon, typed by the caller as the slice of it that the caller uses. Throws if it cannot be loaded. */
export function addon<T>(): T {
  if (loaded) return loaded as T;
  if (loadError) throw loadError;
  if (!existsSync(addonPath)) {
    loadError = new Error(`native addon not built: ${addonPath} is missing (run: npm run setup)`);
    throw loadError;
  }
  try {
    loaded = createRequire(import.meta.url)(addonPath);
    return loaded as T;
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

/** Validate an integer argument in JavaScript before native code sees it. */
export function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer ${min}–${max}, got ${v}`);
}
