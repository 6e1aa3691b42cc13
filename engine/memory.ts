// The engine's one linear address space (SPEC §2). Everything a program can address lives in a
// single WebAssembly.Memory that the interpreter, the maps, the ring-buffer consumer and the JIT
// share, so nothing is copied between the VM and the maps.
//
// Two layers:
//  - allocation: `alloc(size)` reserves address space (bump pointer plus exact-size free lists);
//  - regions: `addRegion(start, size, kind, writable)` makes bytes addressable by programs.
// A program access is valid only when it lies inside one live region (and the region is writable
// for stores). Region ownership is kept per 8-byte granule, so a check is two typed-array reads.
// Allocated bytes that are not inside a region (ring-buffer headers, exchange area) are reachable
// only by engine code, never by a program.

export const GRANULE_SHIFT = 3;
export const GRANULE = 1 << GRANULE_SHIFT;
export const WASM_PAGE = 65536;

/** Bytes below this are never handed out: address 0 is NULL and page 0 holds the exchange area. */
export const RESERVED_LOW = WASM_PAGE;

/**
 * Fixed exchange area in page 0 used by the helper-call ABI (interpreter and JIT alike):
 * r1..r5 as 5 little-endian u64 at HELPER_ARGS, r0 result at HELPER_RET.
 * No region covers it, so programs cannot touch it.
 */
export const HELPER_ARGS = 0x100;
export const HELPER_RET = 0x100 + 5 * 8;

export enum RegionKind {
  Stack = 1,
  Context = 2,
  MapValue = 3,
  MapKey = 4,
  RingbufRecord = 5,
  Packet = 6,
  Scratch = 7,
  ReadOnlyData = 8,
}

export const REGION_KIND_NAMES: Record<number, string> = {
  1: 'stack',
  2: 'context',
  3: 'map value',
  4: 'map key',
  5: 'ring-buffer record',
  6: 'packet',
  7: 'scratch',
  8: 'read-only data',
};

export interface Allocation {
  readonly addr: number;
  readonly size: number;
}

export interface MemoryOptions {
  /** Initial size in bytes (rounded up to 64 KiB pages). Default 16 MiB. */
  initialBytes?: number;
  /** Maximum size in bytes. Default 1 GiB. */
  maximumBytes?: number;
}

export class OutOfVmMemory extends Error {
  constructor(requested: number) {
    super(`engine memory exhausted (requested ${requested} bytes)`);
    this.name = 'OutOfVmMemory';
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export class VmMemory {
  readonly memory: WebAssembly.Memory;
  /** Views over memory.buffer; replaced when the memory grows (check `generation`). */
  u8!: Uint8Array;
  i32!: Int32Array;
  u32!: Uint32Array;
  dv!: DataView;
  /** Bumped every time the buffer is replaced, so cached views can be refreshed. */
  generation = 0;

  /** owner[addr >>> GRANULE_SHIFT] = region id (0: no region). */
  owner!: Int32Array;
  /** Per region id: start, end (exclusive), flags (bit 0 writable, bits 8.. kind). */
  regionStart = new Float64Array(1024);
  regionEnd = new Float64Array(1024);
  regionFlags = new Int32Array(1024);
  private nextRegionId = 1;
  private freeRegionIds: number[] = [];
  private liveRegions = 0;

  private bump = RESERVED_LOW;
  private readonly freeBySize = new Map<number, number[]>();
  private readonly maximumBytes: number;

  constructor(opts: MemoryOptions = {}) {
    const initial = Math.max(roundUp(opts.initialBytes ?? 16 * 1024 * 1024, WASM_PAGE), 2 * WASM_PAGE);
    this.maximumBytes = roundUp(opts.maximumBytes ?? 1024 * 1024 * 1024, WASM_PAGE);
    this.memory = new WebAssembly.Memory({
      initial: initial / WASM_PAGE,
      maximum: this.maximumBytes / WASM_PAGE,
    });
    this.owner = new Int32Array(initial >>> GRANULE_SHIFT);
    this.refreshViews();
  }

  /** Current size in bytes (cached: reading memory.buffer costs a property walk on hot paths). */
  byteLength = 0;

  get regionCount(): number {
    return this.liveRegions;
  }

  private refreshViews(): void {
    const buf = this.memory.buffer;
    this.byteLength = buf.byteLength;
    this.u8 = new Uint8Array(buf);
    this.i32 = new Int32Array(buf);
    this.u32 = new Uint32Array(buf);
    this.dv = new DataView(buf);
    if (this.owner.length < buf.byteLength >>> GRANULE_SHIFT) {
      const next = new Int32Array(buf.byteLength >>> GRANULE_SHIFT);
      next.set(this.owner);
      this.owner = next;
    }
    this.generation++;
  }

  private ensure(end: number): void {
    const have = this.byteLength;
    if (end <= have) return;
    if (end > this.maximumBytes) throw new OutOfVmMemory(end - have);
    // Grow geometrically so repeated small allocations do not grow page by page.
    const want = Math.min(this.maximumBytes, Math.max(roundUp(end, WASM_PAGE), have * 2));
    this.memory.grow((want - have) / WASM_PAGE);
    this.refreshViews();
  }

  /** Reserve `size` bytes of zeroed address space, aligned to `align` (a power of two ≥ 8). */
  alloc(size: number, align = GRANULE): Allocation {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`bad allocation size ${size}`);
    const rounded = roundUp(Math.max(size, 1), GRANULE);
    const a = Math.max(align, GRANULE);
    if (a === GRANULE) {
      const reused = this.takeFree(rounded);
      if (reused !== undefined) {
        this.u8.fill(0, reused, reused + rounded);
        return { addr: reused, size: rounded };
      }
    }
    const addr = roundUp(this.bump, a);
    this.ensure(addr + rounded);
    this.bump = addr + rounded;
    return { addr, size: rounded };
  }

  /**
   * A freed block of exactly `size` bytes, else the smallest larger one split in two (the rest
   * stays free), so maps of varied sizes created and closed in turn reuse their space.
   */
  private takeFree(size: number): number | undefined {
    const exact = this.freeBySize.get(size);
    if (exact !== undefined && exact.length > 0) return exact.pop();
    let best = Infinity;
    for (const [sz, list] of this.freeBySize) if (sz > size && sz < best && list.length > 0) best = sz;
    if (best === Infinity) return undefined;
    const addr = (this.freeBySize.get(best) as number[]).pop() as number;
    this.pushFree(addr + size, best - size);
    return addr;
  }

  private pushFree(addr: number, size: number): void {
    let list = this.freeBySize.get(size);
    if (list === undefined) {
      list = [];
      this.freeBySize.set(size, list);
    }
    list.push(addr);
  }

  /** Return an allocation; any region inside it must have been removed first. */
  free(a: Allocation): void {
    this.pushFree(a.addr, a.size);
  }

  /**
   * Make [start, start+size) addressable by programs. `start` must be granule-aligned and the
   * granules must not belong to another region. Returns the region id.
   */
  addRegion(start: number, size: number, kind: RegionKind, writable: boolean): number {
    if (start % GRANULE !== 0) throw new RangeError(`region start ${start} not ${GRANULE}-aligned`);
    if (start < RESERVED_LOW || start + size > this.byteLength || size <= 0) {
      throw new RangeError(`region [${start}, ${start + size}) outside allocatable memory`);
    }
    const id = this.freeRegionIds.length > 0 ? (this.freeRegionIds.pop() as number) : this.nextRegionId++;
    if (id >= this.regionStart.length) {
      const n = this.regionStart.length * 2;
      const s = new Float64Array(n);
      s.set(this.regionStart);
      this.regionStart = s;
      const e = new Float64Array(n);
      e.set(this.regionEnd);
      this.regionEnd = e;
      const f = new Int32Array(n);
      f.set(this.regionFlags);
      this.regionFlags = f;
    }
    const g0 = start >>> GRANULE_SHIFT;
    const g1 = (start + size + GRANULE - 1) >>> GRANULE_SHIFT;
    // Check, then claim with one fill: ring-buffer records (a region per reservation, up to a
    // few KiB each) made the per-granule loop a large share of a match's cost.
    const owner = this.owner;
    for (let g = g0; g < g1; g++) {
      if (owner[g] !== 0) {
        this.freeRegionIds.push(id);
        throw new RangeError(`region [${start}, ${start + size}) overlaps region ${owner[g]}`);
      }
    }
    owner.fill(id, g0, g1);
    this.regionStart[id] = start;
    this.regionEnd[id] = start + size;
    this.regionFlags[id] = (writable ? 1 : 0) | (kind << 8);
    this.liveRegions++;
    return id;
  }

  removeRegion(id: number): void {
    const start = this.regionStart[id];
    const end = this.regionEnd[id];
    if (end === 0) return;
    const g0 = start >>> GRANULE_SHIFT;
    const g1 = (end + GRANULE - 1) >>> GRANULE_SHIFT;
    this.owner.fill(0, g0, g1);
    this.regionStart[id] = 0;
    this.regionEnd[id] = 0;
    this.regionFlags[id] = 0;
    this.freeRegionIds.push(id);
    this.liveRegions--;
  }

  /** Region id holding `addr`, or 0. */
  regionAt(addr: number): number {
    if (addr < 0 || addr >= this.byteLength) return 0;
    return this.owner[addr >>> GRANULE_SHIFT];
  }

  regionKind(id: number): RegionKind {
    return (this.regionFlags[id] >>> 8) as RegionKind;
  }

  /**
   * Whether a program may access [addr, addr+size). `addr` is the low 32 bits of the pointer;
   * callers must already have rejected pointers whose high 32 bits are non-zero.
   */
  canAccess(addr: number, size: number, write: boolean): boolean {
    if (addr < RESERVED_LOW || addr + size > this.owner.length << GRANULE_SHIFT) return false;
    const id = this.owner[addr >>> GRANULE_SHIFT];
    if (id === 0 || addr + size > this.regionEnd[id]) return false;
    return !write || (this.regionFlags[id] & 1) === 1;
  }

  /** Describe an address for fault messages. */
  describe(addr: number): string {
    const id = this.regionAt(addr);
    if (id === 0) return `0x${addr.toString(16)} (no region)`;
    const start = this.regionStart[id];
    return `0x${addr.toString(16)} (${REGION_KIND_NAMES[this.regionKind(id)] ?? 'region'} +${addr - start} of ${
      this.regionEnd[id] - start
    })`;
  }
}
