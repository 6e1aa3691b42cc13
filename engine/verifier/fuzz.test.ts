// Soundness fuzzing in CI: 10,000 generated programs; every accepted one runs in the interpreter
// on random contexts and map contents without a fault. Longer runs: `npm run fuzz`.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from './fuzz.js';
import { verify } from './index.js';

describe('verifier soundness fuzzing', () => {
  it('accepted programs never fault in the interpreter (10,000 programs)', () => {
    const programs = Number(process.env.FUZZ_PROGRAMS ?? 10_000);
    const r = fuzz({ programs, runsPerProgram: 6, seed: 0x5eed });
    const frac = r.accepted / r.generated;
    const top = [...r.rejections].sort((a, b) => b[1] - a[1]).slice(0, 8);
    console.log(
      `fuzz: generated ${r.generated}, accepted ${r.accepted} (${(frac * 100).toFixed(1)}%), runs ${r.runs}, ${(r.ms / 1000).toFixed(1)} s\n` +
        top.map(([k, n]) => `  ${n} × ${k}`).join('\n'),
    );
    expect(r.failures.map((f) => `${f.fault}\n${f.program}`)).toEqual([]);
    expect(r.internalErrors).toBe(0);
    expect(r.generated).toBe(programs);
    expect(frac).toBeGreaterThanOrEqual(0.3);
  }, 120_000);

  it('never throws on random bytes of any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        const r = verify(bytes, { progType: 'tracepoint', ctxSize: 40, maps: [] });
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) expect(r.error?.message ?? '').not.toMatch(/internal verifier error/);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on random well-formed-looking instructions', () => {
    const ops = [0x07, 0x0f, 0x17, 0x1f, 0x27, 0x37, 0x3f, 0x47, 0x57, 0x5f, 0x67, 0x77, 0x87, 0x97, 0x9f, 0xa7, 0xb7, 0xbf, 0xc7, 0xd4, 0xdc, 0xd7, 0x04, 0x0c, 0xb4, 0xbc, 0x61, 0x69, 0x71, 0x79, 0x81, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x05, 0x06, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x45, 0x55, 0x5d, 0x65, 0x6d, 0xa5, 0xb5, 0xc5, 0xd5, 0x16, 0x1e, 0x26, 0xa6, 0x85, 0x95, 0x18, 0x00];
    const insn = fc.record({
      op: fc.constantFrom(...ops),
      dst: fc.integer({ min: 0, max: 10 }),
      src: fc.integer({ min: 0, max: 10 }),
      off: fc.integer({ min: -8, max: 8 }),
      imm: fc.oneof(fc.integer({ min: -16, max: 64 }), fc.constantFrom(1, 0x100, 0x110, 0xe1, 0xf1, 5, 7, 1, 2, 131)),
    });
    fc.assert(
      fc.property(fc.array(insn, { minLength: 1, maxLength: 24 }), (xs) => {
        const bytes = new Uint8Array(xs.length * 8 + 8);
        const dv = new DataView(bytes.buffer);
        xs.forEach((x, k) => {
          dv.setUint8(k * 8, x.op);
          dv.setUint8(k * 8 + 1, x.dst | ((x.op === 0x18 ? x.src & 1 : x.src) << 4));
          dv.setInt16(k * 8 + 2, x.off, true);
          dv.setInt32(k * 8 + 4, x.imm, true);
        });
        dv.setUint8(xs.length * 8, 0x95);
        const r = verify(bytes, { progType: 'raw', ctxSize: 64, maps: [{ name: 'm', type: 1, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 }] });
        if (!r.ok) expect(r.error?.message ?? '').not.toMatch(/internal verifier error/);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('mutated suite programs', () => {
  it('never make the verifier throw or hit an internal error', async () => {
    const { CASES } = await import('./cases.js');
    const { assemble } = await import('../asm/assembler.js');
    const { Rng } = await import('./fuzz.js');
    const rng = new Rng(0xbadc0de);
    let accepted = 0;
    let total = 0;
    for (const c of CASES) {
      const a = assemble(c.prog, c.name);
      for (let m = 0; m < 40; m++) {
        const bytes = a.insns.slice();
        for (let k = 1 + rng.int(3); k > 0; k--) {
          const slot = rng.int(bytes.length / 8) * 8;
          const field = rng.int(4);
          if (field === 0) bytes[slot] = rng.pick([0x07, 0x0f, 0xbf, 0xb7, 0x61, 0x79, 0x7b, 0x63, 0x15, 0x1d, 0x25, 0x05, 0x85, 0x95, 0xc3, 0xdb, 0x18, 0x87, 0xd4, 0x34, 0x94, 0x3f, 0x9f, 0x6f]);
          else if (field === 1) bytes[slot + 1] = rng.int(256);
          else if (field === 2) bytes[slot + 2] = rng.int(256);
          else bytes[slot + 4] = rng.int(256);
        }
        const type = c.type ?? 'tracepoint';
        const r = verify(bytes, { progType: type, ctxSize: 64, maps: a.maps, maxInsns: 20_000 });
        total++;
        if (r.ok) accepted++;
        else expect(r.error?.message ?? '', c.name).not.toMatch(/internal verifier error/);
      }
    }
    console.log(`mutants: ${total}, accepted ${accepted}`);
    expect(total).toBeGreaterThan(5000);
  }, 120_000);
});
