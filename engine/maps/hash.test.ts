import { describe, expect, it } from 'vitest';
import { VmMemory, RegionKind } from '../memory.js';
import { createMap, HashMap, MapError } from './index.js';
import {
  BPF_ANY,
  BPF_EXIST,
  BPF_F_LOCK,
  BPF_F_NO_COMMON_LRU,
  BPF_F_NO_PREALLOC,
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_NOEXIST,
  type MapDef,
} from './types.js';

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint): Uint8Array => new Uint8Array(new BigUint64Array([n]).buffer);
const readU32 = (b: Uint8Array | undefined): number | undefined => (b === undefined ? undefined : new DataView(b.buffer, b.byteOffset).getUint32(0, true));

function def(type: number, maxEntries: number, extra: Partial<MapDef> = {}): MapDef {
  return { name: 'm', type, keySize: 4, valueSize: 8, maxEntries, flags: 0, ...extra };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof MapError) return e.code;
    throw e;
  }
  return undefined;
}

/** Put bytes in a program-readable region (as if on the stack) and return the address. */
function onStack(mem: VmMemory, bytes: Uint8Array): number {
  const a = mem.alloc(Math.max(bytes.length, 8));
  mem.addRegion(a.addr, Math.max(bytes.length, 1), RegionKind.Stack, true);
  mem.u8.set(bytes, a.addr);
  return a.addr;
}

describe('hash map', () => {
  it('gives E2BIG when full, EEXIST for NOEXIST on a present key, ENOENT for EXIST/delete of a missing key', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_HASH, 2));
    m.update(u32(1), u64(10n));
    m.update(u32(2), u64(20n), BPF_NOEXIST);
    expect(codeOf(() => m.update(u32(3), u64(30n)))).toBe('E2BIG');
    // Replacing an existing key in a full map works.
    m.update(u32(2), u64(21n), BPF_EXIST);
    expect(readU32(m.lookup(u32(2)))).toBe(21);
    expect(codeOf(() => m.update(u32(1), u64(0n), BPF_NOEXIST))).toBe('EEXIST');
    expect(codeOf(() => m.update(u32(9), u64(0n), BPF_EXIST))).toBe('ENOENT');
    expect(codeOf(() => m.delete(u32(9)))).toBe('ENOENT');
    expect(codeOf(() => m.update(u32(1), u64(0n), 3))).toBe('EINVAL');
    expect(codeOf(() => m.update(u32(1), u64(0n), BPF_F_LOCK))).toBe('EINVAL');
    m.delete(u32(1));
    expect(m.lookup(u32(1))).toBeUndefined();
    m.update(u32(3), u64(30n), BPF_ANY);
    expect(m.count).toBe(2);
    const e = (() => {
      try {
        m.update(u32(4), u64(1n));
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(MapError);
    expect((e as MapError).errno).toBe(7);
  });

  it('serves program-side lookups from key bytes in memory, with stable value addresses in MapValue regions', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_HASH, 16));
    m.update(u32(7), u64(70n));
    const k = onStack(mem, u32(7));
    const addr = m.lookupAddr(k, 0);
    expect(addr).toBeGreaterThan(0);
    expect(mem.regionKind(mem.regionAt(addr))).toBe(RegionKind.MapValue);
    expect(mem.canAccess(addr, 8, true)).toBe(true);
    expect(mem.canAccess(addr, 9, false)).toBe(false);
    // Writing through the pointer is seen by userspace.
    mem.dv.setUint32(addr, 1234, true);
    expect(readU32(m.lookup(u32(7)))).toBe(1234);
    // Updating keeps the address.
    m.update(u32(7), u64(5n));
    expect(m.lookupAddr(k, 0)).toBe(addr);
    // Missing key → NULL.
    expect(m.lookupAddr(onStack(mem, u32(8)), 0)).toBe(0);
    // Program-side update and delete return negative errnos.
    const v = onStack(mem, u64(99n));
    expect(m.updateAddr(onStack(mem, u32(8)), v, BPF_EXIST, 0)).toBe(-2);
    expect(m.updateAddr(k, v, BPF_NOEXIST, 0)).toBe(-17);
    expect(m.updateAddr(k, v, BPF_ANY, 0)).toBe(0);
    expect(readU32(m.lookup(u32(7)))).toBe(99);
    expect(m.deleteAddr(k, 0)).toBe(0);
    expect(m.deleteAddr(k, 0)).toBe(-2);
  });

  it('makes values read-only for programs with BPF_F_RDONLY_PROG', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_HASH, 4, { flags: BPF_F_RDONLY_PROG }));
    m.update(u32(1), u64(1n));
    const a = m.lookupAddr(onStack(mem, u32(1)), 0);
    expect(mem.canAccess(a, 8, false)).toBe(true);
    expect(mem.canAccess(a, 8, true)).toBe(false);
  });

  it('iterates with nextKey, batches, and lookupAndDelete', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_HASH, 64));
    for (let i = 0; i < 10; i++) m.update(u32(i * 3), u64(BigInt(i)));
    const keys = [...m.keys()].map(readU32).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(keys).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
    expect(m.nextKey(u32(1000))).toEqual(m.nextKey(undefined)); // unknown key → first
    const seen: number[] = [];
    let cursor: Uint8Array | undefined;
    let rounds = 0;
    do {
      const r = m.lookupBatch(cursor, 4);
      for (const k of r.keys) seen.push(readU32(k) ?? -1);
      expect(r.values.length).toBe(r.keys.length);
      cursor = r.cursor;
      rounds++;
    } while (cursor !== undefined);
    expect(rounds).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual(keys);
    expect(readU32(m.lookupAndDelete(u32(3)))).toBe(1);
    expect(m.lookup(u32(3))).toBeUndefined();
    const entries = [...m.entries()];
    expect(entries.length).toBe(9);
  });

  it('checks definitions like BPF_MAP_CREATE', () => {
    const mem = new VmMemory();
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_HASH, 0)))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_HASH, 4, { keySize: 0 })))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_HASH, 4, { keySize: 513 })))).toBe('E2BIG');
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_HASH, 4, { flags: BPF_F_NO_COMMON_LRU })))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_LRU_HASH, 4, { flags: BPF_F_NO_PREALLOC })))).toBe('ENOTSUPP');
    expect(codeOf(() => createMap(mem, def(99, 4)))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_HASH, 4)).update(u32(1), new Uint8Array(3)))).toBe('EINVAL');
    const small = new VmMemory({ initialBytes: 1 << 20, maximumBytes: 1 << 20 });
    expect(codeOf(() => createMap(small, def(BPF_MAP_TYPE_HASH, 1 << 20, { valueSize: 64 })))).toBe('ENOMEM');
  });

  it('allocates lazily with BPF_F_NO_PREALLOC and keeps addresses stable as it grows', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_HASH, 1000, { flags: BPF_F_NO_PREALLOC }));
    expect(m.memoryBytes).toBe(0);
    m.update(u32(1), u64(1n));
    const a1 = m.lookupAddr(onStack(mem, u32(1)), 0);
    for (let i = 2; i <= 1000; i++) m.update(u32(i), u64(BigInt(i)));
    expect(codeOf(() => m.update(u32(1001), u64(0n)))).toBe('E2BIG');
    expect(m.lookupAddr(onStack(mem, u32(1)), 0)).toBe(a1);
    expect(readU32(m.lookup(u32(777)))).toBe(777);
  });

  it('frees its memory and regions on close', () => {
    const mem = new VmMemory();
    const before = mem.regionCount;
    const m = createMap(mem, def(BPF_MAP_TYPE_HASH, 32));
    expect(mem.regionCount).toBe(before + 32);
    m.close();
    expect(mem.regionCount).toBe(before);
    expect(m.lookupAddr(onStack(mem, u32(1)), 0)).toBe(0);
    expect(codeOf(() => m.lookup(u32(1)))).toBe('EINVAL');
  });
});

describe('percpu hash', () => {
  it('keeps one value per CPU: programs see their CPU, userspace all CPUs rounded to 8 bytes', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_PERCPU_HASH, 8, { valueSize: 4 }), { cpus: 3 });
    const k = onStack(mem, u32(5));
    const v = onStack(mem, u32(11));
    expect(m.updateAddr(k, v, BPF_ANY, 1)).toBe(0);
    const all = m.lookup(u32(5));
    expect(all?.length).toBe(24);
    const dv = new DataView((all as Uint8Array).buffer);
    expect([dv.getUint32(0, true), dv.getUint32(8, true), dv.getUint32(16, true)]).toEqual([0, 11, 0]);
    expect(readU32(m.lookup(u32(5), 1))).toBe(11);
    const a0 = m.lookupAddr(k, 0);
    const a2 = m.lookupAddr(k, 2);
    expect(a2 - a0).toBe(16);
    expect(mem.regionAt(a0)).not.toBe(mem.regionAt(m.lookupAddr(k, 1)));
    // Userspace writes all CPUs at once.
    const buf = new Uint8Array(24);
    new DataView(buf.buffer).setUint32(16, 77, true);
    m.update(u32(5), buf);
    expect(mem.dv.getUint32(a2, true)).toBe(77);
    expect(mem.dv.getUint32(a0, true)).toBe(0);
    // A recycled element starts with zeros on the other CPUs.
    m.delete(u32(5));
    expect(m.updateAddr(k, v, BPF_ANY, 0)).toBe(0);
    expect(mem.dv.getUint32(m.lookupAddr(k, 2), true)).toBe(0);
  });
});

describe('LRU hash', () => {
  it('evicts the least recently used element; program lookups refresh it', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_LRU_HASH, 3)) as HashMap;
    m.update(u32(1), u64(1n));
    m.update(u32(2), u64(2n));
    m.update(u32(3), u64(3n));
    expect(m.lookupAddr(onStack(mem, u32(1)), 0)).toBeGreaterThan(0); // 1 becomes most recent
    m.update(u32(4), u64(4n)); // evicts 2
    expect(m.lookup(u32(2))).toBeUndefined();
    expect(m.lruKeys().map(readU32)).toEqual([4, 1, 3]);
    m.update(u32(3), u64(33n)); // update refreshes 3
    m.update(u32(5), u64(5n)); // evicts 1
    expect(m.lookup(u32(1))).toBeUndefined();
    expect([...m.keys()].map(readU32).sort()).toEqual([3, 4, 5]);
    expect(m.count).toBe(3);
    // NOEXIST on a present key still fails instead of evicting.
    expect(codeOf(() => m.update(u32(5), u64(0n), BPF_NOEXIST))).toBe('EEXIST');
  });

  it('three inserts into a 2-entry map all succeed (as measured on Linux)', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(BPF_MAP_TYPE_LRU_HASH, 2));
    for (let i = 0; i < 3; i++) m.update(u32(i), u64(BigInt(i)));
    expect(m.count).toBe(2);
    expect(m.lookup(u32(0))).toBeUndefined();
  });
});

describe('hash index key sizes', () => {
  it('finds keys of 4, 8 and other sizes whatever their bytes', () => {
    for (const ks of [1, 3, 4, 5, 8, 12, 16, 64]) {
      const mem = new VmMemory({ initialBytes: 1 << 20 });
      const m = createMap(mem, { name: 'k', type: BPF_MAP_TYPE_HASH, keySize: ks, valueSize: 4, maxEntries: 300, flags: 0 });
      const key = (i: number): Uint8Array => Uint8Array.from({ length: ks }, (_, j) => (i * 131 + j * 7 + (i >> 8) * 13) & 0xff);
      const seen = new Set<string>();
      for (let i = 0; i < 300; i++) {
        const k = key(i);
        if (seen.has(k.join())) continue;
        seen.add(k.join());
        m.update(k, u32(i));
      }
      for (let i = 0; i < 300; i++) {
        const got = m.lookup(key(i));
        expect(got, `ks=${ks} i=${i}`).toBeDefined();
        const addr = onStack(mem, key(i));
        expect(m.lookupAddr(addr, 0)).toBeGreaterThan(0);
      }
      const absent = new Uint8Array(ks).fill(0xee);
      if (!seen.has(absent.join())) expect(m.lookup(absent)).toBeUndefined();
    }
  });
});

describe('memory growth', () => {
  it('program-side inserts into lazily allocated maps survive the memory growing under them', () => {
    const mem = new VmMemory({ initialBytes: 2 * 65536 });
    const m = createMap(mem, def(BPF_MAP_TYPE_HASH, 20000, { flags: BPF_F_NO_PREALLOC, valueSize: 64 }));
    const k = onStack(mem, u32(0));
    const v = onStack(mem, u64(0n));
    const gen0 = mem.generation;
    for (let i = 0; i < 5000; i++) {
      mem.dv.setUint32(k, i, true);
      mem.dv.setUint32(v, i * 2, true);
      expect(m.updateAddr(k, v, BPF_ANY, 0)).toBe(0);
    }
    expect(mem.generation).toBeGreaterThan(gen0);
    for (let i = 0; i < 5000; i += 97) expect(readU32(m.lookup(u32(i)))).toBe(i * 2);
  });
});

describe('LRU percpu hash (type 10)', () => {
  it('combines LRU eviction with per-CPU values', () => {
    const mem = new VmMemory();
    const m = createMap(mem, def(10, 2, { valueSize: 4 }), { cpus: 2 }) as HashMap;
    const v = onStack(mem, u32(5));
    expect(m.updateAddr(onStack(mem, u32(1)), v, BPF_ANY, 1)).toBe(0);
    expect(m.updateAddr(onStack(mem, u32(2)), v, BPF_ANY, 0)).toBe(0);
    expect(m.lookupAddr(onStack(mem, u32(1)), 1)).toBeGreaterThan(0);
    expect(m.updateAddr(onStack(mem, u32(3)), v, BPF_ANY, 0)).toBe(0); // evicts 2
    expect(m.lookup(u32(2))).toBeUndefined();
    expect([...(m.lookup(u32(1)) as Uint8Array)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('hostile sizes', () => {
  it('refuses absurd maps quickly with ENOMEM instead of hanging or throwing RangeError', () => {
    const mem = new VmMemory();
    const t0 = Date.now();
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_HASH, 0xffffffff)))).toBe('ENOMEM');
    expect(codeOf(() => createMap(mem, def(BPF_MAP_TYPE_HASH, 100_000_000)))).toBe('ENOMEM');
    expect(codeOf(() => createMap(mem, { ...def(2, 50_000_000), keySize: 4 }))).toBe('ENOMEM');
    expect(codeOf(() => createMap(mem, { name: 'r', type: 27, keySize: 0, valueSize: 0, maxEntries: 1 << 30, flags: 0 }))).toBe('ENOMEM');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(mem.regionCount).toBe(0);
  });
});
