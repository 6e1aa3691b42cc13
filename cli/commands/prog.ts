// `kestrel prog run FILE.asm`: assemble, load and run a program on the VM by itself.
// `prog load|show` (and `prog run` of an ELF object) belong to ./prog-elf.js when that module is
// present; this file only dispatches to it.

import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assemble, AsmError } from '../../engine/asm/assembler.js';
import { parseHexBytes } from '../../engine/asm/slots.js';
import { loadProgram, ProgramLoadError, type LoadedProgram } from '../../engine/program.js';
import { runProgram, type RunOptions, type RunResult } from '../../engine/interpreter.js';
import { createTestEnv, createTestRuntime } from '../../engine/test-runtime.js';
import { RegionKind, type VmMemory } from '../../engine/memory.js';
import type { BpfMap, ExecEnv, Runtime } from '../../engine/runtime.js';
import type { MapDef } from '../../engine/maps/types.js';

const HELP = `usage: kestrel prog run FILE.asm [--mem HEX | --mem-file F] [--json] [--budget N] [--repeat N] [--exec interp|jit]
       kestrel prog load|show FILE.o ...   (ELF objects; see \`kestrel prog load --help\`)

Run an assembly program (docs/asm.md) with r1 pointing at the input memory (a writable
context region) and r2 holding its length (no memory: both 0). Maps declared with .map are
created empty. Prints r0 and run statistics.

  --mem HEX        input memory as hex bytes ("01 02 ff" or "0102ff")
  --mem-file F     input memory from a binary file
  --json           one JSON object: {"r0":"0x..","instructions":N[,"fault":".."]} and, with
                   --repeat, "runs", "ns_per_run", "compile_ms"
  --budget N       instruction budget per run (default 1000000); exceeding it is a fault
  --repeat N       run N times (timing); memory is restored before each run
  --exec MODE      interp (default) or jit (falls back to the interpreter, saying why)
  --prog-type T    program type given to helpers and the verifier (default raw)
  --maps           after the run, print the declared maps' entries (hex key: hex value)
  -c, --config FILE, --db FILE, -r PATH   accepted for uniformity; unused
  -h, --help       this text

Exit codes: 0 ran to exit, 1 the run faulted, 2 usage, input or assembly errors.
`;

interface ExecutorLike {
  mode: string;
  fallbackReason?: string;
  compileMs: number;
  run(rt: Runtime, r1lo: number, r1hi: number, r2lo: number, r2hi: number, opts?: RunOptions): RunResult;
}
type SelectExecutor = (
  prog: LoadedProgram,
  mode: 'interp' | 'jit',
  opts: { verify?: { progType: string; ctxSize: number; maps: readonly MapDef[] }; log?: (m: string) => void },
) => ExecutorLike;
interface VmLike {
  mem: VmMemory;
  createMap(def: MapDef): BpfMap;
  runtime(env: ExecEnv, opts?: { progType?: string }): Runtime;
}

/** Why the last tryImport of an existing module failed (for messages). */
let lastImportError = '';

/** Import a sibling engine module if it exists in this build; undefined otherwise. */
async function tryImport(rel: string): Promise<Record<string, unknown> | undefined> {
  lastImportError = 'module not present';
  const url = new URL(rel, import.meta.url);
  const path = fileURLToPath(url);
  const ts = path.replace(/\.js$/, '.ts');
  let target: string;
  if (existsSync(path)) target = url.href;
  else if (existsSync(ts)) target = new URL(rel.replace(/\.js$/, '.ts'), import.meta.url).href;
  else return undefined;
  try {
    return (await import(target)) as Record<string, unknown>;
  } catch (e) {
    lastImportError = e instanceof Error ? e.message : String(e);
    return undefined;
  }
}

function fail(msg: string): number {
  process.stderr.write(`kestrel prog: ${msg}\n`);
  return 2;
}

function positiveInt(name: string, v: string | undefined, dflt: number): number | string {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1) return `--${name} needs a positive integer, got '${v}'`;
  return Number(v);
}

export async function run(args: string[]): Promise<number> {
  const sub = args[0];
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  const isElf = args.slice(1).some((a) => a.endsWith('.o'));
  if (sub === 'load' || sub === 'show' || (sub === 'run' && isElf)) {
    const elf = await tryImport('./prog-elf.js');
    const elfRun = elf?.run;
    if (typeof elfRun !== 'function') return fail(`'prog ${sub}' for ELF objects is not available in this build (${lastImportError})`);
    return (elfRun as (a: string[]) => Promise<number>)(args);
  }
  if (sub !== 'run') return fail(`unknown subcommand '${sub}' (run, load, show)\n${HELP}`);
  return runAsm(args.slice(1));
}

async function runAsm(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        mem: { type: 'string' },
        'mem-file': { type: 'string' },
        json: { type: 'boolean' },
        budget: { type: 'string' },
        repeat: { type: 'string' },
        exec: { type: 'string' },
        'prog-type': { type: 'string' },
        maps: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        rules: { type: 'string', short: 'r', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail(`${e instanceof Error ? e.message : String(e)}\n${HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) return fail(`prog run: expected one assembly file\n${HELP}`);
  const budget = positiveInt('budget', values.budget, 1_000_000);
  if (typeof budget === 'string') return fail(budget);
  const repeat = positiveInt('repeat', values.repeat, 1);
  if (typeof repeat === 'string') return fail(repeat);
  const mode = values.exec ?? 'interp';
  if (mode !== 'interp' && mode !== 'jit') return fail(`--exec must be interp or jit, got '${mode}'`);
  const progType = values['prog-type'] ?? 'raw';

  let input: Uint8Array = new Uint8Array(0);
  try {
    if (values.mem !== undefined && values['mem-file'] !== undefined) return fail('give --mem or --mem-file, not both');
    if (values.mem !== undefined) input = parseHexBytes(values.mem);
    if (values['mem-file'] !== undefined) input = new Uint8Array(readFileSync(values['mem-file']));
  } catch (e) {
    return fail(`input memory: ${e instanceof Error ? e.message : String(e)}`);
  }

  const file = positionals[0];
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    return fail(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }

  const t0 = performance.now();
  let asm;
  try {
    asm = assemble(text, file === '-' ? '<stdin>' : file);
  } catch (e) {
    if (e instanceof AsmError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }

  // Runtime: the full VM (real maps and helpers) when this build has it, else the test runtime.
  const trace: string[] = [];
  const env = createTestEnv({ trace });
  let rt: Runtime;
  let bindMap: ((def: MapDef) => BpfMap) | undefined;
  const bound: BpfMap[] = [];
  const vmMod = await tryImport('../../engine/vm.js');
  if (typeof vmMod?.createVm === 'function') {
    const vm = (vmMod.createVm as (o: { cpus: number }) => VmLike)({ cpus: 1 });
    rt = vm.runtime(env, { progType });
    bindMap = (def) => {
      const m = vm.createMap(def);
      bound.push(m);
      return m;
    };
  } else {
    const trt = createTestRuntime({ progType });
    rt = trt;
    const mapsMod = await tryImport('../../engine/maps/index.js');
    const createMap = mapsMod?.createMap;
    if (typeof createMap === 'function') {
      bindMap = (def) => {
        const m = (createMap as (mem: VmMemory, d: MapDef, o: { cpus: number }) => BpfMap)(trt.mem, def, { cpus: 1 });
        trt.addMap(m);
        bound.push(m);
        return m;
      };
    }
  }
  if (asm.maps.length > 0 && bindMap === undefined) return fail('this build has no map implementation (engine/maps/index.js); cannot create the declared maps');

  let prog: LoadedProgram;
  try {
    prog = loadProgram({ name: file, insns: asm.insns, maps: asm.maps, mapRefs: asm.mapRefs, progType }, bindMap);
  } catch (e) {
    if (e instanceof ProgramLoadError) return fail(e.message);
    return fail(`cannot load ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }

  let exec: ExecutorLike = {
    mode: 'interp',
    compileMs: 0,
    run: (r, a, b, c, d, o) => runProgram(prog, r, a, b, c, d, o),
  };
  if (mode === 'jit') {
    const jit = await tryImport('../../engine/jit/index.js');
    if (typeof jit?.selectExecutor !== 'function') return fail(`--exec jit: the JIT is not available in this build (${lastImportError})`);
    exec = (jit.selectExecutor as SelectExecutor)(prog, 'jit', {
      verify: { progType, ctxSize: input.length, maps: asm.maps },
      log: (m) => process.stderr.write(`${m}\n`),
    });
  }
  const compileMs = performance.now() - t0;

  // Input memory: a writable context region, restored before each run.
  const mem = rt.mem;
  let addr = 0;
  if (input.length > 0) {
    addr = mem.alloc(input.length).addr;
    mem.addRegion(addr, input.length, RegionKind.Context, true);
    rt.ctxAddr = addr;
    rt.ctxSize = input.length;
  }
  let res: RunResult | undefined;
  const tRun = performance.now();
  for (let k = 0; k < repeat; k++) {
    if (input.length > 0) mem.u8.set(input, addr);
    trace.length = 0;
    res = exec.run(rt, addr, 0, input.length, 0, { budget });
  }
  const runNs = (performance.now() - tRun) * 1e6;
  const r = res as RunResult;
  const r0 = (BigInt(r.r0hi) << 32n) | BigInt(r.r0lo);
  const traceOut = trace; // the last run's lines (cleared before each run)
  const mapDump = values.maps === true ? dumpMaps(bound) : undefined;

  if (values.json === true) {
    const o: Record<string, unknown> = { r0: `0x${r0.toString(16)}`, instructions: r.instructions };
    if (r.fault !== undefined) o.fault = r.fault.message;
    if (values.repeat !== undefined) {
      o.runs = repeat;
      o.ns_per_run = Math.round(runNs / repeat);
      o.compile_ms = Number(compileMs.toFixed(3));
    }
    if (mode === 'jit') o.exec = exec.mode;
    if (traceOut.length > 0) o.trace = traceOut;
    if (mapDump !== undefined) o.maps = mapDump;
    process.stdout.write(JSON.stringify(o) + '\n');
  } else {
    const lines: string[] = [];
    if (r.fault !== undefined) lines.push(`fault: ${r.fault.message}`, `registers: ${r.fault.regs.map((v, k) => `r${k}=${v}`).join(' ')}`);
    for (const t of traceOut) lines.push(`trace: ${t.replace(/\n$/, '')}`);
    lines.push(`r0 = 0x${r0.toString(16)} (${BigInt.asIntN(64, r0)})`);
    lines.push(`instructions: ${r.instructions}`);
    lines.push(`executor: ${exec.mode}${exec.fallbackReason !== undefined ? ` (fallback: ${exec.fallbackReason})` : ''}`);
    lines.push(
      `runs: ${prog.stats.runs}  run_time_ns: ${prog.stats.timeNs}  ns/run: ${Math.round(runNs / repeat)}  load_ms: ${compileMs.toFixed(3)}`,
    );
    if (mapDump !== undefined) {
      for (const [name, entries] of Object.entries(mapDump)) {
        lines.push(`map ${name}: ${entries.length === 0 ? '(empty)' : ''}`);
        for (const e of entries) lines.push(`  ${e.key}: ${e.value}`);
      }
    }
    process.stdout.write(lines.join('\n') + '\n');
  }
  return r.fault !== undefined ? 1 : 0;
}

const MAX_DUMP = 64;

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Entries of each map that offers a userspace iterator (MapUserApi.entries), non-zero values only for arrays. */
function dumpMaps(maps: readonly BpfMap[]): Record<string, { key: string; value: string }[]> {
  const out: Record<string, { key: string; value: string }[]> = {};
  for (const m of maps) {
    const it = (m as Partial<{ entries(): IterableIterator<[Uint8Array, Uint8Array]> }>).entries;
    const list: { key: string; value: string }[] = [];
    if (typeof it === 'function') {
      try {
        for (const [k, v] of it.call(m)) {
          if (m.def.type === 2 && v.every((x) => x === 0)) continue; // unwritten array slots
          list.push({ key: hexOf(k), value: hexOf(v) });
          if (list.length >= MAX_DUMP) break;
        }
      } catch {
        // Maps without userspace iteration (prog_array, ringbuf) show as empty.
      }
    }
    out[m.def.name] = list;
  }
  return out;
}
