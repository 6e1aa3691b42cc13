// Where the installed package lives, from source (vitest) and from dist/ alike.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'rules'))) break;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the kestrel package root');
    dir = up;
  }
  cached = dir;
  return dir;
}

/** The built-in rule folder shipped with the package. */
export function builtinRulesDir(): string {
  return join(packageRoot(), 'rules', 'builtin');
}

/** The built-in scenario folder shipped with the package. */
export function builtinScenariosDir(): string {
  return join(packageRoot(), 'collectors', 'scenarios');
}
