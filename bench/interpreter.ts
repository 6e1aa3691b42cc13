// Interpreter speed: instructions per second on an ALU loop (SPEC §8's 60,003-instruction loop),
// a checksum loop and a byte-search loop over a 4 KiB context, and a map-update loop through
// helper calls. Prints figures; asserts nothing.

import { assemble } from '../engine/asm/assembler.js';
import { loadProgram, type LoadedProgram } from '../engine/program.js';
import { runProgram } from '../engine/interpreter.js';
import { createTestRuntime, type TestRuntime } from '../engine/test-runtime.js';
import type { BpfMap } from '../engine/runtime.js';
import type { MapDef } from '../engine/maps/types.js';
import { RegionKind, type VmMemory } from '../engine/memory.js';
import { loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConformanceDir } from '../engine/conformance.js';

const ALU_LOOP = `
  mov r0, 0
  mov r1, 10000
loop:
  add r0, r1
  xor r0, 0x55
  lsh r0, 1
  rsh r0, 1
  sub r1, 1
  jne r1, 0, loop
  exit
`;

const CHECKSUM = `
  mov r0, 0
  mov r3, r1
  mov r4, r1
  add r4, r2
loop:
  ldxw r5, [r3+0]
  add r0, r5
  add r3, 4
  jlt r3, r4, loop
  mov r1, r0
  rsh r1, 32
  and r0, 0xffffffff
  add r0, r1
  exit
`;

const BYTE_SEARCH = `
  mov r0, -1
  mov r3, r1
  mov r4, r1
  add r4, r2
loop:
  ldxb r5, [r3+0]
  jeq r5, 0xff, found
  add r3, 1
  jlt r3, r4, loop
  exit
found:
  mov r0, r3
  sub r0, r1
  exit
`;

const MAP_LOOP = `
.map counts array key=4 value=8 entries=64
  mov r6, 0
loop:
  mov r1, r6
  and r1, 63
  stxw [r10-4], r1
  lddw r1, map:counts
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
  mov r0, r6
  exit
`;

interface Figure {
  name: string;
  insnsPerRun: number;
  nsPerRun: number;
  mips: number;
}

function measure(name: string, prog: LoadedProgram, rt: TestRuntime, ctx: Uint8Array, minMs = 300): Figure {
  const addr = rt.setContext(ctx, true);
  const go = (): number => {
    const r = runProgram(prog, rt, addr, 0, ctx.length, 0, { budget: 100_000_000 });
    if (r.fault !== undefined) throw new Error(`${name}: ${r.fault.message}`);
    return r.instructions;
  };
  // Warm up so the numbers are for optimized code.
  let insns = 0;
  const warmEnd = performance.now() + 100;
  while (performance.now() < warmEnd) insns = go();
  // Process CPU time, not wall time: the machine is shared, and CPU time is what this run used.
  let runs = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() - t0 < minMs) {
    go();
    runs++;
  }
  const c1 = process.cpuUsage(c0);
  rt.clearContext();
  const nsPerRun = ((c1.user + c1.system) * 1000) / runs;
  return { name, insnsPerRun: insns, nsPerRun, mips: (insns / nsPerRun) * 1e3 };
}

function load(text: string, name: string, bind?: (def: MapDef) => BpfMap): LoadedProgram {
  const a = assemble(text, name);
  return loadProgram({ name, insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'raw' }, bind);
}

type CreateMap = (mem: VmMemory, def: MapDef, opts?: { cpus?: number }) => BpfMap;

async function mapFactory(): Promise<CreateMap | undefined> {
  try {
    const spec = '../engine/maps/index.js';
    const mod = (await import(spec)) as Record<string, unknown>;
    return typeof mod.createMap === 'function' ? (mod.createMap as CreateMap) : undefined;
  } catch {
    return undefined;
  }
}

export async function bench(): Promise<void> {
  const rt = createTestRuntime();
  const buf = new Uint8Array(4096);
  for (let k = 0; k < buf.length; k++) buf[k] = (k * 7 + 3) & 0x7f;
  buf[buf.length - 1] = 0xff;

  const figures: Figure[] = [];
  figures.push(measure('alu loop (60,003 insns)', load(ALU_LOOP, 'alu'), rt, new Uint8Array(0)));
  figures.push(measure('checksum loop (4 KiB)', load(CHECKSUM, 'checksum'), rt, buf));
  figures.push(measure('byte search (4 KiB)', load(BYTE_SEARCH, 'search'), rt, buf));

  const createMap = await mapFactory();
  let mapNote = '';
  if (createMap !== undefined) {
    const prog = load(MAP_LOOP, 'maps', (def) => {
      const m = createMap(rt.mem, def, { cpus: 1 });
      rt.addMap(m);
      return m;
    });
    figures.push(measure('map lookup+update loop (1000 iters)', prog, rt, new Uint8Array(0)));
  } else {
    mapNote = 'map-update loop: skipped (engine/maps/index.js not available)';
  }

  // Shared machines: the load average says how much of a core these figures had.
  const conf = conformanceFigure(rt);
  if (typeof conf === 'string') mapNote += (mapNote === '' ? '' : '\n  ') + conf;
  else figures.push(conf);

  process.stdout.write(`interpreter (load average ${loadavg()[0].toFixed(1)})\n`);
  for (const f of figures) {
    process.stdout.write(
      `  ${f.name.padEnd(38)} ${f.insnsPerRun.toString().padStart(7)} insns/run  ${(f.nsPerRun / 1000).toFixed(1).padStart(9)} µs/run  ${f.mips.toFixed(0).padStart(5)} M insns/s\n`,
    );
  }
  if (mapNote !== '') process.stdout.write(`  ${mapNote}\n`);
}

/** All bpf_conformance programs, each run with its input memory; total instructions per CPU second. */
function conformanceFigure(rt: TestRuntime): Figure | string {
  // dist/bench or bench: the repository root is the first ancestor holding package.json.
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  const dir = resolve(root, '../shared/anchors/bpf-conformance/tests');
  if (!existsSync(dir)) return `conformance programs: skipped (${dir} not found)`;
  const cases = loadConformanceDir(dir).map((c) => {
    const a = assemble(c.asm ?? '', c.name);
    const prog = loadProgram({ name: c.name, insns: c.raw ?? a.insns, maps: [], mapRefs: [], progType: 'raw' });
    const bytes = c.mem ?? new Uint8Array(0);
    // Each case's memory gets its own context region, made once (set-up is not what we measure).
    let addr = 0;
    if (bytes.length > 0) {
      addr = rt.mem.alloc(bytes.length).addr;
      rt.mem.addRegion(addr, bytes.length, RegionKind.Context, true);
    }
    return { prog, bytes, addr };
  });
  const once = (): number => {
    let n = 0;
    for (const c of cases) {
      if (c.addr !== 0) rt.mem.u8.set(c.bytes, c.addr);
      n += runProgram(c.prog, rt, c.addr, 0, c.bytes.length, 0).instructions;
    }
    return n;
  };
  let insns = 0;
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) insns = once();
  let runs = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() - t0 < 300) {
    once();
    runs++;
  }
  const c1 = process.cpuUsage(c0);
  const nsPerRun = ((c1.user + c1.system) * 1000) / runs;
  return { name: `conformance suite (${cases.length} programs)`, insnsPerRun: insns, nsPerRun, mips: (insns / nsPerRun) * 1e3 };
}

const invoked = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'));
if (invoked) void bench();
