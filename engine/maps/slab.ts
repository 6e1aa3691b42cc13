// Value storage for maps: blocks of equally sized values in the shared memory, each value its own
// program region (kind MapValue), so an access can never run from one element into the next.
// Regions live as long as the map: a program may keep using a looked-up pointer after the element
// was deleted (Linux's preallocated elements stay mapped too), so removing them early would make
// a verified program fault.

import { RegionKind, type Allocation, type VmMemory } from '../memory.js';

export function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

export class ValueSlab {
  readonly stride: number;
  private readonly allocs: Allocation[] = [];
  private readonly regions: Int32Array[] = [];
  bytes = 0;

  constructor(
    private readonly mem: VmMemory,
    readonly valueSize: number,
    private readonly writable: boolean,
  ) {
    this.stride = roundUp8(valueSize);
  }

  /** Allocate `n` zeroed values; returns the address of the first (value i at base + i*stride). */
  allocBlock(n: number): number {
    const a = this.mem.alloc(n * this.stride);
    this.allocs.push(a);
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = this.mem.addRegion(a.addr + i * this.stride, this.valueSize, RegionKind.MapValue, this.writable);
    }
    this.regions.push(ids);
    this.bytes += a.size;
    return a.addr;
  }

  freeAll(): void {
    for (const ids of this.regions) for (let i = 0; i < ids.length; i++) this.mem.removeRegion(ids[i]);
    for (const a of this.allocs) this.mem.free(a);
    this.regions.length = 0;
    this.allocs.length = 0;
    this.bytes = 0;
  }
}
