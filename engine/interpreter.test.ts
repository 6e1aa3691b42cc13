import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assemble } from './asm/assembler.js';
import { encode, type Insn } from './isa.js';
import { loadProgram, type LoadedProgram } from './program.js';
import { runProgram, stackTops, describeFaultInsn, setRunTiming, type ProgArrayMap } from './interpreter.js';
import { createTestRuntime, type TestRuntime } from './test-runtime.js';
import { setRetNum, argLo, type BpfMap } from './runtime.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PROG_ARRAY, type MapDef } from './maps/types.js';
import { RegionKind, VmMemory } from './memory.js';

const M64 = (1n << 64n) - 1n;
const mem = new VmMemory({ initialBytes: 1 << 20 });

function prog(text: string, name = 'test', bind?: (def: MapDef, i: number) => BpfMap): LoadedProgram {
  const a = assemble(text, name);
  return loadProgram({ name, insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'socket_filter' }, bind);
}

function r0(res: { r0lo: number; r0hi: number }): bigint {
  return (BigInt(res.r0hi) << 32n) | BigInt(res.r0lo);
}

function run(text: string, opts: { ctx?: Uint8Array; rt?: TestRuntime; budget?: number } = {}) {
  const rt = opts.rt ?? createTestRuntime({ mem });
  const addr = rt.setContext(opts.ctx ?? new Uint8Array(0));
  try {
    const p = prog(text);
    const res = runProgram(p, rt, addr, 0, opts.ctx?.length ?? 0, 0, { budget: opts.budget });
    return { res, p, rt, ctx: opts.ctx === undefined ? undefined : rt.mem.u8.slice(addr, addr + opts.ctx.length) };
  } finally {
    rt.clearContext();
  }
}

// ---- BigInt reference for single ALU operations ---------------------------------------------

const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);

function refAlu(code: number, is64: boolean, off: number, a: bigint, b: bigint): bigint {
  if (is64) {
    switch (code) {
      case 0x00: return (a + b) & M64;
      case 0x10: return (a - b) & M64;
      case 0x20: return (a * b) & M64;
      case 0x30:
        if (b === 0n) return 0n;
        return off === 1 ? BigInt.asUintN(64, s64(a) / s64(b)) : a / b;
      case 0x40: return a | b;
      case 0x50: return a & b;
      case 0x60: return (a << (b & 63n)) & M64;
      case 0x70: return a >> (b & 63n);
      case 0x80: return BigInt.asUintN(64, -a);
      case 0x90:
        if (b === 0n) return a;
        return off === 1 ? BigInt.asUintN(64, s64(a) % s64(b)) : a % b;
      case 0xa0: return a ^ b;
      case 0xb0:
        if (off === 0) return b;
        return BigInt.asUintN(64, BigInt.asIntN(off, b));
      case 0xc0: return BigInt.asUintN(64, s64(a) >> (b & 63n));
    }
  } else {
    const x = u32(a);
    const y = u32(b);
    switch (code) {
      case 0x00: return u32(x + y);
      case 0x10: return u32(x - y);
      case 0x20: return u32(x * y);
      case 0x30:
        if (y === 0n) return 0n;
        return off === 1 ? u32(s32(x) / s32(y)) : x / y;
      case 0x40: return x | y;
      case 0x50: return x & y;
      case 0x60: return u32(x << (y & 31n));
      case 0x70: return x >> (y & 31n);
      case 0x80: return u32(-x);
      case 0x90:
        if (y === 0n) return x;
        return off === 1 ? u32(s32(x) % s32(y)) : x % y;
      case 0xa0: return x ^ y;
      case 0xb0:
        if (off === 0) return y;
        return u32(BigInt.asIntN(off, y));
      case 0xc0: return u32(s32(x) >> (y & 31n));
    }
  }
  throw new Error(`no reference for ${code}`);
}

function bswap(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let k = 0; k < bits / 8; k++) out = (out << 8n) | ((v >> BigInt(8 * k)) & 0xffn);
  return out;
}

function lddw(dst: number, v: bigint): Insn[] {
  const u = BigInt.asUintN(64, v);
  return [
    { opcode: 0x18, dst, src: 0, off: 0, imm: Number(BigInt.asIntN(32, u)) },
    { opcode: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, u >> 32n)) },
  ];
}

function runInsns(insns: Insn[]): bigint {
  const p = loadProgram({ name: 'alu', insns: encode(insns), maps: [], mapRefs: [], progType: 'socket_filter' });
  const res = runProgram(p, createTestRuntime({ mem }), 0, 0, 0, 0);
  expect(res.fault).toBeUndefined();
  return r0(res);
}

const EDGE = [0n, 1n, 2n, 3n, M64, M64 - 1n, 1n << 63n, (1n << 63n) - 1n, 0xffffffffn, 0x100000000n, 0x7fffffffn, 0x80000000n,
  0xffffffff00000000n, 0x1ffffffffn, 13n, BigInt.asUintN(64, -13n), BigInt.asUintN(64, -3n), 1n << 52n, (1n << 53n) + 1n];
const val64 = fc.oneof(fc.constantFrom(...EDGE), fc.bigInt({ min: 0n, max: M64 }), fc.bigInt({ min: 0n, max: 0xffffffffn }));
const imm32 = fc.oneof(fc.constantFrom(0, 1, -1, 2, -2, 3, -3, 13, 31, 32, 63, 64, 0x7fffffff, -0x80000000), fc.integer({ min: -0x80000000, max: 0x7fffffff }));

describe('interpreter ALU against a BigInt reference', () => {
  const ops: [number, number][] = [
    [0x00, 0], [0x10, 0], [0x20, 0], [0x30, 0], [0x30, 1], [0x40, 0], [0x50, 0], [0x60, 0], [0x70, 0],
    [0x90, 0], [0x90, 1], [0xa0, 0], [0xb0, 0], [0xc0, 0],
  ];

  it('every binary op, 32 and 64 bit, register and immediate', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.boolean(), fc.boolean(), val64, val64, imm32, ([code, off], is64, useReg, a, bReg, imm) => {
        const cls = is64 ? 0x07 : 0x04;
        const b = useReg ? bReg : BigInt.asUintN(64, BigInt(imm));
        const insn: Insn = useReg
          ? { opcode: cls | code | 0x08, dst: 1, src: 2, off, imm: 0 }
          : { opcode: cls | code, dst: 1, src: 0, off, imm };
        const got = runInsns([...lddw(1, a), ...lddw(2, bReg), insn, { opcode: 0xbf, dst: 0, src: 1, off: 0, imm: 0 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
        expect(got, `op 0x${(cls | code).toString(16)} off ${off} a=0x${a.toString(16)} b=0x${b.toString(16)}`).toBe(refAlu(code, is64, off, a, b));
      }),
      { numRuns: 3000 },
    );
  });

  it('every edge value pair for div, mod, sdiv, smod, mul (exhaustive)', () => {
    for (const [code, off] of [[0x30, 0], [0x30, 1], [0x90, 0], [0x90, 1], [0x20, 0]] as const) {
      for (const is64 of [true, false]) {
        for (const a of EDGE) {
          for (const b of EDGE) {
            const cls = is64 ? 0x07 : 0x04;
            const got = runInsns([...lddw(1, a), ...lddw(2, b), { opcode: cls | code | 0x08, dst: 1, src: 2, off, imm: 0 },
              { opcode: 0xbf, dst: 0, src: 1, off: 0, imm: 0 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
            expect(got, `0x${(cls | code).toString(16)}/${off} 0x${a.toString(16)} 0x${b.toString(16)}`).toBe(refAlu(code, is64, off, a, b));
          }
        }
      }
    }
  });

  it('neg, movsx, byte swaps', () => {
    fc.assert(
      fc.property(val64, (a) => {
        const exec = (insn: Insn): bigint =>
          runInsns([...lddw(1, a), insn, { opcode: 0xbf, dst: 0, src: 1, off: 0, imm: 0 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
        expect(exec({ opcode: 0x87, dst: 1, src: 0, off: 0, imm: 0 })).toBe(refAlu(0x80, true, 0, a, 0n));
        expect(exec({ opcode: 0x84, dst: 1, src: 0, off: 0, imm: 0 })).toBe(refAlu(0x80, false, 0, a, 0n));
        for (const o of [8, 16, 32]) expect(exec({ opcode: 0xbf, dst: 1, src: 1, off: o, imm: 0 })).toBe(refAlu(0xb0, true, o, 0n, a));
        for (const o of [8, 16]) expect(exec({ opcode: 0xbc, dst: 1, src: 1, off: o, imm: 0 })).toBe(refAlu(0xb0, false, o, 0n, a));
        for (const w of [16, 32, 64]) {
          const mask = (1n << BigInt(w)) - 1n;
          expect(exec({ opcode: 0xd7, dst: 1, src: 0, off: 0, imm: w })).toBe(bswap(a & mask, w));
          expect(exec({ opcode: 0xdc, dst: 1, src: 0, off: 0, imm: w })).toBe(bswap(a & mask, w));
          expect(exec({ opcode: 0xd4, dst: 1, src: 0, off: 0, imm: w })).toBe(a & mask);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every conditional jump, 32 and 64 bit, signed and unsigned', () => {
    const conds: [number, (a: bigint, b: bigint, sa: bigint, sb: bigint) => boolean][] = [
      [0x10, (a, b) => a === b], [0x20, (a, b) => a > b], [0x30, (a, b) => a >= b], [0x40, (a, b) => (a & b) !== 0n],
      [0x50, (a, b) => a !== b], [0x60, (_a, _b, x, y) => x > y], [0x70, (_a, _b, x, y) => x >= y],
      [0xa0, (a, b) => a < b], [0xb0, (a, b) => a <= b], [0xc0, (_a, _b, x, y) => x < y], [0xd0, (_a, _b, x, y) => x <= y],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...conds), fc.boolean(), fc.boolean(), val64, val64, imm32, ([code, f], is64, useReg, a, bReg, imm) => {
        const cls = is64 ? 0x05 : 0x06;
        const bFull = useReg ? bReg : BigInt.asUintN(64, BigInt(imm));
        const [x, y] = is64 ? [a, bFull] : [u32(a), u32(bFull)];
        const [sx, sy] = is64 ? [s64(x), s64(y)] : [s32(x), s32(y)];
        const want = f(x, y, sx, sy) ? 1n : 0n;
        const jmp: Insn = useReg ? { opcode: cls | code | 0x08, dst: 1, src: 2, off: 2, imm: 0 } : { opcode: cls | code, dst: 1, src: 0, off: 2, imm };
        const got = runInsns([...lddw(1, a), ...lddw(2, bReg), jmp,
          { opcode: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
          { opcode: 0xb7, dst: 0, src: 0, off: 0, imm: 1 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
        expect(got).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('memory and faults', () => {
  it('reads and writes the context and the stack', () => {
    const { res, ctx } = run(
      'ldxw r3, [r1+0]\nstdw [r10-8], -2\nldxdw r4, [r10-8]\nadd r3, r4\nstxw [r1+4], r3\nldxsb r0, [r1+0]\nexit',
      { ctx: new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0]) },
    );
    expect(res.fault).toBeUndefined();
    expect(r0(res)).toBe(M64); // ldxsb of 0xff
    expect(Array.from(ctx!.slice(4))).toEqual([0xfd, 0, 0, 0]);
  });

  it('faults on out-of-bounds context access, naming the pc and address', () => {
    const { res } = run('mov r0, 0\nldxw r0, [r1+6]\nexit', { ctx: new Uint8Array(8) });
    expect(res.fault?.kind).toBe('memory');
    expect(res.fault?.pc).toBe(1);
    expect(res.fault?.message).toMatch(/insn 1 \(ldxw %r0, \[%r1\+6\]\): invalid read of 4 bytes: address 0x[0-9a-f]+ \(context \+6 of 8\)/);
    expect(res.fault?.regs[1]).toMatch(/^0x/);
  });

  it('faults on NULL, on a pointer with high bits, and on writes to read-only regions', () => {
    expect(run('mov r1, 0\nldxb r0, [r1+0]\nexit').res.fault?.message).toMatch(/NULL pointer r1/);
    expect(run('lddw r1, 0x100010000\nstb [r1+0], 1\nexit').res.fault?.message).toMatch(/invalid write of 1 byte: pointer r1=0x100010000 is not an engine address/);
    const rt = createTestRuntime({ mem });
    const addr = rt.setContext(new Uint8Array(8), false);
    const r = runProgram(prog('stw [r1+0], 1\nexit'), rt, addr, 0, 8, 0);
    rt.clearContext();
    expect(r.fault?.message).toMatch(/invalid write of 4 bytes/);
  });

  it('never reads across a region boundary or into the gap below the stack', () => {
    expect(run('ldxdw r0, [r1+4]\nexit', { ctx: new Uint8Array(8) }).res.fault?.kind).toBe('memory');
    expect(run('ldxb r0, [r10-513]\nexit').res.fault?.kind).toBe('memory');
    expect(run('ldxb r0, [r10+0]\nexit').res.fault?.kind).toBe('memory');
    expect(run('ldxb r0, [r10-512]\nexit').res.fault).toBeUndefined();
  });

  it('faults when the instruction budget is exhausted', () => {
    const { res } = run('mov r0, 0\nL: add r0, 1\nja L\nexit', { budget: 1000 });
    expect(res.fault?.kind).toBe('budget');
    expect(res.instructions).toBe(1000);
  });

  it('faults on unknown opcodes and on running off the end', () => {
    expect(run('.raw 0x00000000000000ff').res.fault?.message).toMatch(/unknown opcode 0xff/);
    const off = run('mov r0, 1');
    expect(off.res.fault?.kind).toBe('bad-insn');
    expect(off.res.fault?.message).toMatch(/insn 0 \(mov %r0, 1\): execution falls through the end/);
    expect(() => prog('ja +5\nexit')).toThrow(/insn 0: jump out of range: target 6/);
    expect(() => prog('call local -3\nexit')).toThrow(/jump out of range/);
    expect(() => prog('lddw r1, 0\n.raw 0x0000000000000018')).toThrow(/missing its second slot/);
  });

  it('faults on unknown helpers, and turns a throwing helper into a fault', () => {
    expect(run('call 9999\nexit').res.fault?.message).toMatch(/unknown helper 9999/);
    const rt = createTestRuntime({
      mem,
      helpers: {
        200: () => {
          throw new Error('boom');
        },
      },
    });
    const r = runProgram(prog('call 200\nexit'), rt, 0, 0, 0, 0);
    expect(r.fault?.kind).toBe('helper');
    expect(r.fault?.message).toMatch(/helper 200 failed: boom/);
  });

  it('counts runs, instructions and time', () => {
    const p = prog('mov r0, 1\nadd r0, 2\nexit');
    const rt = createTestRuntime({ mem });
    runProgram(p, rt, 0, 0, 0, 0);
    runProgram(p, rt, 0, 0, 0, 0);
    expect(p.stats.runs).toBe(2);
    expect(p.stats.instructions).toBe(6);
    expect(p.stats.timeNs).toBeGreaterThan(0);
    setRunTiming(false);
    try {
      const before = p.stats.timeNs;
      runProgram(p, rt, 0, 0, 0, 0);
      expect(p.stats).toMatchObject({ runs: 3, instructions: 9, timeNs: before });
    } finally {
      setRunTiming(true);
    }
  });

  it('stack frames are regions of kind Stack', () => {
    const tops = stackTops(mem);
    expect(tops).toHaveLength(8);
    for (const t of tops) expect(mem.regionKind(mem.regionAt(t - 1))).toBe(RegionKind.Stack);
    expect(new Set(tops.map((t) => mem.regionAt(t - 1))).size).toBe(8);
  });
});

describe('helpers and calls', () => {
  it('passes r1..r5 through the ABI and reads r0 back', () => {
    const rt = createTestRuntime({
      mem,
      helpers: {
        100: (r) => setRetNum(r.mem, argLo(r.mem, 1) * 10000 + argLo(r.mem, 2) * 1000 + argLo(r.mem, 3) * 100 + argLo(r.mem, 4) * 10 + argLo(r.mem, 5)),
      },
    });
    const res = runProgram(prog('mov r1, 1\nmov r2, 2\nmov r3, 3\nmov r4, 4\nmov r5, 5\ncall 100\nexit'), rt, 0, 0, 0, 0);
    expect(r0(res)).toBe(12345n);
    const x = runProgram(prog('mov r1, 7\nmov r2, 100\ncall r2\nexit'), rt, 0, 0, 0, 0);
    expect(r0(x)).toBe(170000n); // r2 (the helper id register) is also argument 2
  });

  it('local calls get their own stack frame and preserve r6-r9', () => {
    const { res } = run(
      'mov r6, 6\nstdw [r10-8], 11\nmov r1, 5\ncall local f\nldxdw r2, [r10-8]\nadd r0, r2\nadd r0, r6\nexit\n' +
        'f:\nstdw [r10-8], 99\nmov r6, 0\nmov r0, r1\nexit',
    );
    expect(res.fault).toBeUndefined();
    expect(r0(res)).toBe(5n + 11n + 6n);
  });

  it('faults beyond 8 frames', () => {
    const { res } = run('f:\ncall local f\nexit');
    expect(res.fault?.kind).toBe('call-depth');
    expect(res.instructions).toBe(8);
    expect(run('mov r1, 6\ncall local f\nexit\nf:\njeq r1, 0, +2\nsub r1, 1\ncall local f\nmov r0, 3\nexit').res.fault).toBeUndefined();
  });

  it('bpf_loop calls the callback with (i, ctx) until it returns 1', () => {
    const text = (n: number, stopAt: number): string =>
      `stdw [r10-8], 0\nmov r1, ${n}\nlddw r2, func:cb\nmov r3, r10\nadd r3, -8\nmov r4, 0\ncall 181\n` +
      'ldxdw r1, [r10-8]\nlsh r0, 32\nor r0, r1\nexit\n' +
      `cb:\nldxdw r3, [r2+0]\nadd r3, r1\nstxdw [r2+0], r3\nmov r0, 0\njne r1, ${stopAt}, +1\nmov r0, 1\nexit`;
    const all = run(text(10, 99)).res;
    expect(all.fault).toBeUndefined();
    expect(r0(all)).toBe((10n << 32n) | 45n);
    const early = run(text(10, 4)).res;
    expect(r0(early)).toBe((5n << 32n) | 10n);
    expect(r0(run(text(0, 99)).res)).toBe(0n);
    const badFlags = run('mov r1, 1\nlddw r2, func:cb\nmov r3, 0\nmov r4, 1\ncall 181\nexit\ncb:\nmov r0, 0\nexit').res;
    expect(r0(badFlags)).toBe(BigInt.asUintN(64, -22n));
  });

  it('tail calls through a prog_array, at most 33 deep', () => {
    const rt = createTestRuntime({ mem });
    const slots: (LoadedProgram | undefined)[] = [];
    const handle = mem.alloc(8).addr;
    const bind = (def: MapDef): BpfMap => {
      expect(def.type).toBe(BPF_MAP_TYPE_PROG_ARRAY);
      const m: ProgArrayMap = {
        def,
        handle,
        lookupAddr: () => 0,
        updateAddr: () => -22,
        deleteAddr: () => -22,
        getProg: (i) => slots[i],
      };
      rt.addMap(m);
      return m;
    };
    const decl = '.map jt prog_array key=4 value=4 entries=4\n';
    // Program 0 tail-calls program 1, which returns 7.
    const p1 = prog(decl + 'mov r0, 7\nexit', 'p1', bind);
    const p0 = prog(decl + 'mov r6, r1\nlddw r2, map:jt\nmov r3, 1\ncall 12\nmov r0, 1\nexit', 'p0', bind);
    slots[1] = p1;
    expect(r0(runProgram(p0, rt, 0, 0, 0, 0))).toBe(7n);
    // Missing slot and out-of-range index fall through.
    slots[1] = undefined;
    expect(r0(runProgram(p0, rt, 0, 0, 0, 0))).toBe(1n);
    // A program that tail-calls itself, counting in a context word: 33 tail calls then falls through.
    const self = prog(decl + 'ldxw r2, [r1+0]\nadd r2, 1\nstxw [r1+0], r2\nlddw r2, map:jt\nmov r3, 2\ncall 12\nldxw r0, [r1+0]\nexit', 'self', bind);
    slots[2] = self;
    const addr = rt.setContext(new Uint8Array(4));
    const res = runProgram(self, rt, addr, 0, 4, 0);
    rt.clearContext();
    expect(res.fault).toBeUndefined();
    expect(r0(res)).toBe(34n);
  });

  it('fault messages print map references by name', () => {
    const rt = createTestRuntime({ mem });
    const bind = (def: MapDef): BpfMap => ({ def, handle: 12345678, lookupAddr: () => 0, updateAddr: () => 0, deleteAddr: () => 0 });
    const p = prog('.map counts hash key=4 value=8 entries=4\nlddw r1, map:counts\nldxw r0, [r1+0]\nexit', 'named', bind);
    const r = runProgram(p, rt, 0, 0, 0, 0);
    expect(r.fault?.message).toMatch(/insn 2 \(ldxw %r0, \[%r1\+0\]\)/);
    const q = prog('.map counts hash key=4 value=8 entries=4\nlddw r1, map:counts\ncall 9999\nexit', 'named2', bind);
    expect(runProgram(q, rt, 0, 0, 0, 0).fault?.message).toMatch(/named2: insn 2 \(call 9999\): unknown helper 9999/);
    expect(describeFaultInsn(q, 0)).toBe('lddw %r1, map:counts');
  });

  it('links lddw map value addresses through valueAddr', () => {
    const rt = createTestRuntime({ mem });
    const a = mem.alloc(16);
    mem.addRegion(a.addr, 16, RegionKind.MapValue, true);
    mem.u8[a.addr + 8] = 42;
    const bind = (def: MapDef): BpfMap & { valueAddr(o: number): number } => ({
      def,
      handle: a.addr + 100000,
      lookupAddr: () => a.addr,
      updateAddr: () => 0,
      deleteAddr: () => 0,
      valueAddr: (o: number) => (o < def.valueSize ? a.addr + o : 0),
    });
    const p = prog('.map cfg array key=4 value=16 entries=1\nlddw r1, mapval:cfg+8\nldxb r0, [r1+0]\nexit', 'mv', bind);
    expect(r0(runProgram(p, rt, 0, 0, 0, 0))).toBe(42n);
    expect(() => prog('.map h hash key=4 value=4 entries=1\nlddw r1, mapval:h+0\nexit', 'h', (def) => ({
      def, handle: 1, lookupAddr: () => 0, updateAddr: () => 0, deleteAddr: () => 0,
    }))).toThrow(/no direct value address/);
    expect(BPF_MAP_TYPE_ARRAY).toBe(2);
  });

  it('atomics: fetch variants, xchg and cmpxchg, 32 and 64 bit', () => {
    const { res } = run(
      'stdw [r10-8], 10\nmov r1, 5\nlock fetch add [r10-8], r1\nmov r6, r1\n' + // r6 = 10, mem = 15
        'mov r0, 15\nmov r2, 100\nlock cmpxchg [r10-8], r2\n' + // r0 = 15, mem = 100
        'mov r3, 1\nlock xchg32 [r10-8], r3\n' + // r3 = 100, mem lo = 1
        'ldxdw r4, [r10-8]\nmov r0, r6\nlsh r0, 8\nor r0, r3\nlsh r0, 8\nor r0, r4\nexit',
    );
    expect(r0(res)).toBe((10n << 16n) | (100n << 8n) | 1n);
  });
});

const FUZZ_TIMEOUT = process.env.KESTREL_INTERP_FUZZ_RUNS !== undefined ? 3_600_000 : 60_000;

describe('hostile programs', () => {
  it('random bytecode never throws, and never writes outside program-visible regions', () => {
    const rt = createTestRuntime({ mem });
    // A canary: allocated engine memory with no region behind it.
    const canary = mem.alloc(256);
    mem.u8.fill(0xa5, canary.addr, canary.addr + 256);
    const ctx = rt.setContext(new Uint8Array(64));
    // Bias towards memory ops whose base register points somewhere interesting.
    const slot = fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x61, 0x63, 0x7b, 0x79, 0x72, 0xdb, 0xc3, 0x85, 0x8d, 0x95, 0x05, 0x07, 0xb7)),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: -600, max: 600 }),
      fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(0, 1, 5, 12, 181, canary.addr, ctx)),
    );
    fc.assert(
      fc.property(fc.array(slot, { minLength: 1, maxLength: 30 }), (slots) => {
        const insns: Insn[] = slots.map(([opcode, dst, src, off, imm]) => ({ opcode, dst, src, off, imm }));
        // Point r3 at the canary and r4 near the context so stores really aim at them.
        const prefix: Insn[] = [...lddw(3, BigInt(canary.addr)), ...lddw(4, BigInt(ctx + 60))];
        let p: LoadedProgram;
        try {
          p = loadProgram({ name: 'fuzz', insns: encode([...prefix, ...insns]), maps: [], mapRefs: [], progType: 'raw' });
        } catch {
          return; // rejected at load (bad register, truncated lddw): fine
        }
        const res = runProgram(p, rt, ctx, 0, 64, 0, { budget: 5000 });
        expect(res.instructions).toBeLessThanOrEqual(5000);
        if (res.fault !== undefined) expect(res.fault.pc).toBeGreaterThanOrEqual(-1);
        let changed = -1;
        for (let k = 0; k < 256 && changed < 0; k++) if (mem.u8[canary.addr + k] !== 0xa5) changed = k;
        expect(changed, 'canary byte changed').toBe(-1);
      }),
      { numRuns: Number(process.env.KESTREL_INTERP_FUZZ_RUNS ?? 1500) }, // long runs: KESTREL_INTERP_FUZZ_RUNS=100000
    );
    rt.clearContext();
  }, FUZZ_TIMEOUT);
});
