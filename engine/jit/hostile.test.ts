// Hostile input: malformed or adversarial bytecode never reaches the JIT unverified, the module
// imports nothing but the memory and helpers, and nothing a compiled program does escapes the
// engine's linear memory.
import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assembler.js';
import { encode, decode, type Insn } from '../isa.js';
import { loadProgram, type LoadedProgram } from '../program.js';
import { compileProgram, selectExecutor } from './index.js';
import { Rng } from './gen.js';
import { TRUSTED, mustCompile, runOn } from './test-util.js';

function prog(bytes: Uint8Array, name = 'hostile'): LoadedProgram {
  return loadProgram({ name, insns: bytes, maps: [], mapRefs: [], progType: 'raw' });
}

// A small verifier budget keeps the unbounded-loop case quick; it is rejected either way.
const verifyRaw = (ctxSize: number) => ({ verify: { progType: 'raw' as const, ctxSize, maps: [], maxInsns: 20_000 } });

describe('hostile bytecode and the JIT', () => {
  it('refuses to compile without verification', () => {
    const p = prog(assemble('mov r0, 1\nexit\n').insns);
    const r = compileProgram(p);
    expect('error' in r && r.error).toMatch(/no verification/);
  });

  const attacks: [string, string][] = [
    ['stack overflow write', 'stdw [r10+8], 1\nmov r0, 0\nexit'],
    ['read of an arbitrary address', 'lddw r1, 0x10000\nldxdw r0, [r1+0]\nexit'],
    ['write below the stack frame', 'stdw [r10-520], 1\nmov r0, 0\nexit'],
    ['unbounded loop', 'mov r0, 0\nL: add r0, 1\nja L'],
    ['uninitialised register', 'mov r0, r5\nexit'],
    ['write to r10', 'mov r10, 0\nmov r0, 0\nexit'],
    ['context read past its end', 'ldxdw r0, [r1+8]\nexit'],
    ['pointer leak through arithmetic', 'mov r0, r10\nmul r0, 3\nexit'],
  ];
  for (const [what, text] of attacks) {
    it(`rejects before compiling: ${what}`, () => {
      const p = prog(assemble(text).insns, what);
      const r = compileProgram(p, verifyRaw(8));
      expect('error' in r, what).toBe(true);
      if ('error' in r) expect(r.error).toMatch(/verifier rejected/);
      // selectExecutor falls back to the interpreter and says why.
      const logged: string[] = [];
      const ex = selectExecutor(p, 'jit', { ...verifyRaw(8), log: (m) => logged.push(m) });
      expect(ex.mode).toBe('interp');
      expect(ex.fallbackReason).toMatch(/verifier rejected/);
      expect(logged.join('\n')).toMatch(/using the interpreter/);
    });
  }

  it('random byte soup is never compiled', () => {
    const r = new Rng(12345);
    let compiled = 0;
    for (let k = 0; k < 300; k++) {
      const n = 1 + r.int(12);
      const insns: Insn[] = [];
      for (let j = 0; j < n; j++) insns.push({ opcode: r.u32() & 0xff, dst: r.int(16), src: r.int(16), off: (r.u32() << 16) >> 16, imm: r.u32() | 0 });
      let p: LoadedProgram;
      try {
        p = prog(encode(insns));
      } catch {
        continue; // the loader already refused it
      }
      const out = compileProgram(p, verifyRaw(16));
      if (!('error' in out)) {
        compiled++;
        // Anything accepted must run cleanly on both engines.
        const b = runOn(p, out, new Uint8Array(16));
        const a = runOn(p, 'interp', new Uint8Array(16));
        expect(b.res.fault?.kind).toBe(a.res.fault?.kind);
        expect(b.res.r0lo).toBe(a.res.r0lo);
      }
    }
    expect(compiled).toBeLessThan(300);
  });

  it('the module imports only the memory and helper trampolines', () => {
    const p = prog(assemble('call 14\ncall 7\ncall 5\ncall 7\nexit\n').insns);
    const jp = mustCompile(p, { verified: TRUSTED });
    const imports = WebAssembly.Module.imports(jp.module);
    expect(imports).toEqual([
      { module: 'env', name: 'memory', kind: 'memory' },
      { module: 'env', name: 'h7', kind: 'function' },
      { module: 'env', name: 'f14', kind: 'function' },
      { module: 'env', name: 'f5', kind: 'function' },
    ]);
    const generic = mustCompile(p, { verified: TRUSTED, noFastHelpers: true });
    expect(WebAssembly.Module.imports(generic.module).map((i) => i.name)).toEqual(['memory', 'h14', 'h7', 'h5']);
  });

  it('even a wrongly trusted program cannot leave the linear memory: wasm bounds give a clean fault', () => {
    // Deliberately bypass the verifier (TRUSTED) to show the second line of defence.
    const p = prog(assemble('lddw r1, 0xfffffff0\nldxdw r0, [r1+0]\nexit\n').insns);
    const jp = mustCompile(p, { verified: TRUSTED });
    const b = runOn(p, jp);
    expect(b.res.fault?.kind).toBe('memory');
    expect(b.res.fault?.message).toMatch(/wasm trap/);
  });

  it('a context smaller than the verified reads sends the run to the bounds-checking interpreter', () => {
    const p = prog(assemble('ldxdw r0, [r1+8]\nexit\n').insns);
    const jp = compileProgram(p, verifyRaw(16));
    if ('error' in jp) throw new Error(jp.error);
    expect(jp.maxCtxOffset).toBe(16);
    const ok = runOn(p, jp, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
    expect(ok.res.r0lo).toBe(9);
    const short = runOn(p, jp, new Uint8Array(8));
    expect(short.res.fault?.kind).toBe('memory');
    expect(short.res.fault?.message).toMatch(/invalid read/);
  });

  it('the bytes of the program only ever become numbers in the module', () => {
    // Every opcode byte value, decoded and re-encoded, compiles only after verification; a
    // program with a name full of wasm-looking text changes nothing in the module.
    const a = prog(assemble('mov r0, 7\nexit\n').insns, '(module (func unreachable))');
    const b = prog(assemble('mov r0, 7\nexit\n').insns, 'plain');
    const ja = mustCompile(a, { verified: TRUSTED });
    const jb = mustCompile(b, { verified: TRUSTED });
    expect(Buffer.from(ja.info.bytes).equals(Buffer.from(jb.info.bytes))).toBe(true);
    expect(decode(a.spec.insns)).toHaveLength(2);
  });
});
