// Memory-safety checks (Linux's check_mem_access and check_helper_mem_access): stack slots with
// spills, map values, ring-buffer records and the context, at constant and variable offsets.
// The path explorer (./check.ts) extends this class.

import type { Insn } from '../isa.js';
import { BPF_F_RDONLY_PROG, type MapDef } from '../maps/types.js';
import type { VerifyOptions } from './types.js';
import type { Structure } from './structure.js';
import { S64_MIN, scCoerce, scIsConst, scSext, type Sc } from './scalar.js';
import { tAdd, tConst, tIsAligned, tStr } from './tnum.js';
import {
  S_INVALID,
  S_MISC,
  S_SPILL,
  S_ZERO,
  T,
  UNKNOWN,
  ZERO_REG,
  isPtr,
  scalarReg,
  typeName,
  type Frame,
  type Reg,
  type Slot,
  type State,
} from './state.js';

export const MAX_VAR_OFF = 1 << 29;

export const s64n = (x: bigint): number => Number(BigInt.asIntN(64, x));

/** A rejection: thrown inside the checker, turned into a VerifyResult by doCheck. */
export class VerifierFailure extends Error {
  constructor(
    readonly insn: number,
    readonly lines: string[],
    /** Index into lines of the one-line reason. */
    readonly main = 0,
  ) {
    super(lines[main]);
  }
}

/** var_off as Linux prints it in alignment errors: the value when known, else the tnum. */
export function varStr(s: Sc): string {
  return scIsConst(s) ? `${BigInt.asIntN(64, s.t.v)}` : tStr(s.t);
}

export class MemoryChecker {
  protected readonly maps: readonly MapDef[];
  /** Stack bytes used per subprogram. */
  protected readonly depth: number[];
  /** Highest context byte read. */
  protected maxCtx = 0;
  /** Linux's privileged allow_uninit_stack (VerifyOptions.allowUninitStack). */
  protected readonly uninitOk: boolean;
  protected nextId = 1;

  constructor(
    protected readonly insns: readonly Insn[],
    protected readonly structure: Structure,
    protected readonly opts: VerifyOptions,
  ) {
    this.maps = opts.maps;
    this.depth = structure.subprogs.map(() => 0);
    this.uninitOk = opts.allowUninitStack === true;
  }

  protected fail(insn: number, ...lines: string[]): never {
    throw new VerifierFailure(insn, lines);
  }

  protected readReg(f: Frame, r: number, i: number): Reg {
    if (r > 10) this.fail(i, `R${r} is invalid`);
    const v = f.regs[r];
    if (v.type === T.NotInit) this.fail(i, `R${r} !read_ok`);
    return v;
  }

  protected checkDst(r: number, i: number): void {
    if (r === 10) this.fail(i, 'frame pointer is read only');
    if (r > 10) this.fail(i, `R${r} is invalid`);
  }

  protected newId(): number {
    return this.nextId++;
  }

  protected load(st: State, ptr: Reg, regno: number, off: number, size: number, signed: boolean, i: number): Reg {
    let v = this.access(st, ptr, regno, off, size, false, null, i);
    if (v.type === T.Scalar && size < 8) v = scalarReg(signed ? scSext(v.s, size) : scCoerce(v.s, size));
    return v;
  }

  /** check_mem_access: a load (returns the loaded register) or a store of `val`. */
  protected access(st: State, ptr: Reg, regno: number, off: number, size: number, write: boolean, val: Reg | null, i: number): Reg {
    switch (ptr.type) {
      case T.Stack:
        return this.stackAccess(st, ptr, regno, off, size, write, val, i);
      case T.MapValue: {
        const m = this.maps[ptr.map];
        if (write && (m.flags & BPF_F_RDONLY_PROG) !== 0) this.fail(i, `write into map forbidden, value_size=${m.valueSize} off=${ptr.off + off} size=${size}`);
        this.region(ptr, regno, off, size, m.valueSize, (o) => `invalid access to map value, value_size=${m.valueSize} off=${o} size=${size}`, i);
        return UNKNOWN;
      }
      case T.RbMem:
        this.region(ptr, regno, off, size, ptr.size, (o) => `invalid access to memory, mem_size=${ptr.size} off=${o} size=${size}`, i);
        return UNKNOWN;
      case T.Ctx:
        return this.ctxAccess(ptr, regno, off, size, write, i);
      default:
        return this.fail(i, `R${regno} invalid mem access '${typeName(ptr.type)}'`);
    }
  }

  /** check_mem_region_access: [reg.off + off + var, +size) inside [0, memSize). */
  protected region(ptr: Reg, regno: number, insnOff: number, size: number, memSize: number, msg: (o: number) => string, i: number): void {
    const off = ptr.off + insnOff;
    const s = ptr.s;
    if (s.smin < 0n && (s.smin === S64_MIN || s.smin + BigInt(off) < 0n)) {
      this.fail(i, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    }
    const lo = s.smin + BigInt(off);
    if (lo < 0n || lo + BigInt(size) > BigInt(memSize)) {
      throw new VerifierFailure(i, [msg(Number(lo)), `R${regno} min value is outside of the allowed memory range`]);
    }
    if (s.umax >= BigInt(MAX_VAR_OFF)) this.fail(i, `R${regno} unbounded memory access, make sure to bounds check any such access`);
    const hi = s.umax + BigInt(off);
    if (hi + BigInt(size) > BigInt(memSize)) {
      throw new VerifierFailure(i, [msg(Number(hi)), `R${regno} max value is outside of the allowed memory range`]);
    }
  }

  protected ctxAccess(ptr: Reg, regno: number, off: number, size: number, write: boolean, i: number): Reg {
    if (this.opts.progType === 'raw') {
      // Conformance-style memory, any in-bounds access, constant or variable offset, like a map value.
      this.region(ptr, regno, off, size, this.opts.ctxSize, (o) => `invalid bpf_context access off=${o} size=${size}`, i);
      if (!write) this.maxCtx = Math.max(this.maxCtx, Number(BigInt(ptr.off + off + size) + ptr.s.umax));
      return UNKNOWN;
    }
    if (!scIsConst(ptr.s) || ptr.s.t.v !== 0n) this.fail(i, `variable ctx access var_off=${tStr(ptr.s.t)} disallowed`);
    if (ptr.off !== 0) this.fail(i, `dereference of modified ctx ptr R${regno} off=${ptr.off} disallowed`);
    const bad = (): never => this.fail(i, `invalid bpf_context access off=${off} size=${size}`);
    switch (this.opts.progType) {
      case 'tracepoint':
        if (off < 8 || off + size > 8192 || write || off % size !== 0) bad();
        break;
      case 'kprobe':
        if (off < 0 || off + size > 168 || write || off % size !== 0) bad();
        break;
      case 'xdp':
        if (off < 0 || off + size > 24 || write || off % size !== 0 || size !== 4) bad();
        if (off === 0 || off === 4 || off === 8) this.fail(i, `packet access through xdp_md at off=${off} is not supported by Kestrel`);
        break;
      case 'socket_filter': {
        if (off < 0 || off + size > 192 || off % size !== 0) bad();
        // cb[0..4] may be read and written at any size; the other u32 fields are read-only, ≤ 4 bytes.
        const inCb = off >= 48 && off + size <= 68;
        const inU32Fields = off < 72 || (off >= 84 && off < 88) || (off >= 164 && off < 168) || (off >= 176 && off < 184);
        if (!inCb && (!inU32Fields || size === 8 || write)) bad();
        break;
      }
    }
    if (!write) this.maxCtx = Math.max(this.maxCtx, off + size);
    return UNKNOWN;
  }

  protected lowestCallbackFrame(st: State): number {
    for (let k = 0; k < st.frames.length; k++) if (st.frames[k].callback) return k;
    return -1;
  }

  protected noteDepth(st: State, frameNo: number, bytes: number): void {
    const sp = st.frames[frameNo].subprog;
    if (bytes > this.depth[sp]) this.depth[sp] = bytes;
  }

  protected stackAccess(st: State, ptr: Reg, regno: number, insnOff: number, size: number, write: boolean, val: Reg | null, i: number): Reg {
    const frame = st.frames[ptr.frame];
    const fixed = ptr.off + insnOff;
    if (!tIsAligned(tAdd(ptr.s.t, tConst(BigInt(fixed))), size)) {
      this.fail(i, `misaligned stack access off ${varStr(ptr.s)}+${ptr.off}+${insnOff} size ${size}`);
    }
    const rw = write ? 'write to' : 'read from';
    const outer = ptr.frame < this.lowestCallbackFrame(st);
    if (scIsConst(ptr.s)) {
      const o = fixed + s64n(ptr.s.t.v);
      if (o < -512 || o + size > 0) this.fail(i, `invalid ${rw} stack R${regno} off=${o} size=${size}`);
      this.noteDepth(st, ptr.frame, -o);
      if (write) {
        this.stackWrite(st, ptr.frame, o, size, val as Reg, outer, i);
        return UNKNOWN;
      }
      return this.stackRead(frame, o, size, i);
    }
    const s = ptr.s;
    if (s.smin <= -BigInt(MAX_VAR_OFF) || s.smax >= BigInt(MAX_VAR_OFF)) this.fail(i, `invalid unbounded variable-offset ${rw} stack R${regno}`);
    const lo = fixed + Number(s.smin);
    const hi = fixed + Number(s.smax) + size;
    if (lo < -512 || hi > 0) this.fail(i, `invalid variable-offset ${rw} stack R${regno} var_off=${tStr(s.t)} off=${fixed} size=${size}`);
    this.noteDepth(st, ptr.frame, -lo);
    if (write) {
      if (val !== null && isPtr(val)) this.fail(i, `R${regno} variable-offset stack write of a pointer is not allowed`);
      this.markRange(st, ptr.frame, lo, hi, outer, i);
      return UNKNOWN;
    }
    for (let a = lo; a < hi; a++) {
      const spi = (-a - 1) >> 3;
      const slot = frame.slots[spi];
      if (slot.kinds[a + (spi + 1) * 8] === S_INVALID && !this.uninitOk) this.fail(i, `invalid variable-offset read from stack R${regno} var_off=${tStr(s.t)} off=${insnOff} size=${size}`);
    }
    return UNKNOWN;
  }

  /** Bytes [lo, hi) of a frame become written data (helper writes, variable-offset stores). */
  protected markRange(st: State, frameNo: number, lo: number, hi: number, outer: boolean, i: number): void {
    const frame = st.frames[frameNo];
    for (let a = lo; a < hi; a++) {
      const spi = (-a - 1) >> 3;
      const base = -(spi + 1) * 8;
      const slot = frame.slots[spi];
      const kinds = slot.kinds.slice();
      if (slot.spill !== null) {
        if (outer && slot.spill.type !== T.Scalar) this.fail(i, 'bpf_loop callback may not overwrite a spilled pointer of its caller');
        for (let b = 0; b < 8; b++) if (kinds[b] === S_SPILL) kinds[b] = S_MISC;
      }
      kinds[a - base] = S_MISC;
      frame.slots[spi] = { kinds, spill: null };
    }
  }

  protected stackWrite(st: State, frameNo: number, o: number, size: number, val: Reg, outer: boolean, i: number): void {
    const frame = st.frames[frameNo];
    const spi = (-o - 1) >> 3;
    const base = -(spi + 1) * 8;
    const b0 = o - base;
    const old = frame.slots[spi];
    if (outer && old.spill !== null && old.spill.type !== T.Scalar) this.fail(i, 'bpf_loop callback may not overwrite a spilled pointer of its caller');
    if (outer && isPtr(val)) this.fail(i, "bpf_loop callback may not store a pointer into its caller's stack");
    if (val.type === T.Scalar && b0 === 0) {
      const kinds = old.kinds.slice();
      for (let b = 0; b < 8; b++) {
        if (b < size) kinds[b] = S_SPILL;
        else if (kinds[b] === S_SPILL) kinds[b] = S_MISC;
      }
      frame.slots[spi] = { kinds, spill: size < 8 ? { ...val, id: 0 } : val };
      return;
    }
    if (isPtr(val)) {
      if (size !== 8) this.fail(i, 'invalid size of register spill');
      if (val.type === T.Stack && frameNo !== st.frames.length - 1) this.fail(i, 'cannot spill pointers to stack into stack frame of the caller');
      frame.slots[spi] = { kinds: [S_SPILL, S_SPILL, S_SPILL, S_SPILL, S_SPILL, S_SPILL, S_SPILL, S_SPILL], spill: val };
      return;
    }
    const kinds = old.kinds.slice();
    if (old.spill !== null) for (let b = 0; b < 8; b++) if (kinds[b] === S_SPILL) kinds[b] = S_MISC;
    const k = scIsConst(val.s) && val.s.t.v === 0n ? S_ZERO : S_MISC;
    for (let b = b0; b < b0 + size; b++) kinds[b] = k;
    frame.slots[spi] = { kinds, spill: null };
  }

  protected stackRead(frame: Frame, o: number, size: number, i: number): Reg {
    const spi = (-o - 1) >> 3;
    const base = -(spi + 1) * 8;
    const b0 = o - base;
    const slot: Slot = frame.slots[spi];
    if (slot.spill !== null && slot.kinds[0] === S_SPILL) {
      let spillSize = 0;
      while (spillSize < 8 && slot.kinds[spillSize] === S_SPILL) spillSize++;
      if (size === 8 && spillSize === 8) return slot.spill;
      if (slot.spill.type !== T.Scalar) this.fail(i, 'invalid size of register fill');
      if (size <= spillSize && b0 === 0) return { ...slot.spill, id: 0 };
      let spillCnt = 0;
      let zeroCnt = 0;
      for (let b = b0; b < b0 + size; b++) {
        const k = slot.kinds[b];
        if (k === S_SPILL) spillCnt++;
        else if (k === S_ZERO) zeroCnt++;
        else if (k === S_INVALID && !this.uninitOk) this.fail(i, `invalid read from stack off ${o}+${b - b0} size ${size}`);
      }
      if (spillCnt === size && scIsConst(slot.spill.s) && slot.spill.s.t.v === 0n) return ZERO_REG;
      if (zeroCnt === size) return ZERO_REG;
      return UNKNOWN;
    }
    let zeros = 0;
    for (let b = b0; b < b0 + size; b++) {
      const k = slot.kinds[b];
      if (k === S_INVALID && !this.uninitOk) this.fail(i, `invalid read from stack off ${o}+${b - b0} size ${size}`);
      if (k === S_ZERO) zeros++;
    }
    return zeros === size ? ZERO_REG : UNKNOWN;
  }

  /** The constant array index a lookup key holds, or -1 (get_constant_map_key). */
  protected constKey(st: State, reg: Reg, keySize: number): number {
    if (reg.type !== T.Stack || !scIsConst(reg.s) || keySize !== 4) return -1;
    const o = reg.off + s64n(reg.s.t.v);
    const frame = st.frames[reg.frame];
    const spi = (-o - 1) >> 3;
    const base = -(spi + 1) * 8;
    const b0 = o - base;
    if (b0 + keySize > 8) return -1;
    const slot = frame.slots[spi];
    let zeros = true;
    for (let b = b0; b < b0 + keySize; b++) if (slot.kinds[b] !== S_ZERO) zeros = false;
    if (zeros) return 0;
    if (b0 !== 0 || slot.spill === null || slot.spill.type !== T.Scalar) return -1;
    let spillSize = 0;
    while (spillSize < 8 && slot.kinds[spillSize] === S_SPILL) spillSize++;
    if (spillSize !== keySize || !scIsConst(slot.spill.s)) return -1;
    return Number(slot.spill.s.t.v & 0xffffffffn);
  }

  /** Helper access to `size` bytes at a memory pointer (read: initialised; write: becomes written). */
  protected helperMem(st: State, reg: Reg, regno: number, size: number, write: boolean, i: number): void {
    switch (reg.type) {
      case T.Stack: {
        const s = reg.s;
        if (s.smin <= -BigInt(MAX_VAR_OFF) || s.smax >= BigInt(MAX_VAR_OFF)) this.fail(i, `R${regno} unbounded indirect variable offset stack access`);
        const lo = reg.off + Number(s.smin);
        const hi = reg.off + Number(s.smax) + size;
        if (lo < -512 || hi > 0) this.fail(i, `invalid ${write ? 'write to' : 'read from'} stack R${regno} off=${lo} size=${size}`);
        this.noteDepth(st, reg.frame, -lo);
        const outer = reg.frame < this.lowestCallbackFrame(st);
        if (write) {
          this.markRange(st, reg.frame, lo, hi, outer, i);
          return;
        }
        const frame = st.frames[reg.frame];
        for (let a = lo; a < hi; a++) {
          const spi = (-a - 1) >> 3;
          if (frame.slots[spi].kinds[a + (spi + 1) * 8] === S_INVALID && !this.uninitOk) {
            this.fail(i, `invalid indirect read from stack R${regno} off ${lo}+${a - lo} size ${size}`);
          }
        }
        return;
      }
      case T.MapValue: {
        const m = this.maps[reg.map];
        if (write && (m.flags & BPF_F_RDONLY_PROG) !== 0) this.fail(i, `write into map forbidden, value_size=${m.valueSize} off=${reg.off} size=${size}`);
        this.region(reg, regno, 0, size, m.valueSize, (o) => `invalid access to map value, value_size=${m.valueSize} off=${o} size=${size}`, i);
        return;
      }
      case T.RbMem:
        this.region(reg, regno, 0, size, reg.size, (o) => `invalid access to memory, mem_size=${reg.size} off=${o} size=${size}`, i);
        return;
      default:
        this.fail(i, `R${regno} type=${typeName(reg.type)} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`);
    }
  }
}
