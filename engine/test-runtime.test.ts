import { describe, expect, it } from 'vitest';
import { assemble } from './asm/assembler.js';
import { loadProgram } from './program.js';
import { runProgram } from './interpreter.js';
import { createTestRuntime, TEST_TASK } from './test-runtime.js';
import { HELPER_RET, RegionKind } from './memory.js';

function run(text: string, rt = createTestRuntime()): bigint {
  const a = assemble(text);
  const p = loadProgram({ name: 't', insns: a.insns, maps: [], mapRefs: [], progType: 'raw' });
  const r = runProgram(p, rt, 0, 0, 0, 0);
  expect(r.fault).toBeUndefined();
  return (BigInt(r.r0hi) << 32n) | BigInt(r.r0lo);
}

describe('test runtime', () => {
  it('has a monotonic fake clock and a fixed task', () => {
    const rt = createTestRuntime({ ktimeNs: 5000n });
    expect(run('call 5\nexit', rt)).toBe(6000n);
    expect(run('call 5\nexit', rt)).toBe(7000n);
    expect(run('call 14\nexit', rt)).toBe((BigInt(TEST_TASK.tgid) << 32n) | BigInt(TEST_TASK.pid));
    expect(run('call 15\nexit', rt)).toBe((BigInt(TEST_TASK.gid) << 32n) | BigInt(TEST_TASK.uid));
    expect(run('call 8\nexit', createTestRuntime({ cpu: 3 }))).toBe(3n);
  });

  it('gives a deterministic PRNG sequence', () => {
    const seq = (): bigint[] => {
      const rt = createTestRuntime();
      return [run('call 7\nexit', rt), run('call 7\nexit', rt), run('call 7\nexit', rt)];
    };
    const a = seq();
    expect(seq()).toEqual(a);
    expect(new Set(a).size).toBe(3);
    for (const v of a) expect(v < 1n << 32n).toBe(true);
  });

  it('lets tests replace helpers and makes context regions', () => {
    const rt = createTestRuntime({ helpers: { 5: (r) => r.mem.dv.setBigUint64(HELPER_RET, 99n, true) } });
    expect(run('call 5\nexit', rt)).toBe(99n);
    const addr = rt.setContext(new Uint8Array([1, 2, 3]), false);
    expect(rt.ctxAddr).toBe(addr);
    expect(rt.mem.regionKind(rt.mem.regionAt(addr))).toBe(RegionKind.Context);
    expect(rt.mem.canAccess(addr, 3, false)).toBe(true);
    expect(rt.mem.canAccess(addr, 1, true)).toBe(false);
    rt.clearContext();
    expect(rt.mem.regionAt(addr)).toBe(0);
    expect(rt.ctxAddr).toBe(0);
  });
});
