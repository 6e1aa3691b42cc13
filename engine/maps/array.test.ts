import { describe, expect, it } from 'vitest';
import { VmMemory, RegionKind } from '../memory.js';
import { createMap, MapError } from './index.js';
import { BPF_EXIST, BPF_F_NO_PREALLOC, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_NOEXIST } from './types.js';

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof MapError) return e.code;
    throw e;
  }
  return undefined;
}
function onStack(mem: VmMemory, bytes: Uint8Array): number {
  const a = mem.alloc(8);
  mem.addRegion(a.addr, 8, RegionKind.Stack, true);
  mem.u8.set(bytes, a.addr);
  return a.addr;
}

describe('array map', () => {
  it('has every slot zeroed, NULL/E2BIG beyond max, EEXIST for NOEXIST, EINVAL on delete', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { name: 'a', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 12, maxEntries: 4, flags: 0 });
    expect(m.lookup(u32(3))).toEqual(new Uint8Array(12));
    expect(m.lookup(u32(4))).toBeUndefined();
    expect(m.lookupAddr(onStack(mem, u32(4)), 0)).toBe(0);
    expect(m.lookupAddr(onStack(mem, u32(0xffffffff)), 0)).toBe(0);
    expect(codeOf(() => m.update(u32(4), new Uint8Array(12)))).toBe('E2BIG');
    expect(codeOf(() => m.update(u32(1), new Uint8Array(12), BPF_NOEXIST))).toBe('EEXIST');
    m.update(u32(1), new Uint8Array(12).fill(7), BPF_EXIST);
    expect(m.lookup(u32(1))?.[11]).toBe(7);
    expect(codeOf(() => m.delete(u32(1)))).toBe('EINVAL');
    expect(m.deleteAddr(onStack(mem, u32(1)), 0)).toBe(-22);
    expect(m.updateAddr(onStack(mem, u32(9)), onStack(mem, u32(0)), 0, 0)).toBe(-7);
    // Each value is its own region: 12 bytes readable, the 13th is not.
    const a = m.lookupAddr(onStack(mem, u32(1)), 0);
    expect(mem.canAccess(a, 12, true)).toBe(true);
    expect(mem.canAccess(a + 8, 8, false)).toBe(false);
    expect(m.lookupAddr(onStack(mem, u32(2)), 0) - a).toBe(16);
  });

  it('iterates 0..max-1; nextKey past the end restarts at 0', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { name: 'a', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 3, flags: 0 });
    expect([...m.keys()].map((k) => k[0])).toEqual([0, 1, 2]);
    expect(m.nextKey(u32(2))).toBeUndefined();
    expect(m.nextKey(u32(100))?.[0]).toBe(0);
    expect(m.count).toBe(3);
  });

  it('rejects bad definitions', () => {
    const mem = new VmMemory();
    const d = { name: 'a', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 3, flags: 0 };
    expect(codeOf(() => createMap(mem, { ...d, keySize: 8 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...d, maxEntries: 0 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...d, flags: BPF_F_NO_PREALLOC }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...d, type: BPF_MAP_TYPE_PERCPU_ARRAY, valueSize: 40000 }))).toBe('E2BIG');
  });
});

describe('percpu array', () => {
  it('gives each CPU its own copy', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { name: 'pa', type: BPF_MAP_TYPE_PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, flags: 0 }, { cpus: 4 });
    const k = onStack(mem, u32(1));
    for (let c = 0; c < 4; c++) mem.dv.setBigUint64(m.lookupAddr(k, c), BigInt(c + 1) * 10n, true);
    const all = m.lookup(u32(1)) as Uint8Array;
    expect(all.length).toBe(32);
    const dv = new DataView(all.buffer);
    expect([0, 1, 2, 3].map((c) => dv.getBigUint64(c * 8, true))).toEqual([10n, 20n, 30n, 40n]);
    expect(new DataView((m.lookup(u32(1), 2) as Uint8Array).buffer).getBigUint64(0, true)).toBe(30n);
    // One value for all CPUs is accepted as a convenience.
    m.update(u32(0), new Uint8Array(8).fill(1));
    expect(mem.u8[m.lookupAddr(onStack(mem, u32(0)), 3)]).toBe(1);
    expect(codeOf(() => m.update(u32(0), new Uint8Array(9)))).toBe('EINVAL');
  });
});

describe('freeze', () => {
  it('makes userspace updates and deletes fail with EPERM but leaves programs alone', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { name: '.rodata', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 });
    m.update(u32(0), u32(7));
    m.freeze?.();
    expect(m.frozen).toBe(true);
    expect(codeOf(() => m.update(u32(0), u32(8)))).toBe('EPERM');
    expect(m.lookup(u32(0))).toEqual(u32(7));
    expect(m.updateAddr(onStack(mem, u32(0)), onStack(mem, u32(9)), 0, 0)).toBe(0);
    expect(m.lookup(u32(0))).toEqual(u32(9));
  });
});
