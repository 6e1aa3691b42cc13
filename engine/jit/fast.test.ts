// The JIT's direct helper imports (fast.ts) against the interpreter and against the JIT's own
// generic trampolines (noFastHelpers): same r0, faults (kind, pc, message), instruction counts,
// statistics and memory, on real VMs with the built-in helpers — hits and misses on hash, LPM
// and array maps, probe_read success and failure, no current task, replaced helpers, closed maps,
// throwing environments; and runJit with run timing off.

import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { assemble } from '../asm/assembler.js';
import { loadProgram, type LoadedProgram } from '../program.js';
import { runProgram, setRunTiming, type RunResult } from '../interpreter.js';
import { createVm, type Vm } from '../vm.js';
import { RegionKind } from '../memory.js';
import type { HelperImpl, Runtime } from '../runtime.js';
import { testEnv, type TestEnv, type TestEnvOptions } from '../helpers/test-env.js';
import { verify, type VerifyResult } from '../verifier/index.js';
import { compileProgram, runJit, type JitProgram } from './index.js';
import { memDiff, TRUSTED } from './test-util.js';
import { HashMap } from '../maps/hash.js';

const CTX = 64;
const USER_ADDR = 0x7fff_1234_0000n;

interface Side {
  vm: Vm;
  env: TestEnv;
  rt: Runtime;
  prog: LoadedProgram;
  ctx: number;
  maps: ReturnType<Vm['createMap']>[];
}

interface Setup {
  env?: TestEnvOptions;
  helpers?: Record<number, HelperImpl>;
  cpus?: number;
  cpu?: number;
  fill?: (s: Side) => void;
  /** Bypass the verifier (to reach the helpers' own fault paths). */
  trusted?: boolean;
}

function side(text: string, o: Setup): Side {
  const vm = createVm({ memoryBytes: 1 << 21, cpus: o.cpus ?? 1 });
  const a = assemble(text, 'fast');
  const maps = a.maps.map((d) => vm.createMap(d));
  const prog = loadProgram({ name: 'fast', insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'raw' }, (_d, i) => maps[i]);
  const env = testEnv(o.env);
  env.userMem.map(USER_ADDR, Uint8Array.from({ length: 64 }, (_, i) => 0x40 + i));
  const rt = vm.runtime(env, { progType: 'raw', helpers: o.helpers, cpu: o.cpu });
  const ctx = vm.mem.alloc(CTX).addr;
  vm.mem.addRegion(ctx, CTX, RegionKind.Context, true);
  for (let k = 0; k < CTX; k++) vm.mem.u8[ctx + k] = (k * 37 + 11) & 0xff;
  rt.ctxAddr = ctx;
  rt.ctxSize = CTX;
  const s = { vm, env, rt, prog, ctx, maps };
  o.fill?.(s);
  return s;
}

function verified(text: string, o: Setup): VerifyResult {
  if (o.trusted) return TRUSTED;
  const a = assemble(text, 'fast');
  const vr = verify(a.insns, { progType: 'raw', ctxSize: CTX, maps: a.maps, logLevel: 0 });
  if (!vr.ok) throw new Error(`verifier rejected the test program: ${vr.error?.message}\n${vr.log}`);
  return vr;
}

/** The helper part of a fault message (the prefix differs: the interpreter names the instruction). */
function helperMsg(r: RunResult): string | undefined {
  const m = r.fault?.message;
  return m === undefined ? undefined : m.slice(m.indexOf('helper '));
}

function summary(r: RunResult): unknown {
  return { r0lo: r.r0lo, r0hi: r.r0hi, instructions: r.instructions, kind: r.fault?.kind, pc: r.fault?.pc, msg: helperMsg(r) };
}

/**
 * Run `text` `runs` times on the interpreter, the JIT with direct imports and the JIT with only
 * generic trampolines, each on its own identical VM; everything must agree after every run.
 * `between(side, run)` may change a side between runs (the same on all three).
 */
function agree(text: string, o: Setup = {}, runs = 3, between?: (s: Side, run: number) => void): { results: RunResult[]; fast: JitProgram } {
  const vr = verified(text, o);
  const a = side(text, o);
  const b = side(text, o);
  const c = side(text, o);
  const fast = compileProgram(b.prog, { verified: vr });
  const generic = compileProgram(c.prog, { verified: vr, noFastHelpers: true });
  if ('error' in fast || 'error' in generic) throw new Error('not compiled');
  const results: RunResult[] = [];
  for (let k = 0; k < runs; k++) {
    if (between !== undefined) for (const s of [a, b, c]) between(s, k);
    const ra = runProgram(a.prog, a.rt, a.ctx, 0, CTX, 0);
    const rb = runJit(fast, b.rt, b.ctx, 0, CTX, 0);
    const rc = runJit(generic, c.rt, c.ctx, 0, CTX, 0);
    expect(summary(rb), `run ${k}: JIT (direct imports) vs interpreter`).toEqual(summary(ra));
    expect(summary(rc), `run ${k}: JIT (trampolines) vs interpreter`).toEqual(summary(ra));
    expect(rb.fault?.message, `run ${k}: fault message, direct vs trampoline`).toBe(rc.fault?.message);
    expect(memDiff(a.vm.mem, b.vm.mem), `run ${k}: memory, JIT (direct imports) vs interpreter`).toBe(-1);
    expect(memDiff(a.vm.mem, c.vm.mem), `run ${k}: memory, JIT (trampolines) vs interpreter`).toBe(-1);
    expect(b.env.now).toBe(a.env.now); // as many clock reads
    results.push(ra);
  }
  expect(b.prog.stats.runs).toBe(a.prog.stats.runs);
  expect(b.prog.stats.instructions).toBe(a.prog.stats.instructions);
  return { results, fast };
}

function importNames(jp: JitProgram): string[] {
  return WebAssembly.Module.imports(jp.module).map((i) => i.name);
}

const r0 = (r: RunResult): bigint => (BigInt(r.r0hi) << 32n) | BigInt(r.r0lo);

// Every value a task helper returns lands in a map value (compared as memory) and in r0.
const TASK_PROG = `
.map out array key=4 value=40 entries=1
  stw [r10-4], 0
  lddw r1, map:out
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, none
  mov r7, r0
  call 14
  stxdw [r7+0], r0
  mov r6, r0
  call 15
  stxdw [r7+8], r0
  xor r6, r0
  call 80
  stxdw [r7+16], r0
  xor r6, r0
  call 5
  stxdw [r7+24], r0
  call 5
  stxdw [r7+32], r0
  xor r6, r0
  mov r0, r6
  exit
none:
  mov r0, 0
  exit
`;

const hashKey = (k: number): Uint8Array => Uint8Array.of(k, 0, 0, 0);
const u64 = (v: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
};

describe('JIT direct helper imports', () => {
  afterEach(() => setRunTiming(true));

  it('task and time helpers: pid_tgid, uid_gid, cgroup id, ktime (with a current task)', () => {
    const { results, fast } = agree(TASK_PROG);
    expect(importNames(fast)).toEqual(['memory', 'f14', 'f15', 'f80', 'f5', 'm' + String(fast.prog.insns[1].imm >>> 0)]);
    expect(r0(results[0])).not.toBe(0n);
  });

  it('task helpers with no current task (-EINVAL, cgroup 0)', () => {
    const { results } = agree(TASK_PROG, { env: { task: null } });
    expect(results[0].fault).toBeUndefined();
  });

  it('task helpers with ids and a cgroup id that do not fit 31 bits', () => {
    agree(TASK_PROG, {
      env: { task: { pid: 0x9000_0001, tgid: 0xfedc_ba98, uid: 0xffff_fffe, gid: 0x8000_0000, comm: 'x', cgroupId: 0xffff_ffff_ffff_fff0n, taskAddr: 1n } },
    });
  });

  it('a clock that goes past 2^63 and a cgroup id outside u64 are wrapped as the built-ins store them', () => {
    agree(TASK_PROG, {
      env: { ktimeNs: 0x7fff_ffff_ffff_fff0n, clockStep: 0x10n, task: { pid: 1, tgid: 2, uid: 3, gid: 4, comm: 'y', cgroupId: -5n, taskAddr: 0n } },
    });
  });

  it('pid_tgid and uid_gid are read inside WebAssembly: one task query per run, whatever the calls', () => {
    const prog = `
  call 14
  mov r6, r0
  call 15
  xor r6, r0
  call 14
  add r6, r0
  call 15
  add r6, r0
  mov r0, r6
  exit
`;
    // Sides in agree's order: interpreter, JIT with direct imports, JIT with trampolines.
    const asked = [0, 0, 0];
    let n = 0;
    const count = (s: Side): void => {
      const which = n++;
      const real = s.env.currentTask.bind(s.env);
      s.env.currentTask = () => {
        asked[which]++;
        return real();
      };
    };
    // The task changes between runs; every run sees its own.
    const { results } = agree(prog, { fill: count }, 4, (s, k) => {
      s.env.task = { pid: 0x9000_0000 + k, tgid: 77 + k, uid: 1000 + k, gid: 0xffff_fff0, comm: 'w', cgroupId: 9n, taskAddr: 1n };
    });
    expect(new Set(results.map((r) => r.r0lo)).size).toBe(4);
    expect(asked).toEqual([4 * 4, 4, 4 * 4]);
  });

  it('task ids that are not numbers take the import (the same helper fault)', () => {
    const odd = (s: Side): void => {
      s.env.task = { pid: 5n as unknown as number, tgid: 1, uid: 2, gid: 3, comm: 'z', cgroupId: 1n, taskAddr: 1n };
    };
    const { results } = agree(TASK_PROG, { fill: odd });
    expect(results[0].fault?.message).toMatch(/helper 14 failed/);
  });

  it('a throwing environment is the same helper fault at the same instruction', () => {
    const boom = (s: Side): void => {
      s.env.currentTask = () => {
        throw new Error('task list locked');
      };
    };
    const { results } = agree(TASK_PROG, { fill: boom });
    expect(results[0].fault?.kind).toBe('helper');
    expect(results[0].fault?.message).toMatch(/helper 14 failed: task list locked/);
    const time = (s: Side): void => {
      s.env.ktimeNs = () => {
        throw new Error('no clock');
      };
    };
    const t = agree(TASK_PROG, { fill: time });
    expect(t.results[0].fault?.message).toMatch(/helper 5 failed: no clock/);
    const notBig = (s: Side): void => {
      s.env.ktimeNs = () => 5 as unknown as bigint;
    };
    expect(agree(TASK_PROG, { fill: notBig }).results[0].fault?.kind).toBe('helper');
  });

  it('helpers a runtime replaced are called instead (through the ABI, with all five arguments)', () => {
    const seen: bigint[][] = [];
    const helpers: Record<number, HelperImpl> = {
      14: (rt) => {
        seen.push([1, 2, 3, 4, 5].map((i) => rt.mem.dv.getBigUint64(0x100 + (i - 1) * 8, true)));
        rt.mem.dv.setBigUint64(0x128, 0x1122_3344_5566_7788n, true);
      },
      5: (rt) => rt.mem.dv.setBigUint64(0x128, 0xdead_beef_0000_0001n, true),
      1: (rt) => rt.mem.dv.setBigUint64(0x128, 0xffff_0000_0000_0000n + BigInt(rt.mem.u32[0x108 >>> 2]), true),
    };
    const text = `
  mov r1, 11
  mov r2, 22
  mov r3, 33
  mov r4, 44
  mov r5, 55
  call 14
  mov r6, r0
  call 5
  xor r6, r0
  stw [r10-4], 7
  lddw r1, map:h
  mov r2, r10
  add r2, -4
  call 1
  xor r0, r6
  exit
.map h hash key=4 value=8 entries=4
`;
    const { results } = agree(text, { helpers, trusted: true });
    expect(seen[0]).toEqual([11n, 22n, 33n, 44n, 55n]);
    expect(r0(results[0])).not.toBe(0n);
  });

  it('map_lookup_elem on a hash map: hits, misses, writes through the value pointer', () => {
    const text = `
.map h hash key=4 value=8 entries=16
  mov r6, 0
  mov r8, 0
L: stxw [r10-4], r6
  lddw r1, map:h
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, miss
  ldxdw r3, [r0+0]
  add r8, r3
  add r3, 1
  stxdw [r0+0], r3
miss:
  lsh r8, 1
  add r6, 1
  jlt r6, 8, L
  mov r0, r8
  exit
`;
    const fill = (s: Side): void => {
      for (const k of [1, 3, 6]) s.maps[0].update(hashKey(k), u64(100 * k));
    };
    const { results, fast } = agree(text, { fill });
    expect(importNames(fast).filter((n) => /^m\d/.test(n))).toHaveLength(1);
    expect(importNames(fast)).not.toContain('h1');
    expect(results[0].r0lo).not.toBe(0);
    expect(results[1].r0lo).not.toBe(results[0].r0lo);
  });

  it('map_lookup_elem on an LPM trie and on per-CPU and plain arrays; keys from the context', () => {
    const text = `
.map t lpm_trie key=8 value=8 entries=16 flags=1
.map pa percpu_array key=4 value=8 entries=4
.map a array key=4 value=8 entries=4
  mov r9, r1
  mov r8, 0
  mov r6, 0
L: stw [r10-8], 32
  mov r3, r9
  add r3, r6
  ldxw r4, [r3+0]
  stxw [r10-4], r4
  lddw r1, map:t
  mov r2, r10
  add r2, -8
  call 1
  jeq r0, 0, miss
  ldxdw r3, [r0+0]
  add r8, r3
miss:
  lsh r8, 3
  add r6, 4
  jlt r6, 32, L
  stw [r10-12], 2
  lddw r1, map:pa
  mov r2, r10
  add r2, -12
  call 1
  jeq r0, 0, out
  ldxdw r3, [r0+0]
  add r3, r8
  stxdw [r0+0], r3
  ldxw r4, [r9+0]
  stxw [r10-16], r4
  lddw r1, map:a
  mov r2, r10
  add r2, -16
  call 1
  jeq r0, 0, out
  stxdw [r0+0], r8
out:
  mov r0, r8
  exit
`;
    const fill = (s: Side): void => {
      const ctx = s.vm.mem.u8.subarray(s.ctx, s.ctx + CTX);
      // prefixes that match some of the context's 32-bit words
      const w = (o: number): number[] => Array.from(ctx.subarray(o, o + 4));
      const pfx = (len: number, ip: number[]): Uint8Array => Uint8Array.of(len, 0, 0, 0, ...ip);
      s.maps[0].update(pfx(8, w(0)), u64(8));
      s.maps[0].update(pfx(16, w(8)), u64(16));
      s.maps[0].update(pfx(32, w(12)), u64(32));
      s.maps[0].update(pfx(0, [0, 0, 0, 0]), u64(1));
      s.maps[2].update(Uint8Array.from(ctx.subarray(0, 4)).fill(0, 1), u64(5)); // key = ctx[0]
    };
    // context byte 0 selects the array slot: keep it inside the array
    const setCtx = (s: Side): void => {
      s.vm.mem.u8[s.ctx] = 1;
      s.vm.mem.u8[s.ctx + 1] = 0;
      s.vm.mem.u8[s.ctx + 2] = 0;
      s.vm.mem.u8[s.ctx + 3] = 0;
    };
    const { results, fast } = agree(text, { cpus: 3, cpu: 2, fill: (s) => (setCtx(s), fill(s)) });
    expect(importNames(fast).filter((n) => /^m\d/.test(n))).toHaveLength(3);
    expect(results[0].r0lo).not.toBe(0);
    // the LPM trie emptied between runs: all misses, then the default route only
    agree(text, { cpus: 3, cpu: 2, fill: (s) => (setCtx(s), fill(s)) }, 3, (s, k) => {
      if (k === 1) for (const key of [...s.maps[0].keys()]) s.maps[0].delete(key);
    });
  });

  it('a map closed between runs: the cached map is dropped and the lookup faults as in the interpreter', () => {
    const text = `
.map h hash key=4 value=8 entries=4
  stw [r10-4], 1
  lddw r1, map:h
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, out
  ldxdw r0, [r0+0]
out:
  exit
`;
    const { results } = agree(text, { fill: (s) => s.maps[0].update(hashKey(1), u64(42)) }, 3, (s, k) => {
      if (k === 2) s.maps[0].close();
    });
    expect(results[0].r0lo).toBe(42);
    expect(results[2].fault?.kind).toBe('helper');
    expect(results[2].fault?.message).toMatch(/is not a map/);
  });

  it('runtimes of one VM alternating (tracepoint/kprobe, CPUs), one of them with a replaced lookup', () => {
    const vm = createVm({ memoryBytes: 1 << 21, cpus: 2 });
    const a = assemble(
      `
.map pc percpu_array key=4 value=8 entries=1
  stw [r10-4], 0
  lddw r1, map:pc
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, out
  ldxdw r1, [r0+0]
  add r1, 1
  stxdw [r0+0], r1
  mov r0, r1
out:
  exit
`,
      't',
    );
    const maps = a.maps.map((d) => vm.createMap(d));
    const prog = loadProgram({ name: 't', insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'raw' }, (_d, i) => maps[i]);
    const jp = compileProgram(prog, { verify: { progType: 'raw', ctxSize: 0, maps: a.maps } });
    if ('error' in jp) throw new Error(jp.error);
    const cpu0 = vm.runtime(testEnv(), { progType: 'tracepoint', cpu: 0 });
    const cpu1 = vm.runtime(testEnv(), { progType: 'kprobe', cpu: 1 });
    const none = vm.runtime(testEnv(), { cpu: 1, helpers: { 1: (rt) => rt.mem.dv.setBigUint64(0x128, 0n, true) } });
    const seq = [cpu0, cpu1, cpu1, none, cpu0, none, cpu1].map((rt) => runJit(jp, rt, 0, 0, 0, 0).r0lo);
    expect(seq).toEqual([1, 1, 2, 0, 2, 0, 3]);
  });

  it('map_lookup_elem with a key pointer the helper rejects (NULL, high half set) faults as in the interpreter', () => {
    for (const key of [
      'mov r2, 0',
      'lddw r2, 0x100000000',
      'mov r2, r10\nadd r2, -2',
      'mov r2, r10\nadd r2, -8\nadd r2, 6',
      'mov r2, r10\nadd r2, -520',
      'mov r2, r10\nadd r2, 8',
    ]) {
      const text = `
.map h hash key=4 value=8 entries=4
  lddw r1, map:h
  ${key}
  call 1
  exit
`;
      const { results } = agree(text, { trusted: true }, 1);
      expect(results[0].fault?.kind).toBe('helper');
      expect(results[0].fault?.pc).toBe(2 + key.split('\n').length + (key.startsWith('lddw') ? 1 : 0));
    }
  });

  it('map known at only some call sites: the rest use the trampoline, same results', () => {
    const t2 = `
.map h hash key=4 value=8 entries=4
.map g hash key=4 value=8 entries=4
  stw [r10-4], 1
  ldxb r3, [r1+0]
  lddw r1, map:h
  jeq r3, 0, x
  lddw r1, map:g
x:
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, out
  ldxdw r0, [r0+0]
out:
  exit
`;
    const fill = (s: Side): void => {
      s.maps[0].update(hashKey(1), u64(7));
      s.maps[1].update(hashKey(1), u64(9));
    };
    const { fast, results } = agree(t2, { fill }, 2, (s, k) => {
      s.vm.mem.u8[s.ctx] = k;
    });
    expect(importNames(fast)).toContain('h1');
    expect(results.map((r) => r.r0lo)).toEqual([7, 9]);
  });

  it('probe_read_kernel: success, unreadable source (-EFAULT and zero fill), high-half source, size 0', () => {
    const text = `
.map out array key=4 value=64 entries=1
  stw [r10-4], 0
  lddw r1, map:out
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, none
  mov r7, r0
  stdw [r10-16], -1
  stdw [r10-24], -1
  mov r1, r10
  add r1, -24
  mov r2, 16
  mov r3, r9
  call 113
  mov r6, r0
  ldxdw r3, [r10-24]
  stxdw [r7+0], r3
  ldxdw r3, [r10-16]
  stxdw [r7+8], r3
  mov r1, r10
  add r1, -24
  mov r2, 12
  mov r3, 4096
  call 113
  stxdw [r7+16], r0
  ldxdw r3, [r10-24]
  stxdw [r7+24], r3
  ldxdw r3, [r10-16]
  stxdw [r7+32], r3
  mov r1, r10
  add r1, -24
  mov r2, 8
  lddw r3, 0x100010040
  call 113
  stxdw [r7+40], r0
  mov r1, r10
  add r1, -24
  mov r2, 0
  mov r3, 0
  call 113
  stxdw [r7+48], r0
  mov r1, r7
  add r1, 56
  mov r2, 8
  mov r3, r9
  add r3, 60
  call 113
  mov r0, r6
  exit
none:
  mov r0, 1
  exit
`;
    const withCtx = `  mov r9, r1\n${text.replace('.map out array key=4 value=64 entries=1\n', '')}`;
    const { results } = agree(`.map out array key=4 value=64 entries=1\n${withCtx}`);
    expect(results[0].r0lo).toBe(0);
  });

  it('stack keys the compiled code locates statically (r10-N), in this frame and in a callee frame', () => {
    const text = `
.map h hash key=8 value=8 entries=4
  stdw [r10-8], 3
  stdw [r10-16], 5
  lddw r1, map:h
  mov r2, r10
  add r2, -8
  call 1
  mov r6, 0
  jeq r0, 0, a
  ldxdw r6, [r0+0]
a:
  call local f
  add r6, r0
  lddw r1, map:h
  mov r2, r10
  add r2, -16
  add r2, 4
  call 1
  jeq r0, 0, b
  ldxdw r0, [r0+0]
  add r6, r0
b:
  mov r0, r6
  exit
f:
  stdw [r10-512], 5
  lddw r1, map:h
  mov r2, r10
  add r2, -512
  call 1
  jeq r0, 0, c
  ldxdw r0, [r0+0]
  exit
c:
  mov r0, 0
  exit
`;
    const fill = (s: Side): void => {
      s.maps[0].update(u64(3), u64(30));
      s.maps[0].update(u64(5), u64(50));
      s.maps[0].update(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0), u64(7));
    };
    const { results } = agree(text, { fill });
    expect(results[0].r0lo).toBe(30 + 50); // the r10-12 key (0,0,0,0,3,0,0,0) is absent
  });

  it('probe_read_kernel between overlapping stack ranges copies as memmove', () => {
    for (const [dst, src] of [
      [-24, -20],
      [-20, -24],
      [-24, -24],
    ]) {
      const text = `
  stdw [r10-8], 0x11223344
  stdw [r10-16], 0x55667788
  stdw [r10-24], 0x99aabbcc
  stdw [r10-32], 0x0ddeeff0
  mov r1, r10
  add r1, ${dst}
  mov r2, 16
  mov r3, r10
  add r3, ${src}
  call 113
  ldxdw r1, [r10-16]
  ldxdw r2, [r10-24]
  xor r1, r2
  ldxdw r2, [r10-8]
  add r0, r1
  xor r0, r2
  exit
`;
      agree(text, { trusted: true }, 1);
    }
  });

  it('probe_read_user: mapped user memory at a 64-bit address, unmapped (-EFAULT and zero fill)', () => {
    const text = `
  stdw [r10-8], -1
  stdw [r10-16], -1
  mov r1, r10
  add r1, -16
  mov r2, 16
  lddw r3, ${USER_ADDR + 3n}
  call 112
  mov r6, r0
  ldxdw r7, [r10-16]
  ldxdw r8, [r10-8]
  xor r7, r8
  mov r1, r10
  add r1, -16
  mov r2, 16
  lddw r3, ${USER_ADDR + 60n}
  call 112
  ldxdw r8, [r10-16]
  ldxdw r9, [r10-8]
  or r8, r9
  lsh r6, 1
  xor r6, r0
  xor r6, r7
  xor r6, r8
  mov r0, r6
  exit
`;
    const { results } = agree(text);
    expect(results[0].r0lo).not.toBe(0);
  });

  it('probe_read with a destination the helper rejects faults with the same message and count', () => {
    for (const [dst, size] of [
      ['mov r1, 0x100', 'mov r2, 8'],
      ['mov r1, r10\nadd r1, -4', 'mov r2, 8'],
      ['mov r1, r10\nadd r1, -8', 'lddw r2, 0x80000000'],
      ['mov r1, r10\nadd r1, -8', 'lddw r2, 0x100000008'],
    ]) {
      for (const id of [112, 113]) {
        const text = `
  mov r6, 5
  add r6, 1
  ${dst}
  ${size}
  mov r3, r10
  add r3, -16
  call ${id}
  exit
`;
        const { results } = agree(text, { trusted: true }, 1);
        expect(results[0].fault?.kind).toBe('helper');
        expect(results[0].fault?.message).toMatch(/probe_read/);
      }
    }
  });

  it('the same program nested three deep from inside a helper, the deepest faulting: every level keeps its frame', () => {
    const vm = createVm({ memoryBytes: 1 << 21 });
    const a = assemble('ldxdw r6, [r1+0]\nstxdw [r10-8], r6\ncall 5\nldxdw r0, [r10-8]\nexit\n', 'n');
    const prog = loadProgram({ name: 'n', insns: a.insns, maps: [], mapRefs: [], progType: 'raw' });
    const jp = compileProgram(prog, { verified: TRUSTED });
    if ('error' in jp) throw new Error(jp.error);
    const ctx = vm.mem.alloc(8).addr;
    vm.mem.addRegion(ctx, 8, RegionKind.Context, true);
    let depth = 0;
    const inner: RunResult[] = [];
    const rt = vm.runtime(testEnv(), {
      progType: 'raw',
      helpers: {
        5: () => {
          depth++;
          if (depth === 3) throw new Error('deepest');
          vm.mem.u32[ctx >>> 2] = 100 + depth;
          inner.push(runJit(jp, rt, ctx, 0, 0, 0));
        },
      },
    });
    rt.ctxAddr = ctx;
    rt.ctxSize = 8;
    vm.mem.u32[ctx >>> 2] = 7;
    const res = runJit(jp, rt, ctx, 0, 0, 0);
    expect(res.r0lo).toBe(7);
    expect(inner.map((r) => r.fault?.kind ?? r.r0lo)).toEqual(['helper', 101]);
    expect(prog.stats.runs).toBe(3);
    depth = 10;
    vm.mem.u32[ctx >>> 2] = 9;
    expect(runJit(jp, rt, ctx, 0, 0, 0).r0lo).toBe(9);
  });

  it('runJit honours setRunTiming: no clock reads when off, runs and instructions still counted', () => {
    const vm = createVm({ memoryBytes: 1 << 20 });
    const a = assemble('call 14\nmov r0, 3\nexit\n', 't');
    const prog = loadProgram({ name: 't', insns: a.insns, maps: [], mapRefs: [], progType: 'raw' });
    const jp = compileProgram(prog, { verified: TRUSTED });
    if ('error' in jp) throw new Error(jp.error);
    const rt = vm.runtime(testEnv(), { progType: 'raw' });
    runJit(jp, rt, 0, 0, 0, 0);
    expect(prog.stats.runs).toBe(1);
    const before = { ...prog.stats };
    setRunTiming(false);
    const now = vi.spyOn(performance, 'now');
    try {
      for (let k = 0; k < 5; k++) expect(runJit(jp, rt, 0, 0, 0, 0).r0lo).toBe(3);
      expect(now).not.toHaveBeenCalled();
    } finally {
      now.mockRestore();
      setRunTiming(true);
    }
    expect(prog.stats.runs).toBe(before.runs + 5);
    expect(prog.stats.instructions).toBe(before.instructions + 5 * 3);
    expect(prog.stats.timeNs).toBe(before.timeNs);
    const now2 = vi.spyOn(performance, 'now');
    try {
      runJit(jp, rt, 0, 0, 0, 0);
      expect(now2).toHaveBeenCalledTimes(2);
    } finally {
      now2.mockRestore();
    }
  });

  it('inline LRU lookups keep the recency order and evictions of the helper', () => {
    // A 6-entry LRU map: each run looks keys up in its own order (a hit moves its element to
    // the front of the recency list, which lives in the shared memory), then userspace inserts
    // keys, evicting the least recent. Over keys 0..11 about half the lookups hit; over keys
    // 0..5 (all present, re-inserted between runs) every one does: head, middle and tail hits.
    const prog = (n: number, keys: number): string => `
.map h lru_hash key=4 value=8 entries=6
  mov r6, 0
  mov r7, 0
  ldxb r8, [r1+0]
next:
  mov r1, r6
  mul r1, r8
  add r1, 5
  mod r1, ${keys}
  stxw [r10-16], r1
  lddw r1, map:h
  mov r2, r10
  add r2, -16
  call 1
  jeq r0, 0, miss
  ldxdw r1, [r0+0]
  add r7, r1
miss:
  add r6, 1
  jlt r6, ${n}, next
  mov r0, r7
  exit
`;
    const key = (k: number): Uint8Array => Uint8Array.of(k, 0, 0, 0);
    const val = (v: number): Uint8Array => new Uint8Array(new BigUint64Array([BigInt(v)]).buffer);
    for (const [n, keys] of [
      [5, 12],
      [40, 6],
    ]) {
      const orders: string[][] = [[], [], []];
      let side = 0;
      const spy = vi.spyOn(HashMap.prototype, 'lookupAddr');
      let calls = 0;
      try {
        agree(prog(n, keys), {}, 8, (sd, run) => {
          const m = sd.maps[0] as unknown as HashMap;
          orders[side % 3].push(m.lruKeys().map((k) => k[0]).join(','));
          side++;
          sd.vm.mem.u8[sd.ctx] = 1 + ((run * 5) % 7);
          if (keys === 6) for (let k = 0; k < 6; k++) m.update(key((run + k * 5) % 6), val(run * 10 + k));
          else for (let k = 0; k < 3; k++) m.update(key((run * 7 + k * 3) % 12), val(run * 10 + k));
        });
        calls = spy.mock.calls.length;
      } finally {
        spy.mockRestore();
      }
      expect(orders[1]).toEqual(orders[0]);
      expect(orders[2]).toEqual(orders[0]);
      expect(new Set(orders[0]).size).toBeGreaterThan(3);
      // The interpreter and the trampolines call lookupAddr for every lookup, the inline code never.
      expect(calls).toBe(2 * 8 * n);
    }
  });

  it('map_update_elem of a present key with flags 0 is done in place (hash and LRU maps); the rest by the helper', () => {
    // Eight updates a run of keys i mod m (m and the flags from the context): present keys are
    // updated in place (the LRU element moved to the front), absent keys inserted by the helper
    // (evicting in the LRU map when m is 8), flags 1 (NOEXIST) and 2 (EXIST) left to the helper.
    const prog = (type: string): string => `
.map h ${type} key=8 value=16 entries=5
  mov r6, 0
  mov r7, 0
  ldxb r8, [r1+0]
  ldxb r9, [r1+1]
next:
  mov r1, r6
  mod r1, r9
  stxdw [r10-8], r1
  stxdw [r10-32], r6
  mov r1, r6
  mul r1, 7
  stxdw [r10-24], r1
  lddw r1, map:h
  mov r2, r10
  add r2, -8
  mov r3, r10
  add r3, -32
  mov r4, r8
  call 2
  add r7, r0
  add r6, 1
  jlt r6, 8, next
  mov r0, r7
  exit
`;
    for (const type of ['hash', 'lru_hash']) {
      const orders: string[][] = [[], [], []];
      let side = 0;
      const spy = vi.spyOn(HashMap.prototype, 'updateAddr');
      let calls = 0;
      try {
        const { results } = agree(prog(type), {}, 6, (sd, run) => {
          const m = sd.maps[0] as unknown as HashMap;
          if (type === 'lru_hash') orders[side % 3].push(m.lruKeys().map((k) => k[0]).join(','));
          side++;
          sd.vm.mem.u8[sd.ctx] = [0, 0, 1, 2, 0, 0][run];
          sd.vm.mem.u8[sd.ctx + 1] = [8, 4, 4, 8, 4, 4][run];
          if (run === 4) m.delete(Uint8Array.of(3, 0, 0, 0, 0, 0, 0, 0));
        });
        calls = spy.mock.calls.length;
        expect(results.some((r) => r.r0lo !== 0)).toBe(true); // some updates failed (full map, NOEXIST, EXIST)
      } finally {
        spy.mockRestore();
      }
      expect(orders[1]).toEqual(orders[0]);
      expect(orders[2]).toEqual(orders[0]);
      // The interpreter and the trampolines: 8 updates a run through updateAddr; the in-place
      // path: fewer (in runs 1, 4 and 5 keys 0..3 are present after their first update).
      expect(calls).toBeGreaterThan(2 * 6 * 8);
      expect(calls).toBeLessThanOrEqual(3 * 6 * 8 - 12);
    }
  });

  it('inline hash lookups agree with the interpreter while userspace and programs change the map (property)', () => {
    // Plain and LRU hash maps publish a descriptor and are looked up inside WebAssembly. Each
    // run looks up keys 0..23, adds what it finds into r0 and bumps every found value.
    const prog = (type: string, ks: number): string => {
      const stores =
        ks === 4
          ? 'stxw [r10-16], r6'
          : ks === 8
            ? 'stxw [r10-16], r6\n  stw [r10-12], 77'
            : 'stxw [r10-16], r6\n  stw [r10-12], 77\n  stxw [r10-8], r6\n  stw [r10-4], -1';
      return `
.map h ${type} key=${ks} value=8 entries=32
  mov r6, 0
  mov r7, 0
next:
  ${stores}
  lddw r1, map:h
  mov r2, r10
  add r2, -16
  call 1
  jeq r0, 0, miss
  ldxdw r1, [r0+0]
  add r7, r1
  add r1, 1
  stxdw [r0+0], r1
miss:
  add r6, 1
  jlt r6, 24, next
  mov r0, r7
  exit
`;
    };
    const keyOf = (k: number, ks: number): Uint8Array => {
      const b = new Uint8Array(ks);
      const v = new DataView(b.buffer);
      v.setUint32(0, k, true);
      if (ks >= 8) v.setUint32(4, 77, true);
      if (ks >= 16) {
        v.setUint32(8, k, true);
        v.setInt32(12, -1, true);
      }
      return b;
    };
    fc.assert(
      fc.property(
        fc.constantFrom('hash', 'lru_hash'),
        fc.constantFrom(4, 8, 16),
        fc.array(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 1000 })), { maxLength: 12 }), { minLength: 2, maxLength: 6 }),
        (type, ks, batches) => {
          const { fast } = agree(prog(type, ks), {}, batches.length, (sd, run) => {
            const m = sd.maps[0];
            for (const [del, k, v] of batches[run]) {
              if (del) {
                try {
                  m.delete(keyOf(k, ks));
                } catch {
                  // absent: nothing to delete
                }
              } else {
                try {
                  m.update(keyOf(k, ks), new Uint8Array(new BigUint64Array([BigInt(v)]).buffer));
                } catch {
                  // full
                }
              }
            }
          });
          expect(importNames(fast).some((n) => n.startsWith('m'))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
