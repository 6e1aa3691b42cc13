// The key index of the hash maps: open addressing with linear probing over an Int32Array of
// element numbers, keys kept in one flat byte array, deletion by backward shift (no tombstones,
// so lookups stay short however many deletes happened). Lookups hash the key bytes straight from
// the caller's buffer (the VM's memory on the program path) and allocate nothing.


import type { Allocation, VmMemory } from '../memory.js';
/** One murmur3 block step. */
function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** murmur3_32 over `len` bytes of `buf` at `off`. */
export function hashBytes(buf: Uint8Array, off: number, len: number): number {
  let h = 0x9747b28c ^ len;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const p = off + i;
    let k = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = 0;
    for (let s = 0; i < len; i++, s += 8) k |= buf[off + i] << s;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Int32Array reads match the byte-assembled words only on little-endian hosts. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export class HashIndex {
  /** An Int32Array over the buffer of the last `buf` seen (the VM memory), for aligned keys. */
  private viewOf: ArrayBufferLike | undefined;
  private view32: Int32Array<ArrayBufferLike> = new Int32Array(0);

  private readonly slots: Int32Array;
  readonly mask: number;
  /**
   * The index mirrored in the shared memory (inline-lookup.ts), written through on every
   * change: byte addresses of the slots, hashes and key words arrays.
   */
  private mirror: { mem: VmMemory; slots: number; hashes: number; keyWords: number } | undefined;
  /** Key bytes of element e at e*keySize. */
  readonly keys: Uint8Array;
  private readonly hashes: Int32Array;
  /** For keys of a multiple of 4 bytes: the key as little-endian int32 words, compared on lookup. */
  private readonly keyWords: Int32Array;

  constructor(
    readonly keySize: number,
    maxEntries: number,
  ) {
    let cap = 8;
    while (cap < maxEntries * 2) cap *= 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.keys = new Uint8Array(keySize * maxEntries);
    this.hashes = new Int32Array(maxEntries);
    this.keyWords = new Int32Array((keySize & 3) === 0 ? (keySize >>> 2) * maxEntries : 0);
  }

  get bytes(): number {
    return this.slots.byteLength + this.keys.byteLength + this.hashes.byteLength;
  }

  /** Element holding the key at buf[off..off+keySize), or -1. */
  find(buf: Uint8Array, off: number): number {
    const ks = this.keySize;
    if (ks === 4) return this.find4(buf, off);
    if (ks === 8) return this.find8(buf, off);
    // Word-sized keys at a 4-aligned address (program stack, map values): int32 reads. Any other
    // key takes the byte path below, whose hashBytes is the same murmur3.
    if ((ks & 3) === 0 && LITTLE_ENDIAN && (off & 3) === 0 && buf.byteOffset === 0) return this.findAligned(buf, off >>> 2);
    const h = hashBytes(buf, off, ks);
    const slots = this.slots;
    const mask = this.mask;
    const keys = this.keys;
    const hashes = this.hashes;
    let i = h & mask;
    for (;;) {
      const e = slots[i];
      if (e < 0) return -1;
      if (hashes[e] === h) {
        const base = e * ks;
        let j = 0;
        while (j < ks && keys[base + j] === buf[off + j]) j++;
        if (j === ks) return e;
      }
      i = (i + 1) & mask;
    }
  }

  // Specialised lookups for the common 4- and 8-byte keys (pids, cgroup ids, inodes): the same
  // murmur3 as hashBytes, computed on words, and the key compared as words.
  private find4(buf: Uint8Array, off: number): number {
    const w = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24);
    let h = mixWord(0x9747b28c ^ 4, w) ^ 4;
    h = fmix(h);
    const slots = this.slots;
    const mask = this.mask;
    const kw = this.keyWords;
    let i = h & mask;
    for (;;) {
      const e = slots[i];
      if (e < 0) return -1;
      if (kw[e] === w) return e;
      i = (i + 1) & mask;
    }
  }

  private find8(buf: Uint8Array, off: number): number {
    const w0 = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24);
    const w1 = buf[off + 4] | (buf[off + 5] << 8) | (buf[off + 6] << 16) | (buf[off + 7] << 24);
    const h = fmix(mixWord(mixWord(0x9747b28c ^ 8, w0), w1) ^ 8);
    const slots = this.slots;
    const mask = this.mask;
    const kw = this.keyWords;
    let i = h & mask;
    for (;;) {
      const e = slots[i];
      if (e < 0) return -1;
      if (kw[2 * e] === w0 && kw[2 * e + 1] === w1) return e;
      i = (i + 1) & mask;
    }
  }

  /** A word-sized key at a 4-aligned offset of a buffer starting at 0: one int32 read per word. */
  private findAligned(buf: Uint8Array, base: number): number {
    if (buf.buffer !== this.viewOf) {
      this.viewOf = buf.buffer;
      this.view32 = new Int32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
    }
    const w32 = this.view32;
    const nw = this.keySize >>> 2;
    let h = 0x9747b28c ^ this.keySize;
    for (let w = 0; w < nw; w++) h = mixWord(h, w32[base + w]);
    h = fmix(h ^ this.keySize);
    const slots = this.slots;
    const mask = this.mask;
    const kw = this.keyWords;
    const hashes = this.hashes;
    let i = h & mask;
    for (;;) {
      const e = slots[i];
      if (e < 0) return -1;
      if (hashes[e] === h) {
        const kb = e * nw;
        let w = 0;
        while (w < nw && kw[kb + w] === w32[base + w]) w++;
        if (w === nw) return e;
      }
      i = (i + 1) & mask;
    }
  }

  /** Index element e (not present yet) under the key at buf[off..]. */
  insert(e: number, buf: Uint8Array, off: number): void {
    const ks = this.keySize;
    const keys = this.keys;
    const kb = e * ks;
    for (let j = 0; j < ks; j++) keys[kb + j] = buf[off + j]; // no subarray: nothing allocated
    if ((ks & 3) === 0) {
      for (let w = 0; w < ks; w += 4) {
        const p = off + w;
        this.keyWords[(e * ks + w) >>> 2] = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
      }
    }
    const h = hashBytes(buf, off, ks);
    this.hashes[e] = h;
    let i = h & this.mask;
    while (this.slots[i] >= 0) i = (i + 1) & this.mask;
    this.slots[i] = e;
    const m = this.mirror;
    if (m !== undefined) {
      const i32 = m.mem.i32;
      i32[(m.slots >>> 2) + i] = e;
      i32[(m.hashes >>> 2) + e] = h;
      const nw = ks >>> 2;
      for (let w = 0; w < nw; w++) i32[(m.keyWords >>> 2) + e * nw + w] = this.keyWords[e * nw + w];
    }
  }

  /** Mirror the index into `mem` (keys of a multiple of 4 bytes); returns the arrays' addresses. */
  mirrorInto(mem: VmMemory): { slots: number; hashes: number; keyWords: number; allocs: Allocation[] } {
    if ((this.keySize & 3) !== 0 || this.keySize === 0) throw new Error('only word-sized keys are mirrored');
    const s = mem.alloc(this.slots.byteLength);
    const h = mem.alloc(this.hashes.byteLength);
    const k = mem.alloc(this.keyWords.byteLength);
    mem.i32.set(this.slots, s.addr >>> 2);
    mem.i32.set(this.hashes, h.addr >>> 2);
    mem.i32.set(this.keyWords, k.addr >>> 2);
    this.mirror = { mem, slots: s.addr, hashes: h.addr, keyWords: k.addr };
    return { slots: s.addr, hashes: h.addr, keyWords: k.addr, allocs: [s, h, k] };
  }

  remove(e: number): void {
    const mask = this.mask;
    const slots = this.slots;
    let i = this.hashes[e] & mask;
    while (slots[i] !== e) {
      if (slots[i] < 0) return;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later members of the probe run into the hole when their home allows.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const f = slots[j];
      if (f < 0) break;
      const home = this.hashes[f] & mask;
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        slots[i] = f;
        if (this.mirror !== undefined) this.mirror.mem.i32[(this.mirror.slots >>> 2) + i] = f;
        i = j;
      }
    }
    slots[i] = -1;
    if (this.mirror !== undefined) this.mirror.mem.i32[(this.mirror.slots >>> 2) + i] = -1;
  }

  keyOf(e: number): Uint8Array {
    return this.keys.slice(e * this.keySize, (e + 1) * this.keySize);
  }
}
