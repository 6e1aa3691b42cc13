// The accept/reject suite (./cases.ts): Kestrel's verdict and reason for every case, and the
// running kernel's verdict through the oracle (test-support/kernel-oracle.ts) when it is usable.
import { beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../asm/assembler.js';
import { kernelVerifyBatch, kernelReason, type KernelVerdict, type OracleProgType } from '../../test-support/kernel-oracle.js';
import { CASES, caseCtxSize } from './cases.js';
import { verify } from './index.js';

const programs = CASES.map((c) => assemble(c.prog, c.name));
const kernelCases = CASES.map((c, i) => ({ c, i })).filter(({ c }) => c.noKernel !== true && (c.type ?? 'tracepoint') !== 'raw');
const kernel = new Map<number, KernelVerdict>();
/** Per rejected case that Linux rejects too: whether Linux's log has Kestrel's reason line. */
const wording: boolean[] = [];

beforeAll(() => {
  const verdicts = kernelVerifyBatch(
    kernelCases.map(({ c, i }) => ({ insns: programs[i].insns, maps: programs[i].maps, progType: (c.type ?? 'tracepoint') as OracleProgType, gpl: c.gpl ?? true })),
  );
  kernelCases.forEach(({ i }, k) => kernel.set(i, verdicts[k]));
  const un = verdicts.find((v) => !v.available);
  if (un !== undefined) console.log(`kernel oracle unavailable (${un.reason}); only Kestrel's verdicts are checked`);
  else console.log(`kernel oracle: ${verdicts.length} cases compared with Linux`);
}, 300_000);

describe('verifier accept/reject suite', () => {
  it('has at least 60 rules, each with a pass and a fail', () => {
    const rules = new Map<string, Set<boolean>>();
    for (const c of CASES) {
      const s = rules.get(c.rule) ?? new Set<boolean>();
      s.add(c.ok);
      rules.set(c.rule, s);
    }
    expect(rules.size).toBeGreaterThanOrEqual(60);
    for (const [rule, s] of rules) expect(s.size, rule).toBe(2);
  });

  CASES.forEach((c, idx) => {
    it(c.name, () => {
      const type = c.type ?? 'tracepoint';
      const a = programs[idx];
      const r = verify(a.insns, { progType: type, ctxSize: caseCtxSize(type), maps: a.maps, gpl: c.gpl ?? true });
      expect(r.ok, `${c.name}\n${r.log}`).toBe(c.ok);
      if (!c.ok && c.msg !== undefined) expect(r.log, r.log).toContain(c.msg);
      if (!r.ok) {
        // The log names the failing instruction, its disassembly and the register state.
        expect(r.error).toBeDefined();
        expect(r.log).toContain(r.error?.message ?? '');
        if (r.stats.insnsProcessed > 0) expect(r.log).toMatch(/^\d+: .*R10=fp0/m);
      }
      if (c.linux === true && /invalid (indirect )?read from stack/.test(c.msg ?? '')) {
        // The documented difference disappears with Linux's privileged rule.
        const priv = verify(a.insns, { progType: type, ctxSize: caseCtxSize(type), maps: a.maps, gpl: c.gpl ?? true, allowUninitStack: true });
        expect(priv.ok, priv.log).toBe(true);
      }
      const k = kernel.get(idx);
      if (k === undefined || !k.available) return;
      const linux = c.linux ?? c.ok;
      if (!r.ok && k.ok === false) {
        const lines = (k.log ?? '').split('\n').map((l) => l.trim());
        wording.push(lines.some((l) => l.startsWith(r.error?.message ?? '\0')));
      }
      expect(k.ok, `Linux disagrees on '${c.name}': kernel says ${k.ok ? 'accept' : `reject: ${kernelReason(k.log)}`}\n${k.log?.slice(-2000)}`).toBe(linux);
    }, 60_000);
  });

  it("uses Linux's wording for the reason", () => {
    if (wording.length === 0) return; // oracle unavailable
    const same = wording.filter((x) => x).length;
    console.log(`reason wording: ${same} of ${wording.length} rejections use Linux's exact line`);
    expect(same / wording.length).toBeGreaterThanOrEqual(0.9);
  });
});
