// Random sequences of hash-map operations against a JS Map model (userspace and program side).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VmMemory, RegionKind } from '../memory.js';
import { createMap, MapError } from './index.js';
import { BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC } from './types.js';

type Op =
  | { kind: 'update'; key: number; value: number; flags: number; prog: boolean }
  | { kind: 'delete'; key: number; prog: boolean }
  | { kind: 'lookup'; key: number; prog: boolean };

const key = fc.integer({ min: 0, max: 200 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('update' as const), key, value: fc.integer({ min: 0, max: 0xffff }), flags: fc.integer({ min: 0, max: 2 }), prog: fc.boolean() }),
  fc.record({ kind: fc.constant('delete' as const), key, prog: fc.boolean() }),
  fc.record({ kind: fc.constant('lookup' as const), key, prog: fc.boolean() }),
);

function keyBytes(k: number, ks: number): Uint8Array {
  // 4 and 8 bytes take the specialised word paths; 6 bytes the generic one with a tail; 16 and
  // 144 (DNS pairs) the word path, read as int32s when the key is 4-aligned in memory.
  const b = new Uint8Array(ks);
  b.set([k & 0xff, (k >> 8) & 0xff, 0x5a]);
  b[ks - 1] ^= k % 3;
  return b;
}

describe('hash map vs a Map model', () => {
  it('agrees on every operation result and on final contents', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 150 }), fc.boolean(), fc.constantFrom(4, 6, 8, 16, 144), fc.constantFrom(0, 1, 4), (ops, max, lazy, ks, shift) => {
        const mem = new VmMemory({ initialBytes: 1 << 20 });
        const m = createMap(mem, { name: 'p', type: BPF_MAP_TYPE_HASH, keySize: ks, valueSize: 4, maxEntries: max, flags: lazy ? BPF_F_NO_PREALLOC : 0 });
        const scratch = mem.alloc(512);
        mem.addRegion(scratch.addr, 512, RegionKind.Stack, true);
        const kAddr = scratch.addr + shift;
        const vAddr = scratch.addr + 256;
        const model = new Map<number, number>();
        for (const o of ops) {
          const kb = keyBytes(o.key, ks);
          if (o.kind === 'update') {
            const want = model.has(o.key) ? (o.flags === 1 ? -17 : 0) : o.flags === 2 ? -2 : model.size >= max ? -7 : 0;
            const vb = new Uint8Array(new Uint32Array([o.value]).buffer);
            let got: number;
            if (o.prog) {
              mem.u8.set(kb, kAddr);
              mem.u8.set(vb, vAddr);
              got = m.updateAddr(kAddr, vAddr, o.flags, 0);
            } else {
              try {
                m.update(kb, vb, o.flags);
                got = 0;
              } catch (e) {
                got = -(e as MapError).errno;
              }
            }
            expect(got).toBe(want);
            if (want === 0) model.set(o.key, o.value);
          } else if (o.kind === 'delete') {
            const want = model.has(o.key) ? 0 : -2;
            let got: number;
            if (o.prog) {
              mem.u8.set(kb, kAddr);
              got = m.deleteAddr(kAddr, 0);
            } else {
              try {
                m.delete(kb);
                got = 0;
              } catch (e) {
                got = -(e as MapError).errno;
              }
            }
            expect(got).toBe(want);
            model.delete(o.key);
          } else {
            let got: number | undefined;
            if (o.prog) {
              mem.u8.set(kb, kAddr);
              const a = m.lookupAddr(kAddr, 0);
              got = a === 0 ? undefined : mem.dv.getUint32(a, true);
            } else {
              const v = m.lookup(kb);
              got = v === undefined ? undefined : new DataView(v.buffer).getUint32(0, true);
            }
            expect(got).toBe(model.get(o.key));
          }
        }
        expect(m.count).toBe(model.size);
        const keys = [...m.keys()].map((k) => k[0] | (k[1] << 8)).sort((a, b) => a - b);
        expect(keys).toEqual([...model.keys()].sort((a, b) => a - b));
        m.close();
      }),
      { numRuns: Number(process.env.KESTREL_FUZZ_RUNS ?? 60) },
    );
  });
});
