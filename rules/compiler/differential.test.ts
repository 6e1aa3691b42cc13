// Differential test: for every compiled rule, generated events (random and adversarial: rule
// constants and near-misses, empty strings, unicode, case changes, boundary ports, IPv6, unix
// sockets, missing parents, host vs container) must give the same verdict from the compiled
// eBPF as from the reference evaluator, on the same kernel state. Any difference is a bug.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadRules } from '../loader/index.js';
import { builtinRulesDir } from '../../config/paths.js';
import { compileRuleSet } from './index.js';
import { compiledRunner, referenceMatches } from './harness.js';
import { generate } from './generate-events.js';

const FALCO = join(__dirname, '../../../shared/anchors/falco-rules');
const CASES: [string, string[], number][] = [
  ['built-in rules', [builtinRulesDir()], 1500],
  ['falco stable', [join(FALCO, 'falco_rules.yaml')], 1500],
  ['falco stable+incubating+sandbox', [join(FALCO, 'falco_rules.yaml'), join(FALCO, 'falco-incubating_rules.yaml'), join(FALCO, 'falco-sandbox_rules.yaml')], 1000],
];

describe('compiled rules agree with the reference evaluator', () => {
  for (const [name, paths, n] of CASES) {
    it(name, () => {
      const set = loadRules(paths);
      const compiled = compileRuleSet(set);
      // Kestrel's built-in rules and Falco's stable file compile completely.
      if (name !== 'falco stable+incubating+sandbox') expect(compiled.unsupported).toEqual([]);
      const runner = compiledRunner(compiled, { hosts: { 'kubernetes.default.svc.cluster.local': ['10.96.0.1'] } });
      const events = generate(set, 42 + n, n);
      let matches = 0;
      const mismatches: string[] = [];
      for (const ev of events) {
        const { records, contexts } = runner.step(ev);
        const got = records.map((x) => x.rule.name).sort();
        const want = contexts.flatMap((c) => referenceMatches(set, compiled, c.context)).sort();
        matches += got.length;
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${JSON.stringify(ev, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n  compiled: ${got.join(', ')}\n  reference: ${want.join(', ')}`);
      }
      expect(runner.faults).toEqual([]);
      expect(runner.decodeErrors).toEqual([]);
      expect(mismatches.slice(0, 5)).toEqual([]);
      // The generator must exercise the rules, not only miss them.
      expect(matches).toBeGreaterThan(5);
      console.log(`${name}: ${compiled.compiled.length} rules, ${events.length} events, ${matches} matches, 0 differences`);
    });
  }
});
