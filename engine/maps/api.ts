// The libbpf-style userspace API every map offers, and the base class that gives each map type a
// handle, argument checks, iteration and batch operations on top of a few primitives.

import { HANDLE_BYTES } from './inline-lookup.js';
import type { VmMemory, Allocation } from '../memory.js';
import type { BpfMap } from '../runtime.js';
import { BPF_EXIST, BPF_F_LOCK, type MapDef } from './types.js';
import { MapError } from './errors.js';

export interface BatchResult {
  keys: Uint8Array[];
  values: Uint8Array[];
  /** Pass back to continue after the last returned key; undefined when the map is exhausted. */
  cursor: Uint8Array | undefined;
}

/** libbpf-style userspace access: byte buffers in and out, errors thrown as MapError. */
export interface MapUserApi {
  /** percpu maps: all CPUs' values concatenated (each rounded up to 8 bytes) unless `cpu` is given. */
  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined;
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  delete(key: Uint8Array): void;
  /** Like BPF_MAP_GET_NEXT_KEY: undefined or an unknown key gives the first key; undefined at the end. */
  nextKey(key: Uint8Array | undefined): Uint8Array | undefined;
  keys(): IterableIterator<Uint8Array>;
  entries(): IterableIterator<[Uint8Array, Uint8Array]>;
  /** Up to `count` entries after `cursor` (undefined: from the start). */
  lookupBatch(cursor: Uint8Array | undefined, count: number): BatchResult;
  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], flags?: number): void;
  deleteBatch(keys: readonly Uint8Array[]): void;
  /** Lookup then delete (BPF_MAP_LOOKUP_AND_DELETE_ELEM). */
  lookupAndDelete(key: Uint8Array): Uint8Array | undefined;
  /** Live elements (arrays: max entries; ring buffers: 0). */
  readonly count: number;
  /** Bytes of shared memory this map holds. */
  readonly memoryBytes: number;
  readonly closed: boolean;
  /** BPF_MAP_FREEZE: later userspace updates and deletes fail with EPERM (programs unaffected). */
  freeze?(): void;
  readonly frozen?: boolean;
  /** Frees its memory and regions; further userspace calls throw EINVAL. */
  close(): void;
}

export interface MapOptions {
  /** Simulated CPUs (percpu maps). Default 1. */
  cpus?: number;
  /** Called once by close() (the VM uses it to forget the map). */
  onClose?: (map: BpfMap & MapUserApi) => void;
}

export abstract class MapBase implements BpfMap, MapUserApi {
  readonly handle: number;
  readonly cpus: number;
  private readonly handleAlloc: Allocation;
  private readonly onClose: ((map: BpfMap & MapUserApi) => void) | undefined;
  closed = false;
  frozen = false;
  /** Set by maps that publish an inline-lookup descriptor at their handle. */
  protected handlePinned = false;

  constructor(
    protected readonly mem: VmMemory,
    readonly def: MapDef,
    opts: MapOptions,
  ) {
    this.cpus = opts.cpus ?? 1;
    this.onClose = opts.onClose;
    // A unique address with no region behind it: what `lddw rX, map` loads. It holds the
    // descriptor of inline-lookup.ts (all zero: none).
    this.handleAlloc = mem.alloc(HANDLE_BYTES);
    this.handle = this.handleAlloc.addr;
    mem.u8.fill(0, this.handle, this.handle + HANDLE_BYTES);
  }

  abstract lookupAddr(keyAddr: number, cpu: number): number;
  abstract updateAddr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  abstract deleteAddr(keyAddr: number, cpu: number): number;

  abstract lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined;
  abstract update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  abstract delete(key: Uint8Array): void;
  abstract nextKey(key: Uint8Array | undefined): Uint8Array | undefined;
  abstract get count(): number;
  abstract get memoryBytes(): number;
  /** Release everything the map holds in the shared memory. */
  protected abstract freeMemory(): void;

  /** The shared memory the map lives in. */
  get memory(): VmMemory {
    return this.mem;
  }

  *keys(): IterableIterator<Uint8Array> {
    let k = this.nextKey(undefined);
    while (k !== undefined) {
      yield k;
      k = this.nextKey(k);
    }
  }

  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  lookupBatch(cursor: Uint8Array | undefined, count: number): BatchResult {
    this.checkOpen();
    if (!Number.isInteger(count) || count <= 0) throw new MapError('EINVAL', `batch count ${count}`);
    const keys: Uint8Array[] = [];
    const values: Uint8Array[] = [];
    let k = this.nextKey(cursor);
    while (k !== undefined && keys.length < count) {
      const v = this.lookup(k);
      if (v !== undefined) {
        keys.push(k);
        values.push(v);
      }
      k = this.nextKey(k);
    }
    // k is the next key still to return, so the last returned key is where to resume.
    return { keys, values, cursor: k === undefined || keys.length === 0 ? undefined : keys[keys.length - 1] };
  }

  updateBatch(keys: readonly Uint8Array[], values: readonly Uint8Array[], flags = 0): void {
    if (keys.length !== values.length) throw new MapError('EINVAL', 'keys and values differ in length');
    for (let i = 0; i < keys.length; i++) this.update(keys[i], values[i], flags);
  }

  deleteBatch(keys: readonly Uint8Array[]): void {
    for (const k of keys) this.delete(k);
  }

  lookupAndDelete(key: Uint8Array): Uint8Array | undefined {
    const v = this.lookup(key);
    if (v !== undefined) this.delete(key);
    return v;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mem.u8.fill(0, this.handle, this.handle + HANDLE_BYTES);
    this.freeMemory();
    // A handle that published a descriptor stays reserved: compiled code may still read it.
    if (!this.handlePinned) this.mem.free(this.handleAlloc);
    this.onClose?.(this);
  }

  freeze(): void {
    this.checkOpen();
    this.frozen = true;
  }

  /** For userspace update/delete: the map must be open, not frozen, and the key the right size. */
  protected checkWrite(key: Uint8Array): void {
    this.checkKey(key);
    if (this.frozen) throw new MapError('EPERM', `map ${this.def.name} is frozen`);
  }

  protected checkOpen(): void {
    if (this.closed) throw new MapError('EINVAL', `map ${this.def.name} is closed`);
  }

  protected checkKey(key: Uint8Array): void {
    this.checkOpen();
    if (key.length !== this.def.keySize) {
      throw new MapError('EINVAL', `map ${this.def.name}: key is ${key.length} bytes, expected ${this.def.keySize}`);
    }
  }

  /** Update flags as Linux checks them: only ANY/NOEXIST/EXIST; F_LOCK needs a spin lock we never have. */
  protected static flagsErrno(flags: number): number {
    if (!Number.isInteger(flags) || flags < 0 || (flags & ~BPF_F_LOCK) > BPF_EXIST) return 22;
    if ((flags & BPF_F_LOCK) !== 0) return 22;
    return 0;
  }

  /** Throw a MapError for a negative errno from a shared primitive. */
  protected throwIf(rc: number, what: string): void {
    if (rc < 0) throw MapError.fromErrno(rc, `map ${this.def.name}: ${what}`);
  }
}
