// Property: a random program the verifier accepts gives identical r0, faults, instruction
// counts and memory on the interpreter and the JIT. KESTREL_JIT_PROPERTY_RUNS raises the count.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadProgram } from '../program.js';
import { verify } from '../verifier/index.js';
import { compileProgram } from './index.js';
import { randomProgram } from './gen.js';
import { memDiff, r0, runOn } from './test-util.js';

const RUNS = Number(process.env.KESTREL_JIT_PROPERTY_RUNS ?? 150);

describe('JIT vs interpreter on random verified programs', () => {
  it('agree on r0, faults, counts and memory', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => {
        const bytes = randomProgram(seed);
        const vr = verify(bytes, { progType: 'raw', ctxSize: 0, maps: [] });
        if (!vr.ok) return true;
        accepted++;
        const p = loadProgram({ name: `rand-${seed}`, insns: bytes, maps: [], mapRefs: [], progType: 'raw' });
        const jp = compileProgram(p, { verified: vr });
        if ('error' in jp) throw new Error(`seed ${seed}: verified but not compiled: ${jp.error}`);
        const a = runOn(p, 'interp');
        const b = runOn(p, jp);
        expect(b.res.fault?.kind, `seed ${seed}`).toBe(a.res.fault?.kind);
        expect(r0(b.res), `seed ${seed}`).toBe(r0(a.res));
        expect(b.res.instructions, `seed ${seed}`).toBe(a.res.instructions);
        expect(memDiff(a.rt.mem, b.rt.mem), `seed ${seed}`).toBe(-1);
        return true;
      }),
      { numRuns: RUNS },
    );
    if (process.env.KESTREL_JIT_PROPERTY_RUNS) console.log(`accepted ${accepted} of ${RUNS}`);
    // The generator must produce mostly verifiable programs, or the property is vacuous.
    expect(accepted).toBeGreaterThan(RUNS / 3);
  });
});
