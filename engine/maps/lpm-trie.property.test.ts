// Random LPM updates, deletes and lookups against a naive model that scans every stored prefix.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VmMemory } from '../memory.js';
import { createMap, MapError } from './index.js';
import { BPF_F_NO_PREALLOC, BPF_MAP_TYPE_LPM_TRIE } from './types.js';

type Op = { kind: 'update' | 'delete' | 'lookup'; addr: number; len: number; value: number };

// 16-bit data keeps collisions between prefixes frequent.
const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('update' as const, 'update' as const, 'delete' as const, 'lookup' as const, 'lookup' as const),
  addr: fc.integer({ min: 0, max: 0xffff }).map((a) => a & 0xf0ff),
  len: fc.integer({ min: 0, max: 16 }),
  value: fc.integer({ min: 1, max: 1 << 30 }),
});

function key(addr: number, len: number): Uint8Array {
  const k = new Uint8Array(6);
  new DataView(k.buffer).setUint32(0, len, true);
  k[4] = addr >> 8;
  k[5] = addr & 0xff;
  return k;
}

const masked = (addr: number, len: number): number => (len === 0 ? 0 : (addr >> (16 - len)) << (16 - len));

describe('lpm_trie vs a naive model', () => {
  it('agrees on longest-prefix lookups after random updates and deletes', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 10, maxLength: 200, size: 'max' }), (ops) => {
        const mem = new VmMemory({ initialBytes: 1 << 20 });
        const m = createMap(mem, { name: 'l', type: BPF_MAP_TYPE_LPM_TRIE, keySize: 6, valueSize: 4, maxEntries: 64, flags: BPF_F_NO_PREALLOC });
        const model = new Map<string, { addr: number; len: number; value: number }>();
        const id = (addr: number, len: number): string => `${masked(addr, len)}/${len}`;
        for (const o of ops) {
          if (o.kind === 'update') {
            const full = model.size >= 64 && !model.has(id(o.addr, o.len));
            try {
              m.update(key(o.addr, o.len), new Uint8Array(new Uint32Array([o.value]).buffer));
              expect(full).toBe(false);
              model.set(id(o.addr, o.len), { addr: masked(o.addr, o.len), len: o.len, value: o.value });
            } catch (e) {
              expect((e as MapError).code).toBe('ENOSPC');
              expect(full).toBe(true);
            }
          } else if (o.kind === 'delete') {
            const had = model.delete(id(o.addr, o.len));
            let ok = true;
            try {
              m.delete(key(o.addr, o.len));
            } catch {
              ok = false;
            }
            expect(ok).toBe(had);
          } else {
            let best: { len: number; value: number } | undefined;
            for (const p of model.values()) {
              if (p.len <= o.len && masked(o.addr, p.len) === p.addr && (best === undefined || p.len > best.len)) best = p;
            }
            const got = m.lookup(key(o.addr, o.len));
            expect(got === undefined ? undefined : new DataView(got.buffer).getUint32(0, true)).toBe(best?.value);
          }
        }
        expect(m.count).toBe(model.size);
      }),
      { numRuns: Number(process.env.KESTREL_FUZZ_RUNS ?? 60) },
    );
  });

  it('agrees on 128-bit keys that mostly share an IPv4-mapped head (the head-walk cache)', () => {
    // Heads: ::ffff:0:0/96 (IPv4-mapped), a near miss of it, and an unrelated IPv6 head.
    const heads = [0xffffn << 32n, 0xfffen << 32n, 0x20010db8n << 64n];
    const op128 = fc.record({
      kind: fc.constantFrom('update' as const, 'delete' as const, 'lookup' as const, 'lookup' as const, 'lookup' as const),
      head: fc.integer({ min: 0, max: heads.length - 1 }),
      low: fc.integer({ min: 0, max: 0xffff }).map((a) => BigInt(a) << 16n),
      len: fc.oneof(fc.integer({ min: 0, max: 128 }), fc.integer({ min: 90, max: 128 })),
      value: fc.integer({ min: 1, max: 1 << 30 }),
    });
    const mask = (a: bigint, len: number): bigint => (len === 0 ? 0n : (a >> BigInt(128 - len)) << BigInt(128 - len));
    const key128 = (a: bigint, len: number): Uint8Array => {
      const k = new Uint8Array(20);
      new DataView(k.buffer).setUint32(0, len, true);
      for (let i = 0; i < 16; i++) k[4 + i] = Number((a >> BigInt(8 * (15 - i))) & 0xffn);
      return k;
    };
    fc.assert(
      fc.property(fc.array(op128, { minLength: 10, maxLength: 200, size: 'max' }), (ops) => {
        const mem = new VmMemory({ initialBytes: 1 << 20 });
        const m = createMap(mem, { name: 'l6', type: BPF_MAP_TYPE_LPM_TRIE, keySize: 20, valueSize: 4, maxEntries: 64, flags: BPF_F_NO_PREALLOC });
        const model = new Map<string, { addr: bigint; len: number; value: number }>();
        for (const o of ops) {
          const addr = heads[o.head] | o.low;
          const id = `${mask(addr, o.len)}/${o.len}`;
          if (o.kind === 'update') {
            if (model.size >= 64 && !model.has(id)) continue;
            m.update(key128(addr, o.len), new Uint8Array(new Uint32Array([o.value]).buffer));
            model.set(id, { addr: mask(addr, o.len), len: o.len, value: o.value });
          } else if (o.kind === 'delete') {
            if (!model.delete(id)) continue;
            m.delete(key128(addr, o.len));
          } else {
            let best: { len: number; value: number } | undefined;
            for (const p of model.values()) if (p.len <= o.len && mask(addr, p.len) === p.addr && (best === undefined || p.len > best.len)) best = p;
            const got = m.lookup(key128(addr, o.len));
            expect(got === undefined ? undefined : new DataView(got.buffer).getUint32(0, true)).toBe(best?.value);
          }
        }
      }),
      { numRuns: Number(process.env.KESTREL_FUZZ_RUNS ?? 60) },
    );
  });
});
