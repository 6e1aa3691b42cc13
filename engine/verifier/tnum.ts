// Tracked numbers ("tnum", Linux kernel/bpf/tnum.c): a 64-bit value whose bits are known where
// `mask` is 0 and unknown where it is 1. All values are BigInt in [0, 2^64).

export const M64 = (1n << 64n) - 1n;
export const M32 = (1n << 32n) - 1n;

export interface Tnum {
  readonly v: bigint;
  readonly m: bigint;
}

export const TNUM_UNKNOWN: Tnum = { v: 0n, m: M64 };

export function tConst(v: bigint): Tnum {
  return { v: v & M64, m: 0n };
}

function fls64(x: bigint): number {
  const hi = Number(x >> 32n);
  if (hi !== 0) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(Number(x & 0xffffffffn));
}

/** The smallest tnum containing every value of [min, max] (unsigned). */
export function tRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  const bits = fls64(chi);
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = (1n << BigInt(bits)) - 1n;
  return { v: min & ~delta & M64, m: delta };
}

export function tLsh(a: Tnum, s: number): Tnum {
  const b = BigInt(s);
  return { v: (a.v << b) & M64, m: (a.m << b) & M64 };
}

export function tRsh(a: Tnum, s: number): Tnum {
  const b = BigInt(s);
  return { v: a.v >> b, m: a.m >> b };
}

function toS(x: bigint, bits: number): bigint {
  return BigInt.asIntN(bits, x);
}

export function tArsh(a: Tnum, s: number, bits: 32 | 64): Tnum {
  const b = BigInt(s);
  const mask = bits === 32 ? M32 : M64;
  return { v: BigInt.asUintN(bits, toS(a.v, bits) >> b) & mask, m: BigInt.asUintN(bits, toS(a.m, bits) >> b) & mask };
}

export function tAdd(a: Tnum, b: Tnum): Tnum {
  const sm = (a.m + b.m) & M64;
  const sv = (a.v + b.v) & M64;
  const sigma = (sm + sv) & M64;
  const chi = sigma ^ sv;
  const mu = chi | a.m | b.m;
  return { v: sv & ~mu & M64, m: mu };
}

export function tSub(a: Tnum, b: Tnum): Tnum {
  const dv = (a.v - b.v) & M64;
  const alpha = (dv + a.m) & M64;
  const beta = (dv - b.m) & M64;
  const chi = alpha ^ beta;
  const mu = chi | a.m | b.m;
  return { v: dv & ~mu & M64, m: mu };
}

export function tAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.v | a.m;
  const beta = b.v | b.m;
  const v = a.v & b.v;
  return { v, m: alpha & beta & ~v & M64 };
}

export function tOr(a: Tnum, b: Tnum): Tnum {
  const v = a.v | b.v;
  const mu = a.m | b.m;
  return { v, m: mu & ~v & M64 };
}

export function tXor(a: Tnum, b: Tnum): Tnum {
  const v = a.v ^ b.v;
  const mu = a.m | b.m;
  return { v: v & ~mu & M64, m: mu };
}

export function tMul(a0: Tnum, b0: Tnum): Tnum {
  let a = a0;
  let b = b0;
  const accV = (a.v * b.v) & M64;
  let accM: Tnum = { v: 0n, m: 0n };
  while (a.v !== 0n || a.m !== 0n) {
    if ((a.v & 1n) !== 0n) accM = tAdd(accM, { v: 0n, m: b.m });
    else if ((a.m & 1n) !== 0n) accM = tAdd(accM, { v: 0n, m: b.v | b.m });
    a = tRsh(a, 1);
    b = tLsh(b, 1);
  }
  return tAdd({ v: accV, m: 0n }, accM);
}

export function tIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.v | b.v;
  const mu = a.m & b.m;
  return { v: v & ~mu & M64, m: mu };
}

/** Truncate to the low `size` bytes. */
export function tCast(a: Tnum, size: number): Tnum {
  if (size >= 8) return a;
  const mask = (1n << BigInt(size * 8)) - 1n;
  return { v: a.v & mask, m: a.m & mask };
}

export function tSubreg(a: Tnum): Tnum {
  return tCast(a, 4);
}

export function tClearSubreg(a: Tnum): Tnum {
  return tLsh(tRsh(a, 32), 32);
}

export function tWithSubreg(reg: Tnum, sub: Tnum): Tnum {
  return tOr(tClearSubreg(reg), tSubreg(sub));
}

export function tIsConst(a: Tnum): boolean {
  return a.m === 0n;
}

export function tIsAligned(a: Tnum, size: number): boolean {
  if (size === 0) return true;
  return ((a.v | a.m) & BigInt(size - 1)) === 0n;
}

/** Whether every value of b is also a value of a. */
export function tIn(a: Tnum, b: Tnum): boolean {
  if ((b.m & ~a.m & M64) !== 0n) return false;
  return a.v === (b.v & ~a.m & M64);
}

/** Whether the two tnums share a possible value. */
export function tOverlap(a: Tnum, b: Tnum): boolean {
  const mu = a.m | b.m;
  return ((a.v ^ b.v) & ~mu & M64) === 0n;
}

export function tEq(a: Tnum, b: Tnum): boolean {
  return a.v === b.v && a.m === b.m;
}

export function tStr(a: Tnum): string {
  return `(0x${a.v.toString(16)}; 0x${a.m.toString(16)})`;
}
