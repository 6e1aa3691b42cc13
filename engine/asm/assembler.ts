// Assembler for the bpf_conformance dialect (shared/anchors/bpf-conformance/README.md) plus
// Kestrel's extensions for whole programs: `.map` declarations, `map:NAME` / `mapval:NAME+OFF` /
// `func:LABEL` operands of lddw, and `.raw 0xSLOT` for an exact 64-bit slot (docs/asm.md).
// Two passes: the first assigns slot indices to labels (lddw takes two slots), the second encodes.

import {
  BPF_ALU,
  BPF_ALU64,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_X,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  OP_CALL,
  OP_CALLX,
  OP_EXIT,
  OP_JA32,
  OP_LDDW,
  INSN_SIZE,
} from '../isa.js';
import { MAP_TYPE_BY_NAME, type MapDef } from '../maps/types.js';

export class AsmError extends Error {
  readonly line: number;
  readonly column: number;
  readonly fileName: string;
  constructor(fileName: string, line: number, column: number, message: string) {
    super(`${fileName}:${line}:${column}: ${message}`);
    this.name = 'AsmError';
    this.line = line;
    this.column = column;
    this.fileName = fileName;
  }
}

export interface AsmResult {
  /** Raw 8-byte slots, little-endian. */
  insns: Uint8Array;
  /** From `.map NAME TYPE key=K value=V entries=N [flags=F]`, in declaration order. */
  maps: MapDef[];
  /** lddw slot index → index into `maps` (src 1 `map:NAME` and src 2 `mapval:NAME+OFF`). */
  mapRefs: { insn: number; map: number }[];
  /** Label → slot index. */
  labels: Map<string, number>;
}

// ---- opcode tables -------------------------------------------------------------------------

export const ALU_OPS: Readonly<Record<string, number>> = {
  add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70,
  neg: 0x80, mod: 0x90, xor: 0xa0, mov: 0xb0, arsh: 0xc0, sdiv: 0x30, smod: 0x90,
};

export const JMP_OPS: Readonly<Record<string, number>> = {
  jeq: 0x10, jgt: 0x20, jge: 0x30, jset: 0x40, jne: 0x50, jsgt: 0x60, jsge: 0x70,
  jlt: 0xa0, jle: 0xb0, jslt: 0xc0, jsle: 0xd0,
};

export const SIZE_BY_SUFFIX: Readonly<Record<string, number>> = { w: 0x00, h: 0x08, b: 0x10, dw: 0x18 };

/** `movsx<from><to>` → [class, offset]. */
const MOVSX: Readonly<Record<string, [number, number]>> = {
  movsx864: [BPF_ALU64, 8],
  movsx1664: [BPF_ALU64, 16],
  movsx3264: [BPF_ALU64, 32],
  movsx832: [BPF_ALU, 8],
  movsx1632: [BPF_ALU, 16],
};

export const ATOMIC_OPS: Readonly<Record<string, number>> = { add: 0x00, or: 0x40, and: 0x50, xor: 0xa0 };

// ---- small parsing helpers ----------------------------------------------------------------

interface Tok {
  text: string;
  col: number; // 1-based column in the source line
}

interface Line {
  no: number;
  mnemonic: Tok;
  operands: Tok[];
  slot: number;
}

/** One pending slot: fields plus deferred label references. */
interface Slot {
  opcode: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  raw?: Uint8Array;
}

const REG_RE = /^%?r(\d+)$/i;

class Ctx {
  constructor(readonly fileName: string) {}
  err(line: number, col: number, msg: string): never {
    throw new AsmError(this.fileName, line, col, msg);
  }
}

/** Parse a number: decimal (signed) or 0x hex; returns a BigInt so 64-bit values survive. */
function parseBig(text: string): bigint | undefined {
  const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(text.trim());
  if (m === null) return undefined;
  const v = BigInt(m[2]);
  return m[1] === '-' ? -v : v;
}

function isHex(text: string): boolean {
  return /^[+-]?0x/i.test(text.trim());
}

/** Split operands on commas that are outside brackets, keeping columns. */
function splitOperands(s: string, baseCol: number): Tok[] {
  const out: Tok[] = [];
  let depth = 0;
  let start = 0;
  const push = (end: number): void => {
    const raw = s.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const text = raw.trim();
    if (text.length > 0) out.push({ text, col: baseCol + start + lead });
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ',' && depth === 0) {
      push(i);
      start = i + 1;
    }
  }
  push(s.length);
  return out;
}

// ---- the assembler ------------------------------------------------------------------------

export function assemble(text: string, fileName = '<asm>'): AsmResult {
  const cx: Ctx = new Ctx(fileName);
  const lines: Line[] = [];
  const labels = new Map<string, number>();
  const labelLine = new Map<string, number>();
  const maps: MapDef[] = [];
  const mapIndex = new Map<string, number>();
  let slot = 0;
  let implicitExit: number | undefined;

  const srcLines = text.split(/\r?\n/);
  for (let li = 0; li < srcLines.length; li++) {
    const no = li + 1;
    let s = srcLines[li];
    const cut = s.search(/[#;]/);
    if (cut >= 0) s = s.slice(0, cut);
    // Labels (possibly several, possibly followed by an instruction on the same line).
    for (;;) {
      const m = /^(\s*)([A-Za-z_.$][\w.$]*)\s*:/.exec(s);
      if (m === null) break;
      const name = m[2];
      const col = m[1].length + 1;
      if (labels.has(name)) cx.err(no, col, `label '${name}' already defined on line ${labelLine.get(name)}`);
      labels.set(name, slot);
      labelLine.set(name, no);
      s = ' '.repeat(m[0].length) + s.slice(m[0].length);
    }
    const m = /^(\s*)(\S+)(.*)$/.exec(s);
    if (m === null) continue;
    const mnemonic: Tok = { text: m[2].toLowerCase(), col: m[1].length + 1 };
    const restCol = m[1].length + m[2].length + 1;
    let rest = m[3];
    // `lock [fetch] op` is a multi-word mnemonic; `call local|runtime|helper X` keeps its word as an operand.
    if (mnemonic.text === 'lock') {
      const w = /^(\s+)(fetch\s+)?(\S+)/i.exec(rest);
      if (w === null) cx.err(no, restCol + 1, "expected an atomic operation after 'lock'");
      mnemonic.text = `lock ${w[2] !== undefined ? 'fetch ' : ''}${w[3].toLowerCase()}`;
      const consumed = w[0].length;
      const operands = splitOperands(rest.slice(consumed), restCol + consumed);
      lines.push({ no, mnemonic, operands, slot });
      slot += 1;
      continue;
    }
    if (mnemonic.text === '.map') {
      const words: Tok[] = [];
      const re = /\S+/g;
      let w: RegExpExecArray | null;
      while ((w = re.exec(rest)) !== null) words.push({ text: w[0], col: restCol + w.index });
      const def = parseMapDecl(cx, no, mnemonic.col, words);
      if (mapIndex.has(def.name)) cx.err(no, words[0].col, `map '${def.name}' already declared`);
      mapIndex.set(def.name, maps.length);
      maps.push(def);
      continue;
    }
    rest = rest.replace(/\s+$/, '');
    const operands = splitOperands(rest, restCol);
    lines.push({ no, mnemonic, operands, slot });
    if (mnemonic.text === 'exit' && implicitExit === undefined) implicitExit = slot;
    slot += mnemonic.text === 'lddw' ? 2 : 1;
  }
  if (implicitExit !== undefined && !labels.has('exit')) labels.set('exit', implicitExit);

  const slots: Slot[] = new Array(slot);
  const mapRefs: { insn: number; map: number }[] = [];
  for (const line of lines) {
    encodeLine(cx, line, labels, mapIndex, slots, mapRefs);
  }

  const bytes = new Uint8Array(slot * INSN_SIZE);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < slot; i++) {
    const s = slots[i];
    const o = i * INSN_SIZE;
    if (s.raw !== undefined) {
      bytes.set(s.raw, o);
      continue;
    }
    dv.setUint8(o, s.opcode);
    dv.setUint8(o + 1, (s.dst & 0x0f) | ((s.src & 0x0f) << 4));
    dv.setInt16(o + 2, s.off, true);
    dv.setInt32(o + 4, s.imm | 0, true);
  }
  return { insns: bytes, maps, mapRefs, labels };
}

function parseMapDecl(cx: Ctx, no: number, col: number, words: Tok[]): MapDef {
  if (words.length < 2) cx.err(no, col, '.map needs NAME TYPE key=K value=V entries=N [flags=F]');
  const [nameTok, typeTok, ...kv] = words;
  if (!/^[A-Za-z_][\w.]*$/.test(nameTok.text)) cx.err(no, nameTok.col, `bad map name '${nameTok.text}'`);
  const type = MAP_TYPE_BY_NAME[typeTok.text.toLowerCase()];
  if (type === undefined) {
    cx.err(no, typeTok.col, `unknown map type '${typeTok.text}' (known: ${Object.keys(MAP_TYPE_BY_NAME).join(', ')})`);
  }
  const fields: Record<string, number> = {};
  for (const t of kv) {
    const m = /^(key|value|entries|flags)=(.+)$/i.exec(t.text);
    if (m === null) cx.err(no, t.col, `expected key=, value=, entries= or flags=, got '${t.text}'`);
    const v = parseBig(m[2]);
    if (v === undefined || v < 0n || v > 0xffffffffn) cx.err(no, t.col + m[1].length + 1, `bad number '${m[2]}'`);
    fields[m[1].toLowerCase()] = Number(v);
  }
  for (const k of ['key', 'value', 'entries']) {
    if (fields[k] === undefined) cx.err(no, col, `.map ${nameTok.text}: missing ${k}=`);
  }
  return {
    name: nameTok.text,
    type,
    keySize: fields.key,
    valueSize: fields.value,
    maxEntries: fields.entries,
    flags: fields.flags ?? 0,
  };
}

function encodeLine(
  cx: Ctx,
  line: Line,
  labels: Map<string, number>,
  mapIndex: Map<string, number>,
  slots: Slot[],
  mapRefs: { insn: number; map: number }[],
): void {
  const { no, mnemonic, operands: ops, slot: pc } = line;
  const mn = mnemonic.text;
  const put = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): void => {
    slots[pc] = { opcode, dst, src, off, imm };
  };
  const want = (n: number): void => {
    if (ops.length !== n) {
      const col = ops.length > n ? ops[n].col : mnemonic.col;
      cx.err(no, col, `'${mn}' takes ${n} operand${n === 1 ? '' : 's'}, got ${ops.length}`);
    }
  };
  const reg = (t: Tok): number => {
    const m = REG_RE.exec(t.text);
    if (m === null) cx.err(no, t.col, `expected a register, got '${t.text}'`);
    const r = Number(m[1]);
    if (r > 10) cx.err(no, t.col, `no register r${r} (r0..r10)`);
    return r;
  };
  const isReg = (t: Tok): boolean => REG_RE.test(t.text);
  /** 32-bit immediate: signed decimal or hex read as unsigned 32-bit. */
  const imm32 = (t: Tok): number => {
    const v = parseBig(t.text);
    if (v === undefined) cx.err(no, t.col, `expected a number, got '${t.text}'`);
    const hex = isHex(t.text);
    const lo = hex ? -0xffffffffn : -0x80000000n;
    if (v < lo || v > 0xffffffffn) cx.err(no, t.col, `immediate ${t.text} does not fit in 32 bits`);
    return Number(BigInt.asIntN(32, v));
  };
  const off16 = (text: string, col: number): number => {
    const v = parseBig(text);
    if (v === undefined) cx.err(no, col, `expected an offset, got '${text}'`);
    if (v < -0x8000n || v > 0xffffn) cx.err(no, col, `offset ${text} does not fit in 16 bits`);
    return Number(BigInt.asIntN(16, v));
  };
  /** `[%rN+off]`, `[%rN-off]`, `[%rN]`. */
  const memOp = (t: Tok): [number, number] => {
    const m = /^\[\s*(%?r\d+)\s*(?:([+-])\s*(0x[0-9a-f]+|\d+)\s*)?\]$/i.exec(t.text);
    if (m === null) cx.err(no, t.col, `expected a memory operand like [%r1+8], got '${t.text}'`);
    const r = reg({ text: m[1], col: t.col + 1 });
    const off = m[2] === undefined ? 0 : off16(m[2] + m[3], t.col + t.text.indexOf(m[2]));
    return [r, off];
  };
  /** Jump target → relative offset from the next slot. */
  const target = (t: Tok, bits: 16 | 32): number => {
    let rel: number;
    if (/^[+-]/.test(t.text)) {
      const v = parseBig(t.text);
      if (v === undefined) cx.err(no, t.col, `bad jump offset '${t.text}'`);
      rel = Number(v);
    } else {
      const at = labels.get(t.text);
      if (at === undefined) cx.err(no, t.col, `undefined label '${t.text}'`);
      rel = at - (pc + 1);
    }
    if (bits === 16 && (rel < -0x8000 || rel > 0x7fff)) cx.err(no, t.col, `jump offset ${rel} does not fit in 16 bits`);
    if (bits === 32 && (rel < -0x80000000 || rel > 0x7fffffff)) cx.err(no, t.col, `jump offset ${rel} does not fit in 32 bits`);
    return rel;
  };

  // exit
  if (mn === 'exit') {
    want(0);
    return put(OP_EXIT);
  }
  // .raw 0xSLOT — an exact slot as the u64 the -- raw sections use.
  if (mn === '.raw') {
    want(1);
    const v = parseBig(ops[0].text);
    if (v === undefined || v < 0n || v > 0xffffffffffffffffn) cx.err(no, ops[0].col, `expected a 64-bit slot value, got '${ops[0].text}'`);
    const raw = new Uint8Array(8);
    new DataView(raw.buffer).setBigUint64(0, v, true);
    slots[pc] = { opcode: 0, dst: 0, src: 0, off: 0, imm: 0, raw };
    return;
  }
  // lddw
  if (mn === 'lddw') {
    want(2);
    const dst = reg(ops[0]);
    const t = ops[1];
    let src = 0;
    let lo = 0;
    let hi = 0;
    const pm = /^(map|mapval|func):([A-Za-z_.$][\w.$]*|[+-]\d+)(?:\s*([+-])\s*(0x[0-9a-f]+|\d+))?$/i.exec(t.text);
    if (pm !== null) {
      const kind = pm[1].toLowerCase();
      const name = pm[2];
      if (kind === 'func') {
        if (pm[3] !== undefined) cx.err(no, t.col, 'func: takes no offset');
        src = BPF_PSEUDO_FUNC;
        lo = target({ text: name, col: t.col + 5 }, 32);
      } else {
        const idx = mapIndex.get(name);
        if (idx === undefined) cx.err(no, t.col + kind.length + 1, `undefined map '${name}' (declare it with .map NAME TYPE key=K value=V entries=N)`);
        if (kind === 'map' && pm[3] !== undefined) cx.err(no, t.col, 'map: takes no offset (use mapval:NAME+OFF)');
        src = kind === 'map' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE;
        lo = idx;
        if (pm[3] !== undefined) {
          const v = BigInt(pm[4]) * (pm[3] === '-' ? -1n : 1n);
          if (v < 0n || v > 0xffffffffn) cx.err(no, t.col, `map value offset ${v} out of range`);
          hi = Number(v);
        }
        mapRefs.push({ insn: pc, map: idx });
      }
    } else {
      const v = parseBig(t.text);
      if (v === undefined) cx.err(no, t.col, `expected a 64-bit immediate, map:NAME, mapval:NAME+OFF or func:LABEL, got '${t.text}'`);
      if (v < -0x8000000000000000n || v > 0xffffffffffffffffn) cx.err(no, t.col, `immediate ${t.text} does not fit in 64 bits`);
      const u = BigInt.asUintN(64, v);
      lo = Number(BigInt.asIntN(32, u));
      hi = Number(BigInt.asIntN(32, u >> 32n));
    }
    slots[pc] = { opcode: OP_LDDW, dst, src, off: 0, imm: lo };
    slots[pc + 1] = { opcode: 0, dst: 0, src: 0, off: 0, imm: hi };
    return;
  }
  // ALU: add, add32, add64, neg, neg32, movsx*, sdiv, smod
  const alu = /^(add|sub|mul|div|sdiv|or|and|lsh|rsh|neg|mod|smod|xor|mov|arsh)(32|64)?$/.exec(mn);
  if (alu !== null) {
    const cls = alu[2] === '32' ? BPF_ALU : BPF_ALU64;
    const code = ALU_OPS[alu[1]];
    const off = alu[1] === 'sdiv' || alu[1] === 'smod' ? 1 : 0;
    if (alu[1] === 'neg') {
      want(1);
      return put(cls | code | BPF_K, reg(ops[0]));
    }
    want(2);
    const dst = reg(ops[0]);
    if (isReg(ops[1])) return put(cls | code | BPF_X, dst, reg(ops[1]), off);
    return put(cls | code | BPF_K, dst, 0, off, imm32(ops[1]));
  }
  const sx = MOVSX[mn];
  if (sx !== undefined) {
    want(2);
    return put(sx[0] | 0xb0 | BPF_X, reg(ops[0]), reg(ops[1]), sx[1]);
  }
  // byte order
  const end = /^(le|be|bswap|swap)(16|32|64)$/.exec(mn);
  if (end !== null) {
    want(1);
    const opcode = end[1] === 'le' ? 0xd4 : end[1] === 'be' ? 0xdc : 0xd7;
    return put(opcode, reg(ops[0]), 0, 0, Number(end[2]));
  }
  // loads
  const ldx = /^ldx(s?)(b|h|w|dw)$/.exec(mn);
  if (ldx !== null) {
    want(2);
    if (ldx[1] === 's' && ldx[2] === 'dw') cx.err(no, mnemonic.col, 'there is no ldxsdw');
    const [src, off] = memOp(ops[1]);
    const mode = ldx[1] === 's' ? 0x80 : 0x60;
    return put(mode | SIZE_BY_SUFFIX[ldx[2]] | 0x01, reg(ops[0]), src, off);
  }
  // stores
  const st = /^st(x?)(b|h|w|dw)$/.exec(mn);
  if (st !== null) {
    want(2);
    const [dst, off] = memOp(ops[0]);
    if (st[1] === 'x') return put(0x60 | SIZE_BY_SUFFIX[st[2]] | 0x03, dst, reg(ops[1]), off);
    return put(0x60 | SIZE_BY_SUFFIX[st[2]] | 0x02, dst, 0, off, imm32(ops[1]));
  }
  // legacy packet loads: ldabsb imm / ldindb src, imm
  const pkt = /^ld(abs|ind)(b|h|w|dw)$/.exec(mn);
  if (pkt !== null) {
    const mode = pkt[1] === 'abs' ? 0x20 : 0x40;
    if (pkt[1] === 'abs') {
      want(1);
      return put(mode | SIZE_BY_SUFFIX[pkt[2]], 0, 0, 0, imm32(ops[0]));
    }
    want(2);
    return put(mode | SIZE_BY_SUFFIX[pkt[2]], 0, reg(ops[0]), 0, imm32(ops[1]));
  }
  // atomics
  if (mn.startsWith('lock ')) {
    want(2);
    const am = /^lock (fetch )?(add|or|and|xor|xchg|cmpxchg)(32|64)?$/.exec(mn);
    if (am === null) cx.err(no, mnemonic.col, `unknown atomic operation '${mn}'`);
    const size = am[3] === '32' ? 0x00 : 0x18;
    let imm: number;
    if (am[2] === 'xchg') imm = 0xe1;
    else if (am[2] === 'cmpxchg') imm = 0xf1;
    else imm = ATOMIC_OPS[am[2]] | (am[1] !== undefined ? 1 : 0);
    if (am[1] !== undefined && (am[2] === 'xchg' || am[2] === 'cmpxchg')) cx.err(no, mnemonic.col, `'${am[2]}' always fetches; drop 'fetch'`);
    const [dst, off] = memOp(ops[0]);
    return put(0xc0 | size | 0x03, dst, reg(ops[1]), off, imm);
  }
  // jumps
  if (mn === 'ja') {
    want(1);
    return put(BPF_JMP, 0, 0, target(ops[0], 16));
  }
  if (mn === 'ja32' || mn === 'gotol') {
    want(1);
    return put(OP_JA32, 0, 0, 0, target(ops[0], 32));
  }
  const jm = /^(j[a-z]+?)(32)?$/.exec(mn);
  if (jm !== null && JMP_OPS[jm[1]] !== undefined) {
    want(3);
    const cls = jm[2] === '32' ? BPF_JMP32 : BPF_JMP;
    const code = JMP_OPS[jm[1]];
    const dst = reg(ops[0]);
    const off = target(ops[2], 16);
    if (isReg(ops[1])) return put(cls | code | BPF_X, dst, reg(ops[1]), off);
    return put(cls | code | BPF_K, dst, 0, off, imm32(ops[1]));
  }
  // calls
  if (mn === 'call') {
    if (ops.length !== 1) cx.err(no, mnemonic.col, "'call' takes one operand: N, helper N, local LABEL, runtime N or %rN");
    const t = ops[0];
    const w = /^(local|runtime|helper)\s+(\S+)$/i.exec(t.text);
    if (w !== null) {
      const kind = w[1].toLowerCase();
      const argTok: Tok = { text: w[2], col: t.col + t.text.indexOf(w[2]) };
      if (kind === 'local') return put(OP_CALL, 0, BPF_PSEUDO_CALL, 0, target(argTok, 32));
      return put(OP_CALL, 0, kind === 'runtime' ? BPF_PSEUDO_KFUNC_CALL : 0, 0, imm32(argTok));
    }
    if (isReg(t)) return put(OP_CALLX, reg(t));
    return put(OP_CALL, 0, 0, 0, imm32(t));
  }
  if (mn === 'callx') {
    want(1);
    return put(OP_CALLX, reg(ops[0]));
  }
  cx.err(no, mnemonic.col, `unknown instruction '${mn}'`);
}
