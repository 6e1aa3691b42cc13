// Disassembler to the bpf_conformance dialect. Output re-assembles byte for byte with
// `assemble`: jump targets are printed as +N/-N, and any slot whose encoding the dialect cannot
// express exactly (reserved fields set, unknown opcodes) is printed as `.raw 0x<u64>`.

import { decode, OP_CALL, OP_CALLX, OP_EXIT, OP_JA32, OP_LDDW, type Insn } from '../isa.js';
import { MAP_TYPE_NAMES, type MapDef } from '../maps/types.js';

const ALU_NAMES: Readonly<Record<number, string>> = {
  0x00: 'add', 0x10: 'sub', 0x20: 'mul', 0x30: 'div', 0x40: 'or', 0x50: 'and', 0x60: 'lsh', 0x70: 'rsh',
  0x80: 'neg', 0x90: 'mod', 0xa0: 'xor', 0xb0: 'mov', 0xc0: 'arsh',
};
const JMP_NAMES: Readonly<Record<number, string>> = {
  0x10: 'jeq', 0x20: 'jgt', 0x30: 'jge', 0x40: 'jset', 0x50: 'jne', 0x60: 'jsgt', 0x70: 'jsge',
  0xa0: 'jlt', 0xb0: 'jle', 0xc0: 'jslt', 0xd0: 'jsle',
};
const SIZE_NAMES: Readonly<Record<number, string>> = { 0x00: 'w', 0x08: 'h', 0x10: 'b', 0x18: 'dw' };
const ATOMIC_NAMES: Readonly<Record<number, string>> = { 0x00: 'add', 0x40: 'or', 0x50: 'and', 0xa0: 'xor' };

const r = (n: number): string => `%r${n}`;
const rel = (n: number): string => (n >= 0 ? `+${n}` : `${n}`);
const memRef = (reg: number, off: number): string => `[${r(reg)}${off >= 0 ? '+' : '-'}${Math.abs(off)}]`;
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function rawSlot(i: Insn): string {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint8(0, i.opcode);
  dv.setUint8(1, (i.dst & 0x0f) | ((i.src & 0x0f) << 4));
  dv.setInt16(2, i.off, true);
  dv.setInt32(4, i.imm, true);
  return `.raw 0x${dv.getBigUint64(0, true).toString(16).padStart(16, '0')}`;
}

/** The `.map` declaration line for a definition (as the assembler reads it). */
export function mapDecl(m: MapDef): string {
  const t = MAP_TYPE_NAMES[m.type] ?? String(m.type);
  const flags = m.flags !== 0 ? ` flags=${m.flags}` : '';
  return `.map ${m.name} ${t} key=${m.keySize} value=${m.valueSize} entries=${m.maxEntries}${flags}`;
}

/**
 * One instruction as text. For lddw the next slot is consumed too (callers skip it).
 * Returns `.raw` for slots that cannot be written exactly in the dialect.
 */
export function disasmOne(insns: readonly Insn[], pc: number, maps?: readonly MapDef[]): string {
  const i = insns[pc];
  const { opcode: op, dst, src, off, imm } = i;
  const cls = op & 7;
  const raw = (): string => rawSlot(i);
  if (dst > 10 || src > 10) return raw();

  if (op === OP_LDDW) {
    const next = insns[pc + 1];
    if (next === undefined || next.opcode !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0 || off !== 0) return raw();
    if (src === 0) {
      const v = (BigInt(next.imm >>> 0) << 32n) | BigInt(imm >>> 0);
      return `lddw ${r(dst)}, 0x${v.toString(16)}`;
    }
    const map = maps?.[imm];
    if (src === 1 && map !== undefined && next.imm === 0) return `lddw ${r(dst)}, map:${map.name}`;
    if (src === 2 && map !== undefined) return `lddw ${r(dst)}, mapval:${map.name}+${next.imm >>> 0}`;
    if (src === 4 && next.imm === 0) return `lddw ${r(dst)}, func:${rel(imm)}`;
    return raw();
  }

  if (cls === 0x04 || cls === 0x07) {
    const code = op & 0xf0;
    const x = (op & 0x08) !== 0;
    const sfx = cls === 0x04 ? '32' : '';
    if (code === 0xd0) {
      if (src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64)) return raw();
      if (cls === 0x07) return x ? raw() : `bswap${imm} ${r(dst)}`;
      return `${x ? 'be' : 'le'}${imm} ${r(dst)}`;
    }
    if (code === 0x80) {
      if (x || src !== 0 || off !== 0 || imm !== 0) return raw();
      return `neg${sfx} ${r(dst)}`;
    }
    let name = ALU_NAMES[code];
    if (name === undefined) return raw();
    if (code === 0xb0 && off !== 0) {
      if (!x || imm !== 0) return raw();
      if (cls === 0x07 && (off === 8 || off === 16 || off === 32)) return `movsx${off}64 ${r(dst)}, ${r(src)}`;
      if (cls === 0x04 && (off === 8 || off === 16)) return `movsx${off}32 ${r(dst)}, ${r(src)}`;
      return raw();
    }
    if (off !== 0) {
      if (off === 1 && (code === 0x30 || code === 0x90)) name = code === 0x30 ? 'sdiv' : 'smod';
      else return raw();
    }
    if (x) return imm !== 0 ? raw() : `${name}${sfx} ${r(dst)}, ${r(src)}`;
    return src !== 0 ? raw() : `${name}${sfx} ${r(dst)}, ${imm}`;
  }

  if (cls === 0x05 || cls === 0x06) {
    const code = op & 0xf0;
    const x = (op & 0x08) !== 0;
    if (op === 0x05) return dst === 0 && src === 0 && imm === 0 ? `ja ${rel(off)}` : raw();
    if (op === OP_JA32) return dst === 0 && src === 0 && off === 0 ? `ja32 ${rel(imm)}` : raw();
    if (op === OP_EXIT) return dst === 0 && src === 0 && off === 0 && imm === 0 ? 'exit' : raw();
    if (op === OP_CALL) {
      if (dst !== 0 || off !== 0) return raw();
      if (src === 0) return `call ${imm}`;
      if (src === 1) return `call local ${rel(imm)}`;
      if (src === 2) return `call runtime ${imm}`;
      return raw();
    }
    if (op === OP_CALLX) return src === 0 && off === 0 && imm === 0 ? `call ${r(dst)}` : raw();
    const name = JMP_NAMES[code];
    if (name === undefined) return raw();
    const sfx = cls === 0x06 ? '32' : '';
    if (x) return imm !== 0 ? raw() : `${name}${sfx} ${r(dst)}, ${r(src)}, ${rel(off)}`;
    return src !== 0 ? raw() : `${name}${sfx} ${r(dst)}, ${imm}, ${rel(off)}`;
  }

  const size = SIZE_NAMES[op & 0x18];
  const mode = op & 0xe0;
  if (cls === 0x01) {
    if (imm !== 0) return raw();
    if (mode === 0x60) return `ldx${size} ${r(dst)}, ${memRef(src, off)}`;
    if (mode === 0x80 && size !== 'dw') return `ldxs${size} ${r(dst)}, ${memRef(src, off)}`;
    return raw();
  }
  if (cls === 0x02) {
    if (mode !== 0x60 || src !== 0) return raw();
    return `st${size} ${memRef(dst, off)}, ${imm}`;
  }
  if (cls === 0x03) {
    if (mode === 0x60) return imm === 0 ? `stx${size} ${memRef(dst, off)}, ${r(src)}` : raw();
    if (mode === 0xc0 && (size === 'w' || size === 'dw')) {
      const sfx = size === 'w' ? '32' : '';
      if (imm === 0xe1) return `lock xchg${sfx} ${memRef(dst, off)}, ${r(src)}`;
      if (imm === 0xf1) return `lock cmpxchg${sfx} ${memRef(dst, off)}, ${r(src)}`;
      const a = ATOMIC_NAMES[imm & ~1];
      if (a === undefined) return raw();
      return `lock ${imm & 1 ? 'fetch ' : ''}${a}${sfx} ${memRef(dst, off)}, ${r(src)}`;
    }
    return raw();
  }
  if (cls === 0x00 && (mode === 0x20 || mode === 0x40) && size !== 'dw' && dst === 0 && off === 0) {
    if (mode === 0x20) return src === 0 ? `ldabs${size} ${imm}` : raw();
    return `ldind${size} ${r(src)}, ${imm}`;
  }
  return raw();
}

export interface DisasmOptions {
  /** Print jump, call and callback targets as labels `L<slot>:` instead of +N/-N (still re-assemblable). */
  labels?: boolean;
}

/** Slot index targeted by a jump, local call or lddw func, or undefined. */
function targetOf(d: readonly Insn[], pc: number): number | undefined {
  const i = d[pc];
  const cls = i.opcode & 7;
  if (i.opcode === OP_LDDW) return i.src === 4 ? pc + 1 + i.imm : undefined;
  if (cls !== 0x05 && cls !== 0x06) return undefined;
  if (i.opcode === OP_CALL) return i.src === 1 ? pc + 1 + i.imm : undefined;
  if (i.opcode === OP_JA32) return pc + 1 + i.imm;
  if (i.opcode === OP_EXIT || i.opcode === OP_CALLX) return undefined;
  return pc + 1 + i.off;
}

/**
 * Whole program as text, one instruction per line. With `maps`, `.map` declarations come first
 * so that `map:NAME` operands re-assemble to the same indices.
 */
export function disassemble(insns: Uint8Array, maps?: readonly MapDef[], opts: DisasmOptions = {}): string {
  const d = decode(insns);
  const out: string[] = [];
  if (maps !== undefined) for (const m of maps) out.push(mapDecl(m));
  const texts: (string | undefined)[] = new Array(d.length);
  for (let pc = 0; pc < d.length; pc++) {
    texts[pc] = disasmOne(d, pc, maps);
    if (d[pc].opcode === OP_LDDW && !(texts[pc] as string).startsWith('.raw')) pc++;
  }
  const labels = new Set<number>();
  if (opts.labels === true) {
    for (let pc = 0; pc < d.length; pc++) {
      const text = texts[pc];
      if (text === undefined || text.startsWith('.raw')) continue;
      const t = targetOf(d, pc);
      if (t !== undefined && t >= 0 && t < d.length && texts[t] !== undefined) {
        labels.add(t);
        // Replace the trailing relative target with the label.
        texts[pc] = text.replace(/(func:)?[+-]\d+$/, (_m, f: string | undefined) => `${f ?? ''}L${t}`);
      }
    }
  }
  for (let pc = 0; pc < d.length; pc++) {
    const text = texts[pc];
    if (text === undefined) continue;
    if (labels.has(pc)) out.push(`L${pc}:`);
    out.push(text);
  }
  return out.join('\n') + (out.length > 0 ? '\n' : '');
}

/** Text with `N: ` slot numbers, for people (verifier logs, `prog show`). */
export function disassembleNumbered(insns: Uint8Array, maps?: readonly MapDef[]): string {
  const d = decode(insns);
  const out: string[] = [];
  for (let pc = 0; pc < d.length; pc++) {
    const text = disasmOne(d, pc, maps);
    out.push(`${String(pc).padStart(4)}: ${text}`);
    if (d[pc].opcode === OP_LDDW && !text.startsWith('.raw')) pc++;
  }
  return out.join('\n') + (out.length > 0 ? '\n' : '');
}
