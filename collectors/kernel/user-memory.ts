// A process's user memory as the simulated kernel keeps it: a few sparse mappings at user-space
// addresses (above 4 GiB, like a real x86-64 process, so programs see 64-bit pointers). It lives
// outside the engine's WebAssembly memory: only probe_read_user* reach it, via ExecEnv.readUser.
//
// Each syscall the kernel simulates writes its arguments into the caller's scratch arena (as a
// libc caller would have them on its heap); the arena is reused, so memory stays bounded.

/** Where the syscall-argument arena starts: a typical PIE heap address (0x55..., > 2^32). */
export const USER_ARENA_BASE = 0x5600_0000_0000;
/** Where a fake user stack pointer points (pt_regs.sp): below the usual stack top. */
export const USER_STACK_TOP = 0x7ffd_0000_0000;

const TWO32 = 4294967296;
const ENC = new TextEncoder();

export class UserMemory {
  private data = new Uint8Array(4096);
  private dv = new DataView(this.data.buffer);
  /** Bytes in use from USER_ARENA_BASE. */
  private used = 0;

  /** Forget the previous syscall's arguments. */
  reset(): void {
    this.used = 0;
  }

  get size(): number {
    return this.used;
  }

  private reserve(n: number, align: number): number {
    const off = Math.ceil(this.used / align) * align;
    const end = off + n;
    if (end > this.data.length) {
      let cap = this.data.length;
      while (cap < end) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.data.subarray(0, this.used));
      this.data = next;
      this.dv = new DataView(next.buffer);
    }
    // Bytes between the old end and the aligned start read as zero, as fresh heap would.
    this.data.fill(0, this.used, end);
    this.used = end;
    return off;
  }

  /** Copy bytes in; returns their user address. */
  putBytes(bytes: Uint8Array, align = 1): number {
    const off = this.reserve(bytes.length, align);
    this.data.set(bytes, off);
    return USER_ARENA_BASE + off;
  }

  /** A NUL-terminated UTF-8 string; returns its user address. */
  putString(s: string): number {
    // Reserve the worst case (3 bytes per UTF-16 unit), encode in place, give back the rest.
    const off = this.reserve(s.length * 3 + 1, 1);
    const n = ENC.encodeInto(s, this.data.subarray(off, off + s.length * 3)).written;
    this.data[off + n] = 0;
    this.used = off + n + 1;
    return USER_ARENA_BASE + off;
  }

  /** `len` zeroed bytes to fill in place (a sockaddr); returns the offset into `bytes`. */
  reserveBytes(len: number, align = 8): { addr: number; bytes: Uint8Array; view: DataView; off: number } {
    const off = this.reserve(len, align);
    return { addr: USER_ARENA_BASE + off, bytes: this.data, view: this.dv, off };
  }

  /** A NULL-terminated array of u64 user pointers (argv/envp); returns its address. */
  putPointerArray(ptrs: readonly number[]): number {
    const off = this.reserve((ptrs.length + 1) * 8, 8);
    for (let i = 0; i <= ptrs.length; i++) {
      const p = i < ptrs.length ? ptrs[i] : 0;
      const hi = Math.floor(p / TWO32);
      this.dv.setUint32(off + i * 8, (p - hi * TWO32) >>> 0, true);
      this.dv.setUint32(off + i * 8 + 4, hi >>> 0, true);
    }
    return USER_ARENA_BASE + off;
  }

  /** Offset into the arena for [addr, addr+len), or -1 when any byte is unmapped. */
  private offsetOf(addrLo: number, addrHi: number, len: number): number {
    const addr = addrHi * TWO32 + (addrLo >>> 0);
    const off = addr - USER_ARENA_BASE;
    if (off < 0 || len < 0 || off + len > this.used) return -1;
    return off;
  }

  read(addrLo: number, addrHi: number, len: number): Uint8Array | undefined {
    const off = this.offsetOf(addrLo, addrHi, len);
    return off < 0 ? undefined : this.data.slice(off, off + len);
  }

  /** Copy [addr, addr+len) to dst[dstOff..] without allocating; false when any byte is unmapped. */
  readInto(dst: Uint8Array, dstOff: number, addrLo: number, addrHi: number, len: number): boolean {
    const off = this.offsetOf(addrLo, addrHi, len);
    if (off < 0) return false;
    const data = this.data;
    if (len <= 64) for (let i = 0; i < len; i++) dst[dstOff + i] = data[off + i];
    else dst.set(data.subarray(off, off + len), dstOff);
    return true;
  }

  /** Up to `max` bytes, stopping after the first NUL (included). */
  readStr(addrLo: number, addrHi: number, max: number): Uint8Array | undefined {
    const off = this.offsetOf(addrLo, addrHi, 1);
    if (off < 0 || max <= 0) return off < 0 ? undefined : new Uint8Array(0);
    const limit = Math.min(this.used, off + max);
    let end = off;
    while (end < limit && this.data[end] !== 0) end++;
    if (end < limit) end++; // the NUL, found inside the limit
    // Running into unmapped memory before a NUL or the limit faults, as strncpy_from_user does.
    else if (off + max > this.used) return undefined;
    return this.data.slice(off, end);
  }
}

/** Split a JS number address (< 2^53) into the lo/hi halves ExecEnv uses. */
export function splitAddr(addr: number): [number, number] {
  return [addr % TWO32 >>> 0, Math.floor(addr / TWO32) >>> 0];
}
