// Exact 64-bit arithmetic on pairs of 32-bit halves, without BigInt on the common paths.
// Registers live in an Int32Array as [lo, hi] pairs: `R[d]` low half, `R[d + 1]` high half.
// Results that need two halves go to the scratch pair OUT.

const TWO32 = 4294967296;
/** Scratch result pair (lo, hi) for the functions below. */
export const OUT = new Int32Array(2);

/** OUT = a * b (mod 2^64). */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  const a0 = alo & 0xffff;
  const a1 = alo >>> 16;
  const b0 = blo & 0xffff;
  const b1 = blo >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hiLoProduct = a1 * b1 + Math.floor(p01 / 65536) + Math.floor(p10 / 65536) + (mid >>> 16);
  OUT[0] = Math.imul(alo, blo);
  OUT[1] = (hiLoProduct + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/**
 * Unsigned 64-bit divide or remainder: OUT = mod ? a % b : a / b. b must not be 0.
 * Uses float division when both operands fit in 52 bits (exact after a ±1 correction), else BigInt.
 */
export function udivmod64(alo: number, ahi: number, blo: number, bhi: number, mod: boolean): void {
  alo >>>= 0;
  ahi >>>= 0;
  blo >>>= 0;
  bhi >>>= 0;
  if (ahi === 0 && bhi === 0) {
    OUT[0] = mod ? alo % blo : Math.floor(alo / blo);
    OUT[1] = 0;
    return;
  }
  if (ahi < 0x100000 && bhi < 0x100000) {
    const a = ahi * TWO32 + alo;
    const b = bhi * TWO32 + blo;
    let q = Math.floor(a / b);
    let r = a - q * b;
    if (r < 0) {
      q--;
      r += b;
    } else if (r >= b) {
      q++;
      r -= b;
    }
    const v = mod ? r : q;
    OUT[0] = v % TWO32;
    OUT[1] = Math.floor(v / TWO32);
    return;
  }
  const A = (BigInt(ahi) << 32n) | BigInt(alo);
  const B = (BigInt(bhi) << 32n) | BigInt(blo);
  const v = mod ? A % B : A / B;
  OUT[0] = Number(v & 0xffffffffn);
  OUT[1] = Number(v >> 32n);
}

/** Signed 64-bit divide or remainder (truncating, remainder takes the dividend's sign). b ≠ 0. */
export function sdivmod64(alo: number, ahi: number, blo: number, bhi: number, mod: boolean): void {
  const aneg = ahi < 0 || ahi > 0x7fffffff;
  const bneg = bhi < 0 || bhi > 0x7fffffff;
  if (aneg) {
    const l = alo >>> 0;
    alo = (-l) | 0;
    ahi = (~ahi + (l === 0 ? 1 : 0)) | 0;
  }
  if (bneg) {
    const l = blo >>> 0;
    blo = (-l) | 0;
    bhi = (~bhi + (l === 0 ? 1 : 0)) | 0;
  }
  udivmod64(alo, ahi, blo, bhi, mod);
  if (mod ? aneg : aneg !== bneg) {
    const l = OUT[0] >>> 0;
    OUT[0] = -l;
    OUT[1] = ~OUT[1] + (l === 0 ? 1 : 0);
  }
}

/** OUT = a << n (n already masked to 0..63). */
export function shl64(lo: number, hi: number, n: number): void {
  if (n === 0) {
    OUT[0] = lo;
    OUT[1] = hi;
  } else if (n < 32) {
    OUT[1] = (hi << n) | (lo >>> (32 - n));
    OUT[0] = lo << n;
  } else {
    OUT[1] = lo << (n - 32);
    OUT[0] = 0;
  }
}

/** OUT = a >>> n (logical). */
export function shr64(lo: number, hi: number, n: number): void {
  if (n === 0) {
    OUT[0] = lo;
    OUT[1] = hi;
  } else if (n < 32) {
    OUT[0] = (lo >>> n) | (hi << (32 - n));
    OUT[1] = hi >>> n;
  } else {
    OUT[0] = hi >>> (n - 32);
    OUT[1] = 0;
  }
}

/** OUT = a >> n (arithmetic). */
export function sar64(lo: number, hi: number, n: number): void {
  if (n === 0) {
    OUT[0] = lo;
    OUT[1] = hi;
  } else if (n < 32) {
    OUT[0] = (lo >>> n) | (hi << (32 - n));
    OUT[1] = hi >> n;
  } else {
    OUT[0] = hi >> (n - 32);
    OUT[1] = hi >> 31;
  }
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/** Unsigned a > b on (hi, lo) pairs. */
export function gtU(ahi: number, alo: number, bhi: number, blo: number): boolean {
  const x = ahi >>> 0;
  const y = bhi >>> 0;
  return x > y || (x === y && alo >>> 0 > blo >>> 0);
}

export function geU(ahi: number, alo: number, bhi: number, blo: number): boolean {
  const x = ahi >>> 0;
  const y = bhi >>> 0;
  return x > y || (x === y && alo >>> 0 >= blo >>> 0);
}

/** Signed a > b on (hi, lo) pairs. */
export function gtS(ahi: number, alo: number, bhi: number, blo: number): boolean {
  const x = ahi | 0;
  const y = bhi | 0;
  return x > y || (x === y && alo >>> 0 > blo >>> 0);
}

export function geS(ahi: number, alo: number, bhi: number, blo: number): boolean {
  const x = ahi | 0;
  const y = bhi | 0;
  return x > y || (x === y && alo >>> 0 >= blo >>> 0);
}
