import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assemble, AsmError } from './assembler.js';
import { disassemble, disasmOne } from './disassembler.js';
import { decode, encode, slotsToHex, type Insn } from '../isa.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_RINGBUF } from '../maps/types.js';

function hex(text: string): string[] {
  return slotsToHex(assemble(text).insns);
}

function one(text: string): Insn {
  const d = decode(assemble(text).insns);
  return d[0];
}

describe('assembler encodings', () => {
  it('encodes lddw exactly as the conformance -- raw section', () => {
    expect(hex('lddw %r0, 0x1122334455667788\nexit')).toEqual(['1800000088776655', '0000000044332211', '9500000000000000']);
  });

  it('accepts registers with or without %, and both comment styles', () => {
    expect(hex('mov r0, 1 ; one\nmov %r0, 1 # one')).toEqual(['b700000001000000', 'b700000001000000']);
  });

  it('reads hex immediates as unsigned 32-bit and decimal as signed', () => {
    expect(one('jne %r6, 0xffffff80, +0').imm).toBe(-128);
    expect(one('mov %r1, -1').imm).toBe(-1);
    expect(one('mov32 %r1, 0xffffffff').imm).toBe(-1);
    expect(() => assemble('mov %r1, 0x100000000')).toThrow(AsmError);
  });

  it('encodes ALU classes, sdiv/smod offsets and movsx', () => {
    expect(one('add32 %r1, %r2')).toMatchObject({ opcode: 0x0c, dst: 1, src: 2 });
    expect(one('add64 %r1, 7')).toMatchObject({ opcode: 0x07, imm: 7 });
    expect(one('sdiv %r1, 3')).toMatchObject({ opcode: 0x37, off: 1 });
    expect(one('smod32 %r1, %r3')).toMatchObject({ opcode: 0x9c, off: 1, src: 3 });
    expect(one('movsx1664 %r1, %r2')).toMatchObject({ opcode: 0xbf, off: 16 });
    expect(one('movsx832 %r1, %r2')).toMatchObject({ opcode: 0xbc, off: 8 });
    expect(one('neg32 %r4')).toMatchObject({ opcode: 0x84, dst: 4 });
    expect(one('be16 %r0')).toMatchObject({ opcode: 0xdc, imm: 16 });
    expect(one('le64 %r0')).toMatchObject({ opcode: 0xd4, imm: 64 });
    expect(one('bswap32 %r0')).toMatchObject({ opcode: 0xd7, imm: 32 });
    expect(one('swap16 %r0')).toMatchObject({ opcode: 0xd7, imm: 16 });
  });

  it('encodes memory operands, sign-extending loads and atomics', () => {
    expect(one('ldxw %r2, [%r1+4]')).toMatchObject({ opcode: 0x61, dst: 2, src: 1, off: 4 });
    expect(one('ldxdw %r0, [%r1]')).toMatchObject({ opcode: 0x79, off: 0 });
    expect(one('ldxb %r0, [%r1+0x2]')).toMatchObject({ opcode: 0x71, off: 2 });
    expect(one('ldxsh %r0, [%r10-8]')).toMatchObject({ opcode: 0x89, src: 10, off: -8 });
    expect(one('stw [%r10-4], 0xab')).toMatchObject({ opcode: 0x62, dst: 10, off: -4, imm: 0xab });
    expect(one('stxdw [%r10-8], %r1')).toMatchObject({ opcode: 0x7b, dst: 10, src: 1, off: -8 });
    expect(one('lock add [%r10-8], %r1')).toMatchObject({ opcode: 0xdb, imm: 0x00 });
    expect(one('lock fetch add32 [%r10-8], %r1')).toMatchObject({ opcode: 0xc3, imm: 0x01 });
    expect(one('lock fetch xor [%r1+0], %r2')).toMatchObject({ opcode: 0xdb, imm: 0xa1 });
    expect(one('lock xchg32 [%r1+0], %r2')).toMatchObject({ opcode: 0xc3, imm: 0xe1 });
    expect(one('lock cmpxchg [%r1+0], %r2')).toMatchObject({ opcode: 0xdb, imm: 0xf1 });
  });

  it('resolves labels, +N/-N offsets, the implicit exit label and ja32', () => {
    const r = assemble('ja L1\nmov %r0, 1\nL1: jeq %r1, 0x10, exit\nja32 -2\nexit\nback:\nja -6');
    const d = decode(r.insns);
    expect(d[0].off).toBe(1);
    expect(d[2]).toMatchObject({ opcode: 0x15, off: 1, imm: 16 });
    expect(d[3]).toMatchObject({ opcode: 0x06, imm: -2, off: 0 });
    expect(r.labels.get('L1')).toBe(2);
    expect(r.labels.get('exit')).toBe(4);
    expect(r.labels.get('back')).toBe(5);
  });

  it('encodes calls: helper, callx, local, runtime', () => {
    expect(one('call 5')).toMatchObject({ opcode: 0x85, src: 0, imm: 5 });
    expect(one('call %r2')).toMatchObject({ opcode: 0x8d, dst: 2, imm: 0 });
    expect(one('call runtime 7')).toMatchObject({ opcode: 0x85, src: 2, imm: 7 });
    const d = decode(assemble('call local f\nexit\nf:\nmov %r0, 1\nexit').insns);
    expect(d[0]).toMatchObject({ opcode: 0x85, src: 1, imm: 1 });
  });

  it('declares maps and emits map pseudo-loads with mapRefs', () => {
    const r = assemble(
      '.map counts hash key=4 value=8 entries=1024\n.map events ringbuf key=0 value=0 entries=4096\n' +
        '.map cfg array key=4 value=16 entries=1 flags=0x80\n' +
        'lddw r1, map:events\nlddw r2, map:counts\nlddw r3, mapval:cfg+8\nexit',
    );
    expect(r.maps.map((m) => [m.name, m.type])).toEqual([
      ['counts', BPF_MAP_TYPE_HASH],
      ['events', BPF_MAP_TYPE_RINGBUF],
      ['cfg', BPF_MAP_TYPE_ARRAY],
    ]);
    expect(r.maps[2].flags).toBe(0x80);
    expect(r.mapRefs).toEqual([
      { insn: 0, map: 1 },
      { insn: 2, map: 0 },
      { insn: 4, map: 2 },
    ]);
    const d = decode(r.insns);
    expect(d[0]).toMatchObject({ opcode: 0x18, dst: 1, src: 1, imm: 1 });
    expect(d[4]).toMatchObject({ src: 2, imm: 2 });
    expect(d[5].imm).toBe(8);
  });

  it('emits lddw func:LABEL with src 4 and a relative offset', () => {
    const d = decode(assemble('lddw r2, func:cb\nexit\ncb:\nmov r0, 0\nexit').insns);
    expect(d[0]).toMatchObject({ opcode: 0x18, src: 4, imm: 2 }); // target = pc + 1 + imm = 3
  });

  it('accepts .raw slots', () => {
    expect(hex('.raw 0x0000000000000095')).toEqual(['9500000000000000']);
  });
});

describe('assembler errors', () => {
  const err = (text: string): AsmError => {
    try {
      assemble(text, 'prog.asm');
    } catch (e) {
      if (e instanceof AsmError) return e;
      throw e;
    }
    throw new Error('no error');
  };

  it('names file, line and column', () => {
    const e = err('mov %r0, 1\n  frob %r1, 2\n');
    expect(e.line).toBe(2);
    expect(e.column).toBe(3);
    expect(e.message).toBe("prog.asm:2:3: unknown instruction 'frob'");
  });

  it('points at the bad operand', () => {
    const e = err('mov %r0, %r11');
    expect(e.column).toBe(10);
    expect(e.message).toMatch(/no register r11/);
    expect(err('ldxw %r0, %r1').message).toMatch(/1:11: expected a memory operand/);
    expect(err('ja nowhere').message).toMatch(/1:4: undefined label 'nowhere'/);
    expect(err('lddw r1, map:nope').message).toMatch(/undefined map 'nope'/);
    expect(err('mov %r0').message).toMatch(/'mov' takes 2 operands, got 1/);
    expect(err('.map m bogus key=4 value=4 entries=1').message).toMatch(/1:8: unknown map type 'bogus'/);
    expect(err('.map m hash key=4 entries=1').message).toMatch(/missing value=/);
    expect(err('L: exit\nL: exit').message).toMatch(/2:1: label 'L' already defined on line 1/);
    expect(err('stw [%r1+70000], 1').message).toMatch(/does not fit in 16 bits/);
  });
});

// ---- round trip --------------------------------------------------------------------------------

const reg = fc.integer({ min: 0, max: 10 });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
const pick = <T>(xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
const mk = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ opcode, dst, src, off, imm });

const ALU = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0];
const JMP = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];

/** One valid instruction (lddw yields two slots). */
const insnArb: fc.Arbitrary<Insn[]> = fc.oneof(
  fc.tuple(pick([0x04, 0x07]), pick(ALU), reg, i32).map(([c, op, d, imm]) => [mk(c | op, d, 0, 0, imm)]),
  fc.tuple(pick([0x0c, 0x0f]), pick(ALU), reg, reg).map(([c, op, d, s]) => [mk(c | op, d, s)]),
  fc.tuple(pick([0x34, 0x3c, 0x94, 0x9c, 0x37, 0x3f, 0x97, 0x9f]), reg, reg, i32).map(([op, d, s, imm]) =>
    op & 8 ? [mk(op, d, s, 1)] : [mk(op, d, 0, 1, imm)],
  ),
  fc.tuple(pick([0x84, 0x87]), reg).map(([op, d]) => [mk(op, d)]),
  fc.tuple(pick([0xbf, 0xbf, 0xbf, 0xbc, 0xbc]), pick([8, 16, 32]), reg, reg).map(([op, o, d, s]) => [mk(op, d, s, op === 0xbc && o === 32 ? 16 : o)]),
  fc.tuple(pick([0xd4, 0xdc, 0xd7]), pick([16, 32, 64]), reg).map(([op, w, d]) => [mk(op, d, 0, 0, w)]),
  fc.tuple(pick([0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91]), reg, reg, i16).map(([op, d, s, o]) => [mk(op, d, s, o)]),
  fc.tuple(pick([0x62, 0x6a, 0x72, 0x7a]), reg, i16, i32).map(([op, d, o, imm]) => [mk(op, d, 0, o, imm)]),
  fc.tuple(pick([0x63, 0x6b, 0x73, 0x7b]), reg, reg, i16).map(([op, d, s, o]) => [mk(op, d, s, o)]),
  fc
    .tuple(pick([0xc3, 0xdb]), pick([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1]), reg, reg, i16)
    .map(([op, a, d, s, o]) => [mk(op, d, s, o, a)]),
  fc.tuple(pick([0x05, 0x06]), pick(JMP), reg, i32, i16).map(([c, op, d, imm, o]) => [mk(c | op, d, 0, o, imm)]),
  fc.tuple(pick([0x0d, 0x0e]), pick(JMP), reg, reg, i16).map(([c, op, d, s, o]) => [mk(c | op, d, s, o)]),
  i16.map((o) => [mk(0x05, 0, 0, o)]),
  i32.map((imm) => [mk(0x06, 0, 0, 0, imm)]),
  fc.tuple(pick([0, 1, 2]), i32).map(([src, imm]) => [mk(0x85, 0, src, 0, imm)]),
  reg.map((d) => [mk(0x8d, d)]),
  fc.constant<Insn[]>([mk(0x95)]),
  fc.tuple(reg, i32, i32).map(([d, lo, hi]) => [mk(0x18, d, 0, 0, lo), mk(0, 0, 0, 0, hi)]),
  fc.tuple(reg, i32).map(([d, rel]) => [mk(0x18, d, 4, 0, rel), mk(0, 0, 0, 0, 0)]),
);

describe('disassembler round trip', () => {
  it('assemble(disassemble(x)) === x for random valid instruction streams', () => {
    fc.assert(
      fc.property(fc.array(insnArb, { minLength: 1, maxLength: 40 }), (groups) => {
        const bytes = encode(groups.flat());
        const text = disassemble(bytes);
        expect(text).not.toContain('.raw');
        expect(slotsToHex(assemble(text).insns)).toEqual(slotsToHex(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips with labels instead of offsets', () => {
    fc.assert(
      fc.property(fc.array(insnArb, { minLength: 1, maxLength: 40 }), (groups) => {
        const bytes = encode(groups.flat());
        const text = disassemble(bytes, undefined, { labels: true });
        expect(slotsToHex(assemble(text).insns)).toEqual(slotsToHex(bytes));
      }),
      { numRuns: 300 },
    );
    const text = disassemble(assemble('mov r0, 0\nloop: add r0, 1\njne r0, 10, loop\ncall local f\nexit\nf: exit').insns, undefined, { labels: true });
    expect(text).toBe('mov %r0, 0\nL1:\nadd %r0, 1\njne %r0, 10, L1\ncall local L5\nexit\nL5:\nexit\n');
  });

  it('round-trips arbitrary bytes (non-canonical slots become .raw)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 160 }).map((b) => b.slice(0, b.length - (b.length % 8))), (bytes) => {
        if (bytes.length === 0) return;
        expect(slotsToHex(assemble(disassemble(bytes)).insns)).toEqual(slotsToHex(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('prints maps by name and re-declares them', () => {
    const src = '.map counts hash key=4 value=8 entries=16\nlddw %r1, map:counts\nexit\n';
    const r = assemble(src);
    const text = disassemble(r.insns, r.maps);
    expect(text).toBe(src);
  });

  it('prints the conformance dialect', () => {
    const d = decode(assemble('ldxw %r2, [%r1+4]\nlock fetch add32 [%r10-8], %r1\ncall local +1\njsgt32 %r1, -3, -2').insns);
    expect(d.map((_, k) => disasmOne(d, k))).toEqual([
      'ldxw %r2, [%r1+4]',
      'lock fetch add32 [%r10-8], %r1',
      'call local +1',
      'jsgt32 %r1, -3, -2',
    ]);
  });
});
