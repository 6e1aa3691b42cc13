import { describe, expect, it } from 'vitest';
import { load, memDiff, mustCompile, r0, runOn } from './test-util.js';

function both(text: string, ctx?: Uint8Array) {
  const p = load(text);
  const jp = mustCompile(p);
  const a = runOn(p, 'interp', ctx);
  const b = runOn(p, jp, ctx);
  return { a, b, jp };
}

describe('JIT code generation (hand-written programs)', () => {
  it('runs a counting loop with the interpreter\'s r0 and instruction count', () => {
    const { a, b } = both('mov r0, 0\nmov r1, 1000\nL: add r0, r1\nsub r1, 1\njne r1, 0, L\nexit\n');
    expect(b.res.fault).toBeUndefined();
    expect(r0(b.res)).toBe(500500n);
    expect(b.res.instructions).toBe(a.res.instructions);
    expect(a.res.instructions).toBe(3003);
  });

  it('gives Linux results for division and modulo corner cases', () => {
    const prog = [
      'lddw r1, 0x8000000000000000',
      'mov r2, -1',
      'mov r3, r1',
      'sdiv r3, r2', // INT64_MIN / -1 = INT64_MIN
      'mov r4, r1',
      'smod r4, r2', // → 0
      'mov r5, 7',
      'mov r6, 0',
      'div r5, r6', // → 0
      'mov r7, 9',
      'mod r7, r6', // → 9
      'mov32 r8, -1',
      'mod32 r8, r6', // → 0xffffffff
      'mov r0, r3',
      'xor r0, r4',
      'add r0, r5',
      'add r0, r7',
      'add r0, r8',
      'exit',
    ].join('\n');
    const { a, b } = both(prog);
    expect(b.res.fault).toBeUndefined();
    expect(r0(b.res)).toBe(r0(a.res));
    expect(r0(b.res)).toBe(BigInt.asUintN(64, -(2n ** 63n) + 9n + 0xffffffffn));
  });

  it('byte swaps, sign extension and 32-bit zero extension', () => {
    const prog = [
      'lddw r1, 0x0102030405060708',
      'mov r0, r1',
      'be16 r0',
      'mov r2, r1',
      'be32 r2',
      'mov r3, r1',
      'bswap64 r3',
      'mov r4, -1',
      'movsx1664 r5, r1',
      'mov32 r6, r4',
      'add r0, r2',
      'add r0, r3',
      'add r0, r5',
      'add r0, r6',
      'exit',
    ].join('\n');
    const { a, b } = both(prog);
    expect(r0(b.res)).toBe(r0(a.res));
    expect(r0(b.res)).toBe(BigInt.asUintN(64, 0x0807n + 0x08070605n + 0x0807060504030201n + 0x0708n + 0xffffffffn));
  });

  it('stack, atomics and context memory end identical', () => {
    const prog = [
      'mov r2, 5',
      'stxdw [r10-8], r2',
      'mov r3, 3',
      'lock add [r10-8], r3',
      'mov r4, 10',
      'lock fetch add [r10-8], r4', // r4 = 8, mem = 18
      'mov r0, 18',
      'mov r5, 99',
      'lock cmpxchg [r10-8], r5', // equal → mem = 99, r0 = 18
      'ldxdw r6, [r10-8]',
      'ldxw r7, [r1+0]',
      'stw [r1+4], 0x7f',
      'add r0, r6',
      'add r0, r4',
      'add r0, r7',
      'exit',
    ].join('\n');
    const ctx = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
    const { a, b } = both(prog, ctx);
    expect(b.res.fault).toBeUndefined();
    expect(r0(b.res)).toBe(18n + 99n + 8n + 1n);
    expect(r0(b.res)).toBe(r0(a.res));
    expect(memDiff(a.rt.mem, b.rt.mem)).toBe(-1);
  });

  it('local calls get their own frames', () => {
    const prog = [
      'mov r6, 7',
      'stdw [r10-8], 1',
      'mov r1, 5',
      'call local f',
      'ldxdw r2, [r10-8]',
      'add r0, r2',
      'add r0, r6',
      'exit',
      'f: stdw [r10-8], 100',
      'ldxdw r0, [r10-8]',
      'add r0, r1',
      'mov r6, 1000',
      'exit',
    ].join('\n');
    const { a, b } = both(prog);
    expect(r0(b.res)).toBe(105n + 1n + 7n);
    expect(r0(b.res)).toBe(r0(a.res));
    expect(b.res.instructions).toBe(a.res.instructions);
    expect(memDiff(a.rt.mem, b.rt.mem)).toBe(-1);
  });

  it('stops a runaway loop with a budget fault', () => {
    const p = load('mov r0, 0\nL: add r0, 1\nja L\n');
    const jp = mustCompile(p);
    const a = runOn(p, 'interp', undefined, undefined, 5000);
    const b = runOn(p, jp, undefined, undefined, 5000);
    expect(a.res.fault?.kind).toBe('budget');
    expect(b.res.fault?.kind).toBe('budget');
    expect(b.res.instructions).toBe(a.res.instructions);
  });

  it('uses the dispatch loop for an irreducible graph', () => {
    // Two entries into the cycle A <-> B.
    const prog = [
      'mov r0, 0',
      'mov r2, 6',
      'jeq r1, 0, B',
      'A: add r0, 1',
      'sub r2, 1',
      'jeq r2, 0, out',
      'B: add r0, 10',
      'sub r2, 1',
      'jne r2, 0, A',
      'out: exit',
    ].join('\n');
    const p = load(prog);
    const jp = mustCompile(p);
    expect(jp.info.functions[0].reducible).toBe(false);
    const a = runOn(p, 'interp', new Uint8Array(4));
    const b = runOn(p, jp, new Uint8Array(4));
    expect(r0(b.res)).toBe(r0(a.res));
    expect(b.res.instructions).toBe(a.res.instructions);
  });

  it('calls helpers through the ABI', () => {
    const { a, b } = both('call 14\nmov r6, r0\ncall 5\nadd r0, r6\nexit\n');
    expect(b.res.fault).toBeUndefined();
    expect(r0(b.res)).toBe(r0(a.res));
  });

  it('reports a failing helper as a helper fault at its instruction', () => {
    const { a, b } = both('mov r0, 0\ncall 99\nmov r0, 1\nexit\n');
    expect(a.res.fault?.kind).toBe('helper');
    expect(b.res.fault?.kind).toBe('helper');
    expect(b.res.fault?.pc).toBe(1);
    // The count stops at the call, although the block goes on after it.
    expect(b.res.instructions).toBe(2);
    expect(b.res.instructions).toBe(a.res.instructions);
    expect(b.res.fault?.message).toMatch(/unknown helper 99/);
  });
});
