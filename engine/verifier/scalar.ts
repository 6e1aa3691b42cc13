// Scalar abstraction (Linux's bpf_reg_state numeric part): a tnum of known bits plus unsigned and
// signed 64-bit and 32-bit ranges, kept consistent by `sync` (reg_bounds_sync). Values are
// immutable; every operation returns a new Sc. Transfer functions are sound first, precise where
// cheap (add/sub/mul/and/or/xor/shifts/div/mod), as in kernel/bpf/verifier.c.

import {
  M32,
  M64,
  TNUM_UNKNOWN,
  type Tnum,
  tAdd,
  tAnd,
  tArsh,
  tCast,
  tClearSubreg,
  tConst,
  tIn,
  tIntersect,
  tIsConst,
  tLsh,
  tMul,
  tOr,
  tOverlap,
  tRange,
  tRsh,
  tStr,
  tSub,
  tSubreg,
  tWithSubreg,
  tXor,
} from './tnum.js';

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const S32_MIN = -(1n << 31n);
export const S32_MAX = (1n << 31n) - 1n;

export interface Sc {
  readonly t: Tnum;
  readonly umin: bigint;
  readonly umax: bigint;
  readonly smin: bigint;
  readonly smax: bigint;
  readonly u32min: bigint;
  readonly u32max: bigint;
  readonly s32min: bigint;
  readonly s32max: bigint;
}

export const SC_UNKNOWN: Sc = {
  t: TNUM_UNKNOWN,
  umin: 0n,
  umax: M64,
  smin: S64_MIN,
  smax: S64_MAX,
  u32min: 0n,
  u32max: M32,
  s32min: S32_MIN,
  s32max: S32_MAX,
};

const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export function scConst(v: bigint): Sc {
  const uv = u64(v);
  const lo = u32(uv);
  return {
    t: tConst(uv),
    umin: uv,
    umax: uv,
    smin: s64(uv),
    smax: s64(uv),
    u32min: lo,
    u32max: lo,
    s32min: s32(lo),
    s32max: s32(lo),
  };
}

export const SC_ZERO = scConst(0n);

export function scIsConst(s: Sc): boolean {
  return tIsConst(s.t);
}

export function scIsUnknown(s: Sc): boolean {
  return s.t.m === M64 && s.umin === 0n && s.umax === M64 && s.smin === S64_MIN && s.smax === S64_MAX && s.u32min === 0n && s.u32max === M32 && s.s32min === S32_MIN && s.s32max === S32_MAX;
}

/** Whether the bounds describe at least one value. */
export function scFeasible(s: Sc): boolean {
  return s.umin <= s.umax && s.smin <= s.smax && s.u32min <= s.u32max && s.s32min <= s.s32max;
}

interface M {
  t: Tnum;
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
  u32min: bigint;
  u32max: bigint;
  s32min: bigint;
  s32max: bigint;
}

function updateBounds(r: M): void {
  const t32 = tSubreg(r.t);
  r.s32min = max(r.s32min, s32(t32.v | (t32.m & 0x80000000n)));
  r.s32max = min(r.s32max, s32(t32.v | (t32.m & 0x7fffffffn)));
  r.u32min = max(r.u32min, t32.v);
  r.u32max = min(r.u32max, t32.v | t32.m);
  r.smin = max(r.smin, s64(r.t.v | (r.t.m & (1n << 63n))));
  r.smax = min(r.smax, s64(r.t.v | (r.t.m & S64_MAX)));
  r.umin = max(r.umin, r.t.v);
  r.umax = min(r.umax, r.t.v | r.t.m);
}

function deduce32(r: M): void {
  if (r.umin >> 32n === r.umax >> 32n) {
    r.u32min = max(r.u32min, u32(r.umin));
    r.u32max = min(r.u32max, u32(r.umax));
    if (s32(r.umin) <= s32(r.umax)) {
      r.s32min = max(r.s32min, s32(r.umin));
      r.s32max = min(r.s32max, s32(r.umax));
    }
  }
  if (r.smin >> 32n === r.smax >> 32n) {
    if (u32(r.smin) <= u32(r.smax)) {
      r.u32min = max(r.u32min, u32(r.smin));
      r.u32max = min(r.u32max, u32(r.smax));
    }
    if (s32(r.smin) <= s32(r.smax)) {
      r.s32min = max(r.s32min, s32(r.smin));
      r.s32max = min(r.s32max, s32(r.smax));
    }
  }
  if (s32(r.u32min) <= s32(r.u32max)) {
    r.s32min = max(r.s32min, s32(r.u32min));
    r.s32max = min(r.s32max, s32(r.u32max));
  }
  if (u32(r.s32min) <= u32(r.s32max)) {
    r.u32min = max(r.u32min, u32(r.s32min));
    r.u32max = min(r.u32max, u32(r.s32max));
  }
}

function deduce64(r: M): void {
  if (s64(r.umin) <= s64(r.umax)) {
    r.smin = max(r.smin, s64(r.umin));
    r.smax = min(r.smax, s64(r.umax));
  }
  if (u64(r.smin) <= u64(r.smax)) {
    r.umin = max(r.umin, u64(r.smin));
    r.umax = min(r.umax, u64(r.smax));
  }
}

function deduceMixed(r: M): void {
  // Upper halves of the 64-bit bounds combined with the 32-bit bounds of the lower half.
  if (r.u32min > r.u32max) return;
  const hi = ~M32 & M64;
  const nUmin = (r.umin & hi) | r.u32min;
  const nUmax = (r.umax & hi) | r.u32max;
  r.umin = max(r.umin, nUmin);
  r.umax = min(r.umax, nUmax);
  const nSmin = s64((u64(r.smin) & hi) | r.u32min);
  const nSmax = s64((u64(r.smax) & hi) | r.u32max);
  r.smin = max(r.smin, nSmin);
  r.smax = min(r.smax, nSmax);
  // A 64-bit value inside [S32_MIN, S32_MAX] is the sign extension of its low half (typical after
  // a sign-extending load or movsx), so the s32 range bounds it too.
  if (r.smin >= S32_MIN && r.smax <= S32_MAX && r.s32min <= r.s32max) {
    r.smin = max(r.smin, r.s32min);
    r.smax = min(r.smax, r.s32max);
  }
}

function boundOffset(r: M): void {
  if (r.umin > r.umax || r.u32min > r.u32max) return;
  const t64 = tIntersect(r.t, tRange(r.umin, r.umax));
  const t32 = tIntersect(tSubreg(t64), tRange(r.u32min, r.u32max));
  r.t = tOr(tClearSubreg(t64), t32);
}

/** reg_bounds_sync: make all views agree. Infeasible inputs stay infeasible (min > max somewhere). */
export function sync(s: Sc): Sc {
  if (s.t.m === 0n) {
    // Known value: either every range holds it (then it is exactly scConst) or the state is impossible.
    const c = scConst(s.t.v);
    if (s.umin <= c.umin && c.umax <= s.umax && s.smin <= c.smin && c.smax <= s.smax && s.u32min <= c.u32min && c.u32max <= s.u32max && s.s32min <= c.s32min && c.s32max <= s.s32max) return c;
    return { ...c, umin: 1n, umax: 0n };
  }
  const r: M = { t: s.t, umin: s.umin, umax: s.umax, smin: s.smin, smax: s.smax, u32min: s.u32min, u32max: s.u32max, s32min: s.s32min, s32max: s.s32max };
  updateBounds(r);
  deduce32(r);
  deduce64(r);
  deduceMixed(r);
  deduce32(r);
  deduce64(r);
  deduceMixed(r);
  boundOffset(r);
  updateBounds(r);
  return r;
}

// ---- width views: an operation on 64 or 32 bits sees (t, umin, umax, smin, smax) of its width.

interface W {
  t: Tnum;
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
}

function view(s: Sc, bits: 32 | 64): W {
  if (bits === 64) return { t: s.t, umin: s.umin, umax: s.umax, smin: s.smin, smax: s.smax };
  return { t: tSubreg(s.t), umin: s.u32min, umax: s.u32max, smin: s.s32min, smax: s.s32max };
}

function maxU(bits: 32 | 64): bigint {
  return bits === 64 ? M64 : M32;
}
function sMin(bits: 32 | 64): bigint {
  return bits === 64 ? S64_MIN : S32_MIN;
}
function sMax(bits: 32 | 64): bigint {
  return bits === 64 ? S64_MAX : S32_MAX;
}

function unknownW(bits: 32 | 64): W {
  return { t: bits === 64 ? TNUM_UNKNOWN : tSubreg(TNUM_UNKNOWN), umin: 0n, umax: maxU(bits), smin: sMin(bits), smax: sMax(bits) };
}

function maskT(t: Tnum, bits: 32 | 64): Tnum {
  return bits === 64 ? t : tSubreg(t);
}

function uRange(lo: bigint, hi: bigint, bits: 32 | 64): [bigint, bigint] {
  const top = maxU(bits);
  const span = top + 1n;
  if (lo >= 0n && hi <= top) return [lo, hi];
  // Both ends wrapped the same way: the range is still contiguous.
  if (lo > top && hi > top && hi - lo <= top) return [lo - span, hi - span];
  if (lo < 0n && hi < 0n) return [lo + span, hi + span];
  return [0n, top];
}

function sRange(lo: bigint, hi: bigint, bits: 32 | 64): [bigint, bigint] {
  if (lo >= sMin(bits) && hi <= sMax(bits)) return [lo, hi];
  return [sMin(bits), sMax(bits)];
}

function wAdd(a: W, b: W, bits: 32 | 64): W {
  const [umin, umax] = uRange(a.umin + b.umin, a.umax + b.umax, bits);
  const [smin, smax] = sRange(a.smin + b.smin, a.smax + b.smax, bits);
  return { t: maskT(tAdd(a.t, b.t), bits), umin, umax, smin, smax };
}

function wSub(a: W, b: W, bits: 32 | 64): W {
  const [umin, umax] = uRange(a.umin - b.umax, a.umax - b.umin, bits);
  const [smin, smax] = sRange(a.smin - b.smax, a.smax - b.smin, bits);
  return { t: maskT(tSub(a.t, b.t), bits), umin, umax, smin, smax };
}

function wMul(a: W, b: W, bits: 32 | 64): W {
  const t = maskT(tMul(a.t, b.t), bits);
  let umin = 0n;
  let umax = maxU(bits);
  if (a.umax * b.umax <= maxU(bits)) {
    umin = a.umin * b.umin;
    umax = a.umax * b.umax;
  }
  const c = [a.smin * b.smin, a.smin * b.smax, a.smax * b.smin, a.smax * b.smax];
  let lo = c[0];
  let hi = c[0];
  for (const x of c) {
    lo = min(lo, x);
    hi = max(hi, x);
  }
  const [smin, smax] = sRange(lo, hi, bits);
  return { t, umin, umax, smin, smax };
}

function fromU(umin: bigint, umax: bigint, bits: 32 | 64): W {
  const w = unknownW(bits);
  return { ...w, t: maskT(tRange(umin, umax), bits), umin, umax };
}

function wUdiv(a: W, b: W, bits: 32 | 64): W {
  if (b.umax === 0n) return fromU(0n, 0n, bits);
  const lo = b.umin === 0n ? 0n : a.umin / b.umax;
  const hi = a.umax / (b.umin === 0n ? 1n : b.umin);
  return fromU(lo, hi, bits);
}

function wUmod(a: W, b: W, bits: 32 | 64): W {
  if (b.umax === 0n) return a; // mod by zero leaves dst unchanged
  if (b.umin > 0n && a.umax < b.umin) return a; // always smaller than the divisor: unchanged
  if (b.umin === 0n) return fromU(0n, a.umax, bits);
  return fromU(0n, min(a.umax, b.umax - 1n), bits);
}

function signedFromU(w: W, bits: 32 | 64): W {
  // When both operands are non-negative, bitwise results are too.
  if (w.umax <= sMax(bits)) return { ...w, smin: w.umin, smax: w.umax };
  return { ...w, smin: sMin(bits), smax: sMax(bits) };
}

function wAnd(a: W, b: W, bits: 32 | 64): W {
  const t = maskT(tAnd(a.t, b.t), bits);
  const w: W = { t, umin: t.v, umax: min(a.umax, b.umax), smin: sMin(bits), smax: sMax(bits) };
  if (a.smin >= 0n || b.smin >= 0n) return signedFromU(w, bits);
  return w;
}

function wOr(a: W, b: W, bits: 32 | 64): W {
  const t = maskT(tOr(a.t, b.t), bits);
  const w: W = { t, umin: max(a.umin, b.umin), umax: t.v | t.m, smin: sMin(bits), smax: sMax(bits) };
  if (a.smin >= 0n && b.smin >= 0n) return signedFromU(w, bits);
  return w;
}

function wXor(a: W, b: W, bits: 32 | 64): W {
  const t = maskT(tXor(a.t, b.t), bits);
  const w: W = { t, umin: t.v, umax: t.v | t.m, smin: sMin(bits), smax: sMax(bits) };
  if (a.smin >= 0n && b.smin >= 0n) return signedFromU(w, bits);
  return w;
}

function wLsh(a: W, b: W, bits: 32 | 64): W {
  if (b.umax >= BigInt(bits)) return unknownW(bits);
  const lo = Number(b.umin);
  const hi = Number(b.umax);
  const t = lo === hi ? maskT(tLsh(a.t, lo), bits) : maskT(tLsh(unknownW(bits).t, lo), bits);
  let umin = 0n;
  let umax = maxU(bits);
  if (a.umax << BigInt(hi) <= maxU(bits)) {
    umin = a.umin << BigInt(lo);
    umax = a.umax << BigInt(hi);
  }
  return { t, umin, umax, smin: sMin(bits), smax: sMax(bits) };
}

function wRsh(a: W, b: W, bits: 32 | 64): W {
  if (b.umax >= BigInt(bits)) return unknownW(bits);
  const lo = Number(b.umin);
  const hi = Number(b.umax);
  const t = lo === hi ? tRsh(a.t, lo) : tRsh(unknownW(bits).t, lo);
  return { t, umin: a.umin >> BigInt(hi), umax: a.umax >> BigInt(lo), smin: sMin(bits), smax: sMax(bits) };
}

function wArsh(a: W, b: W, bits: 32 | 64): W {
  if (b.umax >= BigInt(bits) || b.umin !== b.umax) return unknownW(bits);
  const s = Number(b.umin);
  return { t: tArsh(a.t, s, bits), umin: 0n, umax: maxU(bits), smin: a.smin >> BigInt(s), smax: a.smax >> BigInt(s) };
}

export type AluOp = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'mod' | 'smod' | 'or' | 'and' | 'xor' | 'lsh' | 'rsh' | 'arsh';

// Ops whose low 32 result bits depend only on the operands' low 32 bits.
const LOW_BITS_OPS = new Set<AluOp>(['add', 'sub', 'mul', 'and', 'or', 'xor']);

function wOp(op: AluOp, a: W, b: W, bits: 32 | 64): W {
  switch (op) {
    case 'add':
      return wAdd(a, b, bits);
    case 'sub':
      return wSub(a, b, bits);
    case 'mul':
      return wMul(a, b, bits);
    case 'div':
      return wUdiv(a, b, bits);
    case 'mod':
      return wUmod(a, b, bits);
    case 'and':
      return wAnd(a, b, bits);
    case 'or':
      return wOr(a, b, bits);
    case 'xor':
      return wXor(a, b, bits);
    case 'lsh':
      return wLsh(a, b, bits);
    case 'rsh':
      return wRsh(a, b, bits);
    case 'arsh':
      return wArsh(a, b, bits);
    default:
      return unknownW(bits);
  }
}

/** Result of `a op b` on 64 or 32 bits (32-bit results are zero-extended). */
export function scAlu(op: AluOp, a: Sc, b: Sc, bits: 32 | 64): Sc {
  if (scIsConst(a) && scIsConst(b)) return scConst(evalConst(op, a.t.v, b.t.v, bits));
  if (bits === 64) {
    const r = wOp(op, view(a, 64), view(b, 64), 64);
    let out: M = { t: r.t, umin: r.umin, umax: r.umax, smin: r.smin, smax: r.smax, u32min: 0n, u32max: M32, s32min: S32_MIN, s32max: S32_MAX };
    if (LOW_BITS_OPS.has(op)) {
      const r32 = wOp(op, view(a, 32), view(b, 32), 32);
      out = { ...out, t: tWithSubreg(out.t, tIntersect(tSubreg(out.t), r32.t)), u32min: r32.umin, u32max: r32.umax, s32min: r32.smin, s32max: r32.smax };
    }
    return sync(out);
  }
  const r = wOp(op, view(a, 32), view(b, 32), 32);
  return zext32(r);
}

function zext32(r: W): Sc {
  return sync({
    t: tSubreg(r.t),
    umin: r.umin,
    umax: r.umax,
    smin: r.umin,
    smax: r.umax,
    u32min: r.umin,
    u32max: r.umax,
    s32min: r.smin,
    s32max: r.smax,
  });
}

/** Concrete semantics of one ALU op, as the interpreter computes it. */
export function evalConst(op: AluOp, a0: bigint, b0: bigint, bits: 32 | 64): bigint {
  const mask = bits === 64 ? M64 : M32;
  const a = a0 & mask;
  const b = b0 & mask;
  const sa = BigInt.asIntN(bits, a);
  const sb = BigInt.asIntN(bits, b);
  let r: bigint;
  switch (op) {
    case 'add':
      r = a + b;
      break;
    case 'sub':
      r = a - b;
      break;
    case 'mul':
      r = a * b;
      break;
    case 'div':
      r = b === 0n ? 0n : a / b;
      break;
    case 'sdiv':
      r = sb === 0n ? 0n : sa / sb;
      break;
    case 'mod':
      r = b === 0n ? a : a % b;
      break;
    case 'smod':
      r = sb === 0n ? a : sa % sb;
      break;
    case 'or':
      r = a | b;
      break;
    case 'and':
      r = a & b;
      break;
    case 'xor':
      r = a ^ b;
      break;
    case 'lsh':
      r = a << (b & BigInt(bits - 1));
      break;
    case 'rsh':
      r = a >> (b & BigInt(bits - 1));
      break;
    case 'arsh':
      r = sa >> (b & BigInt(bits - 1));
      break;
  }
  return BigInt.asUintN(bits, r);
}

/** 32-bit view of a 64-bit value, zero-extended (what `w0 = w0` does). */
export function scZext32(s: Sc): Sc {
  return zext32(view(s, 32));
}

/** Keep the low `size` bytes (narrow load / mov32 semantics). */
export function scCoerce(s: Sc, size: number): Sc {
  if (size >= 8) return s;
  if (scIsConst(s)) return scConst(s.t.v & ((1n << BigInt(size * 8)) - 1n));
  const mask = (1n << BigInt(size * 8)) - 1n;
  const t = tCast(s.t, size);
  if (s.umax <= mask) return sync({ ...SC_UNKNOWN, t, umin: s.umin, umax: s.umax });
  return sync({ ...SC_UNKNOWN, t, umin: 0n, umax: mask });
}

/** Sign-extend from the low `size` bytes. */
export function scSext(s: Sc, size: number): Sc {
  const bits = size * 8;
  if (scIsConst(s)) return scConst(BigInt.asUintN(64, BigInt.asIntN(bits, s.t.v)));
  const half = 1n << BigInt(bits - 1);
  const low = scCoerce(s, size);
  if (low.umax < half) return low; // sign bit clear: same value
  return sync({ ...SC_UNKNOWN, smin: -half, smax: half - 1n });
}

/** Unknown value of `size` bytes, zero- or sign-extended. */
export function scOfSize(size: number, signed: boolean): Sc {
  if (size >= 8) return SC_UNKNOWN;
  const bits = BigInt(size * 8);
  if (signed) return sync({ ...SC_UNKNOWN, smin: -(1n << (bits - 1n)), smax: (1n << (bits - 1n)) - 1n });
  return sync({ ...SC_UNKNOWN, umin: 0n, umax: (1n << bits) - 1n });
}

export function scBswap(s: Sc, width: number, swap: boolean): Sc {
  if (!swap) return scCoerce(s, width / 8);
  if (scIsConst(s)) {
    let v = s.t.v & ((1n << BigInt(width)) - 1n);
    let r = 0n;
    for (let i = 0; i < width / 8; i++) {
      r = (r << 8n) | (v & 0xffn);
      v >>= 8n;
    }
    return scConst(r);
  }
  return scOfSize(width / 8, false);
}

// ---- conditions

export type Rel = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sgt' | 'sge' | 'slt' | 'sle' | 'set' | 'nset';

export function negate(r: Rel): Rel {
  switch (r) {
    case 'eq':
      return 'ne';
    case 'ne':
      return 'eq';
    case 'gt':
      return 'le';
    case 'le':
      return 'gt';
    case 'ge':
      return 'lt';
    case 'lt':
      return 'ge';
    case 'sgt':
      return 'sle';
    case 'sle':
      return 'sgt';
    case 'sge':
      return 'slt';
    case 'slt':
      return 'sge';
    case 'set':
      return 'nset';
    case 'nset':
      return 'set';
  }
}

/** 1: always true, 0: never, -1: unknown (is_branch_taken). */
export function branchTaken(a: Sc, b: Sc, rel: Rel, bits: 32 | 64): number {
  const x = view(a, bits);
  const y = view(b, bits);
  switch (rel) {
    case 'eq':
      if (tIsConst(x.t) && tIsConst(y.t)) return x.t.v === y.t.v ? 1 : 0;
      if (x.umin > y.umax || x.umax < y.umin || x.smin > y.smax || x.smax < y.smin || !tOverlap(x.t, y.t)) return 0;
      return -1;
    case 'gt':
      if (x.umin > y.umax) return 1;
      if (x.umax <= y.umin) return 0;
      return -1;
    case 'ge':
      if (x.umin >= y.umax) return 1;
      if (x.umax < y.umin) return 0;
      return -1;
    case 'sgt':
      if (x.smin > y.smax) return 1;
      if (x.smax <= y.smin) return 0;
      return -1;
    case 'sge':
      if (x.smin >= y.smax) return 1;
      if (x.smax < y.smin) return 0;
      return -1;
    case 'set':
      if ((x.t.v & y.t.v) !== 0n) return 1;
      if (((x.t.v | x.t.m) & (y.t.v | y.t.m)) === 0n) return 0;
      return -1;
    case 'lt':
      return branchTaken(b, a, 'gt', bits);
    case 'le':
      return branchTaken(b, a, 'ge', bits);
    case 'slt':
      return branchTaken(b, a, 'sgt', bits);
    case 'sle':
      return branchTaken(b, a, 'sge', bits);
    case 'ne':
    case 'nset': {
      const r = branchTaken(a, b, negate(rel), bits);
      return r < 0 ? r : 1 - r;
    }
  }
}

function refineW(x: W, y: W, rel: Rel): [W, W] {
  const a = { ...x };
  const b = { ...y };
  switch (rel) {
    case 'eq': {
      const umin = max(a.umin, b.umin);
      const umax = min(a.umax, b.umax);
      const smin = max(a.smin, b.smin);
      const smax = min(a.smax, b.smax);
      const t = tIntersect(a.t, b.t);
      return [
        { t, umin, umax, smin, smax },
        { t, umin, umax, smin, smax },
      ];
    }
    case 'ne': {
      if (tIsConst(b.t)) {
        const v = b.t.v;
        if (a.umin === v) a.umin++;
        if (a.umax === v) a.umax--;
        if (a.smin === b.smin) a.smin++;
        if (a.smax === b.smin) a.smax--;
      }
      if (tIsConst(x.t)) {
        const v = x.t.v;
        if (b.umin === v) b.umin++;
        if (b.umax === v) b.umax--;
        if (b.smin === x.smin) b.smin++;
        if (b.smax === x.smin) b.smax--;
      }
      return [a, b];
    }
    case 'gt':
      a.umin = max(a.umin, y.umin + 1n);
      b.umax = min(b.umax, x.umax - 1n);
      return [a, b];
    case 'ge':
      a.umin = max(a.umin, y.umin);
      b.umax = min(b.umax, x.umax);
      return [a, b];
    case 'sgt':
      a.smin = max(a.smin, y.smin + 1n);
      b.smax = min(b.smax, x.smax - 1n);
      return [a, b];
    case 'sge':
      a.smin = max(a.smin, y.smin);
      b.smax = min(b.smax, x.smax);
      return [a, b];
    case 'lt': {
      const [bb, aa] = refineW(y, x, 'gt');
      return [aa, bb];
    }
    case 'le': {
      const [bb, aa] = refineW(y, x, 'ge');
      return [aa, bb];
    }
    case 'slt': {
      const [bb, aa] = refineW(y, x, 'sgt');
      return [aa, bb];
    }
    case 'sle': {
      const [bb, aa] = refineW(y, x, 'sge');
      return [aa, bb];
    }
    case 'set':
      if (tIsConst(b.t) && b.t.v !== 0n && (b.t.v & (b.t.v - 1n)) === 0n) a.t = tOr(a.t, b.t);
      return [a, b];
    case 'nset':
      if (tIsConst(b.t)) a.t = tAnd(a.t, { v: ~b.t.v & M64, m: 0n });
      return [a, b];
  }
}

function writeBack(s: Sc, w: W, bits: 32 | 64): Sc {
  // Explicit literals (not spreads): this is the verifier's hottest allocation site.
  if (bits === 64) {
    return sync({ t: tIntersect(s.t, w.t), umin: w.umin, umax: w.umax, smin: w.smin, smax: w.smax, u32min: s.u32min, u32max: s.u32max, s32min: s.s32min, s32max: s.s32max });
  }
  return sync({ t: tWithSubreg(s.t, tIntersect(tSubreg(s.t), w.t)), umin: s.umin, umax: s.umax, smin: s.smin, smax: s.smax, u32min: w.umin, u32max: w.umax, s32min: w.smin, s32max: w.smax });
}

/** Refine both operands assuming `a rel b` holds. Results may be infeasible (check scFeasible). */
export function refine(a: Sc, b: Sc, rel: Rel, bits: 32 | 64): [Sc, Sc] {
  const [x, y] = refineW(view(a, bits), view(b, bits), rel);
  return [writeBack(a, x, bits), writeBack(b, y, bits)];
}

/** Whether every value of `cur` is a value of `old` (range_within + tnum_in). */
export function scWithin(old: Sc, cur: Sc): boolean {
  return (
    old.umin <= cur.umin &&
    old.umax >= cur.umax &&
    old.smin <= cur.smin &&
    old.smax >= cur.smax &&
    old.u32min <= cur.u32min &&
    old.u32max >= cur.u32max &&
    old.s32min <= cur.s32min &&
    old.s32max >= cur.s32max &&
    tIn(old.t, cur.t)
  );
}

export function scEqual(a: Sc, b: Sc): boolean {
  return (
    a.t.v === b.t.v &&
    a.t.m === b.t.m &&
    a.umin === b.umin &&
    a.umax === b.umax &&
    a.smin === b.smin &&
    a.smax === b.smax &&
    a.u32min === b.u32min &&
    a.u32max === b.u32max &&
    a.s32min === b.s32min &&
    a.s32max === b.s32max
  );
}

/** Linux-like rendering of the bounds that are not implied ("umin=0,umax=15,var_off=(0x0; 0xf)"). */
export function scBoundsStr(s: Sc): string {
  const parts: string[] = [];
  if (s.smin !== S64_MIN) parts.push(`smin=${s.smin}`);
  if (s.smax !== S64_MAX) parts.push(`smax=${s.smax}`);
  if (s.umin !== 0n) parts.push(`umin=${s.umin}`);
  if (s.umax !== M64) parts.push(`umax=${s.umax}`);
  if (s.s32min !== S32_MIN) parts.push(`smin32=${s.s32min}`);
  if (s.s32max !== S32_MAX) parts.push(`smax32=${s.s32max}`);
  if (s.u32min !== 0n) parts.push(`umin32=${s.u32min}`);
  if (s.u32max !== M32) parts.push(`umax32=${s.u32max}`);
  if (s.t.m !== M64) parts.push(`var_off=${tStr(s.t)}`);
  return parts.join(',');
}

export function scStr(s: Sc): string {
  if (scIsConst(s)) return `${s64(s.t.v)}`;
  return `scalar(${scBoundsStr(s)})`;
}

/** Whether the concrete 64-bit value `v` is described by `s` (used by tests and assertions). */
export function scContains(s: Sc, v: bigint): boolean {
  const u = u64(v);
  const lo = u32(u);
  return (
    u >= s.umin &&
    u <= s.umax &&
    s64(u) >= s.smin &&
    s64(u) <= s.smax &&
    lo >= s.u32min &&
    lo <= s.u32max &&
    s32(lo) >= s.s32min &&
    s32(lo) <= s.s32max &&
    (u & ~s.t.m & M64) === s.t.v
  );
}
