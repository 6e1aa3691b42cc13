// The eBPF instruction set (RFC 9669 plus Linux's numbering): classes, opcodes, the 8-byte
// instruction slot, and encoding/decoding. Every other engine module speaks in these numbers.

export const INSN_SIZE = 8;

// Instruction classes (low 3 bits of the opcode).
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Source bit for ALU/JMP classes.
export const BPF_K = 0x00;
export const BPF_X = 0x08;

// ALU operation codes (high 4 bits).
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// Byte-order source bit for BPF_END in the ALU class (ALU64 | END is unconditional bswap).
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// Jump operation codes (high 4 bits).
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

// Load/store sizes (bits 3-4) and modes (bits 5-7).
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// Atomic operations (imm field of BPF_STX | BPF_ATOMIC).
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
export const BPF_LOAD_ACQ = 0x100;
export const BPF_STORE_REL = 0x110;

// src_reg values of `lddw` (BPF_LD | BPF_IMM | BPF_DW).
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

// src_reg values of `call`.
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

// Frequently used full opcodes.
export const OP_LDDW = BPF_LD | BPF_IMM | BPF_DW; // 0x18
export const OP_CALL = BPF_JMP | BPF_CALL; // 0x85
export const OP_CALLX = BPF_JMP | BPF_CALL | BPF_X; // 0x8d (not RFC 9669; Linux rejects it)
export const OP_EXIT = BPF_JMP | BPF_EXIT; // 0x95
export const OP_JA = BPF_JMP | BPF_JA; // 0x05
export const OP_JA32 = BPF_JMP32 | BPF_JA; // 0x06 gotol

export const MAX_BPF_STACK = 512;
export const MAX_CALL_FRAMES = 8;
export const MAX_TAIL_CALL_CNT = 33;
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** One decoded 8-byte slot. `imm` is the signed 32-bit field. */
export interface Insn {
  opcode: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export function insnClass(opcode: number): number {
  return opcode & 0x07;
}

export function isLddw(i: Insn): boolean {
  return i.opcode === OP_LDDW;
}

/** Decode raw little-endian bytes into slots. Throws a RangeError if the length is not a multiple of 8. */
export function decode(bytes: Uint8Array): Insn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new RangeError(`program length ${bytes.length} is not a multiple of ${INSN_SIZE}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = new Array(bytes.length / INSN_SIZE);
  for (let i = 0; i < out.length; i++) {
    const o = i * INSN_SIZE;
    const regs = dv.getUint8(o + 1);
    out[i] = {
      opcode: dv.getUint8(o),
      dst: regs & 0x0f,
      src: regs >>> 4,
      off: dv.getInt16(o + 2, true),
      imm: dv.getInt32(o + 4, true),
    };
  }
  return out;
}

/** Encode slots into little-endian bytes. Field values are truncated to their widths. */
export function encode(insns: readonly Insn[]): Uint8Array {
  const bytes = new Uint8Array(insns.length * INSN_SIZE);
  const dv = new DataView(bytes.buffer);
  insns.forEach((i, n) => {
    const o = n * INSN_SIZE;
    dv.setUint8(o, i.opcode & 0xff);
    dv.setUint8(o + 1, (i.dst & 0x0f) | ((i.src & 0x0f) << 4));
    dv.setInt16(o + 2, (i.off << 16) >> 16, true);
    dv.setInt32(o + 4, i.imm | 0, true);
  });
  return bytes;
}

/** The 64-bit immediate of an `lddw` pair as a BigInt (cold paths only). */
export function lddwImm64(first: Insn, second: Insn): bigint {
  return (BigInt(second.imm >>> 0) << 32n) | BigInt(first.imm >>> 0);
}

/** Each slot as 16 hex digits of its little-endian 8 bytes, as `rules compile --json` prints. */
export function slotsToHex(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (let o = 0; o < bytes.length; o += INSN_SIZE) {
    let s = '';
    for (let k = 0; k < INSN_SIZE; k++) s += bytes[o + k].toString(16).padStart(2, '0');
    out.push(s);
  }
  return out;
}

export function hexToSlots(hex: readonly string[]): Uint8Array {
  const bytes = new Uint8Array(hex.length * INSN_SIZE);
  hex.forEach((h, n) => {
    if (!/^[0-9a-fA-F]{16}$/.test(h)) throw new RangeError(`slot ${n}: expected 16 hex digits, got '${h}'`);
    for (let k = 0; k < INSN_SIZE; k++) bytes[n * INSN_SIZE + k] = parseInt(h.slice(2 * k, 2 * k + 2), 16);
  });
  return bytes;
}
