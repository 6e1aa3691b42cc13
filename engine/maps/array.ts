// array (2) and percpu_array (6): max_entries preallocated, zeroed values at fixed addresses, each
// value its own MapValue region. The key is a u32 index (host order).

import type { VmMemory } from '../memory.js';
import { OutOfVmMemory } from '../memory.js';
import { BPF_F_RDONLY_PROG, BPF_NOEXIST, type MapDef } from './types.js';
import { MapBase, type MapOptions } from './api.js';
import { MapError } from './errors.js';
import { ValueSlab } from './slab.js';

const E2BIG = 7;
const EEXIST = 17;
const EINVAL = 22;

export class ArrayMap extends MapBase {
  readonly percpu: boolean;
  private readonly slab: ValueSlab;
  private readonly stride: number;
  /** Address of value 0 (CPU 0); element i, CPU c at base + (i*per + c)*stride. */
  private readonly base: number;
  private readonly per: number;

  constructor(mem: VmMemory, def: MapDef, percpu: boolean, opts: MapOptions) {
    super(mem, def, opts);
    this.percpu = percpu;
    this.per = percpu ? this.cpus : 1;
    this.slab = new ValueSlab(mem, def.valueSize, (def.flags & BPF_F_RDONLY_PROG) === 0);
    this.stride = this.slab.stride;
    try {
      this.base = this.slab.allocBlock(def.maxEntries * this.per);
    } catch (e) {
      this.slab.freeAll();
      throw e instanceof OutOfVmMemory ? new MapError('ENOMEM', `map ${def.name}: ${e.message}`) : e;
    }
  }

  get count(): number {
    return this.def.maxEntries;
  }

  get memoryBytes(): number {
    return this.slab.bytes;
  }

  /** Address of element `index` for `cpu` (no bounds check on index). */
  valueAddress(index: number, cpu = 0): number {
    const c = this.percpu && cpu >= 0 && cpu < this.cpus ? cpu : 0;
    return this.base + (index * this.per + c) * this.stride;
  }

  /**
   * Direct value address for `lddw rX, mapval:NAME+off` (BPF_PSEUDO_MAP_VALUE): like Linux's
   * array_map_direct_value_addr, only for a single-element, non-percpu array and off < value size;
   * 0 otherwise.
   */
  valueAddr(offset: number): number {
    if (this.percpu || this.def.maxEntries !== 1 || !Number.isInteger(offset) || offset < 0 || offset >= this.def.valueSize) return 0;
    return this.base + offset;
  }

  lookupAddr(keyAddr: number, cpu: number): number {
    if (this.closed) return 0;
    const u8 = this.mem.u8;
    const idx = (u8[keyAddr] | (u8[keyAddr + 1] << 8) | (u8[keyAddr + 2] << 16) | (u8[keyAddr + 3] << 24)) >>> 0;
    if (idx >= this.def.maxEntries) return 0;
    return this.valueAddress(idx, cpu);
  }

  private checkUpdate(idx: number, flags: number): number {
    const bad = MapBase.flagsErrno(flags);
    if (bad !== 0) return -bad;
    if (idx >= this.def.maxEntries) return -E2BIG;
    if ((flags & 3) === BPF_NOEXIST) return -EEXIST;
    return 0;
  }

  updateAddr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number {
    if (this.closed) return -EINVAL;
    const idx = this.mem.dv.getUint32(keyAddr, true);
    const rc = this.checkUpdate(idx, flags);
    if (rc !== 0) return rc;
    const dst = this.valueAddress(idx, cpu);
    this.mem.u8.copyWithin(dst, valueAddr, valueAddr + this.def.valueSize);
    return 0;
  }

  deleteAddr(_keyAddr: number, _cpu: number): number {
    return -EINVAL;
  }

  private index(key: Uint8Array, write = false): number {
    if (write) this.checkWrite(key);
    else this.checkKey(key);
    return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
  }

  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined {
    const idx = this.index(key);
    if (idx >= this.def.maxEntries) return undefined;
    const vs = this.def.valueSize;
    const u8 = this.mem.u8;
    if (!this.percpu || cpu !== undefined) {
      const a = this.valueAddress(idx, cpu ?? 0);
      return u8.slice(a, a + vs);
    }
    const out = new Uint8Array(this.cpus * this.stride);
    for (let c = 0; c < this.cpus; c++) {
      const a = this.valueAddress(idx, c);
      out.set(u8.subarray(a, a + vs), c * this.stride);
    }
    return out;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const idx = this.index(key, true);
    const vs = this.def.valueSize;
    const full = this.cpus * this.stride;
    const okLen = this.percpu ? value.length === full || value.length === vs : value.length === vs;
    if (!okLen) {
      throw new MapError(
        'EINVAL',
        `map ${this.def.name}: value is ${value.length} bytes, expected ${this.percpu ? `${full} (or ${vs})` : vs}`,
      );
    }
    const rc = this.checkUpdate(idx, flags);
    this.throwIf(rc, `update of index ${idx}`);
    const u8 = this.mem.u8;
    if (!this.percpu) {
      u8.set(value, this.valueAddress(idx));
      return;
    }
    for (let c = 0; c < this.cpus; c++) {
      const src = value.length === full ? c * this.stride : 0;
      u8.set(value.subarray(src, src + vs), this.valueAddress(idx, c));
    }
  }

  delete(key: Uint8Array): void {
    this.index(key, true);
    throw new MapError('EINVAL', `map ${this.def.name}: array elements cannot be deleted`);
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | undefined {
    this.checkOpen();
    let next = 0;
    if (key !== undefined) {
      const idx = this.index(key);
      next = idx >= this.def.maxEntries ? 0 : idx + 1;
    }
    if (next >= this.def.maxEntries) return undefined;
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, next, true);
    return out;
  }

  protected freeMemory(): void {
    this.slab.freeAll();
  }
}
