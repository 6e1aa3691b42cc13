// ringbuf (27), laid out as kernel/bpf/ringbuf.c lays out struct bpf_ringbuf, in the shared
// memory: page 0 is Kestrel's (unused), page 1 holds consumer_pos, page 2 producer_pos, and the
// data starts at page 3. The data area is allocated twice over (2 × size), standing in for the
// kernel's double mapping: a record that runs past the end stays contiguous, and every record is
// addressed as data + (pos & mask). Positions are monotonically increasing byte counters, kept
// exactly as JS numbers and written through to the shared memory as u64.
//
// Record: 8-byte header {u32 len (BUSY bit 31 while reserved, DISCARD bit 30); u32 pg_off}, then
// the sample; the record takes round_up(len + 8, 8) bytes. A reserved sample is a program region
// (kind RingbufRecord) of exactly its size until it is submitted or discarded.

import { RegionKind, type Allocation, type VmMemory } from '../memory.js';
import type { MapDef } from './types.js';
import { MapBase, type MapOptions } from './api.js';
import { MapError } from './errors.js';

export const BPF_RINGBUF_BUSY_BIT = 0x80000000;
export const BPF_RINGBUF_DISCARD_BIT = 0x40000000;
export const BPF_RINGBUF_HDR_SZ = 8;
export const BPF_RB_NO_WAKEUP = 1;
export const BPF_RB_FORCE_WAKEUP = 2;
export const BPF_RB_AVAIL_DATA = 0;
export const BPF_RB_RING_SIZE = 1;
export const BPF_RB_CONS_POS = 2;
export const BPF_RB_PROD_POS = 3;
/** Largest sample the kernel will reserve (RINGBUF_MAX_RECORD_SZ = UINT_MAX / 4). */
export const RINGBUF_MAX_RECORD_SZ = Math.floor(0xffffffff / 4);

const PAGE = 4096;
const PAGE_SHIFT = 12;
/** Page offset of data[] inside struct bpf_ringbuf. */
const DATA_PGOFF = 3;
const EINVAL = 22;
const EAGAIN = 11;
const ENOTSUPP = 524;

const LEN_MASK = ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT) >>> 0;

/** Rings by base address, per memory, so submit/discard can find a ring from a sample pointer. */
const RINGS = new WeakMap<VmMemory, Map<number, RingBufMap>>();

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 0x40000000;
}

export class RingBufMap extends MapBase {
  /** Data size in bytes (max_entries). */
  readonly size: number;
  readonly mask: number;
  /** Address of struct bpf_ringbuf (page-aligned). */
  readonly base: number;
  readonly consumerAddr: number;
  readonly producerAddr: number;
  /** Address of data[0]; 2 × size bytes follow. */
  readonly dataAddr: number;
  private readonly alloc: Allocation;
  private cons = 0;
  private prod = 0;
  /**
   * Outstanding reservations by header offset / 8: region id of the sample, -1 for a zero-length
   * sample, 0 when no reservation starts there. (A typed array: this is on every record's path.)
   */
  private readonly outstanding: Int32Array;
  private nPending = 0;
  /** Kestrel's own count of failed reservations (Linux keeps none). */
  drops = 0;
  /** Wake-ups delivered (the epoll notifications a libbpf consumer would get). */
  wakeups = 0;
  /** Called synchronously when the kernel would queue the wake-up irq_work. */
  onWakeup?: () => void;

  constructor(mem: VmMemory, def: MapDef, opts: MapOptions) {
    super(mem, def, opts);
    this.size = def.maxEntries;
    this.mask = this.size - 1;
    this.alloc = mem.alloc(DATA_PGOFF * PAGE + 2 * this.size, PAGE);
    this.base = this.alloc.addr;
    this.consumerAddr = this.base + PAGE;
    this.producerAddr = this.base + 2 * PAGE;
    this.dataAddr = this.base + DATA_PGOFF * PAGE;
    this.outstanding = new Int32Array(this.size >>> 3);
    let rings = RINGS.get(mem);
    if (rings === undefined) {
      rings = new Map();
      RINGS.set(mem, rings);
    }
    rings.set(this.base, this);
  }

  /** Checks Linux makes at BPF_MAP_CREATE (ringbuf_map_alloc). */
  static validate(def: MapDef): void {
    if (def.keySize !== 0 || def.valueSize !== 0) {
      throw new MapError('EINVAL', `ringbuf ${def.name}: key and value size must be 0`);
    }
    if (!isPowerOfTwo(def.maxEntries) || def.maxEntries % PAGE !== 0) {
      throw new MapError('EINVAL', `ringbuf ${def.name}: size ${def.maxEntries} is not a power of 2 and a multiple of ${PAGE}`);
    }
  }

  /** The ring a sample pointer belongs to, found through its header's pg_off as the kernel does. */
  static fromSample(mem: VmMemory, sampleAddr: number): RingBufMap | undefined {
    const hdr = sampleAddr - BPF_RINGBUF_HDR_SZ;
    if (hdr < 0 || hdr + 8 > mem.byteLength || hdr % 8 !== 0) return undefined;
    const pgOff = mem.u32[(hdr + 4) >>> 2];
    const base = Math.floor(hdr / PAGE) * PAGE - pgOff * PAGE;
    const ring = RINGS.get(mem)?.get(base);
    return ring !== undefined && ring.isOutstanding(sampleAddr) ? ring : undefined;
  }

  get consumerPos(): number {
    return this.cons;
  }

  /** Consumer side: advance consumer_pos (monotonic; never past the producer). */
  set consumerPos(pos: number) {
    if (pos < this.cons || pos > this.prod) throw new RangeError(`consumer position ${pos} outside [${this.cons}, ${this.prod}]`);
    this.cons = pos;
    this.writePos(this.consumerAddr, pos);
  }

  get producerPos(): number {
    return this.prod;
  }

  /** Reservations not yet submitted or discarded. */
  get pending(): number {
    return this.nPending;
  }

  private slotOf(sample: number): number {
    const off = sample - BPF_RINGBUF_HDR_SZ - this.dataAddr;
    return off >= 0 && off < this.size && (off & 7) === 0 ? off >>> 3 : -1;
  }

  /** Whether `sample` is a reserved, not yet released sample of this ring. */
  isOutstanding(sample: number): boolean {
    const slot = this.slotOf(sample);
    return slot >= 0 && this.outstanding[slot] !== 0;
  }

  get count(): number {
    return 0;
  }

  get memoryBytes(): number {
    return this.alloc.size;
  }

  private writePos(addr: number, pos: number): void {
    const u32 = this.mem.u32;
    u32[addr >>> 2] = pos >>> 0;
    u32[(addr + 4) >>> 2] = Math.floor(pos / 4294967296);
  }

  /** bpf_ringbuf_reserve: the sample's address, or 0 (counted as a drop) when there is no room. */
  reserve(size: number): number {
    if (this.closed || !Number.isInteger(size) || size < 0 || size > RINGBUF_MAX_RECORD_SZ) {
      this.drops++;
      return 0;
    }
    const len = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    const newProd = this.prod + len;
    // The producer never gets more than size-1 bytes ahead of the consumer.
    if (len > this.size || newProd - this.cons > this.mask) {
      this.drops++;
      return 0;
    }
    const hdr = this.dataAddr + (this.prod % this.size);
    const u32 = this.mem.u32;
    u32[hdr >>> 2] = (size | BPF_RINGBUF_BUSY_BIT) >>> 0;
    u32[(hdr + 4) >>> 2] = (hdr - this.base) >>> PAGE_SHIFT;
    this.prod = newProd;
    this.writePos(this.producerAddr, newProd);
    const sample = hdr + BPF_RINGBUF_HDR_SZ;
    const id = size > 0 ? this.mem.addRegion(sample, size, RegionKind.RingbufRecord, true) : -1;
    this.outstanding[(hdr - this.dataAddr) >>> 3] = id;
    this.nPending++;
    return sample;
  }

  /** bpf_ringbuf_submit. Returns false when `sample` is not an outstanding reservation of this ring. */
  submit(sample: number, flags = 0): boolean {
    return this.commit(sample, flags, false);
  }

  /** bpf_ringbuf_discard. */
  discard(sample: number, flags = 0): boolean {
    return this.commit(sample, flags, true);
  }

  private commit(sample: number, flags: number, discard: boolean): boolean {
    const slot = this.slotOf(sample);
    if (slot < 0) return false;
    const id = this.outstanding[slot];
    if (id === 0) return false;
    this.outstanding[slot] = 0;
    this.nPending--;
    if (id > 0) this.mem.removeRegion(id);
    const hdr = sample - BPF_RINGBUF_HDR_SZ;
    const u32 = this.mem.u32;
    const len = u32[hdr >>> 2];
    u32[hdr >>> 2] = ((len ^ BPF_RINGBUF_BUSY_BIT) | (discard ? BPF_RINGBUF_DISCARD_BIT : 0)) >>> 0;
    // Wake the consumer only if it has caught up to this record, unless told otherwise.
    const recPos = hdr - this.dataAddr;
    if ((flags & BPF_RB_FORCE_WAKEUP) !== 0) this.wake();
    else if ((flags & BPF_RB_NO_WAKEUP) === 0 && this.cons % this.size === recPos) this.wake();
    return true;
  }

  private wake(): void {
    this.wakeups++;
    this.onWakeup?.();
  }

  /** bpf_ringbuf_output from program memory: 0, -EINVAL (flags) or -EAGAIN (full). */
  output(srcAddr: number, size: number, flags = 0): number {
    if ((flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0) return -EINVAL;
    const rec = this.reserve(size);
    if (rec === 0) return -EAGAIN;
    this.mem.u8.copyWithin(rec, srcAddr, srcAddr + size);
    this.commit(rec, flags, false);
    return 0;
  }

  /** Producer convenience for JS callers and tests: output a byte buffer. */
  outputBytes(data: Uint8Array, flags = 0): number {
    if ((flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0) return -EINVAL;
    const rec = this.reserve(data.length);
    if (rec === 0) return -EAGAIN;
    this.mem.u8.set(data, rec);
    this.commit(rec, flags, false);
    return 0;
  }

  /** bpf_ringbuf_query. */
  query(flag: number): bigint {
    switch (flag) {
      case BPF_RB_AVAIL_DATA:
        return BigInt(this.prod - this.cons);
      case BPF_RB_RING_SIZE:
        return BigInt(this.size);
      case BPF_RB_CONS_POS:
        return BigInt(this.cons);
      case BPF_RB_PROD_POS:
        return BigInt(this.prod);
      default:
        return 0n;
    }
  }

  /**
   * Discard every outstanding reservation (an engine calls this after a run faulted, so a record
   * the program never released cannot block the consumer forever). Returns how many.
   */
  abortReservations(): number {
    const n = this.nPending;
    for (let slot = 0; slot < this.outstanding.length && this.nPending > 0; slot++) {
      if (this.outstanding[slot] !== 0) this.commit(this.dataAddr + slot * 8 + BPF_RINGBUF_HDR_SZ, BPF_RB_NO_WAKEUP, true);
    }
    return n;
  }

  // Programs never look up ring buffers (the verifier refuses) and userspace gets ENOTSUPP, as in Linux.
  lookupAddr(_keyAddr: number, _cpu: number): number {
    return 0;
  }
  updateAddr(_k: number, _v: number, _f: number, _c: number): number {
    return -ENOTSUPP;
  }
  deleteAddr(_k: number, _c: number): number {
    return -ENOTSUPP;
  }
  lookup(_key: Uint8Array): Uint8Array | undefined {
    throw new MapError('ENOTSUPP', `ringbuf ${this.def.name}: no lookup`);
  }
  update(_key: Uint8Array, _value: Uint8Array): void {
    throw new MapError('ENOTSUPP', `ringbuf ${this.def.name}: no update`);
  }
  delete(_key: Uint8Array): void {
    throw new MapError('ENOTSUPP', `ringbuf ${this.def.name}: no delete`);
  }
  nextKey(_key: Uint8Array | undefined): Uint8Array | undefined {
    throw new MapError('ENOTSUPP', `ringbuf ${this.def.name}: no keys`);
  }

  protected freeMemory(): void {
    for (let slot = 0; slot < this.outstanding.length; slot++) if (this.outstanding[slot] > 0) this.mem.removeRegion(this.outstanding[slot]);
    this.outstanding.fill(0);
    this.nPending = 0;
    RINGS.get(this.mem)?.delete(this.base);
    this.mem.free(this.alloc);
  }
}

/** Sample callback: a view of the sample (valid during the call only; copy to keep) and its length. */
export type RingBufSampleCb = (data: Uint8Array, len: number) => number | void;
/** Zero-copy callback: the memory's bytes, the sample's offset in them, and its length. */
export type RingBufRawCb = (u8: Uint8Array, offset: number, len: number) => number | void;

/** libbpf's ring_buffer consumer (ringbuf_process_ring) over one ring. */
export class RingBufConsumer {
  constructor(readonly map: RingBufMap) {}

  /** Bytes committed or reserved but not consumed (producer_pos - consumer_pos). */
  get available(): number {
    return this.map.producerPos - this.map.consumerPos;
  }

  /**
   * Consume records in order: stop at a BUSY record, skip DISCARDed ones, advance consumer_pos after
   * each. Returns the number of samples passed to `cb`, or the callback's negative return value
   * (the record that returned it counts as consumed). At most `max` samples.
   */
  consume(cb: RingBufSampleCb, max = Number.POSITIVE_INFINITY): number {
    return this.process(cb, undefined, max);
  }

  /** The same without allocating a view per record (hot consumers decode straight from memory). */
  consumeRaw(cb: RingBufRawCb, max = Number.POSITIVE_INFINITY): number {
    return this.process(undefined, cb, max);
  }

  private process(cb: RingBufSampleCb | undefined, raw: RingBufRawCb | undefined, max: number): number {
    const m = this.map;
    const mem = m.memory;
    const size = m.size;
    const data = m.dataAddr;
    let cons = m.consumerPos;
    let cnt = 0;
    if (max <= 0) return 0;
    let gotNew: boolean;
    do {
      gotNew = false;
      const prod = m.producerPos;
      while (cons < prod) {
        const hdr = data + (cons % size);
        const len = mem.u32[hdr >>> 2];
        if ((len & BPF_RINGBUF_BUSY_BIT) !== 0) return cnt;
        gotNew = true;
        const sampleLen = len & LEN_MASK;
        cons += (sampleLen + BPF_RINGBUF_HDR_SZ + 7) & ~7;
        if ((len & BPF_RINGBUF_DISCARD_BIT) === 0) {
          const start = hdr + BPF_RINGBUF_HDR_SZ;
          let rc: number | void;
          try {
            rc = raw !== undefined ? raw(mem.u8, start, sampleLen) : (cb as RingBufSampleCb)(mem.u8.subarray(start, start + sampleLen), sampleLen);
          } catch (e) {
            m.consumerPos = cons; // a throwing callback must not see the same record forever
            throw e;
          }
          if (typeof rc === 'number' && rc < 0) {
            m.consumerPos = cons;
            return rc;
          }
          cnt++;
        }
        m.consumerPos = cons;
        if (cnt >= max) return cnt;
      }
    } while (gotNew);
    return cnt;
  }
}
