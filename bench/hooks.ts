// Simulated-kernel hook firings per second: an exec and a connect stream through SimKernel with no
// program attached (the cost of the kernel itself: process table, kernel maps, contexts) and with
// one trivial program on each hook (return 0), on the interpreter and the JIT; also the simulator.
import { assemble } from '../engine/asm/assembler.js';
import { jitRunner } from '../engine/jit/index.js';
import { createEngineKernel, interpret, type ProgramRunner } from '../collectors/kernel/engine.js';
import { HOOK_NAMES, HOOKS } from '../collectors/kernel/hooks.js';
import type { KestrelEvent } from '../collectors/events.js';
import { loadScenarios } from '../collectors/simulate/pack.js';
import { Simulator } from '../collectors/simulate/runner.js';

function rate(n: number, ms: number): string {
  const r = (n / ms) * 1000;
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(1)} k/s`;
}

function line(what: string, n: number, ms: number, extra = ''): void {
  process.stdout.write(`${what.padEnd(56)} ${rate(n, ms).padStart(12)}  (${((ms * 1e6) / n).toFixed(0)} ns each)${extra}\n`);
}

/** A steady workload: long-lived processes doing exec + connect, recycled so the table stays small. */
function workload(n: number): KestrelEvent[] {
  const out: KestrelEvent[] = [];
  for (let i = 0; i < n; i++) {
    const pid = 1000 + (i % 512);
    out.push({ type: 'exec', ts: BigInt(i) * 1000n, pid, ppid: 1, uid: 0, exe: '/usr/bin/curl', argv: ['curl', '-s', 'http://10.0.0.1/'], env: ['HOME=/root'] });
    out.push({ type: 'connect', ts: BigInt(i) * 1000n + 500n, pid, family: 'inet', daddr: '10.0.0.1', dport: 80 });
  }
  return out;
}

/** Best of three (the machine is shared); `setup` is not timed. */
function best<S>(setup: () => S, f: (s: S) => number): { ms: number; firings: number } {
  let ms = Number.POSITIVE_INFINITY;
  let firings = 0;
  for (let r = 0; r < 3; r++) {
    const s = setup();
    const t0 = performance.now();
    firings = f(s);
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, firings };
}

function kernel(attach: boolean, run: ProgramRunner): ReturnType<typeof createEngineKernel> {
  const ek = createEngineKernel({ run });
  if (attach) {
    const trivial = assemble('mov r0, 0\nexit');
    for (const h of HOOK_NAMES) ek.attachSpec(h, { name: `nop_${h}`, ...trivial, progType: HOOKS[h].progType });
  }
  return ek;
}

function runKernel(ek: ReturnType<typeof createEngineKernel>, events: KestrelEvent[], attach: boolean): number {
  for (const ev of events) ek.kernel.handle(ev);
  // With nothing attached no hook fires; count the firings the same workload would make.
  return attach ? ek.kernel.stats.firings : (ek.kernel.stats.events / 2) * 7;
}

export async function bench(): Promise<void> {
  const events = workload(20_000);
  const none = best(() => kernel(false, interpret), (ek) => runKernel(ek, events, false));
  line('events through the kernel, no program attached', events.length, none.ms);
  line('  hook firings, no program attached', none.firings, none.ms);
  const interp = best(() => kernel(true, interpret), (ek) => runKernel(ek, events, true));
  line('hook firings, one trivial program per hook (interp)', interp.firings, interp.ms);
  const jit = best(() => kernel(true, jitRunner({ log: () => undefined })), (ek) => runKernel(ek, events, true));
  line('hook firings, one trivial program per hook (JIT)', jit.firings, jit.ms);
  process.stdout.write(`  (an exec fires 4 hooks: sys_enter_execve, kprobe, sched_process_exec, sys_exit_execve; a connect 3)\n`);

  const pack = loadScenarios(['builtin']);
  const n = 100_000;
  const sim = best(() => undefined, () => {
    let k = 0;
    for (const _ of new Simulator(pack, { seed: 1, count: n, loop: true }).events()) k++;
    return k;
  });
  line('simulator events (built-in pack, as fast as possible)', n, sim.ms);
}
