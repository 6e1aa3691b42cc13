// Differential test: every bpf_conformance program the verifier accepts (progType 'raw', a
// context the size of the test's memory) runs on the interpreter and the JIT with identical r0,
// faults, instruction counts and memory. Programs the verifier rejects stay interpreter-only;
// they are listed (with the reason) in docs/jit.md.
import { describe, expect, it } from 'vitest';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConformanceDir } from '../conformance.js';
import { assemble } from '../asm/assembler.js';
import { loadProgram } from '../program.js';
import { verify } from '../verifier/index.js';
import { compileProgram } from './index.js';
import { memDiff, r0, runOn } from './test-util.js';

const dir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/anchors/bpf-conformance/tests');

describe('JIT vs interpreter on bpf_conformance', () => {
  it('verified programs give identical r0, faults, counts and memory (structured and dispatch schemes)', () => {
    const cases = loadConformanceDir(dir);
    expect(cases).toHaveLength(313);
    const rejected: string[] = [];
    const diffs: string[] = [];
    let compared = 0;
    for (const c of cases) {
      const insns = c.raw ?? assemble(c.asm as string, c.name).insns;
      const ctx = c.mem ?? new Uint8Array(0);
      const vr = verify(insns, { progType: 'raw', ctxSize: ctx.length, maps: [] });
      if (!vr.ok) {
        rejected.push(`${c.name}: insn ${vr.error?.insn}: ${vr.error?.message}`);
        continue;
      }
      const p = loadProgram({ name: c.name, insns, maps: [], mapRefs: [], progType: 'raw' });
      const jp = compileProgram(p, { verified: vr });
      if ('error' in jp) {
        diffs.push(`${c.name}: verified but not compiled: ${jp.error}`);
        continue;
      }
      const a = runOn(p, 'interp', ctx);
      const b = runOn(p, jp, ctx);
      compared++;
      const md = memDiff(a.rt.mem, b.rt.mem);
      if (r0(a.res) !== r0(b.res) || a.res.fault?.kind !== b.res.fault?.kind || a.res.instructions !== b.res.instructions || md >= 0) {
        diffs.push(
          `${c.name}: interp r0=${r0(a.res).toString(16)} n=${a.res.instructions} ${a.res.fault?.message ?? ''} | ` +
            `jit r0=${r0(b.res).toString(16)} n=${b.res.instructions} ${b.res.fault?.message ?? ''} | mem@${md}`,
        );
      }
      // The expected result of the suite holds on the JIT too.
      if (c.result !== undefined && b.res.fault === undefined) expect(r0(b.res), c.name).toBe(c.result);
      // The dispatch-loop fallback (used for irreducible graphs) gives the same results.
      const jd = compileProgram(p, { verified: vr, forceDispatch: true });
      if ('error' in jd) {
        diffs.push(`${c.name}: dispatch scheme not compiled: ${jd.error}`);
        continue;
      }
      const d = runOn(p, jd, ctx);
      if (r0(d.res) !== r0(a.res) || d.res.fault?.kind !== a.res.fault?.kind || d.res.instructions !== a.res.instructions) {
        diffs.push(`${c.name}: dispatch scheme r0=${r0(d.res).toString(16)} n=${d.res.instructions} ${d.res.fault?.message ?? ''}`);
      }
    }
    if (process.env.KESTREL_JIT_LIST_REJECTED) console.log(`rejected (${rejected.length}):\n${rejected.join('\n')}`);
    expect(diffs).toEqual([]);
    expect(compared + rejected.length).toBe(313);
    // Most of the suite must actually be compared, or this test says little.
    expect(compared).toBeGreaterThan(200);
  });
});
