// runFast (compile.ts, worst-case.ts): code without a budget test per block, for runs whose
// budget covers the program's worst case, handing the run to the interpreter at a bpf_loop call
// of the main function when the loop and what follows may not fit. With every budget from 1
// to past the longest run, the JIT must give what the interpreter gives: r0, the instruction
// count, the fault's kind, and memory.
import { describe, expect, it } from 'vitest';
import { verify } from '../verifier/index.js';
import { load, memDiff, mustCompile, r0, runOn } from './test-util.js';
import { fastPlan } from './worst-case.js';

// The loop count comes from the context (0..63), the callback has two paths of different
// lengths and a local call of its own; more code after the loop, then a second loop.
const PROG = `
  mov r6, r1
  ldxb r1, [r6+0]
  and r1, 63
  stdw [r10-8], 0
  lddw r2, func:cb
  mov r3, r10
  add r3, -8
  mov r4, 0
  call 181
  ldxdw r7, [r10-8]
  jgt r7, 100, big
  add r7, 3
  ja next
big:
  mul r7, 5
  add r7, 1
next:
  ldxb r1, [r6+1]
  and r1, 15
  lddw r2, func:cb
  mov r3, r10
  add r3, -8
  mov r4, 0
  call 181
  ldxdw r0, [r10-8]
  add r0, r7
  exit
cb:
  mov r6, r2
  ldxdw r3, [r6+0]
  jset r1, 1, odd
  add r3, r1
  ja out
odd:
  mov r1, r3
  call local sub
  mov r3, r0
out:
  stxdw [r6+0], r3
  mov r0, 0
  exit
sub:
  mov r0, r1
  mul r0, 3
  add r0, 1
  exit
`;

describe('JIT fast runs', () => {
  const p = load(PROG, 'fast');
  const vr = verify(p.spec.insns, { progType: 'socket_filter', ctxSize: 2, maps: [], logLevel: 0 });

  it('the verifier bounds both loops and the plan is finite', () => {
    expect(vr.ok).toBe(true);
    expect(vr.loopBounds?.map((b) => b.maxIterations).sort((a, b) => a - b)).toEqual([15, 63]);
    const jp = mustCompile(p, { verified: vr });
    expect(Number.isFinite(jp.info.fastEntry)).toBe(true);
    expect(WebAssembly.Module.exports(jp.module).map((x) => x.name)).toContain('runFast');
  });

  it('agrees with the interpreter at every budget (fast start, hand-over at a loop, checked start)', () => {
    const jp = mustCompile(p, { verified: vr });
    for (const ctx of [Uint8Array.of(0, 0), Uint8Array.of(7, 3), Uint8Array.of(63, 15), Uint8Array.of(40, 9)]) {
      const full = runOn(p, 'interp', ctx).res;
      expect(full.fault).toBeUndefined();
      let sawFast = false;
      for (let budget = 1; budget <= full.instructions + 3; budget++) {
        const a = runOn(p, 'interp', ctx, undefined, budget);
        const b = runOn(p, jp, ctx, undefined, budget);
        const what = `ctx ${ctx.join(',')} budget ${budget}`;
        // (A budget fault's pc is the block's first instruction in the JIT, the instruction
        // itself in the interpreter: docs/jit.md.)
        expect({ r0: r0(b.res), n: b.res.instructions, kind: b.res.fault?.kind }, what).toEqual({
          r0: r0(a.res),
          n: a.res.instructions,
          kind: a.res.fault?.kind,
        });
        expect(memDiff(a.rt.mem, b.rt.mem), what).toBe(-1);
        if (budget >= jp.info.fastEntry) sawFast = true;
      }
      expect(sawFast).toBe(true);
    }
  });

  it('counts a loop call with no verifier bound as unbounded, and a loop in a function too', () => {
    const noBounds = fastPlan({
      insns: p.insns,
      cfgOf: new Map(),
      loopBounds: new Map(),
      callbacksAt: () => [],
    });
    expect(noBounds).toBeUndefined();
    // A back edge in the main function: the JIT keeps only the tested code.
    const loop = load('mov r0, 0\nL: add r0, 1\njlt r0, 10, L\nexit');
    const lv = verify(loop.spec.insns, { progType: 'socket_filter', ctxSize: 0, maps: [], logLevel: 0 });
    expect(lv.ok).toBe(true);
    expect(mustCompile(loop, { verified: lv }).info.fastEntry).toBe(Infinity);
  });
});
