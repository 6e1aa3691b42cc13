// The bytecode is real eBPF: every program compiled from the built-in rules and Falco's rules is
// loaded into the running Linux kernel as a tracepoint program, with its maps created through
// bpf(2), and the kernel's own verifier must accept it. Where bpf() is not available (not root,
// no kernel support) the test says why and checks nothing else.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadRules } from '../loader/index.js';
import { compileRuleSet } from './index.js';
import { kernelVerify } from '../../test-support/kernel-oracle.js';
import { verify } from '../../engine/verifier/index.js';
import { builtinRulesDir } from '../../config/paths.js';

const FALCO = join(__dirname, '../../../shared/anchors/falco-rules');
const FALCO_ALL = [join(FALCO, 'falco_rules.yaml'), join(FALCO, 'falco-incubating_rules.yaml'), join(FALCO, 'falco-sandbox_rules.yaml')];
const SETS: Record<string, string[]> = {
  'built-in rules': [builtinRulesDir()],
  'falco stable': [join(FALCO, 'falco_rules.yaml')],
  'falco stable+incubating+sandbox': FALCO_ALL,
  // The benchmark's set: the largest programs (guards of 60 rules, the name-guard maps).
  'falco stable+incubating+sandbox + built-in': [...FALCO_ALL, builtinRulesDir()],
};

describe('compiled programs load into the Linux kernel', () => {
  for (const [name, files] of Object.entries(SETS)) {
    it(name, () => {
      const set = loadRules(files);
      const c = compileRuleSet(set);
      expect(c.programs.length).toBeGreaterThan(0);
      let kernelChecked = 0;
      for (const p of c.programs) {
        const ctxSize = p.hook.endsWith('sys_enter_connect') ? 40 : 24;
        const ours = verify(p.insns, { progType: 'tracepoint', ctxSize, maps: p.maps, gpl: true });
        expect({ program: p.name, ok: ours.ok, error: ours.error?.message }).toEqual({ program: p.name, ok: true, error: undefined });
        const k = kernelVerify(p.insns, p.maps, 'tracepoint', true);
        if (!k.available) {
          console.warn(`kernel oracle unavailable, Linux's verdict not checked: ${k.reason}`);
          continue;
        }
        kernelChecked++;
        if (k.ok !== true) console.error((k.log ?? '').split('\n').slice(-25).join('\n'));
        expect({ program: p.name, kernelAccepts: k.ok }).toEqual({ program: p.name, kernelAccepts: true });
      }
      console.log(`${name}: ${c.compiled.length} rules compiled into ${c.programs.length} programs; ${kernelChecked} accepted by the running kernel's verifier`);
    });
  }
});
