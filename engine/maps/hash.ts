// hash (1), percpu_hash (5), lru_hash (9), lru_percpu_hash (10).
// Elements are numbered 0..max-1. Element e's value (one per CPU for percpu maps) sits at a fixed
// address in the shared memory, each its own MapValue region, so a looked-up pointer stays valid.
// Preallocated like Linux's default; with BPF_F_NO_PREALLOC values are allocated in blocks as the
// map fills (addresses are still stable). The LRU variant keeps an exact recency list: program
// lookups and all updates make an element most recent; userspace lookups do not (as in Linux,
// whose syscall lookup does not set the reference bit). The list lives in the shared memory, so
// that compiled programs can move a hit to the front without calling out (inline-lookup.ts).

import type { Allocation, VmMemory } from '../memory.js';
import { DESC, INLINE_HASH_MAGIC, INLINE_LRU_MAGIC } from './inline-lookup.js';
import { OutOfVmMemory } from '../memory.js';
import { BPF_EXIST, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_NOEXIST, type MapDef } from './types.js';
import { MapBase, type MapOptions } from './api.js';
import { MapError } from './errors.js';
import { HashIndex } from './hash-table.js';
import { ValueSlab } from './slab.js';

const ENOENT = 2;
const E2BIG = 7;
const ENOMEM = 12;
const EEXIST = 17;

/** Values allocated per block when the map is not preallocated. */
const LAZY_BLOCK = 64;

export interface HashKind {
  percpu: boolean;
  lru: boolean;
}

export class HashMap extends MapBase {
  readonly percpu: boolean;
  readonly lru: boolean;
  private readonly index: HashIndex;
  private readonly slab: ValueSlab;
  private readonly stride: number;
  private readonly valueAddr: Uint32Array;
  private readonly live: Uint8Array;
  private readonly freeStack: Int32Array;
  private freeTop = 0;
  private nextFresh = 0;
  private nLive = 0;
  private readonly preallocated: boolean;
  // LRU list, in the shared memory as i32 words: [head, tail, prev(0), next(0), prev(1), ...];
  // head = most recently used, tail = least, -1 = none. lruBase: index of the head word.
  private lruBase = 0;
  private lruAlloc: Allocation | undefined;
  /** Set by upsert: the element is new, so every CPU's copy must be initialised. */
  private created = false;
  /** Plain hash maps with word-sized keys: value addresses mirrored for inline lookups. */
  private valuesMirror = 0;
  private readonly mirrorAllocs: Allocation[] = [];

  constructor(mem: VmMemory, def: MapDef, kind: HashKind, opts: MapOptions) {
    super(mem, def, opts);
    this.percpu = kind.percpu;
    this.lru = kind.lru;
    const max = def.maxEntries;
    this.index = new HashIndex(def.keySize, max);
    this.slab = new ValueSlab(mem, def.valueSize, (def.flags & BPF_F_RDONLY_PROG) === 0);
    this.stride = this.slab.stride;
    this.valueAddr = new Uint32Array(max);
    this.live = new Uint8Array(max);
    this.freeStack = new Int32Array(max);
    this.preallocated = (def.flags & BPF_F_NO_PREALLOC) === 0;
    if (this.lru) {
      try {
        this.lruAlloc = mem.alloc(8 + 8 * max);
      } catch (e) {
        throw e instanceof OutOfVmMemory ? new MapError('ENOMEM', `map ${def.name}: ${e.message}`) : e;
      }
      this.lruBase = this.lruAlloc.addr >>> 2;
      mem.i32[this.lruBase] = -1;
      mem.i32[this.lruBase + 1] = -1;
    }
    if (!this.percpu && def.keySize > 0 && (def.keySize & 3) === 0) this.publishDescriptor();
    if (this.preallocated) {
      try {
        this.allocValues(0, max);
      } catch (e) {
        this.freeMemory();
        throw e instanceof OutOfVmMemory ? new MapError('ENOMEM', `map ${def.name}: ${e.message}`) : e;
      }
    }
  }

  get count(): number {
    return this.nLive;
  }

  get memoryBytes(): number {
    return this.slab.bytes;
  }

  private allocValues(first: number, n: number): void {
    const per = this.percpu ? this.cpus : 1;
    const base = this.slab.allocBlock(n * per);
    for (let k = 0; k < n; k++) this.valueAddr[first + k] = base + k * per * this.stride;
    if (this.valuesMirror !== 0) this.mem.u32.set(this.valueAddr.subarray(first, first + n), (this.valuesMirror >>> 2) + first);
  }

  /** Mirror the index and the value addresses into the shared memory and describe them at the handle. */
  private publishDescriptor(): void {
    const mem = this.mem;
    const m = this.index.mirrorInto(mem);
    const v = mem.alloc(this.valueAddr.byteLength);
    mem.u32.set(this.valueAddr, v.addr >>> 2);
    this.valuesMirror = v.addr;
    this.mirrorAllocs.push(...m.allocs, v);
    const d = this.handle >>> 2;
    const u32 = mem.u32;
    u32[d + DESC.keySize / 4] = this.def.keySize;
    u32[d + DESC.mask / 4] = this.index.mask;
    u32[d + DESC.slots / 4] = m.slots;
    u32[d + DESC.hashes / 4] = m.hashes;
    u32[d + DESC.keyWords / 4] = m.keyWords;
    u32[d + DESC.values / 4] = v.addr;
    u32[d + DESC.lru / 4] = this.lru ? this.lruBase << 2 : 0;
    u32[d + DESC.valueSize / 4] = this.def.valueSize;
    u32[d + DESC.magic / 4] = this.lru ? INLINE_LRU_MAGIC : INLINE_HASH_MAGIC;
    this.handlePinned = true;
  }

  /** A free element number, or -1 (map full or out of memory). */
  private takeElem(): number {
    if (this.freeTop > 0) return this.freeStack[--this.freeTop];
    if (this.nextFresh >= this.def.maxEntries) return -1;
    const e = this.nextFresh;
    if (this.valueAddr[e] === 0) {
      try {
        this.allocValues(e, Math.min(LAZY_BLOCK, this.def.maxEntries - e));
      } catch (err) {
        if (err instanceof OutOfVmMemory) return -2;
        throw err;
      }
    }
    this.nextFresh++;
    return e;
  }

  private cpuAddr(e: number, cpu: number): number {
    if (!this.percpu) return this.valueAddr[e];
    return this.valueAddr[e] + (cpu >= 0 && cpu < this.cpus ? cpu : 0) * this.stride;
  }

  // ---- LRU list (in the shared memory: see lruBase) ----
  private get head(): number {
    return this.mem.i32[this.lruBase];
  }

  private get tail(): number {
    return this.mem.i32[this.lruBase + 1];
  }

  private unlink(e: number): void {
    const m = this.mem.i32;
    const b = this.lruBase;
    const p = m[b + 2 + 2 * e];
    const n = m[b + 3 + 2 * e];
    if (p >= 0) m[b + 3 + 2 * p] = n;
    else m[b] = n;
    if (n >= 0) m[b + 2 + 2 * n] = p;
    else m[b + 1] = p;
  }

  private pushFront(e: number): void {
    const m = this.mem.i32;
    const b = this.lruBase;
    const h = m[b];
    m[b + 2 + 2 * e] = -1;
    m[b + 3 + 2 * e] = h;
    if (h >= 0) m[b + 2 + 2 * h] = e;
    m[b] = e;
    if (m[b + 1] < 0) m[b + 1] = e;
  }

  private touch(e: number): void {
    if (this.head === e) return;
    this.unlink(e);
    this.pushFront(e);
  }

  private removeElem(e: number): void {
    this.index.remove(e);
    if (this.lru) this.unlink(e);
    this.live[e] = 0;
    this.freeStack[this.freeTop++] = e;
    this.nLive--;
  }

  /**
   * Find or create the element for the key at buf[off..]. Returns the element number or a
   * negative errno. `created` tells the caller to initialise every CPU's value.
   */
  private upsert(keyBuf: Uint8Array, off: number, flags: number, fromMem: boolean): number {
    let buf = keyBuf;
    const bad = MapBase.flagsErrno(flags);
    if (bad !== 0) return -bad;
    const e = this.index.find(buf, off);
    const f = flags & 3;
    if (e >= 0) {
      if (f === BPF_NOEXIST) return -EEXIST;
      if (this.lru) this.touch(e);
      this.created = false;
      return e;
    }
    if (f === BPF_EXIST) return -ENOENT;
    if (this.nLive >= this.def.maxEntries) {
      if (!this.lru) return -E2BIG;
      this.removeElem(this.tail);
    }
    const n = this.takeElem();
    if (n === -1) return -E2BIG;
    if (n === -2) return -ENOMEM;
    // Allocating values may have grown the memory, detaching the old views.
    if (fromMem) buf = this.mem.u8;
    this.index.insert(n, buf, off);
    this.live[n] = 1;
    this.nLive++;
    if (this.lru) this.pushFront(n);
    this.created = true;
    return n;
  }

  // ---- program side ----
  lookupAddr(keyAddr: number, cpu: number): number {
    if (this.closed) return 0;
    const e = this.index.find(this.mem.u8, keyAddr);
    if (e < 0) return 0;
    if (this.lru) this.touch(e); // a no-op for the head
    return this.cpuAddr(e, cpu);
  }

  updateAddr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (this.closed) return -22;
    const e = this.upsert(this.mem.u8, keyAddr, flags, true);
    if (e < 0) return e;
    const u8 = this.mem.u8;
    const vs = this.def.valueSize;
    if (this.percpu && this.created) u8.fill(0, this.valueAddr[e], this.valueAddr[e] + this.cpus * this.stride);
    const dst = this.cpuAddr(e, cpu);
    u8.copyWithin(dst, valueAddr, valueAddr + vs);
    return 0;
  }

  deleteAddr(keyAddr: number, _cpu: number): number {
    if (this.closed) return -22;
    const e = this.index.find(this.mem.u8, keyAddr);
    if (e < 0) return -ENOENT;
    this.removeElem(e);
    return 0;
  }

  // ---- userspace ----
  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined {
    this.checkKey(key);
    const e = this.index.find(key, 0);
    if (e < 0) return undefined;
    return this.readValue(e, cpu);
  }

  private readValue(e: number, cpu: number | undefined): Uint8Array {
    const u8 = this.mem.u8;
    const vs = this.def.valueSize;
    if (!this.percpu || cpu !== undefined) {
      const a = this.cpuAddr(e, cpu ?? 0);
      return u8.slice(a, a + vs);
    }
    const out = new Uint8Array(this.cpus * this.stride);
    for (let c = 0; c < this.cpus; c++) {
      const a = this.valueAddr[e] + c * this.stride;
      out.set(u8.subarray(a, a + vs), c * this.stride);
    }
    return out;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.checkWrite(key);
    const vs = this.def.valueSize;
    const full = this.cpus * this.stride;
    const okLen = this.percpu ? value.length === full || value.length === vs : value.length === vs;
    if (!okLen) {
      throw new MapError(
        'EINVAL',
        `map ${this.def.name}: value is ${value.length} bytes, expected ${this.percpu ? `${full} (or ${vs})` : vs}`,
      );
    }
    const e = this.upsert(key, 0, flags, false);
    this.throwIf(e, 'update');
    const u8 = this.mem.u8;
    if (!this.percpu) {
      u8.set(value, this.valueAddr[e]);
      return;
    }
    // percpu: one value per CPU (each 8-byte aligned), or one value for all CPUs.
    for (let c = 0; c < this.cpus; c++) {
      const src = value.length === full ? c * this.stride : 0;
      u8.set(value.subarray(src, src + vs), this.valueAddr[e] + c * this.stride);
    }
  }

  delete(key: Uint8Array): void {
    this.checkWrite(key);
    const e = this.index.find(key, 0);
    if (e < 0) throw new MapError('ENOENT', `map ${this.def.name}: no such key`);
    this.removeElem(e);
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | undefined {
    this.checkOpen();
    let from = 0;
    if (key !== undefined) {
      this.checkKey(key);
      const e = this.index.find(key, 0);
      if (e >= 0) from = e + 1;
    }
    for (let e = from; e < this.nextFresh; e++) if (this.live[e] === 1) return this.index.keyOf(e);
    return undefined;
  }

  /** Element count in LRU order, most recent first (tests and diagnostics). */
  lruKeys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let e = this.head; e >= 0; e = this.mem.i32[this.lruBase + 3 + 2 * e]) out.push(this.index.keyOf(e));
    return out;
  }

  protected freeMemory(): void {
    this.slab.freeAll();
    for (const a of this.mirrorAllocs) this.mem.free(a);
    this.mirrorAllocs.length = 0;
    if (this.lruAlloc !== undefined) this.mem.free(this.lruAlloc);
    this.lruAlloc = undefined;
  }
}
