// Every program the rule compiler produces for the built-in rules (Kestrel's and Falco's stable)
// compiles on the JIT, and a stream of events gives the same match records, faults and
// instruction counts through the simulated kernel on the interpreter and on the JIT.
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../rules/loader/index.js';
import { builtinRulesDir } from '../../config/paths.js';
import { compileRuleSet } from '../../rules/compiler/index.js';
import { compiledRunner } from '../../rules/compiler/harness.js';
import { jitRunner } from './index.js';
import { jitOf } from './run.js';
import { ruleEvents } from './test-util.js';


describe('JIT on compiled rule programs', () => {
  // The built-in set includes Falco's stable rules (rules/builtin/00-falco-stable.yaml).
  for (const [name, paths, n] of [['built-in rules', [builtinRulesDir()], 300]] as const) {
    it(`${name}: every program compiles and gives the interpreter's records`, () => {
      const compiled = compileRuleSet(loadRules([...paths]));
      expect(compiled.programs.length).toBeGreaterThan(0);
      const logs: string[] = [];
      const interp = compiledRunner(compiled);
      const jit = compiledRunner(compiled, { run: jitRunner({ log: (m) => logs.push(m) }) });
      let records = 0;
      for (const ev of ruleEvents(7, n)) {
        const a = interp.step(ev).records;
        const b = jit.step(ev).records;
        records += a.length;
        expect(JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(
          JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        );
      }
      expect(logs).toEqual([]);
      expect(jit.faults).toEqual(interp.faults);
      expect(jit.faults).toEqual([]);
      // Every attached program that fired ran on the JIT, with the interpreter's counts.
      let fired = 0;
      jit.attached.programs.forEach(({ prog }, k) => {
        const other = interp.attached.programs[k].prog;
        expect(prog.stats.runs, prog.spec.name).toBe(other.stats.runs);
        expect(prog.stats.instructions, prog.spec.name).toBe(other.stats.instructions);
        if (prog.stats.runs > 0) {
          fired++;
          expect(jitOf.get(prog), prog.spec.name).toBeDefined();
        }
      });
      expect(fired).toBeGreaterThan(0);
      expect(records).toBeGreaterThan(0);
    });
  }
});
