// perf_event_array (4): u32 index → a perf event (PERF_COUNT_SW_BPF_OUTPUT) on one CPU, each with
// its own buffer of records. bpf_perf_event_output writes a PERF_RECORD_SAMPLE carrying
// PERF_SAMPLE_RAW; when a buffer is full the sample is lost and, as in the kernel, a
// PERF_RECORD_LOST record with the count is written once there is room again. A reader (like
// libbpf's perf_buffer) drains every buffer in CPU order.

import type { VmMemory } from '../memory.js';
import { BPF_ANY, type MapDef } from './types.js';
import { MapBase, type MapOptions } from './api.js';
import { MapError } from './errors.js';

export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;
export const BPF_F_CURRENT_CPU = 0xffffffff;
/** Default buffer: 8 pages, libbpf's usual per-CPU size in examples. */
export const PERF_DEFAULT_BUFFER_BYTES = 8 * 4096;

const E2BIG = 7;
const ENOENT = 2;
const EINVAL = 22;
const ENOSPC = 28;
const EOPNOTSUPP = 95;
/** perf_event_header + u64 id + u64 lost. */
const LOST_RECORD_BYTES = 24;

export type PerfRecord = { type: typeof PERF_RECORD_SAMPLE; data: Uint8Array } | { type: typeof PERF_RECORD_LOST; lost: number };

/** One perf event's ring: records waiting to be read, by bytes as the kernel accounts them. */
export class PerfBuffer {
  /** Waiting records from index `head` on (a queue without O(n) shifts). */
  private records: PerfRecord[] = [];
  private head = 0;
  used = 0;
  /** Samples lost since the last PERF_RECORD_LOST was written. */
  lostPending = 0;
  lostTotal = 0;
  constructor(
    readonly cpu: number,
    readonly capacity: number,
    readonly fd: number,
  ) {}

  /** Write one sample; false when it does not fit (counted as lost). */
  write(src: Uint8Array): boolean {
    // PERF_SAMPLE_RAW: u32 size then the data, padded so the record stays 8-byte aligned.
    const rawSize = ((4 + src.length + 7) & ~7) - 4;
    const bytes = 8 + 4 + rawSize;
    const need = bytes + (this.lostPending > 0 ? LOST_RECORD_BYTES : 0);
    if (this.used + need > this.capacity) {
      this.lostPending++;
      this.lostTotal++;
      return false;
    }
    if (this.lostPending > 0) {
      this.records.push({ type: PERF_RECORD_LOST, lost: this.lostPending });
      this.used += LOST_RECORD_BYTES;
      this.lostPending = 0;
    }
    const data = new Uint8Array(rawSize);
    data.set(src);
    this.records.push({ type: PERF_RECORD_SAMPLE, data });
    this.used += bytes;
    return true;
  }

  /** Records waiting to be read. */
  get waiting(): number {
    return this.records.length - this.head;
  }

  take(): PerfRecord | undefined {
    if (this.head >= this.records.length) return undefined;
    const r = this.records[this.head++];
    if (this.head === this.records.length) {
      this.records = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
    this.used -= r.type === PERF_RECORD_LOST ? LOST_RECORD_BYTES : 8 + 4 + r.data.length;
    return r;
  }
}

export class PerfEventArrayMap extends MapBase {
  private readonly slots: (PerfBuffer | undefined)[];
  /** Samples lost across all buffers. */
  drops = 0;

  constructor(mem: VmMemory, def: MapDef, opts: MapOptions) {
    super(mem, def, opts);
    this.slots = new Array<PerfBuffer | undefined>(def.maxEntries).fill(undefined);
  }

  get count(): number {
    return this.def.maxEntries;
  }

  get memoryBytes(): number {
    return 8;
  }

  /** Open a perf event for slot `index` on `cpu` (default: the slot's own number). */
  open(index: number, opts: { cpu?: number; bytes?: number; fd?: number } = {}): PerfBuffer {
    this.checkOpen();
    if (!Number.isInteger(index) || index < 0 || index >= this.def.maxEntries) {
      throw new MapError('E2BIG', `perf_event_array ${this.def.name}: index ${index} ≥ ${this.def.maxEntries}`);
    }
    const b = new PerfBuffer(opts.cpu ?? index, opts.bytes ?? PERF_DEFAULT_BUFFER_BYTES, opts.fd ?? index);
    this.slots[index] = b;
    return b;
  }

  /** Open one event per CPU, slot i on CPU i (what libbpf's perf_buffer__new does). */
  openAll(bytes = PERF_DEFAULT_BUFFER_BYTES): void {
    for (let i = 0; i < Math.min(this.cpus, this.def.maxEntries); i++) this.open(i, { bytes });
  }

  buffer(index: number): PerfBuffer | undefined {
    return this.slots[index];
  }

  /**
   * bpf_perf_event_output from a program on `cpu`: flags are the slot index (or BPF_F_CURRENT_CPU)
   * in the low 32 bits; any high bit is -EINVAL for tracing programs.
   */
  output(flagsLo: number, flagsHi: number, cpu: number, src: Uint8Array): number {
    if (this.closed || flagsHi !== 0) return -EINVAL;
    const index = flagsLo >>> 0 === BPF_F_CURRENT_CPU ? cpu : flagsLo >>> 0;
    if (index >= this.def.maxEntries) return -E2BIG;
    const b = this.slots[index];
    if (b === undefined) return -ENOENT;
    if (b.cpu !== cpu) return -EOPNOTSUPP;
    if (!b.write(src)) {
      this.drops++;
      return -ENOSPC;
    }
    return 0;
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

  lookup(_key: Uint8Array): Uint8Array | undefined {
    throw new MapError('EOPNOTSUPP', `perf_event_array ${this.def.name}: no lookup`);
  }

  /** Like setting a perf event fd: opens a buffer on the slot's CPU. */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const i = this.index(key, true);
    if (value.length !== 4) throw new MapError('EINVAL', `perf_event_array ${this.def.name}: value must be a 4-byte fd`);
    if (flags !== BPF_ANY) throw new MapError('EINVAL', `perf_event_array ${this.def.name}: flags must be BPF_ANY`);
    const fd = new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true);
    this.open(i, { fd });
  }

  delete(key: Uint8Array): void {
    const i = this.index(key, true);
    if (i >= this.def.maxEntries) throw new MapError('E2BIG', `perf_event_array ${this.def.name}: index ${i}`);
    if (this.slots[i] === undefined) throw new MapError('ENOENT', `perf_event_array ${this.def.name}: slot ${i} is empty`);
    this.slots[i] = undefined;
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
    this.slots.fill(undefined);
  }
}

/** Drains a perf_event_array's buffers, like libbpf's perf_buffer__consume. */
export class PerfEventReader {
  constructor(
    readonly map: PerfEventArrayMap,
    private readonly onSample: (cpu: number, data: Uint8Array) => void,
    private readonly onLost?: (cpu: number, count: number) => void,
  ) {}

  /** Read every waiting record; returns the number of samples delivered. */
  consume(): number {
    let n = 0;
    for (let i = 0; i < this.map.def.maxEntries; i++) {
      const b = this.map.buffer(i);
      if (b === undefined) continue;
      for (let r = b.take(); r !== undefined; r = b.take()) {
        if (r.type === PERF_RECORD_SAMPLE) {
          this.onSample(b.cpu, r.data);
          n++;
        } else this.onLost?.(b.cpu, r.lost);
      }
    }
    return n;
  }
}
