import { describe, expect, it } from 'vitest';
import { VmMemory } from '../memory.js';
import { createMap, MapError, PerfEventArrayMap, PerfEventReader, ProgArrayMap, BPF_F_CURRENT_CPU } from './index.js';
import { BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_PROG_ARRAY } from './types.js';

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

describe('prog_array', () => {
  it('holds programs by index for tail calls', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { name: 'jt', type: BPF_MAP_TYPE_PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 }) as ProgArrayMap<string>;
    m.setProg(2, 'second');
    expect(m.getProg(2)).toBe('second');
    expect(m.getProg(1)).toBeUndefined();
    expect(m.getProg(4)).toBeUndefined();
    expect(codeOf(() => m.setProg(4, 'x'))).toBe('E2BIG');
    expect(m.lookup(u32(2))).toEqual(u32(2));
    expect(m.lookup(u32(1))).toBeUndefined();
    expect(codeOf(() => m.update(u32(1), u32(7)))).toBe('EINVAL'); // no fd resolver
    m.progByFd = (fd) => (fd === 7 ? 'seven' : undefined);
    m.update(u32(1), u32(7));
    expect(m.getProg(1)).toBe('seven');
    expect(m.lookup(u32(1))).toEqual(u32(7));
    expect(codeOf(() => m.update(u32(1), u32(7), 1))).toBe('EINVAL');
    m.delete(u32(1));
    expect(codeOf(() => m.delete(u32(1)))).toBe('ENOENT');
    expect(m.lookupAddr(0, 0)).toBe(0);
  });
});

describe('perf_event_array', () => {
  it('writes PERF_SAMPLE_RAW records to the current CPU buffer and reports losses', () => {
    const mem = new VmMemory();
    const m = createMap(mem, { name: 'ev', type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, flags: 0 }, { cpus: 2 }) as PerfEventArrayMap;
    expect(m.output(BPF_F_CURRENT_CPU, 0, 0, new Uint8Array([1]))).toBe(-2); // no event opened
    m.open(0, { bytes: 64 });
    m.open(1);
    expect(m.output(BPF_F_CURRENT_CPU, 0, 0, new Uint8Array([1, 2, 3]))).toBe(0);
    expect(m.output(1, 0, 0, new Uint8Array([9]))).toBe(-95); // slot 1 lives on CPU 1
    expect(m.output(5, 0, 0, new Uint8Array([9]))).toBe(-7);
    expect(m.output(0, 1, 0, new Uint8Array([9]))).toBe(-22);
    // 64-byte buffer: 3-byte sample takes 8 + 4 + 4 = 16 bytes.
    expect(m.output(0, 0, 0, new Uint8Array(30))).toBe(0); // 8 + 36 = 44 → 60 used
    expect(m.output(0, 0, 0, new Uint8Array(4))).toBe(-28); // lost
    expect(m.drops).toBe(1);
    expect(m.output(BPF_F_CURRENT_CPU, 0, 1, new Uint8Array([5, 6]))).toBe(0);
    const samples: [number, number[]][] = [];
    const lost: [number, number][] = [];
    const r = new PerfEventReader(m, (cpu, d) => samples.push([cpu, [...d]]), (cpu, n) => lost.push([cpu, n]));
    expect(r.consume()).toBe(3);
    expect(samples[0]).toEqual([0, [1, 2, 3, 0]]); // raw size padded so the record stays 8-aligned
    expect(samples[1][1].length).toBe(36);
    expect(samples[2]).toEqual([1, [5, 6, 0, 0]]);
    expect(lost).toEqual([]);
    // After draining, the LOST record comes before the next sample.
    expect(m.output(0, 0, 0, new Uint8Array([7]))).toBe(0);
    r.consume();
    expect(lost).toEqual([[0, 1]]);
    expect(samples[3][1][0]).toBe(7);
  });
});
