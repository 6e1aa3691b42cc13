// Hostile objects: mutate the real compiled examples (bit flips, byte overwrites, truncations,
// header-field overwrites with boundary values) and load them. The only acceptable outcomes are
// a loaded object or an ElfError: no other exception, no hang. KESTREL_ELF_FUZZ=N runs N
// iterations per object instead of the default (kept small so the unit suite stays fast).

import { beforeAll, describe, expect, it } from 'vitest';
import { compileExample } from './compile.js';
import { decodeValue } from './decode.js';
import { ElfError, loadElf, type ElfObject } from './index.js';
import { createObjectMaps } from './instantiate.js';
import { createVm, type Vm } from '../vm.js';

const ITERS = Number(process.env.KESTREL_ELF_FUZZ ?? 600);
const SEED = Number(process.env.KESTREL_ELF_FUZZ_SEED ?? 0x9e3779b9);
const NAMES = ['execsnoop', 'connectlog', 'counts', 'pathstat', 'hello'];
const objects: Uint8Array[] = [];

beforeAll(() => {
  for (const n of NAMES) objects.push(compileExample(n).bytes);
});

/** xorshift32: deterministic, so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const BOUNDARY = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

/** Offsets worth hitting: the ELF header, section headers, and the start of each section. */
function hotOffsets(b: Uint8Array): number[] {
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [16, 18, 40, 58, 60, 62];
  const shoff = Number(d.getBigUint64(40, true));
  const shnum = d.getUint16(60, true);
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    out.push(h, h + 4, h + 24, h + 32, h + 40, h + 44, h + 56);
    out.push(Number(d.getBigUint64(h + 24, true)));
  }
  return out.filter((o) => o < b.length);
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  let b = src.slice();
  const hot = hotOffsets(src);
  const n = 1 + (r() % 4);
  for (let k = 0; k < n; k++) {
    switch (r() % 6) {
      case 0: {
        const o = r() % b.length;
        b[o] ^= 1 << (r() % 8);
        break;
      }
      case 1: {
        const o = r() % b.length;
        b[o] = r() & 0xff;
        break;
      }
      case 2: {
        const o = hot[r() % hot.length] + (r() % 16);
        if (o + 4 <= b.length) new DataView(b.buffer).setUint32(o, BOUNDARY[r() % BOUNDARY.length], true);
        break;
      }
      case 3: {
        const o = hot[r() % hot.length] + (r() % 24);
        if (o < b.length) b[o] = r() & 0xff;
        break;
      }
      case 4:
        b = b.slice(0, r() % b.length);
        break;
      default: {
        // Overwrite within a section's data (BTF, relocations, symbols live there).
        const o = hot[r() % hot.length] + (r() % 256);
        if (o + 4 <= b.length) new DataView(b.buffer).setUint32(o, r(), true);
      }
    }
    if (b.length === 0) break;
  }
  return b;
}

let vm: Vm | undefined;

function exercise(o: ElfObject): void {
  // Creating the maps a hostile object declares must stay within the per-object budget.
  vm ??= createVm();
  let maps: ReturnType<typeof createObjectMaps> = [];
  try {
    maps = createObjectMaps(o, vm);
  } catch (e) {
    // The shared VM's memory only grows and its free lists are exact-size, so after many odd-sized
    // maps it can fill up: start a fresh VM (each `prog load` has its own) rather than let that
    // turn every later mutant into an error.
    if (e instanceof ElfError && /cannot create/.test(e.message)) vm = undefined;
    throw e;
  } finally {
    for (const m of maps) m.close();
  }
  // Walk what a caller would use, so lazy BTF paths are fuzzed too.
  for (const m of o.maps) {
    if (o.btf === undefined) continue;
    for (const t of [m.keyType, m.valueType, m.recordType]) {
      if (t !== undefined) decodeValue(o.btf, t, new Uint8Array(64));
    }
  }
}

describe('ELF loader fuzz', () => {
  it(`survives ${ITERS} mutations of each example with only ElfError`, () => {
    let errors = 0;
    let loaded = 0;
    let slowest = 0;
    const messages = new Set<string>();
    for (const [k, src] of objects.entries()) {
      const r = rng(SEED ^ (k * 7919));
      for (let i = 0; i < ITERS; i++) {
        const m = mutate(src, r);
        const t0 = performance.now();
        try {
          exercise(loadElf(m, { fileName: `${NAMES[k]}-${i}.o` }));
          loaded++;
        } catch (e) {
          // loadElf wraps unexpected exceptions as "internal error": for the fuzzer those are bugs.
          if (!(e instanceof ElfError) || e.message.includes('internal error')) {
            throw new Error(`${NAMES[k]} iteration ${i}: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
          }
          expect(e.message.length).toBeGreaterThan(0);
          messages.add(e.message.replace(/^[^:]+: /, '').replace(/\d+/g, 'N').slice(0, 50));
          errors++;
        }
        slowest = Math.max(slowest, performance.now() - t0);
      }
    }
    expect(errors + loaded).toBe(ITERS * objects.length);
    expect(errors).toBeGreaterThan(0);
    // Nothing close to a hang: each load is bounded by the object's size.
    expect(slowest).toBeLessThan(2000);
    if (process.env.KESTREL_ELF_FUZZ !== undefined) {
      process.stdout.write(`elf fuzz: ${loaded} loaded, ${errors} ElfError, ${messages.size} distinct messages, slowest ${slowest.toFixed(1)} ms\n`);
    }
  });
});
