// Verifier bench: time to verify programs of about 100, 1,000 and 10,000 instructions made of
// branches (diamonds that join again), bounded index checks into map values, spills and helper
// calls, plus a bounded loop; prints time, processed instructions and states, and how time grows.

import { assemble } from '../engine/asm/assembler.js';
import { verify } from '../engine/verifier/index.js';

/** A straight-line program of `n` instructions (approximately) with a branch every few insns. */
export function benchProgram(n: number): { insns: Uint8Array; maps: ReturnType<typeof assemble>['maps'] } {
  const lines: string[] = ['.map m hash key=4 value=64 entries=128', 'mov r9, r1', 'mov r6, 0', 'mov r7, 0', 'stdw [r10-16], 0'];
  let k = 0;
  while (lines.length < n - 3) {
    const l = `L${k}`;
    switch (k % 4) {
      case 0:
      case 1:
        // a diamond: one arm changes r6, both join at l
        lines.push(`ldxdw r2, [r9+${16 + 8 * (k % 3)}]`, `jgt r2, ${k % 50}, ${l}`, 'add r6, r2', 'and r6, 0xffff', `${l}:`, 'add r7, 1', 'and r7, 63');
        break;
      case 2:
        // map lookup with a checked index
        lines.push(
          'stw [r10-4], 1',
          'mov r2, r10',
          'add r2, -4',
          'lddw r1, map:m',
          'call 1',
          `jeq r0, 0, ${l}`,
          'mov r3, r7',
          'and r3, 63',
          'add r0, r3',
          'ldxb r4, [r0+0]',
          'add r6, r4',
          `${l}:`,
        );
        break;
      case 3:
        // spill/fill and a helper
        lines.push('stxdw [r10-16], r6', 'call 5', 'ldxdw r6, [r10-16]', 'xor r6, r0', 'and r6, 0xfff');
        break;
    }
    k++;
  }
  lines.push('mov r0, r6', 'exit');
  const a = assemble(lines.join('\n') + '\n');
  return { insns: a.insns, maps: a.maps };
}

function loopProgram(iterations: number): { insns: Uint8Array; maps: [] } {
  const a = assemble(`mov r1, 0\nmov r2, 0\nloop:\nadd r2, r1\nand r2, 0xffff\nadd r1, 1\njlt r1, ${iterations}, loop\nmov r0, r2\nexit\n`);
  return { insns: a.insns, maps: [] };
}

function timeIt(f: () => void): number {
  // Best of a few runs (the machine is shared).
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

export async function bench(): Promise<void> {
  process.stdout.write('verifier: time to verify (best of 3, after a warm-up)\n');
  const warm = benchProgram(2_000);
  for (let r = 0; r < 3; r++) verify(warm.insns, { progType: 'tracepoint', ctxSize: 40, maps: warm.maps, logLevel: 0 });
  let prev: number | undefined;
  let prevN: number | undefined;
  for (const n of [100, 1_000, 10_000]) {
    const p = benchProgram(n);
    const slots = p.insns.length / 8;
    let res = verify(p.insns, { progType: 'tracepoint', ctxSize: 40, maps: p.maps, logLevel: 0 });
    const ms = timeIt(() => {
      res = verify(p.insns, { progType: 'tracepoint', ctxSize: 40, maps: p.maps, logLevel: 0 });
    });
    const growth = prev !== undefined && prevN !== undefined ? `  ×${(ms / prev).toFixed(1)} time for ×${(slots / prevN).toFixed(1)} insns` : '';
    process.stdout.write(
      `  ${String(slots).padStart(6)} insns: ${ms.toFixed(1).padStart(8)} ms  ${res.ok ? 'accepted' : `REJECTED: ${res.error?.message}`}  processed ${res.stats.insnsProcessed}, states ${res.stats.states}, peak ${res.stats.peakStates}, ${((res.stats.insnsProcessed / ms) * 1000).toFixed(0)} insns/s${growth}\n`,
    );
    prev = ms;
    prevN = slots;
  }
  for (const it of [1_000, 50_000]) {
    const p = loopProgram(it);
    let res = verify(p.insns, { progType: 'tracepoint', ctxSize: 40, maps: p.maps, logLevel: 0 });
    const ms = timeIt(() => {
      res = verify(p.insns, { progType: 'tracepoint', ctxSize: 40, maps: p.maps, logLevel: 0 });
    });
    process.stdout.write(`  bounded loop of ${it} iterations: ${ms.toFixed(1)} ms, processed ${res.stats.insnsProcessed} insns, ${res.ok ? 'accepted' : `rejected: ${res.error?.message}`}\n`);
  }
}

const invoked = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invoked) void bench();
