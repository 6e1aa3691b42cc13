// ELF objects: load (parse + relocate + link) time per object, instantiate (maps + verify +
// load) time, and events per second through the simulated kernel for C programs on the
// interpreter and on the JIT (hook firing, program run, ring-buffer drain and BTF decoding).

import { compileExample } from '../engine/elf/compile.js';
import { loadElf, type ElfObject } from '../engine/elf/index.js';
import { instantiate, closeObject } from '../engine/elf/instantiate.js';
import { createVm } from '../engine/vm.js';
import { ElfSession } from '../cli/commands/prog-elf.js';
import type { KestrelEvent } from '../collectors/events.js';

const NAMES = ['execsnoop', 'connectlog', 'counts', 'pathstat', 'hello', 'exitsnoop', 'denyconnect', 'portdigits'];

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function eventStream(n: number): KestrelEvent[] {
  const out: KestrelEvent[] = [{ type: 'exec', ts: 1n, pid: 1, ppid: 0, uid: 0, gid: 0, exe: '/sbin/init', argv: ['init'], synthetic: true }];
  let ts = 1_000_000n;
  for (let i = 0; i < n; i++) {
    const pid = 1000 + (i % 500);
    ts += 1000n;
    if (i % 2 === 0) out.push({ type: 'exec', ts, pid, ppid: 1, uid: 1000, gid: 1000, exe: `/usr/bin/tool${i % 37}`, argv: ['tool', String(i)] });
    else out.push({ type: 'connect', ts, pid, fd: 3, family: 'inet', daddr: '10.0.0.1', dport: 443 + (i % 7) });
  }
  return out;
}

export async function bench(): Promise<void> {
  const objs = new Map<string, { bytes: Uint8Array; obj: ElfObject }>();
  for (const n of NAMES) {
    const { bytes } = compileExample(n);
    objs.set(n, { bytes, obj: loadElf(bytes, { fileName: `${n}.o` }) });
  }
  process.stdout.write('load (parse, BTF, relocate, link), per object:\n');
  for (const [n, { bytes }] of objs) {
    const reps = 300;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) loadElf(bytes, { fileName: `${n}.o` });
    const us = ((performance.now() - t0) * 1000) / reps;
    process.stdout.write(`  ${n.padEnd(12)} ${String(bytes.length).padStart(6)} bytes  ${fmt(us)} µs  (${fmt(bytes.length / us, 0)} MB/s)\n`);
  }
  process.stdout.write('instantiate (create maps, verify, load), per object:\n');
  for (const [n, { obj }] of objs) {
    const vm = createVm();
    const t0 = performance.now();
    const io = instantiate(obj, vm);
    const ms = performance.now() - t0;
    const processed = io.programs.reduce((a, p) => a + (p.verdict?.stats.insnsProcessed ?? 0), 0);
    process.stdout.write(`  ${n.padEnd(12)} ${fmt(ms, 2)} ms  (${processed} insns processed by the verifier)\n`);
    closeObject(io);
  }
  const evs = eventStream(20_000);
  process.stdout.write(`events through the simulated kernel (${fmt(evs.length - 1, 0)} exec/connect events):\n`);
  for (const n of ['execsnoop', 'connectlog', 'counts', 'pathstat', 'hello']) {
    const obj = objs.get(n)?.obj;
    if (obj === undefined) continue;
    const line: string[] = [];
    for (const exec of ['interp', 'jit'] as const) {
      let outputs = 0;
      const s = new ElfSession(obj, { exec, onOutput: () => outputs++ });
      for (let i = 0; i < 200; i++) s.handle(evs[i]); // warm up
      const t0 = performance.now();
      for (let i = 200; i < evs.length; i++) s.handle(evs[i]);
      const sec = (performance.now() - t0) / 1000;
      const runs = [...s.executors.keys()].reduce((a, ip) => a + (ip.loaded?.stats.runs ?? 0), 0);
      line.push(`${exec} ${fmt((evs.length - 200) / sec, 0)} events/s (${fmt(runs, 0)} runs, ${fmt(outputs, 0)} outputs)`);
      s.close();
    }
    process.stdout.write(`  ${n.padEnd(12)} ${line.join('   ')}\n`);
  }
}
