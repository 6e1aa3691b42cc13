import { describe, expect, it } from 'vitest';
import { VmMemory, RegionKind } from '../memory.js';
import {
  createMap,
  MapError,
  RingBufMap,
  RingBufConsumer,
  BPF_RB_FORCE_WAKEUP,
  BPF_RB_NO_WAKEUP,
  BPF_RINGBUF_BUSY_BIT,
  BPF_RINGBUF_DISCARD_BIT,
} from './index.js';
import { BPF_MAP_TYPE_RINGBUF } from './types.js';

function ring(mem: VmMemory, size = 4096): RingBufMap {
  return createMap(mem, { name: 'rb', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: size, flags: 0 }) as RingBufMap;
}

function drain(c: RingBufConsumer, max?: number): number[][] {
  const out: number[][] = [];
  c.consume((d) => {
    out.push([...d]);
  }, max);
  return out;
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

describe('ring buffer', () => {
  it('validates like ringbuf_map_alloc', () => {
    const mem = new VmMemory();
    const d = { name: 'rb', type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 };
    expect(codeOf(() => createMap(mem, { ...d, maxEntries: 5000 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...d, maxEntries: 2048 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...d, maxEntries: 12288 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...d, keySize: 4 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, { ...d, valueSize: 4 }))).toBe('EINVAL');
    expect(codeOf(() => createMap(mem, d))).toBeUndefined();
    expect(codeOf(() => createMap(mem, d).lookup(new Uint8Array(0)))).toBe('ENOTSUPP');
  });

  it('writes kernel record headers and positions, and a reserved sample is a region of exactly its size', () => {
    const mem = new VmMemory();
    const rb = ring(mem);
    expect(rb.base % 4096).toBe(0);
    const s = rb.reserve(13);
    expect(s).toBe(rb.dataAddr + 8);
    const hdr = s - 8;
    expect(mem.u32[hdr >>> 2]).toBe((13 | BPF_RINGBUF_BUSY_BIT) >>> 0);
    expect(mem.u32[(hdr + 4) >>> 2]).toBe(3); // pg_off: data starts 3 pages into struct bpf_ringbuf
    expect(rb.producerPos).toBe(24); // round_up(13 + 8, 8)
    expect(mem.dv.getBigUint64(rb.producerAddr, true)).toBe(24n);
    const id = mem.regionAt(s);
    expect(mem.regionKind(id)).toBe(RegionKind.RingbufRecord);
    expect(mem.canAccess(s, 13, true)).toBe(true);
    expect(mem.canAccess(s, 14, true)).toBe(false);
    expect(mem.canAccess(hdr, 8, false)).toBe(false); // the header is not program memory
    expect(RingBufMap.fromSample(mem, s)).toBe(rb);
    mem.u8.set([1, 2, 3], s);
    expect(rb.submit(s)).toBe(true);
    expect(mem.regionAt(s)).toBe(0);
    expect(mem.u32[hdr >>> 2]).toBe(13);
    expect(rb.submit(s)).toBe(false); // twice is not a reservation any more
    expect(RingBufMap.fromSample(mem, s)).toBeUndefined();
    const c = new RingBufConsumer(rb);
    const got = drain(c);
    expect(got.length).toBe(1);
    expect(got[0].slice(0, 3)).toEqual([1, 2, 3]);
    expect(got[0].length).toBe(13);
    expect(rb.consumerPos).toBe(24);
    expect(mem.dv.getBigUint64(rb.consumerAddr, true)).toBe(24n);
  });

  it('keeps a record that wraps past the end contiguous, with positions growing past the size', () => {
    const mem = new VmMemory();
    const rb = ring(mem, 4096);
    const c = new RingBufConsumer(rb);
    // 4072 + 8 = 4080 bytes, leaving 16 bytes before the end.
    const a = rb.reserve(4072);
    rb.submit(a);
    expect(drain(c).length).toBe(1);
    const big = rb.reserve(100); // header at offset 4080, sample runs 92 bytes past the end
    expect(big).toBe(rb.dataAddr + 4088);
    for (let i = 0; i < 100; i++) mem.u8[big + i] = i;
    expect(mem.canAccess(big, 100, true)).toBe(true);
    rb.submit(big);
    const next = rb.reserve(8); // continues at (pos & mask) = 112 from the start
    expect(next).toBe(rb.dataAddr + ((4080 + 112) % 4096) + 8);
    rb.submit(next);
    const got = drain(c);
    expect(got.length).toBe(2);
    expect(got[0]).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(rb.consumerPos).toBe(4080 + 112 + 16);
    expect(rb.producerPos).toBe(rb.consumerPos);
  });

  it('survives many wraps with exact contents and order', () => {
    const mem = new VmMemory();
    const rb = ring(mem, 8192);
    const c = new RingBufConsumer(rb);
    let seq = 0;
    let expected = 0;
    for (let round = 0; round < 200; round++) {
      for (let k = 0; k < 7; k++) {
        const len = 1 + ((seq * 37) % 300);
        const s = rb.reserve(len);
        if (s === 0) break;
        mem.u8.fill(seq & 0xff, s, s + len);
        mem.dv.setUint8(s, seq & 0xff);
        rb.submit(s);
        seq++;
      }
      c.consume((d, len) => {
        expect(len).toBe(1 + ((expected * 37) % 300));
        expect(d.every((b) => b === (expected & 0xff))).toBe(true);
        expected++;
      });
    }
    expect(expected).toBe(seq);
    expect(rb.producerPos).toBeGreaterThan(8192 * 10);
    expect(rb.drops).toBe(0);
  });

  it('reserve fails when the producer would get more than size-1 bytes ahead, counting drops; output gives -EAGAIN', () => {
    const mem = new VmMemory();
    const rb = ring(mem, 4096);
    expect(rb.reserve(4089)).toBe(0); // record of 4104 > size
    expect(rb.reserve(4088)).toBe(0); // exactly 4096: new_prod - cons = 4096 > mask
    const s = rb.reserve(4080); // 4088 bytes: fits
    expect(s).not.toBe(0);
    expect(rb.reserve(0)).toBe(0); // 8 more bytes would make 4096
    expect(rb.drops).toBe(3);
    expect(rb.outputBytes(new Uint8Array(1))).toBe(-11);
    expect(rb.drops).toBe(4);
    rb.submit(s);
    expect(new RingBufConsumer(rb).consume(() => {})).toBe(1);
    expect(rb.outputBytes(new Uint8Array(1))).toBe(0);
    expect(rb.outputBytes(new Uint8Array(1), 4)).toBe(-22);
  });

  it('skips discarded records and stops at a busy one until it is committed', () => {
    const mem = new VmMemory();
    const rb = ring(mem);
    const c = new RingBufConsumer(rb);
    const a = rb.reserve(8);
    const b = rb.reserve(8);
    const d = rb.reserve(8);
    mem.u8[a] = 1;
    mem.u8[b] = 2;
    mem.u8[d] = 3;
    rb.submit(d);
    rb.discard(b);
    expect(mem.u32[(b - 8) >>> 2]).toBe((8 | BPF_RINGBUF_DISCARD_BIT) >>> 0);
    expect(drain(c)).toEqual([]); // a is still busy and blocks the rest
    expect(rb.consumerPos).toBe(0);
    rb.submit(a);
    expect(drain(c).map((r) => r[0])).toEqual([1, 3]);
    expect(rb.consumerPos).toBe(48);
  });

  it('honours max and a negative callback return like libbpf', () => {
    const mem = new VmMemory();
    const rb = ring(mem);
    for (let i = 0; i < 5; i++) rb.outputBytes(new Uint8Array([i]));
    const c = new RingBufConsumer(rb);
    expect(drain(c, 2).map((r) => r[0])).toEqual([0, 1]);
    expect(c.consume((d) => (d[0] === 3 ? -5 : 0))).toBe(-5);
    expect(drain(c).map((r) => r[0])).toEqual([4]);
    expect(c.available).toBe(0);
  });

  it('wakes the consumer only when it has caught up, unless NO_WAKEUP/FORCE_WAKEUP say otherwise', () => {
    const mem = new VmMemory();
    const rb = ring(mem);
    let wakes = 0;
    rb.onWakeup = () => wakes++;
    const a = rb.reserve(8);
    const b = rb.reserve(8);
    rb.submit(b); // consumer (at 0) is not at b's position
    expect(wakes).toBe(0);
    rb.submit(a); // consumer is at a
    expect(wakes).toBe(1);
    const x = rb.reserve(8);
    rb.submit(x, BPF_RB_FORCE_WAKEUP); // not caught up but forced
    expect(wakes).toBe(2);
    new RingBufConsumer(rb).consume(() => {});
    const y = rb.reserve(8);
    rb.submit(y, BPF_RB_NO_WAKEUP); // caught up but suppressed
    expect(wakes).toBe(2);
    expect(rb.wakeups).toBe(2);
  });

  it('answers ringbuf_query', () => {
    const mem = new VmMemory();
    const rb = ring(mem, 8192);
    rb.outputBytes(new Uint8Array(10));
    expect(rb.query(0)).toBe(24n);
    expect(rb.query(1)).toBe(8192n);
    expect(rb.query(2)).toBe(0n);
    expect(rb.query(3)).toBe(24n);
    new RingBufConsumer(rb).consume(() => {});
    expect(rb.query(0)).toBe(0n);
    expect(rb.query(2)).toBe(24n);
    expect(rb.query(99)).toBe(0n);
  });

  it('abortReservations discards leaked records; close frees regions', () => {
    const mem = new VmMemory();
    const before = mem.regionCount;
    const rb = ring(mem);
    rb.reserve(16);
    rb.reserve(0);
    expect(rb.pending).toBe(2);
    expect(rb.abortReservations()).toBe(2);
    expect(new RingBufConsumer(rb).consume(() => {})).toBe(0);
    expect(rb.consumerPos).toBe(rb.producerPos);
    rb.reserve(16);
    rb.close();
    expect(mem.regionCount).toBe(before);
  });
});

describe('RingBuffer (libbpf ring_buffer__poll)', () => {
  it('consumes several rings and wakes a pending poll when a producer commits', async () => {
    const { RingBuffer } = await import('./index.js');
    const mem = new VmMemory();
    const a = ring(mem);
    const b = ring(mem);
    const got: string[] = [];
    const rb = new RingBuffer().add(a, (d) => void got.push(`a${d[0]}`)).add(b, (d) => void got.push(`b${d[0]}`));
    b.outputBytes(new Uint8Array([1]));
    a.outputBytes(new Uint8Array([2]));
    expect(rb.consume()).toBe(2);
    expect(got).toEqual(['a2', 'b1']);
    // Nothing waiting: poll times out with 0.
    expect(await rb.poll(5)).toBe(0);
    // A commit while polling wakes it well before the timeout.
    const t0 = Date.now();
    const p = rb.poll(5000);
    setTimeout(() => a.outputBytes(new Uint8Array([3])), 5);
    expect(await p).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(got).toEqual(['a2', 'b1', 'a3']);
    rb.close();
    expect(a.onWakeup).toBeUndefined();
  });
});
