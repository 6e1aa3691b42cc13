// Shared by the JIT's tests and bench: assemble, load, and run a program on both engines over
// identical fresh memories, then compare r0, faults and memory.

import { assemble } from '../asm/assembler.js';
import { loadProgram, type LoadedProgram } from '../program.js';
import { runProgram, type RunResult } from '../interpreter.js';
import { createTestRuntime, type TestRuntime } from '../test-runtime.js';
import { VmMemory, RESERVED_LOW } from '../memory.js';
import type { VerifyResult } from '../verifier/index.js';
import { compileProgram, runJit, type JitOptions, type JitProgram } from './index.js';
import { Rng } from './gen.js';
import type { KestrelEvent } from '../../collectors/events.js';

/**
 * A stand-in VerifyResult for code-generation unit tests of hand-written programs whose
 * safety is evident; the differential tests run the real verifier.
 */
export const TRUSTED: VerifyResult = { ok: true, log: '', stats: { insnsProcessed: 0, states: 0, peakStates: 0, stackDepth: [] } };

export function load(text: string, name = 't'): LoadedProgram {
  const a = assemble(text, name);
  return loadProgram({ name, insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'socket_filter' });
}

export function mustCompile(p: LoadedProgram, opts: JitOptions = { verified: TRUSTED }): JitProgram {
  const jp = compileProgram(p, opts);
  if ('error' in jp) throw new Error(jp.error);
  return jp;
}

export interface Side {
  res: RunResult;
  rt: TestRuntime;
}

export function r0(res: RunResult): bigint {
  return (BigInt(res.r0hi) << 32n) | BigInt(res.r0lo);
}

/** Run on a fresh runtime whose context holds `ctx`. */
export function runOn(
  p: LoadedProgram,
  exec: 'interp' | JitProgram,
  ctx: Uint8Array = new Uint8Array(0),
  setup?: (rt: TestRuntime) => void,
  budget = 10_000_000,
): Side {
  const rt = createTestRuntime({ mem: new VmMemory({ initialBytes: 1 << 20 }) });
  setup?.(rt);
  const addr = rt.setContext(ctx, true);
  const res =
    exec === 'interp'
      ? runProgram(p, rt, addr, 0, ctx.length, 0, { budget })
      : runJit(exec, rt, addr, 0, ctx.length, 0, { budget });
  return { res, rt };
}

/** First differing byte of the program-addressable memory (from 64 KiB up), or -1. */
export function memDiff(a: VmMemory, b: VmMemory): number {
  const n = Math.max(a.byteLength, b.byteLength);
  const x = a.u8;
  const y = b.u8;
  if (a.byteLength === b.byteLength && Buffer.from(x.buffer, RESERVED_LOW).equals(Buffer.from(y.buffer, RESERVED_LOW))) return -1;
  for (let i = RESERVED_LOW; i < n; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return i;
  return -1;
}

/** A deterministic mix of process, network and DNS activity that trips some rules. */
export function ruleEvents(seed: number, n: number): KestrelEvent[] {
  const r = new Rng(seed);
  const exes = ['/bin/bash', '/usr/bin/nc', '/usr/bin/curl', '/tmp/x', '/dev/shm/miner', '/usr/bin/sudo', '/usr/bin/kubectl', '/usr/sbin/sshd', '/usr/bin/python3', '/bin/sh'];
  const args = ['-e', '-c', '/bin/sh', 'http://evil.example/x.sh', '--donate-level', '-i', 'whoami', 'cat /etc/shadow', ''];
  const containers = [undefined, { id: '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d', name: 'web', image: 'docker.io/library/nginx:1.25' }];
  const events: KestrelEvent[] = [];
  const live = [1];
  let pid = 100;
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    ts += 1000n;
    const k = r.int(10);
    if (k < 6 || live.length < 3) {
      const parent = r.pick(live);
      const child = pid++;
      events.push({ type: 'fork', ts, pid: parent, child });
      const exe = r.pick(exes);
      const argv = [exe, ...Array.from({ length: r.int(4) }, () => r.pick(args))];
      events.push({
        type: 'exec',
        ts,
        pid: child,
        ppid: parent,
        uid: r.pick([0, 1000, 33]),
        gid: 0,
        exe,
        argv,
        cwd: r.pick(['/', '/tmp', '/root']),
        tty: r.int(3) === 0 ? 34816 : 0,
        ret: 0,
        container: r.pick(containers),
      });
      live.push(child);
    } else if (k < 9) {
      events.push({ type: 'connect', ts, pid: r.pick(live), family: 'inet', daddr: r.pick(['10.96.0.1', '8.8.8.8', '169.254.169.254', '127.0.0.1']), dport: r.pick([22, 80, 443, 4444, 3333]), ret: 0, proto: 'tcp' });
    } else if (live.length > 2) {
      const idx = 1 + r.int(live.length - 1);
      events.push({ type: 'exit', ts, pid: live[idx] });
      live.splice(idx, 1);
    }
  }
  return events;
}
