// bpf_loop, tail calls and map references on both engines, with the real verifier where the
// program stands alone, and identical results required.
import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assembler.js';
import { loadProgram, type LoadedProgram } from '../program.js';
import { runProgram, type RunResult } from '../interpreter.js';
import { createTestRuntime, type TestRuntime } from '../test-runtime.js';
import { VmMemory } from '../memory.js';
import { createMap, ProgArrayMap } from '../maps/index.js';
import type { BpfMap } from '../runtime.js';
import type { MapUserApi } from '../maps/api.js';
import { compileProgram, jitRunner, runJit, type JitProgram } from './index.js';
import { jitOf } from './run.js';
import { memDiff, r0 } from './test-util.js';

interface World {
  rt: TestRuntime;
  maps: Map<string, BpfMap & MapUserApi>;
  load(text: string, name: string): LoadedProgram;
}

function world(): World {
  const rt = createTestRuntime({ mem: new VmMemory({ initialBytes: 1 << 20 }) });
  const maps = new Map<string, BpfMap & MapUserApi>();
  return {
    rt,
    maps,
    load(text, name) {
      const a = assemble(text, name);
      return loadProgram({ name, insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'raw' }, (def) => {
        const have = maps.get(def.name);
        if (have !== undefined) return have;
        const m = createMap(rt.mem, def);
        rt.addMap(m);
        maps.set(def.name, m);
        return m;
      });
    },
  };
}

function jit(p: LoadedProgram, ctxSize: number): JitProgram {
  const jp = compileProgram(p, { verify: { progType: 'raw', ctxSize, maps: p.spec.maps } });
  if ('error' in jp) throw new Error(jp.error);
  return jp;
}

function run(w: World, p: LoadedProgram, exec: 'interp' | JitProgram, ctx: Uint8Array): RunResult {
  const addr = w.rt.setContext(ctx, true);
  return exec === 'interp' ? runProgram(p, w.rt, addr, 0, ctx.length, 0) : runJit(exec, w.rt, addr, 0, ctx.length, 0);
}

const LOOP = `
  stdw [r10-8], 0
  mov r1, 10
  lddw r2, func:cb
  mov r3, r10
  add r3, -8
  mov r4, 0
  call 181
  ldxdw r1, [r10-8]
  lsh r0, 32
  add r0, r1
  exit
cb:
  ldxdw r3, [r2+0]
  add r3, r1
  stxdw [r2+0], r3
  mov r0, 0
  jlt r1, 6, ret
  mov r0, 1
ret:
  exit
`;

describe('JIT control flow beyond jumps', () => {
  it('bpf_loop runs the callback in a wasm loop with the interpreter\'s results', () => {
    const a = world();
    const b = world();
    const pa = a.load(LOOP, 'loop');
    const pb = b.load(LOOP, 'loop');
    const jp = jit(pb, 8);
    const ra = run(a, pa, 'interp', new Uint8Array(8));
    const rb = run(b, pb, jp, new Uint8Array(8));
    expect(rb.fault).toBeUndefined();
    expect(r0(rb)).toBe((7n << 32n) + 21n);
    expect(r0(rb)).toBe(r0(ra));
    expect(rb.instructions).toBe(ra.instructions);
    expect(memDiff(a.rt.mem, b.rt.mem)).toBe(-1);
  });

  it('bpf_loop rejects flags and oversized counts like Linux', () => {
    const text = LOOP.replace('mov r4, 0', 'mov r4, 1');
    const w = world();
    const p = w.load(text, 'loopflags');
    const rb = run(w, p, jit(p, 8), new Uint8Array(8));
    // r0 = (-EINVAL << 32) + 0: the callback never ran.
    expect(r0(rb)).toBe(BigInt.asUintN(64, -22n << 32n));
    expect(r0(rb)).toBe(r0(run(w, p, 'interp', new Uint8Array(8))));
    const big = w.load(LOOP.replace('mov r1, 10', 'lddw r1, 0x800001'), 'loopbig');
    expect(r0(run(w, big, jit(big, 8), new Uint8Array(8)))).toBe(BigInt.asUintN(64, -7n << 32n));
    // A count with high bits set is -E2BIG too (the interpreter's rule), not its low half.
    const high = w.load(LOOP.replace('mov r1, 10', 'lddw r1, 0x100000003'), 'loophigh');
    const rh = run(w, high, jit(high, 8), new Uint8Array(8));
    expect(r0(rh)).toBe(BigInt.asUintN(64, -7n << 32n));
    expect(r0(rh)).toBe(r0(run(w, high, 'interp', new Uint8Array(8))));
  });

  const TAIL_A = `
.map jt prog_array key=4 value=4 entries=4
  ldxdw r2, [r1+0]
  add r2, 1
  stxdw [r1+0], r2
  mov r6, r1
  lddw r2, map:jt
  ldxw r3, [r1+8]
  call 12
  ldxdw r0, [r6+0]
  add r0, 1000
  exit
`;
  const TAIL_B = `
.map jt prog_array key=4 value=4 entries=4
  mov r0, 42
  exit
`;

  function tailWorld(): { w: World; a: LoadedProgram; b: LoadedProgram } {
    const w = world();
    const a = w.load(TAIL_A, 'tail-a');
    const b = w.load(TAIL_B, 'tail-b');
    const jt = w.maps.get('jt') as unknown as ProgArrayMap<LoadedProgram>;
    jt.setProg(0, a);
    jt.setProg(1, b);
    return { w, a, b };
  }

  function ctxWithIndex(i: number): Uint8Array {
    const c = new Uint8Array(16);
    c[8] = i;
    return c;
  }

  it('tail calls: success, an empty slot, and the 33-call limit on a self-loop', () => {
    for (const index of [1, 2, 0]) {
      const I = tailWorld();
      const J = tailWorld();
      const ja = jit(J.a, 16);
      jit(J.b, 16);
      const ri = run(I.w, I.a, 'interp', ctxWithIndex(index));
      const rj = run(J.w, J.a, ja, ctxWithIndex(index));
      expect(rj.fault, `index ${index}`).toBeUndefined();
      expect(r0(rj), `index ${index}`).toBe(r0(ri));
      expect(rj.instructions, `index ${index}`).toBe(ri.instructions);
      expect(memDiff(I.w.rt.mem, J.w.rt.mem), `index ${index}`).toBe(-1);
    }
    const J = tailWorld();
    expect(r0(run(J.w, J.a, jit(J.a, 16), ctxWithIndex(1)))).toBe(42n);
    expect(r0(run(J.w, J.a, jit(J.a, 16), ctxWithIndex(2)))).toBe(1001n);
    // Self tail call: 1 + 33 increments, then the call fails and the program goes on.
    expect(r0(run(J.w, J.a, jit(J.a, 16), ctxWithIndex(0)))).toBe(34n + 1000n);
  });

  it('a tail call from a subprogram runs the target in that frame and returns to its caller', () => {
    const A = `
.map jt prog_array key=4 value=4 entries=4
  stdw [r10-8], 11
  mov r6, r1
  call local sub
  ldxdw r1, [r10-8]
  lsh r0, 8
  add r0, r1
  exit
sub:
  stdw [r10-8], 22
  lddw r2, map:jt
  mov r3, 1
  call 12
  mov r0, 5
  exit
`;
    const B = `
.map jt prog_array key=4 value=4 entries=4
  stdw [r10-16], 33
  ldxdw r0, [r10-16]
  exit
`;
    const make = (): { w: World; a: LoadedProgram; b: LoadedProgram } => {
      const w = world();
      const a = w.load(A, 'sub-tail-a');
      const b = w.load(B, 'sub-tail-b');
      (w.maps.get('jt') as unknown as ProgArrayMap<LoadedProgram>).setProg(1, b);
      return { w, a, b };
    };
    const I = make();
    const J = make();
    const ri = run(I.w, I.a, 'interp', new Uint8Array(8));
    const rj = run(J.w, J.a, jit(J.a, 8), new Uint8Array(8));
    expect(ri.fault).toBeUndefined();
    expect(r0(rj)).toBe(r0(ri));
    expect(r0(rj)).toBe((33n << 8n) + 11n); // the target's r0 came back to main; main's frame intact
    expect(rj.instructions).toBe(ri.instructions);
    expect(memDiff(I.w.rt.mem, J.w.rt.mem)).toBe(-1);
  });

  it('compiles tail-call targets on demand through the verifier', () => {
    const J = tailWorld();
    const ja = jit(J.a, 16); // b is not compiled yet
    expect(r0(run(J.w, J.a, ja, ctxWithIndex(1)))).toBe(42n);
  });

  it('map lookups through the helper ABI, writes through the value pointer', () => {
    const text = `
.map arr array key=4 value=16 entries=2
  stw [r10-4], 1
  lddw r1, map:arr
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, none
  stdw [r0+8], 77
  ldxdw r4, [r0+0]
  add r4, 5
  stxdw [r0+0], r4
  ldxdw r0, [r0+8]
  add r0, r4
  exit
none:
  mov r0, -1
  exit
`;
    const a = world();
    const b = world();
    const pa = a.load(text, 'maps');
    const pb = b.load(text, 'maps');
    const ra = run(a, pa, 'interp', new Uint8Array(0));
    const rb = run(b, pb, jit(pb, 0), new Uint8Array(0));
    expect(ra.fault).toBeUndefined();
    expect(r0(rb)).toBe(82n);
    expect(r0(rb)).toBe(r0(ra));
    expect(memDiff(a.rt.mem, b.rt.mem)).toBe(-1);
    expect(b.maps.get('arr')?.lookup(new Uint8Array([1, 0, 0, 0]))).toEqual(a.maps.get('arr')?.lookup(new Uint8Array([1, 0, 0, 0])));
  });

  it('updates run statistics like the interpreter', () => {
    const w = world();
    const p = w.load('mov r0, 1\nexit\n', 'stats');
    const jp = jit(p, 0);
    for (let k = 0; k < 3; k++) run(w, p, jp, new Uint8Array(0));
    expect(p.stats.runs).toBe(3);
    expect(p.stats.instructions).toBe(6);
    expect(p.stats.timeNs).toBeGreaterThan(0);
  });

  it('jitRunner compiles a program on its first firing and reuses it', () => {
    const rt = createTestRuntime({ mem: new VmMemory({ initialBytes: 1 << 20 }), progType: 'raw' });
    const a = assemble('ldxw r0, [r1+0]\nadd r0, 1\nexit\n');
    const p = loadProgram({ name: 'fire', insns: a.insns, maps: [], mapRefs: [], progType: 'raw' });
    const logs: string[] = [];
    const run = jitRunner({ log: (m) => logs.push(m) });
    const addr = rt.setContext(new Uint8Array([41, 0, 0, 0]), true);
    expect(r0(run(p, rt, addr))).toBe(42n);
    const jp = jitOf.get(p);
    expect(jp).toBeDefined();
    expect(r0(run(p, rt, addr))).toBe(42n);
    expect(jitOf.get(p)).toBe(jp);
    expect(logs).toEqual([]);
    // An unverifiable program is logged once and interpreted.
    const bad = loadProgram({ name: 'bad', insns: assemble('mov r0, r7\nexit\n').insns, maps: [], mapRefs: [], progType: 'raw' });
    run(bad, rt, addr);
    run(bad, rt, addr);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/bad: JIT unavailable, using the interpreter/);
    // A caller's own VerifyResult is used instead of verifying again.
    const good = loadProgram({ name: 'good', insns: assemble('mov r0, 3\nexit\n').insns, maps: [], mapRefs: [], progType: 'raw' });
    const vlogs: string[] = [];
    const run2 = jitRunner({
      log: (m) => vlogs.push(m),
      verifiedFor: () => ({ ok: false, error: { insn: 0, message: 'said no' }, log: '', stats: { insnsProcessed: 0, states: 0, peakStates: 0, stackDepth: [] } }),
    });
    expect(r0(run2(good, rt, addr))).toBe(3n);
    expect(vlogs.join()).toMatch(/said no/);
  });
});

describe('JIT runs nested on one memory', () => {
  it('a run started from inside a helper gets its own frames', () => {
    const w = world();
    const inner = w.load('stdw [r10-8], 5\nldxdw r0, [r10-8]\nexit\n', 'inner');
    const jin = jit(inner, 0);
    // Helper 5 (ktime) replaced by one that runs `inner` on the JIT mid-run.
    let innerR0 = 0n;
    w.rt.helpers = [...w.rt.helpers];
    (w.rt.helpers as ((rt: unknown) => void)[])[5] = () => {
      innerR0 = r0(runJit(jin, w.rt, 0, 0, 0, 0));
    };
    const outer = w.load('stdw [r10-8], 7\ncall 5\nldxdw r0, [r10-8]\nexit\n', 'outer');
    const res = run(w, outer, jit(outer, 0), new Uint8Array(0));
    expect(innerR0).toBe(5n);
    expect(r0(res)).toBe(7n); // the outer frame was not overwritten
  });
});

describe('lddw map value addresses', () => {
  it('mapval: loads and stores through a direct array value address', () => {
    const text = `
.map arr array key=4 value=16 entries=1
  lddw r3, mapval:arr+0
  ldxdw r4, [r3+8]
  add r4, 5
  stxdw [r3+8], r4
  stdw [r3+0], 3
  ldxdw r0, [r3+0]
  add r0, r4
  exit
`;
    const a = world();
    const b = world();
    const pa = a.load(text, 'mapval');
    const pb = b.load(text, 'mapval');
    const ra = run(a, pa, 'interp', new Uint8Array(0));
    const rb = run(b, pb, jit(pb, 0), new Uint8Array(0));
    expect(ra.fault).toBeUndefined();
    expect(r0(rb)).toBe(8n);
    expect(r0(rb)).toBe(r0(ra));
    expect(memDiff(a.rt.mem, b.rt.mem)).toBe(-1);
    expect(b.maps.get('arr')?.lookup(new Uint8Array(4))).toEqual(a.maps.get('arr')?.lookup(new Uint8Array(4)));
  });
});
