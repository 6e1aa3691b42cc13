// Map and ring-buffer throughput: program-side hash lookups (direct and through the helper ABI),
// array/LRU/LPM lookups, and ring-buffer records per second through reserve+submit and drain.
import { createVm } from '../engine/vm.js';
import { RegionKind } from '../engine/memory.js';
import { HELPER_ARGS } from '../engine/memory.js';
import { testEnv } from '../engine/helpers/test-env.js';
import { RingBufConsumer, type RingBufMap } from '../engine/maps/index.js';
import { assemble } from '../engine/asm/assembler.js';
import { loadProgram } from '../engine/program.js';
import { runProgram } from '../engine/interpreter.js';
import {
  BPF_F_NO_PREALLOC,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LPM_TRIE,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_RINGBUF,
} from '../engine/maps/types.js';

function rate(n: number, ms: number): string {
  const r = (n / ms) * 1000;
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(1)} k/s`;
}

function line(what: string, n: number, ms: number, extra = ''): void {
  process.stdout.write(`${what.padEnd(52)} ${rate(n, ms).padStart(12)}  (${((ms * 1e6) / n).toFixed(0)} ns/op)${extra}\n`);
}

/** Best of three runs: the machine is shared, so the minimum is the least disturbed figure. */
function time(f: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export async function bench(): Promise<void> {
  const vm = createVm({ memoryBytes: 64 << 20 });
  const mem = vm.mem;
  const keys = 10_000;
  const iters = 1_000_000;
  // A stack-like area holding all keys back to back, as a program's stack would hold one.
  const keyArea = mem.alloc(keys * 16);
  mem.addRegion(keyArea.addr, keys * 16, RegionKind.Stack, true);

  for (const ks of [4, 16]) {
    const m = vm.createMap({ name: `h${ks}`, type: BPF_MAP_TYPE_HASH, keySize: ks, valueSize: 16, maxEntries: 16384, flags: 0 });
    const k = new Uint8Array(ks);
    for (let i = 0; i < keys; i++) {
      new DataView(k.buffer).setUint32(0, i * 2654435761, true);
      k[ks - 1] ^= i & 0xff;
      m.update(k, new Uint8Array(16));
      mem.u8.set(k, keyArea.addr + i * 16);
    }
    let sink = 0;
    for (let w = 0; w < 200_000; w++) sink += m.lookupAddr(keyArea.addr + (w % keys) * 16, 0);
    const ms = time(() => {
      for (let i = 0; i < iters; i++) sink += m.lookupAddr(keyArea.addr + (i % keys) * 16, 0);
    });
    line(`hash lookup, ${ks}-byte key, 10k keys (lookupAddr)`, iters, ms);
    // Misses: keys not in the map.
    const miss = time(() => {
      for (let i = 0; i < iters; i++) sink += m.lookupAddr(keyArea.addr + (i % keys) * 16 + 1, 0);
    });
    line(`hash lookup miss, ${ks}-byte key`, iters, miss);
    if (sink === 42) process.stdout.write('');
    // Through the helper ABI, as a program's `call 1` does.
    const rt = vm.runtime(testEnv());
    const h1 = rt.helpers[1];
    if (h1 === undefined) throw new Error('no helper 1');
    const u32 = mem.u32;
    const A = HELPER_ARGS >>> 2;
    const viaHelper = time(() => {
      for (let i = 0; i < iters; i++) {
        u32[A] = m.handle;
        u32[A + 1] = 0;
        u32[A + 2] = keyArea.addr + (i % keys) * 16;
        u32[A + 3] = 0;
        h1(rt);
      }
    });
    line(`hash lookup via helper ABI (call 1), ${ks}-byte key`, iters, viaHelper);
  }

  // A whole program: 1000 lookups per run in a loop (key = loop counter), run by the interpreter.
  {
    const a = assemble(`
.map pids hash key=4 value=8 entries=16384
  mov r6, 0
loop:
  stxw [r10-4], r6
  lddw r1, map:pids
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, next
  ldxdw r1, [r0+0]
  add r1, 1
  stxdw [r0+0], r1
next:
  add r6, 1
  jlt r6, 1000, loop
  mov r0, 0
  exit
`);
    const prog = loadProgram({ name: 'lookups', insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'tracepoint' }, (d) => vm.createMap(d));
    const pids = vm.mapByName('pids');
    if (pids === undefined) throw new Error('map pids missing');
    for (let i = 0; i < 1000; i += 2) pids.update(new Uint8Array(new Uint32Array([i]).buffer), new Uint8Array(8));
    const rt = vm.runtime(testEnv());
    const runs = 400;
    const ms = time(() => {
      for (let r = 0; r < runs; r++) runProgram(prog, rt, 0, 0, 0, 0);
    });
    line('program: interpreter loop of map_lookup_elem (½ hits)', runs * 1000, ms);
  }

  // Baseline: a JS Map<number, object> with the same u32 keys.
  {
    const jm = new Map<number, { v: number }>();
    for (let i = 0; i < keys; i++) jm.set((i * 2654435761) >>> 0, { v: i });
    let sink = 0;
    const ms = time(() => {
      for (let i = 0; i < iters; i++) sink += jm.get(mem.dv.getUint32(keyArea.addr + (i % keys) * 16, true))?.v ?? 0;
    });
    line('baseline: JS Map.get on the u32 read from memory', iters, ms);
    if (sink === 42) process.stdout.write('');
  }

  {
    const m = vm.createMap({ name: 'arr', type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1024, flags: 0 });
    for (let i = 0; i < 1024; i++) mem.dv.setUint32(keyArea.addr + i * 16, i, true);
    let sink = 0;
    const ms = time(() => {
      for (let i = 0; i < iters; i++) sink += m.lookupAddr(keyArea.addr + (i & 1023) * 16, 0);
    });
    line('array lookup', iters, ms);
    if (sink === 42) process.stdout.write('');
  }

  {
    const m = vm.createMap({ name: 'lru', type: BPF_MAP_TYPE_LRU_HASH, keySize: 4, valueSize: 8, maxEntries: 4096, flags: 0 });
    const k = new Uint8Array(4);
    for (let i = 0; i < 4096; i++) {
      new DataView(k.buffer).setUint32(0, i, true);
      m.update(k, new Uint8Array(8));
      mem.dv.setUint32(keyArea.addr + i * 16, i, true);
    }
    let sink = 0;
    const ms = time(() => {
      for (let i = 0; i < iters; i++) sink += m.lookupAddr(keyArea.addr + ((i * 7) & 4095) * 16, 0);
    });
    line('LRU hash lookup (refreshes recency)', iters, ms);
    const v = mem.alloc(8);
    mem.addRegion(v.addr, 8, RegionKind.Stack, true);
    const n = 500_000;
    const ins = time(() => {
      for (let i = 0; i < n; i++) {
        mem.dv.setUint32(keyArea.addr, 100_000 + i, true);
        m.updateAddr(keyArea.addr, v.addr, 0, 0);
      }
    });
    line('LRU hash insert with eviction (full map)', n, ins);
    if (sink === 42) process.stdout.write('');
  }

  {
    const m = vm.createMap({ name: 'cidr', type: BPF_MAP_TYPE_LPM_TRIE, keySize: 8, valueSize: 4, maxEntries: 1024, flags: BPF_F_NO_PREALLOC });
    const k = new Uint8Array(8);
    const dv = new DataView(k.buffer);
    for (let i = 0; i < 1000; i++) {
      dv.setUint32(0, 8 + (i % 25), true);
      dv.setUint32(4, (i * 2654435761) >>> 0, false);
      m.update(k, new Uint8Array(4));
    }
    for (let i = 0; i < 1024; i++) {
      mem.dv.setUint32(keyArea.addr + i * 16, 32, true);
      mem.dv.setUint32(keyArea.addr + i * 16 + 4, (i * 40503 * 65537) >>> 0, false);
    }
    let sink = 0;
    const n = 500_000;
    const ms = time(() => {
      for (let i = 0; i < n; i++) sink += m.lookupAddr(keyArea.addr + (i & 1023) * 16, 0);
    });
    line('LPM trie lookup, IPv4 /32 against 1000 prefixes', n, ms);
    if (sink === 42) process.stdout.write('');
  }

  for (const size of [64, 256]) {
    const rb = vm.createMap({ name: `rb${size}`, type: BPF_MAP_TYPE_RINGBUF, keySize: 0, valueSize: 0, maxEntries: 1 << 20, flags: 0 }) as RingBufMap;
    const c = new RingBufConsumer(rb);
    const n = 300_000;
    let bytes = 0;
    const ms = time(() => {
      let produced = 0;
      while (produced < n) {
        // Fill in batches of up to 2048 records, then drain, as a pipeline would.
        for (let k = 0; k < 2048 && produced < n; k++) {
          const s = rb.reserve(size);
          if (s === 0) break;
          mem.u32[s >>> 2] = produced;
          rb.submit(s, 1);
          produced++;
        }
        c.consumeRaw((u8, off, len) => {
          bytes += len + u8[off];
        });
      }
    });
    line(`ring buffer reserve+submit+drain (consumeRaw), ${size}B`, n, ms, `  ${(((n * size) / ms) * 1000 / 1e6).toFixed(0)} MB/s of samples, drops ${rb.drops}`);
    const src = mem.alloc(size);
    mem.addRegion(src.addr, size, RegionKind.Stack, true);
    const out = time(() => {
      let produced = 0;
      while (produced < n) {
        for (let k = 0; k < 2048 && produced < n; k++, produced++) rb.output(src.addr, size, 1);
        c.consume((d) => {
          bytes += d.length;
        });
      }
    });
    line(`ring buffer output+drain (consume with views), ${size}B`, n, out, `  drops ${rb.drops}`);
  }
}
