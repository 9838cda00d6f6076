// Where routelet's package lives: the nearest directory holding a package.json, walked up from
// this code's own file. The same answer whether the code runs as the compiled modules
// (dist/sys/root.js), as the bundle (dist/routelet.mjs, scripts/bundle.mjs), from src/ under
// the tests, or from the container image (/opt/routelet): files found relative to the package
// (build/, package.json, bin/) need no path that depends on how the code was laid out.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package's root directory (holding package.json, bin/, dist/ and build/). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`routelet's package.json was not found above ${start}`);
  }
}
