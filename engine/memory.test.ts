import { describe, expect, it } from 'vitest';
import { RESERVED_LOW, RegionKind, VmMemory } from './memory.js';

describe('VmMemory', () => {
  it('never hands out page 0 and keeps NULL invalid', () => {
    const m = new VmMemory({ initialBytes: 1 << 20 });
    const a = m.alloc(16);
    expect(a.addr).toBeGreaterThanOrEqual(RESERVED_LOW);
    expect(m.canAccess(0, 1, false)).toBe(false);
    expect(m.canAccess(8, 8, false)).toBe(false);
  });

  it('checks accesses against exactly one region, its size and its write flag', () => {
    const m = new VmMemory({ initialBytes: 1 << 20 });
    const a = m.alloc(24);
    const b = m.alloc(16);
    const ra = m.addRegion(a.addr, 12, RegionKind.MapValue, true);
    m.addRegion(b.addr, 16, RegionKind.Context, false);
    expect(m.canAccess(a.addr, 12, true)).toBe(true);
    expect(m.canAccess(a.addr + 8, 4, false)).toBe(true);
    // one byte past the 12-byte value: refused even though the allocation is 24 bytes
    expect(m.canAccess(a.addr + 8, 8, false)).toBe(false);
    expect(m.canAccess(b.addr, 8, false)).toBe(true);
    expect(m.canAccess(b.addr, 8, true)).toBe(false);
    expect(m.regionKind(ra)).toBe(RegionKind.MapValue);
    expect(m.describe(a.addr + 4)).toMatch(/map value \+4 of 12/);
    m.removeRegion(ra);
    expect(m.canAccess(a.addr, 1, false)).toBe(false);
  });

  it('refuses overlapping and misaligned regions', () => {
    const m = new VmMemory({ initialBytes: 1 << 20 });
    const a = m.alloc(32);
    m.addRegion(a.addr, 16, RegionKind.Stack, true);
    expect(() => m.addRegion(a.addr + 8, 16, RegionKind.Stack, true)).toThrow(/overlaps/);
    expect(() => m.addRegion(a.addr + 20, 4, RegionKind.Stack, true)).toThrow(/aligned/);
    // the failed attempt left nothing behind
    expect(m.canAccess(a.addr + 16, 8, false)).toBe(false);
  });

  it('reuses freed space, splitting a larger block, and zeroes it', () => {
    const m = new VmMemory({ initialBytes: 1 << 20 });
    const big = m.alloc(64);
    m.u8.fill(0xaa, big.addr, big.addr + 64);
    m.free(big);
    const small = m.alloc(24);
    expect(small.addr).toBe(big.addr);
    expect([...m.u8.subarray(small.addr, small.addr + 24)].every((x) => x === 0)).toBe(true);
    const rest = m.alloc(40);
    expect(rest.addr).toBe(big.addr + 24);
  });

  it('grows, keeps addresses and refreshes its views', () => {
    const m = new VmMemory({ initialBytes: 1 << 17, maximumBytes: 1 << 24 });
    const gen = m.generation;
    const a = m.alloc(8);
    m.addRegion(a.addr, 8, RegionKind.MapValue, true);
    m.u8[a.addr] = 7;
    const big = m.alloc(1 << 20);
    expect(m.generation).toBeGreaterThan(gen);
    expect(m.byteLength).toBe(m.memory.buffer.byteLength);
    expect(m.u8[a.addr]).toBe(7);
    m.addRegion(big.addr, 1 << 20, RegionKind.Scratch, true);
    expect(m.canAccess(big.addr + (1 << 20) - 8, 8, true)).toBe(true);
    expect(() => m.alloc(1 << 25)).toThrow(/exhausted/);
  });
});
