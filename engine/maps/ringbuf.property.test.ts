// Random interleavings of reserve / submit / discard / consume against a model of the ring:
// records in reservation order, the consumer delivering committed ones up to the first busy one.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VmMemory } from '../memory.js';
import { createMap, RingBufConsumer, type RingBufMap } from './index.js';
import { BPF_MAP_TYPE_RINGBUF } from './types.js';

type Op = { kind: 'reserve'; size: number } | { kind: 'commit'; pick: number; discard: boolean } | { kind: 'consume'; max: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('reserve' as const), size: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('commit' as const), pick: fc.nat(), discard: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('consume' as const), max: fc.integer({ min: 1, max: 10 }) }) },
);

interface Rec {
  seq: number;
  size: number;
  state: 'busy' | 'done' | 'discarded';
  addr: number;
}

describe('ring buffer vs a model', () => {
  it('delivers exactly the committed records, in order, never past a busy one', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 300, size: 'max' }), (ops) => {
        const mem = new VmMemory({ initialBytes: 1 << 20 });
        const rb = createMap(mem, { name: 'r', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 }) as RingBufMap;
        const c = new RingBufConsumer(rb);
        const queue: Rec[] = []; // reserved and not yet consumed, in order
        let seq = 0;
        let cons = 0;
        let prod = 0;
        let drops = 0;
        for (const o of ops) {
          if (o.kind === 'reserve') {
            const len = (o.size + 8 + 7) & ~7;
            const fits = prod + len - cons <= 4095;
            const addr = rb.reserve(o.size);
            expect(addr !== 0).toBe(fits);
            if (!fits) {
              drops++;
              continue;
            }
            prod += len;
            for (let i = 0; i < o.size; i++) mem.u8[addr + i] = (seq + i) & 0xff;
            queue.push({ seq: seq++, size: o.size, state: 'busy', addr });
          } else if (o.kind === 'commit') {
            const busy = queue.filter((r) => r.state === 'busy');
            if (busy.length === 0) continue;
            const r = busy[o.pick % busy.length];
            r.state = o.discard ? 'discarded' : 'done';
            expect(o.discard ? rb.discard(r.addr) : rb.submit(r.addr)).toBe(true);
          } else {
            const want: number[] = [];
            while (queue.length > 0 && queue[0].state !== 'busy' && want.length < o.max) {
              const r = queue.shift() as Rec;
              cons += (r.size + 15) & ~7;
              if (r.state === 'done') want.push(r.seq);
            }
            // Discarded records right after the last delivered one are skipped as well.
            if (want.length === o.max) {
              // libbpf stops right after the max-th sample; nothing more is consumed.
            } else {
              while (queue.length > 0 && queue[0].state === 'discarded') {
                const r = queue.shift() as Rec;
                cons += (r.size + 15) & ~7;
              }
            }
            const got: number[] = [];
            c.consume((d, len) => {
              const s = got.length < want.length ? want[got.length] : -1;
              const rec = { size: len, first: d[0] };
              got.push(s);
              if (rec.size > 0) expect(rec.first).toBe(s & 0xff);
            }, o.max);
            expect(got).toEqual(want);
            expect(rb.consumerPos).toBe(cons);
          }
        }
        expect(rb.producerPos).toBe(prod);
        expect(rb.drops).toBe(drops);
      }),
      { numRuns: Number(process.env.KESTREL_FUZZ_RUNS ?? 60) },
    );
  });
});
