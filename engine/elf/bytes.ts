// Bounds-checked little-endian reads over an untrusted byte buffer. Every read names what it was
// reading, so a truncated object fails with "section header 7: offset 0x1c8+64 past end of file
// (0x1a0 bytes)" instead of a DataView RangeError.

import { ElfError } from './errors.js';

export class Bytes {
  readonly u8: Uint8Array;
  private readonly dv: DataView;
  constructor(u8: Uint8Array) {
    this.u8 = u8;
    this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  get length(): number {
    return this.u8.length;
  }

  /** Throw unless [off, off+len) lies inside the buffer. */
  need(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > this.u8.length) {
      throw new ElfError(`${what}: bytes [0x${hex(off)}, +${len}) past end of data (0x${hex(this.u8.length)} bytes)`);
    }
  }

  u8at(off: number, what: string): number {
    this.need(off, 1, what);
    return this.u8[off];
  }
  u16(off: number, what: string): number {
    this.need(off, 2, what);
    return this.dv.getUint16(off, true);
  }
  u32(off: number, what: string): number {
    this.need(off, 4, what);
    return this.dv.getUint32(off, true);
  }
  i32(off: number, what: string): number {
    this.need(off, 4, what);
    return this.dv.getInt32(off, true);
  }
  /** A u64 that must fit in a safe integer (offsets, sizes, counts); larger is an error. */
  u64(off: number, what: string): number {
    this.need(off, 8, what);
    const lo = this.dv.getUint32(off, true);
    const hi = this.dv.getUint32(off + 4, true);
    if (hi > 0x1fffff) throw new ElfError(`${what}: value 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} too large`);
    return hi * 4294967296 + lo;
  }
  /** Low and high halves of a u64 (for fields that may legitimately be huge, like r_info). */
  u64parts(off: number, what: string): [number, number] {
    this.need(off, 8, what);
    return [this.dv.getUint32(off, true), this.dv.getUint32(off + 4, true)];
  }

  /** A view (no copy) of [off, off+len). */
  slice(off: number, len: number, what: string): Uint8Array {
    this.need(off, len, what);
    return this.u8.subarray(off, off + len);
  }

  /** A NUL-terminated string starting at `off`, which must end before `end` (exclusive). */
  cstr(off: number, end: number, what: string, maxLen = 4096): string {
    if (!Number.isSafeInteger(off) || off < 0 || off >= end || end > this.u8.length) {
      throw new ElfError(`${what}: string offset 0x${hex(off)} outside its table`);
    }
    const stop = Math.min(end, off + maxLen + 1);
    for (let i = off; i < stop; i++) {
      if (this.u8[i] === 0) return latin1(this.u8, off, i);
    }
    throw new ElfError(
      stop === end ? `${what}: string at 0x${hex(off)} is not NUL-terminated` : `${what}: string at 0x${hex(off)} longer than ${maxLen} bytes`,
    );
  }
}

export function hex(n: number): string {
  return Number.isFinite(n) ? Math.max(0, n).toString(16) : String(n);
}

/** Bytes as a JS string, one char per byte (names in ELF/BTF are ASCII; never throws). */
export function latin1(u8: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(u8[i]);
  return s;
}
