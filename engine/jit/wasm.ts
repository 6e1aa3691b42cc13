// A small WebAssembly binary encoder: just what the JIT emits (one memory import, function
// imports, i64/i32 globals, functions with locals, exports). Everything is written from numbers;
// there is no text format anywhere on this path.

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
export type ValType = typeof I32 | typeof I64 | typeof F64;

/** Opcodes used by the JIT (WebAssembly core 2.0 numbering). */
export const Op = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  br_table: 0x0e,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  global_get: 0x23,
  global_set: 0x24,
  i32_load: 0x28,
  i64_load: 0x29,
  i32_load8_u: 0x2d,
  i32_load16_u: 0x2f,
  i64_load8_s: 0x30,
  i64_load8_u: 0x31,
  i64_load16_s: 0x32,
  i64_load16_u: 0x33,
  i64_load32_s: 0x34,
  i64_load32_u: 0x35,
  i32_store: 0x36,
  i64_store: 0x37,
  i32_store8: 0x3a,
  i32_store16: 0x3b,
  i64_store8: 0x3c,
  i64_store16: 0x3d,
  i64_store32: 0x3e,
  i32_const: 0x41,
  i64_const: 0x42,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_lt_u: 0x49,
  i32_gt_s: 0x4a,
  i32_gt_u: 0x4b,
  i32_le_s: 0x4c,
  i32_le_u: 0x4d,
  i32_ge_s: 0x4e,
  i32_ge_u: 0x4f,
  i64_eqz: 0x50,
  i64_eq: 0x51,
  i64_ne: 0x52,
  i64_lt_s: 0x53,
  i64_lt_u: 0x54,
  i64_gt_s: 0x55,
  i64_gt_u: 0x56,
  i64_le_s: 0x57,
  i64_le_u: 0x58,
  i64_ge_s: 0x59,
  i64_ge_u: 0x5a,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_s: 0x6d,
  i32_div_u: 0x6e,
  i32_rem_s: 0x6f,
  i32_rem_u: 0x70,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_xor: 0x73,
  i32_shl: 0x74,
  i32_shr_s: 0x75,
  i32_shr_u: 0x76,
  i32_rotl: 0x77,
  i32_rotr: 0x78,
  i64_add: 0x7c,
  i64_sub: 0x7d,
  i64_mul: 0x7e,
  i64_div_s: 0x7f,
  i64_div_u: 0x80,
  i64_rem_s: 0x81,
  i64_rem_u: 0x82,
  i64_and: 0x83,
  i64_or: 0x84,
  i64_xor: 0x85,
  i64_shl: 0x86,
  i64_shr_s: 0x87,
  i64_shr_u: 0x88,
  i64_rotl: 0x89,
  i64_rotr: 0x8a,
  f64_const: 0x44,
  f64_ge: 0x66,
  i32_wrap_i64: 0xa7,
  i64_trunc_f64_u: 0xb1,
  f64_convert_i64_u: 0xba,
  i64_extend_i32_s: 0xac,
  i64_extend_i32_u: 0xad,
  i32_extend8_s: 0xc0,
  i32_extend16_s: 0xc1,
  i64_extend8_s: 0xc2,
  i64_extend16_s: 0xc3,
  i64_extend32_s: 0xc4,
} as const;

/** Block type "no result". */
export const BLOCK_VOID = 0x40;

/** A growable byte buffer with LEB128 writers. */
export class Bytes {
  buf: Uint8Array;
  len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(b: number): this {
    this.room(1);
    this.buf[this.len++] = b;
    return this;
  }

  /** Unsigned LEB128 of a non-negative integer below 2^32. */
  u32(n: number): this {
    this.room(5);
    let v = n >>> 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.len++] = b;
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of a 32-bit integer (also the encoding of the same value as an i64). */
  s32(n: number): this {
    this.room(5);
    let v = n | 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.buf[this.len++] = done ? b : b | 0x80;
      if (done) return this;
    }
  }

  /** Signed LEB128 of the 64-bit integer hi:lo (two 32-bit halves). */
  s64(lo: number, hi: number): this {
    if ((hi | 0) === (lo | 0) >> 31) return this.s32(lo | 0);
    this.room(10);
    let v = (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
      this.buf[this.len++] = done ? b : b | 0x80;
      if (done) return this;
    }
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  /** A length-prefixed copy of another buffer. */
  sized(b: Bytes): this {
    return this.u32(b.len).bytes(b.view());
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** A function body under construction: locals plus an instruction stream. */
export class Code extends Bytes {
  /** Emit an opcode. */
  op(o: number): this {
    return this.u8(o);
  }
  i32c(n: number): this {
    return this.u8(Op.i32_const).s32(n);
  }
  /** i64.const of a value that fits a signed 32-bit integer (sign-extended to 64). */
  i64c(n: number): this {
    return this.u8(Op.i64_const).s32(n);
  }
  i64c2(lo: number, hi: number): this {
    return this.u8(Op.i64_const).s64(lo, hi);
  }
  f64c0(): this {
    this.u8(Op.f64_const);
    for (let k = 0; k < 8; k++) this.u8(0);
    return this;
  }
  get(l: number): this {
    return this.u8(Op.local_get).u32(l);
  }
  set(l: number): this {
    return this.u8(Op.local_set).u32(l);
  }
  tee(l: number): this {
    return this.u8(Op.local_tee).u32(l);
  }
  gget(g: number): this {
    return this.u8(Op.global_get).u32(g);
  }
  gset(g: number): this {
    return this.u8(Op.global_set).u32(g);
  }
  /** A load or store with alignment hint `align` (log2) and a constant offset. */
  mem(o: number, align: number, offset: number): this {
    return this.u8(o).u32(align).u32(offset);
  }
  br(depth: number): this {
    return this.u8(Op.br).u32(depth);
  }
  brIf(depth: number): this {
    return this.u8(Op.br_if).u32(depth);
  }
  call(f: number): this {
    return this.u8(Op.call).u32(f);
  }
}

export interface FuncType {
  params: readonly ValType[];
  results: readonly ValType[];
}

interface FuncDef {
  type: number;
  locals: readonly ValType[];
  body: Code;
}

interface GlobalDef {
  type: ValType;
  mutable: boolean;
  init: number;
}

/** Builds one module. Imported functions get the lowest function indices, as the format requires. */
export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly funcImports: { module: string; name: string; type: number }[] = [];
  private memImport: { module: string; name: string; min: number } | undefined;
  private readonly funcs: FuncDef[] = [];
  private readonly globals: GlobalDef[] = [];
  private readonly exports: { name: string; kind: number; index: number }[] = [];
  private funcsDeclared = false;

  type(t: FuncType): number {
    const i = this.types.findIndex(
      (u) =>
        u.params.length === t.params.length &&
        u.results.length === t.results.length &&
        u.params.every((p, k) => p === t.params[k]) &&
        u.results.every((p, k) => p === t.results[k]),
    );
    if (i >= 0) return i;
    this.types.push(t);
    return this.types.length - 1;
  }

  importMemory(module: string, name: string, minPages: number): void {
    this.memImport = { module, name, min: minPages };
  }

  /** Import a function; must come before any `addFunction`. Returns its function index. */
  importFunction(module: string, name: string, t: FuncType): number {
    if (this.funcsDeclared) throw new Error('function imports must precede definitions');
    this.funcImports.push({ module, name, type: this.type(t) });
    return this.funcImports.length - 1;
  }

  /** Reserve a function index now (so calls can be emitted before bodies exist). */
  declareFunction(t: FuncType): number {
    this.funcsDeclared = true;
    this.funcs.push({ type: this.type(t), locals: [], body: new Code(0) });
    return this.funcImports.length + this.funcs.length - 1;
  }

  defineFunction(index: number, locals: readonly ValType[], body: Code): void {
    const f = this.funcs[index - this.funcImports.length];
    if (f === undefined) throw new Error(`function ${index} was not declared`);
    this.funcs[index - this.funcImports.length] = { type: f.type, locals, body };
  }

  addGlobal(type: ValType, mutable: boolean, init = 0): number {
    this.globals.push({ type, mutable, init });
    return this.globals.length - 1;
  }

  exportFunction(name: string, index: number): void {
    this.exports.push({ name, kind: 0, index });
  }

  exportGlobal(name: string, index: number): void {
    this.exports.push({ name, kind: 3, index });
  }

  private section(out: Bytes, id: number, content: Bytes): void {
    out.u8(id).sized(content);
  }

  build(): Uint8Array {
    const out = new Bytes(1024);
    out.bytes(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));

    const types = new Bytes();
    types.u32(this.types.length);
    for (const t of this.types) {
      types.u8(0x60).u32(t.params.length);
      for (const p of t.params) types.u8(p);
      types.u32(t.results.length);
      for (const r of t.results) types.u8(r);
    }
    this.section(out, 1, types);

    const imports = new Bytes();
    imports.u32(this.funcImports.length + (this.memImport ? 1 : 0));
    if (this.memImport) imports.name(this.memImport.module).name(this.memImport.name).u8(0x02).u8(0x00).u32(this.memImport.min);
    for (const im of this.funcImports) imports.name(im.module).name(im.name).u8(0x00).u32(im.type);
    this.section(out, 2, imports);

    const fns = new Bytes();
    fns.u32(this.funcs.length);
    for (const f of this.funcs) fns.u32(f.type);
    this.section(out, 3, fns);

    if (this.globals.length > 0) {
      const gs = new Bytes();
      gs.u32(this.globals.length);
      for (const g of this.globals) {
        gs.u8(g.type).u8(g.mutable ? 1 : 0);
        gs.u8(g.type === I32 ? Op.i32_const : Op.i64_const).s32(g.init).u8(Op.end);
      }
      this.section(out, 6, gs);
    }

    const ex = new Bytes();
    ex.u32(this.exports.length);
    for (const e of this.exports) ex.name(e.name).u8(e.kind).u32(e.index);
    this.section(out, 7, ex);

    const code = new Bytes(4096);
    code.u32(this.funcs.length);
    for (const f of this.funcs) {
      const body = new Bytes(f.body.len + 16);
      // Run-length encode the locals.
      const groups: [number, ValType][] = [];
      for (const l of f.locals) {
        const last = groups[groups.length - 1];
        if (last !== undefined && last[1] === l) last[0]++;
        else groups.push([1, l]);
      }
      body.u32(groups.length);
      for (const [n, t] of groups) body.u32(n).u8(t);
      body.bytes(f.body.view()).u8(Op.end);
      code.sized(body);
    }
    this.section(out, 10, code);
    return out.view().slice();
  }
}
