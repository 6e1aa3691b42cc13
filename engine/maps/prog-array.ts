// prog_array (3): u32 index → program, for tail calls. The engines read slots with getProg;
// userspace fills them with setProg (or update() with an fd, through `progByFd`). Programs cannot
// look the map up (the verifier refuses), so the program-side primitives only fail.

import type { VmMemory } from '../memory.js';
import { BPF_ANY, type MapDef } from './types.js';
import { MapBase, type MapOptions } from './api.js';
import { MapError } from './errors.js';

const EINVAL = 22;

export class ProgArrayMap<P = unknown> extends MapBase {
  private readonly progs: (P | undefined)[];
  /** The number userspace lookups return for each slot (the fd or id it was set with). */
  private readonly ids: Uint32Array;
  /** Resolves the fd passed to update(); without it update() fails with EINVAL. */
  progByFd?: (fd: number) => P | undefined;

  constructor(mem: VmMemory, def: MapDef, opts: MapOptions) {
    super(mem, def, opts);
    this.progs = new Array<P | undefined>(def.maxEntries).fill(undefined);
    this.ids = new Uint32Array(def.maxEntries);
  }

  get count(): number {
    return this.def.maxEntries;
  }

  get memoryBytes(): number {
    return 8;
  }

  setProg(index: number, prog: P | undefined, id = index): void {
    this.checkOpen();
    if (!Number.isInteger(index) || index < 0 || index >= this.def.maxEntries) {
      throw new MapError('E2BIG', `prog_array ${this.def.name}: index ${index} ≥ ${this.def.maxEntries}`);
    }
    this.progs[index] = prog;
    this.ids[index] = prog === undefined ? 0 : id >>> 0;
  }

  /** The program in slot `index`, or undefined (empty, out of range, or closed). */
  getProg(index: number): P | undefined {
    if (this.closed || index < 0 || index >= this.def.maxEntries) return undefined;
    return this.progs[index];
  }

  lookupAddr(_keyAddr: number, _cpu: number): number {
    return 0;
  }
  updateAddr(_k: number, _v: number, _f: number, _c: number): number {
    return -EINVAL;
  }
  deleteAddr(_k: number, _c: number): number {
    return -EINVAL;
  }

  private index(key: Uint8Array, write = false): number {
    if (write) this.checkWrite(key);
    else this.checkKey(key);
    return (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) >>> 0;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const i = this.index(key);
    if (i >= this.def.maxEntries || this.progs[i] === undefined) return undefined;
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.ids[i], true);
    return out;
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const i = this.index(key, true);
    if (value.length !== 4) throw new MapError('EINVAL', `prog_array ${this.def.name}: value must be a 4-byte fd`);
    if (flags !== BPF_ANY) throw new MapError('EINVAL', `prog_array ${this.def.name}: flags must be BPF_ANY`);
    if (i >= this.def.maxEntries) throw new MapError('E2BIG', `prog_array ${this.def.name}: index ${i}`);
    const fd = new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true);
    const prog = this.progByFd?.(fd);
    if (prog === undefined) throw new MapError('EINVAL', `prog_array ${this.def.name}: no program for fd ${fd}`);
    this.progs[i] = prog;
    this.ids[i] = fd;
  }

  delete(key: Uint8Array): void {
    const i = this.index(key, true);
    if (i >= this.def.maxEntries) throw new MapError('E2BIG', `prog_array ${this.def.name}: index ${i}`);
    if (this.progs[i] === undefined) throw new MapError('ENOENT', `prog_array ${this.def.name}: slot ${i} is empty`);
    this.progs[i] = undefined;
    this.ids[i] = 0;
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | undefined {
    this.checkOpen();
    let next = 0;
    if (key !== undefined) {
      const i = this.index(key);
      next = i >= this.def.maxEntries ? 0 : i + 1;
    }
    if (next >= this.def.maxEntries) return undefined;
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, next, true);
    return out;
  }

  protected freeMemory(): void {
    this.progs.fill(undefined);
  }
}
