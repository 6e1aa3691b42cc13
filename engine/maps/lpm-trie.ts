// lpm_trie (11): key {u32 prefixlen (host order); u8 data[key_size-4] (network order)}, lookup by
// longest matching prefix. A binary trie over the key bits (most significant bit of data[0]
// first) kept in typed arrays; node n at depth d stands for the d-bit prefix of its path, and
// holds an element when that prefix was inserted. Values live in the shared memory like the hash
// map's (allocated in blocks, since Linux requires BPF_F_NO_PREALLOC here), each its own region.

import type { VmMemory } from '../memory.js';
import { OutOfVmMemory } from '../memory.js';
import { BPF_EXIST, BPF_F_RDONLY_PROG, BPF_NOEXIST, type MapDef } from './types.js';
import { MapBase, type MapOptions } from './api.js';
import { MapError } from './errors.js';
import { ValueSlab } from './slab.js';

const ENOENT = 2;
const ENOMEM = 12;
const EEXIST = 17;
const EINVAL = 22;
const ENOSPC = 28;
const BLOCK = 64;

export class LpmTrieMap extends MapBase {
  readonly maxPrefix: number;
  private readonly dataSize: number;
  private child0 = new Int32Array(64);
  private child1 = new Int32Array(64);
  private nodeElem = new Int32Array(64).fill(-1);
  private nodes = 1; // node 0 is the root (prefix length 0)
  private readonly slab: ValueSlab;
  private readonly valueAddr: Uint32Array;
  /** Stored key bytes of element e at e*keySize; node of element e. */
  private readonly keyBytes: Uint8Array;
  private readonly elemNode: Int32Array;
  private readonly freeStack: Int32Array;
  private freeTop = 0;
  private nextFresh = 0;
  private nLive = 0;

  constructor(mem: VmMemory, def: MapDef, opts: MapOptions) {
    super(mem, def, opts);
    this.dataSize = def.keySize - 4;
    this.maxPrefix = 8 * this.dataSize;
    this.slab = new ValueSlab(mem, def.valueSize, (def.flags & BPF_F_RDONLY_PROG) === 0);
    this.valueAddr = new Uint32Array(def.maxEntries);
    this.keyBytes = new Uint8Array(def.maxEntries * def.keySize);
    this.elemNode = new Int32Array(def.maxEntries).fill(-1);
    this.freeStack = new Int32Array(def.maxEntries);
  }

  get count(): number {
    return this.nLive;
  }

  get memoryBytes(): number {
    return this.slab.bytes;
  }

  private growNodes(): void {
    const n = this.child0.length * 2;
    const c0 = new Int32Array(n);
    c0.set(this.child0);
    const c1 = new Int32Array(n);
    c1.set(this.child1);
    const el = new Int32Array(n).fill(-1);
    el.set(this.nodeElem);
    this.child0 = c0;
    this.child1 = c1;
    this.nodeElem = el;
  }

  private static prefixLen(buf: Uint8Array, off: number): number {
    return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
  }

  /** Node for exactly the `plen`-bit prefix of the key's data, or -1 (creating it when asked). */
  private nodeFor(buf: Uint8Array, off: number, plen: number, create: boolean): number {
    let n = 0;
    const data = off + 4;
    for (let i = 0; i < plen; i++) {
      const bit = (buf[data + (i >>> 3)] >>> (7 - (i & 7))) & 1;
      const kids = bit === 0 ? this.child0 : this.child1;
      let c = kids[n];
      if (c === 0) {
        if (!create) return -1;
        if (this.nodes >= this.child0.length) this.growNodes();
        c = this.nodes++;
        (bit === 0 ? this.child0 : this.child1)[n] = c;
      }
      n = c;
    }
    return n;
  }

  /**
   * Where the walk stood after the first 12 key bytes of the last long lookup (IPv4-mapped
   * IPv6 addresses, ::ffff:a.b.c.d, all share them): those bytes, the node (-1: the walk ended
   * there, with `best`) and the best element so far. Any change to the trie clears it.
   */
  private readonly headKey = new Int32Array(3);
  private headNode = -2;
  private headBest = -1;

  /** Longest-prefix match: element or -1. The key's own prefixlen bounds the match. */
  private match(buf: Uint8Array, off: number): number {
    const plen = Math.min(LpmTrieMap.prefixLen(buf, off), this.maxPrefix);
    const data = off + 4;
    const c0 = this.child0;
    const c1 = this.child1;
    const el = this.nodeElem;
    let best = el[0];
    let n = 0;
    let i = 0;
    if (plen >= 96) {
      const w0 = buf[data] | (buf[data + 1] << 8) | (buf[data + 2] << 16) | (buf[data + 3] << 24);
      const w1 = buf[data + 4] | (buf[data + 5] << 8) | (buf[data + 6] << 16) | (buf[data + 7] << 24);
      const w2 = buf[data + 8] | (buf[data + 9] << 8) | (buf[data + 10] << 16) | (buf[data + 11] << 24);
      const h = this.headKey;
      if (this.headNode !== -2 && h[0] === w0 && h[1] === w1 && h[2] === w2) {
        if (this.headNode === -1) return this.headBest;
        n = this.headNode;
        best = this.headBest;
        i = 96;
      } else {
        // Walk the head, remember where it ended.
        for (; i < 96; i += 8) {
          const byte = buf[data + (i >>> 3)];
          for (let b = 0; b < 8; b++) {
            n = ((byte >>> (7 - b)) & 1) === 0 ? c0[n] : c1[n];
            if (n === 0) break;
            if (el[n] >= 0) best = el[n];
          }
          if (n === 0) break;
        }
        h[0] = w0;
        h[1] = w1;
        h[2] = w2;
        this.headNode = n === 0 ? -1 : n;
        this.headBest = best;
        if (n === 0) return best;
      }
    }
    // A byte at a time: one memory read per 8 bits of walk.
    for (; i < plen; i += 8) {
      const byte = buf[data + (i >>> 3)];
      const stop = Math.min(8, plen - i);
      for (let b = 0; b < stop; b++) {
        n = ((byte >>> (7 - b)) & 1) === 0 ? c0[n] : c1[n];
        if (n === 0) return best;
        if (el[n] >= 0) best = el[n];
      }
    }
    return best;
  }

  private takeElem(): number {
    if (this.freeTop > 0) return this.freeStack[--this.freeTop];
    if (this.nextFresh >= this.def.maxEntries) return -1;
    const e = this.nextFresh;
    if (this.valueAddr[e] === 0) {
      const n = Math.min(BLOCK, this.def.maxEntries - e);
      try {
        const base = this.slab.allocBlock(n);
        for (let k = 0; k < n; k++) this.valueAddr[e + k] = base + k * this.slab.stride;
      } catch (err) {
        if (err instanceof OutOfVmMemory) return -2;
        throw err;
      }
    }
    this.nextFresh++;
    return e;
  }

  /** Element for the key (created if allowed by flags) or a negative errno. */
  private upsert(keyBuf: Uint8Array, off: number, flags: number, fromMem: boolean): number {
    let buf = keyBuf;
    if (!Number.isInteger(flags) || flags < 0 || flags > BPF_EXIST) return -EINVAL;
    const plen = LpmTrieMap.prefixLen(buf, off);
    if (plen > this.maxPrefix) return -EINVAL;
    const existing = this.nodeFor(buf, off, plen, false);
    const have = existing >= 0 ? this.nodeElem[existing] : -1;
    if (have >= 0) {
      if (flags === BPF_NOEXIST) return -EEXIST;
      return have;
    }
    if (flags === BPF_EXIST) return -ENOENT;
    if (this.nLive >= this.def.maxEntries) return -ENOSPC;
    const e = this.takeElem();
    if (e === -1) return -ENOSPC;
    if (e === -2) return -ENOMEM;
    // Allocating values may have grown the memory, detaching the old views.
    if (fromMem) buf = this.mem.u8;
    const node = this.nodeFor(buf, off, plen, true);
    this.nodeElem[node] = e;
    this.headNode = -2;
    this.elemNode[e] = node;
    this.keyBytes.set(buf.subarray(off, off + this.def.keySize), e * this.def.keySize);
    this.nLive++;
    return e;
  }

  private findExact(buf: Uint8Array, off: number): number {
    const plen = LpmTrieMap.prefixLen(buf, off);
    if (plen > this.maxPrefix) return -1;
    const n = this.nodeFor(buf, off, plen, false);
    return n >= 0 ? this.nodeElem[n] : -1;
  }

  private removeElem(e: number): void {
    this.headNode = -2;
    this.nodeElem[this.elemNode[e]] = -1;
    this.elemNode[e] = -1;
    this.freeStack[this.freeTop++] = e;
    this.nLive--;
  }

  lookupAddr(keyAddr: number, _cpu: number): number {
    if (this.closed) return 0;
    const e = this.match(this.mem.u8, keyAddr);
    return e >= 0 ? this.valueAddr[e] : 0;
  }

  updateAddr(keyAddr: number, valueAddr: number, flags: number, _cpu: number): number {
    if (this.closed) return -EINVAL;
    const e = this.upsert(this.mem.u8, keyAddr, flags, true);
    if (e < 0) return e;
    this.mem.u8.copyWithin(this.valueAddr[e], valueAddr, valueAddr + this.def.valueSize);
    return 0;
  }

  deleteAddr(keyAddr: number, _cpu: number): number {
    if (this.closed) return -EINVAL;
    const e = this.findExact(this.mem.u8, keyAddr);
    if (e < 0) return -ENOENT;
    this.removeElem(e);
    return 0;
  }

  /** Longest-prefix lookup, as a program's bpf_map_lookup_elem does. */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    const e = this.match(key, 0);
    if (e < 0) return undefined;
    return this.mem.u8.slice(this.valueAddr[e], this.valueAddr[e] + this.def.valueSize);
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.checkWrite(key);
    if (value.length !== this.def.valueSize) {
      throw new MapError('EINVAL', `map ${this.def.name}: value is ${value.length} bytes, expected ${this.def.valueSize}`);
    }
    const e = this.upsert(key, 0, flags, false);
    this.throwIf(e, 'update');
    this.mem.u8.set(value, this.valueAddr[e]);
  }

  delete(key: Uint8Array): void {
    this.checkWrite(key);
    const e = this.findExact(key, 0);
    if (e < 0) throw new MapError('ENOENT', `map ${this.def.name}: no such prefix`);
    this.removeElem(e);
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | undefined {
    this.checkOpen();
    let from = 0;
    if (key !== undefined) {
      this.checkKey(key);
      const e = this.findExact(key, 0);
      if (e >= 0) from = e + 1;
    }
    const ks = this.def.keySize;
    for (let e = from; e < this.nextFresh; e++) if (this.elemNode[e] >= 0) return this.keyBytes.slice(e * ks, (e + 1) * ks);
    return undefined;
  }

  protected freeMemory(): void {
    this.slab.freeAll();
  }
}
