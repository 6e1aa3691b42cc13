import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Bytes, Code, I32, I64, ModuleBuilder, Op } from './wasm.js';

const hex = (b: Bytes): string => Buffer.from(b.view()).toString('hex');

describe('wasm encoder', () => {
  it('writes LEB128 like the spec examples', () => {
    expect(hex(new Bytes().u32(624485))).toBe('e58e26');
    expect(hex(new Bytes().u32(0))).toBe('00');
    expect(hex(new Bytes().u32(0xffffffff))).toBe('ffffffff0f');
    expect(hex(new Bytes().s32(-123456))).toBe('c0bb78');
    expect(hex(new Bytes().s32(63))).toBe('3f');
    expect(hex(new Bytes().s32(64))).toBe('c000');
    expect(hex(new Bytes().s32(-64))).toBe('40');
    expect(hex(new Bytes().s64(0, 0x80000000))).toBe('8080808080808080807f');
    expect(hex(new Bytes().s64(-1, 0x7fffffff))).toBe('ffffffffffffffffff00');
  });

  function constModule(lo: number, hi: number): () => bigint {
    const m = new ModuleBuilder();
    const f = m.declareFunction({ params: [], results: [I64] });
    m.defineFunction(f, [], new Code().i64c2(lo, hi));
    m.exportFunction('k', f);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()));
    return inst.exports.k as () => bigint;
  }

  it('encodes every 64-bit constant exactly (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.integer({ min: -0x80000000, max: 0x7fffffff }), (lo, hi) => {
        const want = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
        expect(constModule(lo, hi)()).toBe(want);
      }),
      { numRuns: 60 },
    );
  });

  it('builds a module with imports, globals, locals and exports that validates and runs', () => {
    const m = new ModuleBuilder();
    m.importMemory('env', 'memory', 1);
    const log = m.importFunction('env', 'log', { params: [I32], results: [] });
    const g = m.addGlobal(I32, true, 5);
    const f = m.declareFunction({ params: [I32, I32], results: [I32] });
    // local 2 (i32): sum; store it at address 16, call log(sum), add the global.
    const c = new Code();
    c.get(0).get(1).op(Op.i32_add).set(2);
    c.i32c(16).get(2).mem(Op.i32_store, 2, 0);
    c.get(2).call(log);
    c.get(2).gget(g).op(Op.i32_add);
    m.defineFunction(f, [I32], c);
    m.exportFunction('f', f);
    m.exportGlobal('g', g);
    const bytes = m.build();
    expect(WebAssembly.validate(bytes)).toBe(true);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const seen: number[] = [];
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, log: (x: number) => void seen.push(x) } });
    expect((inst.exports.f as (a: number, b: number) => number)(2, 3)).toBe(10);
    expect(seen).toEqual([5]);
    expect(new Uint32Array(memory.buffer)[4]).toBe(5);
    expect((inst.exports.g as WebAssembly.Global).value).toBe(5);
  });

  it('refuses function imports after definitions', () => {
    const m = new ModuleBuilder();
    m.declareFunction({ params: [], results: [] });
    expect(() => m.importFunction('env', 'x', { params: [], results: [] })).toThrow(/precede/);
  });
});
