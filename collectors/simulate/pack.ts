// Finding scenarios: `builtin` (the whole pack in collectors/scenarios), a built-in scenario by
// name, a YAML file, or a folder of them.

import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { builtinScenariosDir } from '../../config/paths.js';
import { loadScenarioFile, ScenarioError, type Scenario } from './scenario.js';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export function builtinScenarioNames(): string[] {
  return yamlFiles(builtinScenariosDir()).map((f) => f.replace(/^.*\//, '').replace(/\.ya?ml$/, ''));
}

/** Resolve and load scenario references in order; throws ScenarioError naming the bad one. */
export function loadScenarios(refs: readonly string[]): Scenario[] {
  const out: Scenario[] = [];
  for (const ref of refs.length === 0 ? ['builtin'] : refs) {
    if (ref === 'builtin') {
      out.push(...yamlFiles(builtinScenariosDir()).map(loadScenarioFile));
      continue;
    }
    if (existsSync(ref)) {
      out.push(...(statSync(ref).isDirectory() ? yamlFiles(ref).map(loadScenarioFile) : [loadScenarioFile(ref)]));
      continue;
    }
    const builtin = join(builtinScenariosDir(), `${ref}.yaml`);
    if (existsSync(builtin)) {
      out.push(loadScenarioFile(builtin));
      continue;
    }
    throw new ScenarioError(ref, 0, 0, `no such scenario file, folder or built-in scenario (built-in: ${builtinScenarioNames().join(', ')})`);
  }
  return out;
}
