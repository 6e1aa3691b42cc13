// Guards (guard.ts) must be necessary conditions: whenever a rule's condition holds, its guard
// holds too, or the program's first pass would drop a match. Checked with the reference
// evaluator on generated events for every rule of Falco's files and the built-in set; and the
// guard picked must be the rare check, not the conjunct the condition happens to start with.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadRules } from '../loader/index.js';
import { builtinRulesDir } from '../../config/paths.js';
import { evaluateCondition } from '../eval/evaluate.js';
import { printTyped } from '../condition/typed-print.js';
import { compileRuleSet } from './index.js';
import { compiledRunner, hookOfEvent } from './harness.js';
import { specialize } from './specialize.js';
import { guardOf, USELESS_GUARD } from './guard.js';
import { generate } from './generate-events.js';

const FALCO = join(__dirname, '../../../shared/anchors/falco-rules');
const PATHS = [join(FALCO, 'falco_rules.yaml'), join(FALCO, 'falco-incubating_rules.yaml'), join(FALCO, 'falco-sandbox_rules.yaml'), builtinRulesDir()];

describe('rule guards', () => {
  const set = loadRules(PATHS);
  const compiled = compileRuleSet(set);
  const attached = compiled.compiled.map((c) => ({ rule: set.rules.find((r) => r.name === c.rule), hooks: c.hooks }));

  it('hold whenever the rule holds (generated events, every attached rule)', () => {
    const runner = compiledRunner(compiled, { hosts: { 'kubernetes.default.svc.cluster.local': ['10.96.0.1'] } });
    let held = 0;
    let filtered = 0;
    const broken: string[] = [];
    for (const ev of generate(set, 7, 2500)) {
      for (const { context } of runner.step(ev).contexts) {
        const hook = hookOfEvent(context.event);
        if (hook === undefined) continue;
        for (const a of attached) {
          if (a.rule?.expr === undefined || !a.hooks.includes(hook)) continue;
          const x = specialize(a.rule.expr, hook);
          const g = guardOf(x);
          const guardHolds = evaluateCondition(g.expr, context);
          if (!guardHolds) filtered++;
          if (!evaluateCondition(x, context)) continue;
          held++;
          if (!guardHolds) broken.push(`${a.rule.name}: guard ${printTyped(g.expr)} is false on ${context.event.type} ${JSON.stringify(context.process?.argv)}`);
        }
      }
    }
    expect(broken.slice(0, 5)).toEqual([]);
    // The events must make rules hold, and guards must filter.
    expect(held).toBeGreaterThan(50);
    expect(filtered).toBeGreaterThan(held);
  });

  it('process-name guards become one map of names to candidate rules per program', () => {
    const exec = compiled.programs.find((p) => p.hook.endsWith('sys_exit_execve'));
    expect(exec?.mapNames).toContain('kestrel_guards_exec');
    const entries = compiled.contents.get('kestrel_guards_exec') ?? [];
    const names = entries.map((x) => Buffer.from(x.key).toString('utf8').replace(/\0+$/, ''));
    // shell_binaries, network tools, package managers, miners...: one lookup instead of a check per rule.
    expect(names).toEqual(expect.arrayContaining(['bash', 'nc', 'apt-get', 'xmrig', 'kubectl']));
    const bash = entries[names.indexOf('bash')].value;
    const bits = [...new Uint32Array(bash.buffer, bash.byteOffset, bash.byteLength / 4)].reduce((a, w) => a + w.toString(2).replace(/0/g, '').length, 0);
    expect(bits).toBeGreaterThanOrEqual(5); // the shell rules
    expect(names.every((n) => n.length > 0 && Buffer.byteLength(n) <= 15)).toBe(true);
  });

  it('pick the rare check over the leading conjunct', () => {
    const guardText = (name: string, hook: 'exec' | 'connect'): string => {
      const r = set.rules.find((x) => x.name === name);
      if (r?.expr === undefined) throw new Error(`no rule ${name}`);
      const g = guardOf(specialize(r.expr, hook));
      expect(g.p).toBeLessThan(USELESS_GUARD);
      return printTyped(g.expr);
    };
    // `container.id != host and ((proc.name = nc and ...) or (proc.name = ncat and ...))`
    expect(guardText('Netcat Remote Code Execution in Container', 'exec')).toBe('proc.name = nc or proc.name = ncat');
    // `container.id != host and proc.is_exe_upper_layer = true and ...`
    expect(guardText('Drop and execute new binary in container', 'exec')).toBe('proc.is_exe_upper_layer = true');
    // `evt.res = SUCCESS and proc.exepath pmatch (...)`
    expect(guardText('Binary executed from temporary directory', 'exec')).toMatch(/^proc\.exepath pmatch/);
    expect(guardText('Terminal shell in container', 'exec')).toMatch(/^proc\.name in \(ash, bash/);
    expect(guardText('Connection to mining pool port', 'connect')).toMatch(/^fd\.sport in \(3333/);
  });
});
