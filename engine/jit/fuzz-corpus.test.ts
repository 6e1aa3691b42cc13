// The verifier's soundness-fuzz programs (maps with null-checked lookups, helpers, branches,
// bounded loops, spills, ctx reads, ring-buffer records, local calls, bpf_loop): every accepted
// one runs on the interpreter and the JIT in two identically built VMs, on the same random
// contexts and map contents, with identical r0, faults, counts, memory and map contents.
// KESTREL_JIT_FUZZ_PROGRAMS raises the number of programs.
import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assembler.js';
import { RegionKind } from '../memory.js';
import { loadProgram, type LoadedProgram } from '../program.js';
import { runProgram, type RunResult } from '../interpreter.js';
import { createTestEnv } from '../test-runtime.js';
import { createVm, type Vm } from '../vm.js';
import type { Runtime } from '../runtime.js';
import { FUZZ_MAPS, Rng, generateProgram } from '../verifier/fuzz.js';
import { verify } from '../verifier/index.js';
import { compileProgram, runJit, type JitProgram } from './index.js';
import { memDiff, r0 } from './test-util.js';

const PROGRAMS = Number(process.env.KESTREL_JIT_FUZZ_PROGRAMS ?? 60);
const RUNS = 3;
const CTX = 64;

interface Side {
  vm: Vm;
  rt: Runtime;
  ctx: number;
  maps: ReturnType<Vm['createMap']>[];
}

function side(): Side {
  const vm = createVm({ memoryBytes: 2 * 1024 * 1024 });
  const maps = assemble(FUZZ_MAPS + '\nmov r0, 0\nexit\n').maps.map((d) => vm.createMap(d));
  const rt = vm.runtime(createTestEnv(), { progType: 'raw' });
  const ctx = vm.mem.alloc(CTX).addr;
  vm.mem.addRegion(ctx, CTX, RegionKind.Context, true);
  rt.ctxAddr = ctx;
  rt.ctxSize = CTX;
  return { vm, rt, ctx, maps };
}

/** The same random context and map contents on a side. */
function prepare(s: Side, seed: number): void {
  const r = new Rng(seed);
  for (let o = 0; o < CTX; o++) s.vm.mem.u8[s.ctx + o] = r.int(256);
  const key = new Uint8Array(4);
  for (let k = 0; k < 3; k++) {
    new DataView(key.buffer).setUint32(0, r.int(10), true);
    s.maps[0].update(key, Uint8Array.from({ length: 24 }, () => r.int(256)), 0);
    new DataView(key.buffer).setUint32(0, r.int(8), true);
    s.maps[1].update(key, Uint8Array.from({ length: 32 }, () => r.int(256)), 0);
  }
}

describe("JIT vs interpreter on the verifier's fuzz programs", () => {
  it('agree on r0, faults, counts, memory and maps', () => {
    const rng = new Rng(20261125);
    const a = side();
    const b = side();
    let accepted = 0;
    for (let p = 0; p < PROGRAMS; p++) {
      const seed = rng.u32();
      const text = generateProgram(new Rng(seed));
      const asm = assemble(text, `fuzz-${seed}`);
      const vr = verify(asm.insns, { progType: 'raw', ctxSize: CTX, maps: asm.maps, logLevel: 0 });
      if (!vr.ok) continue;
      accepted++;
      const spec = { name: `fuzz-${seed}`, insns: asm.insns, maps: asm.maps, mapRefs: asm.mapRefs, progType: 'raw' };
      const pa: LoadedProgram = loadProgram(spec, (_d, i) => a.maps[i]);
      const pb: LoadedProgram = loadProgram(spec, (_d, i) => b.maps[i]);
      const jp = compileProgram(pb, { verified: vr });
      if ('error' in jp) throw new Error(`seed ${seed}: verified but not compiled: ${jp.error}\n${text}`);
      for (let k = 0; k < RUNS; k++) {
        prepare(a, seed + k);
        prepare(b, seed + k);
        const ra: RunResult = runProgram(pa, a.rt, a.ctx, 0, CTX, 0);
        const rb: RunResult = runJit(jp as JitProgram, b.rt, b.ctx, 0, CTX, 0);
        const where = `seed ${seed} run ${k}\n${text}`;
        expect(rb.fault?.kind, where).toBe(ra.fault?.kind);
        expect(r0(rb), where).toBe(r0(ra));
        expect(rb.instructions, where).toBe(ra.instructions);
        expect(memDiff(a.vm.mem, b.vm.mem), where).toBe(-1);
      }
    }
    if (process.env.KESTREL_JIT_FUZZ_PROGRAMS) console.log(`accepted ${accepted} of ${PROGRAMS}`);
    expect(accepted).toBeGreaterThan(PROGRAMS / 5);
  });
});
