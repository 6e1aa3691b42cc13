// Soundness fuzzing: generate random but plausible programs (map lookups with null checks and
// checked indexes, helper calls, branches, bounded loops, stack spills, ctx reads, ring-buffer
// records, local calls, bpf_loop), verify each, and run every accepted one in the interpreter on
// many random contexts and map contents. A memory fault, helper fault or budget overrun in an
// accepted program is a verifier soundness bug. Parameters sit near the bounds on purpose so
// that a good share is accepted and the rest fails by a hair.

import { assemble } from '../asm/assembler.js';
import { RegionKind } from '../memory.js';
import { loadProgram } from '../program.js';
import { runProgram } from '../interpreter.js';
import { createTestEnv } from '../test-runtime.js';
import { createVm } from '../vm.js';
import type { MapDef } from '../maps/types.js';
import { verify } from './index.js';

export interface FuzzOptions {
  programs: number;
  runsPerProgram: number;
  seed: number;
  /** Stop at the first soundness failure (default true). */
  stopOnFailure?: boolean;
}

export interface FuzzFailure {
  seed: number;
  program: string;
  fault: string;
}

export interface FuzzReport {
  generated: number;
  accepted: number;
  runs: number;
  /** Verifier exceptions (must be 0: verify never throws) or internal errors. */
  internalErrors: number;
  failures: FuzzFailure[];
  /** Most common rejection reasons (first words), for tuning the generator. */
  rejections: Map<string, number>;
  ms: number;
}

/** xorshift32, deterministic per seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
}

export const FUZZ_MAPS = [
  '.map h hash key=4 value=24 entries=16',
  '.map a array key=4 value=32 entries=8',
  '.map rb ringbuf key=0 value=0 entries=4096',
].join('\n');
const CTX_SIZE = 64;
const VALUE = { h: 24, a: 32 };

/** One random program in the assembler's dialect. */
export function generateProgram(rng: Rng): string {
  const out: string[] = [FUZZ_MAPS, 'mov r9, r1', 'mov r6, 0', 'mov r7, 0', 'mov r8, 0'];
  let label = 0;
  const L = (): string => `L${label++}`;
  const near = (bound: number): number => Math.max(0, bound + rng.pick([-2, -1, -1, 0, 0, 0, 0, 1]));
  const sreg = (): string => rng.pick(['r6', 'r7', 'r8']);
  const blocks = 2 + rng.int(6);
  let subUsed = false;
  let cbUsed = false;
  const block = (depth: number): void => {
    switch (rng.int(17)) {
      case 0: {
        // ctx read at a checked or slightly wrong offset
        const size = rng.pick([1, 2, 4, 8]);
        const off = near(CTX_SIZE - size) - rng.int(3) * size;
        out.push(`ldx${{ 1: 'b', 2: 'h', 4: 'w', 8: 'dw' }[size]} ${sreg()}, [r9+${Math.max(0, off)}]`);
        break;
      }
      case 1: {
        // scalar arithmetic
        const op = rng.pick(['add', 'sub', 'mul', 'div', 'mod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh', 'mov', 'add32', 'and32', 'sub32', 'neg', 'sdiv', 'smod', 'movsx832', 'movsx1664', 'le16', 'be32', 'bswap64']);
        const d = sreg();
        if (op === 'neg' || op.startsWith('le') || op.startsWith('be') || op.startsWith('bswap')) out.push(`${op} ${d}`);
        else if (op.startsWith('movsx')) out.push(`${op} ${d}, ${sreg()}`);
        else if (op === 'lsh' || op === 'rsh' || op === 'arsh') out.push(`${op} ${d}, ${rng.int(70)}`);
        else if (rng.chance(0.5)) out.push(`${op} ${d}, ${sreg()}`);
        else out.push(`${op} ${d}, ${rng.chance(0.1) ? 0 : rng.int(300) - 20}`);
        break;
      }
      case 2: {
        // forward branch over a nested block
        const l = L();
        const jop = rng.pick(['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jsgt', 'jsge', 'jslt', 'jsle', 'jset', 'jgt32', 'jslt32']);
        out.push(`${jop} ${sreg()}, ${rng.chance(0.5) ? sreg() : rng.int(64)}, ${l}`);
        if (depth < 3) block(depth + 1);
        out.push(`${l}:`);
        break;
      }
      case 3:
      case 4: {
        // map lookup, null check, index checked against the value size
        const map = rng.pick(['h', 'a']);
        const vs = VALUE[map as 'h' | 'a'];
        const l = L();
        out.push(`stw [r10-4], ${rng.int(10)}`, 'mov r2, r10', 'add r2, -4', `lddw r1, map:${map}`, 'call 1');
        if (!rng.chance(0.05)) out.push(`jeq r0, 0, ${l}`);
        const size = rng.pick([1, 2, 4, 8]);
        const idx = sreg();
        out.push(`mov r3, ${idx}`);
        if (rng.chance(0.5)) out.push(`and r3, ${near(vs - size)}`);
        else out.push(`${rng.pick(['jgt', 'jge', 'jsgt'])} r3, ${near(vs - size)}, ${l}`, ...(rng.chance(0.7) ? [`jslt r3, 0, ${l}`] : []));
        out.push('add r0, r3');
        const sfx = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' }[size];
        if (rng.chance(0.5)) out.push(`ldx${sfx} ${sreg()}, [r0+0]`);
        else out.push(`stx${sfx} [r0+0], ${sreg()}`);
        out.push(`${l}:`);
        break;
      }
      case 5: {
        // stack spill and fill (sometimes of an unwritten slot)
        const off = 8 * (1 + rng.int(8));
        out.push(`stx${rng.pick(['dw', 'dw', 'w', 'h', 'b'])} [r10-${off}], ${sreg()}`);
        const roff = rng.chance(0.85) ? off : 8 * (1 + rng.int(8));
        out.push(`ldx${rng.pick(['dw', 'w', 'b', 'sw', 'sb', 'h'])} ${sreg()}, [r10-${roff}]`);
        break;
      }
      case 6: {
        // helpers returning scalars; get_current_comm into a stack buffer
        const h = rng.pick([5, 7, 8, 14, 15, 16]);
        if (h === 16) out.push('mov r1, r10', 'add r1, -32', `mov r2, ${near(16)}`, 'call 16');
        else out.push(`call ${h}`);
        out.push(`mov ${sreg()}, r0`);
        break;
      }
      case 7: {
        // bounded loop
        const l = L();
        const n = 1 + rng.int(12);
        out.push('mov r4, 0', `${l}:`, `add ${sreg()}, r4`, 'add r4, 1', `jlt r4, ${n}, ${l}`);
        break;
      }
      case 8: {
        // ring-buffer record: reserve, write near the end, submit or discard (rarely forgotten)
        const l = L();
        const size = 8 * (1 + rng.int(4));
        out.push('lddw r1, map:rb', `mov r2, ${size}`, 'mov r3, 0', 'call 131', `jeq r0, 0, ${l}`);
        out.push(`stxdw [r0+${near(size - 8)}], ${sreg()}`);
        if (!rng.chance(0.05)) out.push('mov r1, r0', 'mov r2, 0', `call ${rng.pick([132, 133])}`);
        out.push(`${l}:`);
        break;
      }
      case 9: {
        // pointer arithmetic on the stack with a masked index
        out.push('stdw [r10-64], 0', 'stdw [r10-56], 0', `mov r3, ${sreg()}`, `and r3, ${near(15)}`, 'mov r2, r10', 'add r2, -64', 'add r2, r3', `ldxb ${sreg()}, [r2+0]`);
        break;
      }
      case 10: {
        subUsed = true;
        out.push(`mov r1, ${sreg()}`, 'call local sub', `mov ${sreg()}, r0`);
        break;
      }
      case 12:
      case 13: {
        // index through an arithmetic chain, then 64/32-bit, signed/unsigned checks
        const map = rng.pick(['h', 'a']);
        const vs = VALUE[map as 'h' | 'a'];
        const size = rng.pick([1, 2, 4, 8]);
        const l = L();
        out.push(`stw [r10-4], ${rng.int(10)}`, 'mov r2, r10', 'add r2, -4', `lddw r1, map:${map}`, 'call 1', `jeq r0, 0, ${l}`, `mov r3, ${sreg()}`);
        const ops = ['and r3, K', 'mod r3, K', 'rsh r3, S', 'lsh r3, S', 'mul r3, K', 'add r3, K', 'sub r3, K', 'mov32 r3, r3', 'and32 r3, K', 'add32 r3, K', 'div r3, K', 'xor r3, K', 'or r3, K', 'arsh r3, S', 'neg r3', 'movsx832 r3, r3', 'movsx1664 r3, r3', 'be16 r3', 'le32 r3', 'sub32 r3, K', 'lsh32 r3, S', 'rsh32 r3, S', 'arsh32 r3, S'];
        for (let k = rng.int(4); k > 0; k--) {
          out.push(rng.pick(ops).replace('K', String(rng.chance(0.2) ? rng.int(4) - 2 : 1 + rng.int(40))).replace('S', String(rng.int(8))));
        }
        const b = near(vs - size);
        const check = rng.pick(['jgt', 'jge', 'jgt32', 'jge32', 'jsgt', 'jsgt32', 'jsge']);
        out.push(`${check} r3, ${check.startsWith('jge') ? b + 1 : b}, ${l}`);
        const lower = rng.pick(['', 'jslt r3, 0', 'jsle r3, -1', 'jslt32 r3, 0', 'jsgt r3, -1']);
        if (lower === 'jsgt r3, -1') {
          const ok = L();
          out.push(`jsgt r3, -1, ${ok}`, `ja ${l}`, `${ok}:`);
        } else if (lower !== '') out.push(`${lower}, ${l}`);
        out.push(rng.chance(0.8) ? 'add r0, r3' : 'sub r0, r3');
        const sfx = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' }[size];
        out.push(rng.chance(0.5) ? `ldx${sfx} ${sreg()}, [r0+0]` : `stx${sfx} [r0+0], ${sreg()}`, `${l}:`);
        break;
      }
      case 14: {
        // atomics on a stack slot or a map value, sometimes misaligned
        const l = L();
        if (rng.chance(0.5)) {
          out.push('stdw [r10-80], 0', `mov r2, ${sreg()}`, `lock ${rng.pick(['add', 'or', 'and', 'xor', 'fetch add', 'xchg'])} [r10-${rng.pick([80, 80, 76, 84])}], r2`, `ldxdw ${sreg()}, [r10-80]`);
        } else {
          out.push('stw [r10-4], 1', 'mov r2, r10', 'add r2, -4', 'lddw r1, map:a', 'call 1', `jeq r0, 0, ${l}`, 'mov r2, 1');
          out.push(`lock ${rng.pick(['add', 'fetch add', 'xor', 'xchg'])}${rng.pick(['', '32'])} [r0+${rng.pick([0, 8, 24, 4, 28, 30])}], r2`, `mov ${sreg()}, r2`, `${l}:`);
        }
        break;
      }
      case 15: {
        // a string read whose returned length indexes the buffer
        const l = L();
        const size = rng.pick([16, 32]);
        out.push('mov r1, r10', `add r1, -${size + 8}`, `mov r2, ${size}`, `ldxdw r3, [r9+16]`, 'call 114', `jsle r0, ${rng.pick([0, 0, -1, 1])}, ${l}`, 'mov r2, r10', `add r2, -${size + 8}`, 'add r2, r0', `ldxb ${sreg()}, [r2${rng.pick(['-1', '-1', '+0'])}]`, `${l}:`);
        break;
      }
      case 16: {
        // 32-bit jumps against negative and large immediates
        const l = L();
        out.push(`${rng.pick(['jslt32', 'jsgt32', 'jlt32', 'jgt32', 'jset32', 'jne32'])} ${sreg()}, ${rng.pick([-1, -100, 0x7fffffff, 255, 0])}, ${l}`);
        if (depth < 3) block(depth + 1);
        out.push(`${l}:`);
        break;
      }
      case 11: {
        cbUsed = true;
        out.push('stdw [r10-72], 0', `mov r1, ${1 + rng.int(8)}`, 'lddw r2, func:cb', 'mov r3, r10', 'add r3, -72', 'mov r4, 0', 'call 181', `ldxdw ${sreg()}, [r10-72]`);
        break;
      }
    }
  };
  for (let b = 0; b < blocks; b++) block(0);
  out.push(`mov r0, ${sreg()}`, 'exit');
  if (subUsed) out.push('sub:', 'mov r0, r1', `and r0, ${rng.int(100)}`, 'exit');
  if (cbUsed) out.push('cb:', 'ldxdw r3, [r2+0]', 'add r3, r1', 'stxdw [r2+0], r3', `mov r0, ${rng.chance(0.97) ? rng.int(2) : 2}`, 'exit');
  return out.join('\n') + '\n';
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  // 8-byte little-endian words biased to values near the bounds the generator uses.
  const b = new Uint8Array(n);
  const dv = new DataView(b.buffer);
  for (let o = 0; o + 8 <= n; o += 8) {
    const k = rng.int(10);
    if (k < 5) dv.setBigUint64(o, BigInt(rng.int(41)), true);
    else if (k < 7) dv.setBigInt64(o, BigInt(-1 - rng.int(40)), true);
    else if (k < 8) dv.setUint32(o, rng.u32(), true);
    else for (let i = 0; i < 8; i++) b[o + i] = rng.int(256);
  }
  for (let o = n & ~7; o < n; o++) b[o] = rng.int(256);
  return b;
}

/** Generate, verify and run programs; see FuzzReport. */
export function fuzz(opts: FuzzOptions): FuzzReport {
  const t0 = performance.now();
  const rng = new Rng(opts.seed);
  const vm = createVm({ memoryBytes: 32 * 1024 * 1024 });
  const defs: MapDef[] = assemble(FUZZ_MAPS + '\nmov r0, 0\nexit\n').maps;
  const maps = defs.map((d) => vm.createMap(d));
  const rt = vm.runtime(createTestEnv(), { progType: 'raw' });
  const ctx = vm.mem.alloc(CTX_SIZE);
  const region = vm.mem.addRegion(ctx.addr, CTX_SIZE, RegionKind.Context, true);
  const report: FuzzReport = { generated: 0, accepted: 0, runs: 0, internalErrors: 0, failures: [], rejections: new Map(), ms: 0 };
  try {
    for (let p = 0; p < opts.programs; p++) {
      const seed = rng.u32();
      const prng = new Rng(seed);
      const text = generateProgram(prng);
      const a = assemble(text, `fuzz-${seed}`);
      report.generated++;
      let res;
      try {
        res = verify(a.insns, { progType: 'raw', ctxSize: CTX_SIZE, maps: a.maps, logLevel: 0 });
      } catch (e) {
        report.internalErrors++;
        report.failures.push({ seed, program: text, fault: `verify threw: ${String(e)}` });
        continue;
      }
      if (!res.ok) {
        const msg = res.error?.message ?? '';
        if (msg.startsWith('internal verifier error')) {
          report.internalErrors++;
          report.failures.push({ seed, program: text, fault: msg });
        }
        const key = msg.replace(/[-\d]+/g, 'N').slice(0, 60);
        report.rejections.set(key, (report.rejections.get(key) ?? 0) + 1);
        continue;
      }
      report.accepted++;
      const prog = loadProgram({ name: `fuzz-${seed}`, insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'raw' }, (_d, i) => maps[i]);
      for (let r = 0; r < opts.runsPerProgram; r++) {
        // Fresh random context and map contents for every run.
        vm.mem.u8.set(randomBytes(prng, CTX_SIZE), ctx.addr);
        const key = new Uint8Array(4);
        for (let k = 0; k < 3; k++) {
          new DataView(key.buffer).setUint32(0, prng.int(10), true);
          maps[0].update(key, randomBytes(prng, 24), 0);
          new DataView(key.buffer).setUint32(0, prng.int(8), true);
          maps[1].update(key, randomBytes(prng, 32), 0);
        }
        if (prng.chance(0.3)) {
          new DataView(key.buffer).setUint32(0, prng.int(10), true);
          if (maps[0].lookup(key) !== undefined) maps[0].delete(key);
        }
        rt.ctxAddr = ctx.addr;
        rt.ctxSize = CTX_SIZE;
        const out = runProgram(prog, rt, ctx.addr, 0, CTX_SIZE, 0, { budget: 1_000_000 });
        report.runs++;
        if (out.fault !== undefined) {
          vm.abortReservations();
          report.failures.push({ seed, program: text, fault: `${out.fault.kind} fault at insn ${out.fault.pc}: ${out.fault.message}` });
          break;
        }
      }
      if (report.failures.length > 0 && opts.stopOnFailure !== false) break;
    }
  } finally {
    vm.mem.removeRegion(region);
    vm.mem.free(ctx);
    report.ms = performance.now() - t0;
  }
  return report;
}
