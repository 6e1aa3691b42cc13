// `kestrel prog load FILE.o` and `kestrel prog show FILE.o`: C-built eBPF objects on Kestrel's
// hooks. `load` creates the object's maps, verifies and loads every program, attaches each to
// its SEC() hook in the simulated kernel and feeds it events (simulate, replay or strace),
// printing bpf_trace_printk lines as trace_pipe shows them and ring-buffer / perf-buffer records
// (decoded with BTF when the object names the record type, else hex). `show` lists programs and
// maps with sizes, verifier statistics and (after `--from ...`) run statistics.
//
// The prog command module dispatches `load` and `show` here; `run(args)` takes the subcommand
// as its first argument.

import { parseArgs } from 'node:util';
import { createReadStream, readFileSync, existsSync } from 'node:fs';
import { extname } from 'node:path';
import type { Readable } from 'node:stream';
import { loadElf, ElfError, lineAt, formatLine, setGlobal, type ElfObject } from '../../engine/elf/index.js';
import { compileC } from '../../engine/elf/compile.js';
import { decodeValue, hexDump } from '../../engine/elf/decode.js';
import { BtfKind } from '../../engine/elf/btf.js';
import { instantiate, closeObject, type InstantiatedObject, type InstantiatedProgram } from '../../engine/elf/instantiate.js';
import { createVm, type Vm } from '../../engine/vm.js';
import { selectExecutor, type Executor, type ExecMode } from '../../engine/jit/index.js';
import { HOOK_CONTEXTS } from '../../engine/verifier/index.js';
import { RingBufMap, RingBufConsumer, PerfEventArrayMap, PerfEventReader } from '../../engine/maps/index.js';
import { MAP_TYPE_NAMES } from '../../engine/maps/types.js';
import type { ExecEnv, Runtime } from '../../engine/runtime.js';
import { RegionKind } from '../../engine/memory.js';
import { testEnv } from '../../engine/helpers/test-env.js';
import { SimKernel, type Handled } from '../../collectors/kernel/kernel.js';
import { HOOKS, hookByName, type HookName } from '../../collectors/kernel/hooks.js';
import type { KestrelEvent } from '../../collectors/events.js';
import { readEvents, type EventFormatError } from '../../collectors/ndjson.js';
import { readTetragon, TetragonImporter } from '../../collectors/tetragon.js';
import { Simulator } from '../../collectors/simulate/runner.js';
import { loadScenarios } from '../../collectors/simulate/pack.js';
import { straceSource } from '../../collectors/strace/source.js';

// ---- the session: an instantiated object attached to a simulated kernel ----

export interface OutputLine {
  kind: 'trace' | 'record' | 'lost' | 'fault' | 'enforced';
  /** The map a record came from. */
  map?: string;
  /** trace_pipe line, rendered record, or message. */
  text: string;
  /** Decoded record (BTF) when available. */
  data?: unknown;
}

export interface ElfSessionOptions {
  /** Where output goes (default: collected in `session.output`). */
  onOutput?: (line: OutputLine) => void;
  /** Record struct name to decode ring-buffer / perf records with (overrides the object's). */
  recordType?: string;
  /** Skip the verifier (programs then run unverified, interpreter-checked). */
  noVerify?: boolean;
  /** Instruction budget per run. */
  budget?: number;
  /** Run on the interpreter (default) or compiled to WebAssembly by the JIT. */
  exec?: ExecMode;
  /** Where JIT fallbacks are reported. */
  log?: (msg: string) => void;
  /** Verifier budget (processed instructions). */
  maxVerifyInsns?: number;
}

interface Reader {
  map: string;
  drain(): number;
}

export class ElfSession {
  readonly vm: Vm;
  readonly io: InstantiatedObject;
  readonly kernel: SimKernel<InstantiatedProgram>;
  readonly output: OutputLine[] = [];
  faults = 0;
  events = 0;
  enforced = 0;
  private readonly emit: (l: OutputLine) => void;
  private readonly readers: Reader[] = [];
  private readonly runtimes = new Map<string, Runtime>();
  /** How each loaded program runs (interpreter, or JIT with interpreter fallback). */
  readonly executors = new Map<InstantiatedProgram, Executor>();

  constructor(
    readonly obj: ElfObject,
    private readonly opts: ElfSessionOptions = {},
  ) {
    this.emit = opts.onOutput ?? ((l) => this.output.push(l));
    this.vm = createVm();
    this.io = instantiate(obj, this.vm, { verify: opts.noVerify !== true, maxInsns: opts.maxVerifyInsns });
    this.kernel = new SimKernel<InstantiatedProgram>({
      mem: this.vm.mem,
      executor: (ip, env, ctxAddr, ctxSize) => this.execute(ip, env, ctxAddr, ctxSize),
      onTrace: (line) => this.emit({ kind: 'trace', text: line }),
    });
    for (const ip of this.io.programs) {
      const hook = ip.prog.attach.hook !== undefined ? hookByName(ip.prog.attach.hook) : undefined;
      if (ip.loaded === undefined || hook === undefined || ip.prog.attach.unsupported !== undefined) continue;
      // Linux checks tracepoint context reads against the record size at attach time (EACCES).
      const maxCtx = ip.verdict?.maxCtxOffset ?? 0;
      if (!HOOKS[hook].variable && maxCtx > HOOKS[hook].ctxSize) {
        ip.error = `cannot attach to ${hook}: the program reads the context up to byte ${maxCtx}, the record has ${HOOKS[hook].ctxSize} (EACCES)`;
        continue;
      }
      const hc = HOOK_CONTEXTS[hook];
      this.executors.set(
        ip,
        selectExecutor(ip.loaded, opts.exec ?? 'interp', {
          verified: ip.verdict,
          verify: hc !== undefined ? { progType: hc.progType, ctxSize: hc.ctxSize, maps: ip.loaded.spec.maps, gpl: obj.gpl } : undefined,
          log: opts.log ?? (() => undefined),
        }),
      );
      this.kernel.attach(hook, ip);
    }
    this.setupReaders();
  }

  /** Programs attached, by hook. */
  attachedHooks(): { program: string; hook: HookName }[] {
    const out: { program: string; hook: HookName }[] = [];
    for (const ip of this.io.programs) {
      const hook = ip.prog.attach.hook !== undefined ? hookByName(ip.prog.attach.hook) : undefined;
      if (hook !== undefined && this.kernel.attached(hook).includes(ip)) out.push({ program: ip.prog.name, hook });
    }
    return out;
  }

  private runtimeFor(progType: string, env: ExecEnv): Runtime {
    let rt = this.runtimes.get(progType);
    if (rt === undefined || rt.env !== env) {
      rt = this.vm.runtime(env, { progType });
      this.runtimes.set(progType, rt);
    }
    return rt;
  }

  private execute(ip: InstantiatedProgram, env: ExecEnv, ctxAddr: number, ctxSize: number): void {
    const ex = this.executors.get(ip);
    if (ex === undefined) return;
    const rt = this.runtimeFor(ip.prog.attach.progType, env);
    rt.ctxAddr = ctxAddr;
    rt.ctxSize = ctxSize;
    const res = ex.run(rt, ctxAddr, 0, 0, 0, { budget: this.opts.budget });
    if (res.fault !== undefined) {
      this.faults++;
      const dropped = this.vm.abortReservations();
      const where = lineAt(ip.prog.lines, res.fault.pc);
      this.emit({
        kind: 'fault',
        text: `${ip.prog.name}: ${res.fault.toString()}${where !== undefined ? ` (${formatLine(where)})` : ''}${
          dropped > 0 ? ` (${dropped} ring-buffer reservation(s) discarded)` : ''
        }`,
      });
    }
  }

  private setupReaders(): void {
    this.readers.push(...outputReaders(this.obj, this.io, this.emit, this.opts.recordType));
  }

  /** Deliver waiting ring-buffer and perf-buffer records. */
  drain(): number {
    let n = 0;
    for (const r of this.readers) n += r.drain();
    return n;
  }

  /** Feed one event through the kernel's hooks, then drain output. Returns what took effect. */
  handle(ev: KestrelEvent): Handled[] {
    this.events++;
    const done = this.kernel.handle(ev);
    this.drain();
    for (const h of done) {
      const e = h.event;
      if (e.enforced === undefined) continue;
      this.enforced++;
      const what = e.type === 'connect' ? `connect to ${e.daddr ?? e.path ?? '?'}${e.dport !== undefined ? `:${e.dport}` : ''}` : e.type === 'exec' ? `exec ${e.exe}` : e.type;
      const ret = e.type === 'connect' || e.type === 'exec' ? ` (ret ${e.ret ?? 0})` : '';
      this.emit({ kind: 'enforced', text: `enforced ${e.enforced}: pid ${e.pid} ${what}${ret}` });
    }
    return done;
  }

  close(): void {
    closeObject(this.io);
  }
}

// ---- ring-buffer and perf-buffer output ----

function recordTypeFor(obj: ElfObject, mapIndex: number, override: string | undefined): number | undefined {
  const btf = obj.btf;
  if (btf === undefined) return undefined;
  if (override !== undefined) {
    const name = override.replace(/^struct\s+/, '');
    const t = btf.find(name, BtfKind.Struct) ?? btf.find(name, BtfKind.Typedef);
    if (t === undefined) throw new ElfError(`record type '${override}' not found in the object's BTF`);
    return t.id;
  }
  return obj.maps[mapIndex].recordType;
}

/** A record as text: decoded with BTF when the type is known and the record is big enough, else hex. */
export function renderRecord(obj: ElfObject, mapName: string, typeId: number | undefined, bytes: Uint8Array): OutputLine {
  const btf = obj.btf;
  if (btf !== undefined && typeId !== undefined) {
    try {
      const size = btf.sizeOf(typeId);
      if (bytes.length >= size) {
        const data = decodeValue(btf, typeId, bytes.subarray(0, size));
        const extra = bytes.length > size ? ` +${bytes.length - size} bytes` : '';
        return { kind: 'record', map: mapName, text: `${mapName}: ${JSON.stringify(data)}${extra}`, data };
      }
    } catch (e) {
      // A type the BTF cannot size or decode: show the bytes instead.
      if (!(e instanceof ElfError)) throw e;
    }
  }
  return { kind: 'record', map: mapName, text: `${mapName}: ${bytes.length} bytes\n${hexDump(bytes, '  ')}` };
}

/** Consumers for every ring buffer and perf event array of an instantiated object. */
function outputReaders(obj: ElfObject, io: InstantiatedObject, emit: (l: OutputLine) => void, recordType: string | undefined): Reader[] {
  const readers: Reader[] = [];
  io.maps.forEach((m, i) => {
    const name = m.def.name;
    if (m instanceof RingBufMap) {
      const typeId = recordTypeFor(obj, i, recordType);
      const c = new RingBufConsumer(m);
      readers.push({ map: name, drain: () => c.consume((data) => emit(renderRecord(obj, name, typeId, data.slice()))) });
    } else if (m instanceof PerfEventArrayMap) {
      // Like libbpf's perf_buffer__new: one perf event (buffer) per CPU, else output is -ENOENT.
      m.openAll();
      const typeId = recordTypeFor(obj, i, recordType);
      const r = new PerfEventReader(
        m,
        (_cpu, data) => emit(renderRecord(obj, name, typeId, data.slice())),
        (cpu, count) => emit({ kind: 'lost', map: name, text: `${name}: lost ${count} sample(s) on CPU ${cpu}` }),
      );
      readers.push({ map: name, drain: () => r.consume() });
    }
  });
  return readers;
}

// ---- event sources ----

type EventSource = AsyncIterable<KestrelEvent>;

async function* toAsync<T>(it: Iterable<T>): AsyncGenerator<T> {
  yield* it;
}

function openInput(file: string): Readable {
  return file === '-' ? process.stdin : createReadStream(file);
}

export interface SourceSpec {
  from: 'simulate' | 'replay' | 'strace';
  file?: string;
  format?: 'kestrel' | 'tetragon';
  command?: string[];
  scenarios?: string[];
  count?: number;
  seed?: number;
}

/** Cheap checks of a source before programs are verified and attached (which can take a while). */
function checkSource(spec: SourceSpec): void {
  if (spec.from === 'replay') {
    if (spec.file === undefined) throw new UsageError('--from replay needs a FILE (or - for standard input)');
    if (spec.file !== '-' && !existsSync(spec.file)) throw new UsageError(`${spec.file}: no such file`);
  }
  if (spec.from === 'strace' && (spec.command === undefined || spec.command.length === 0)) {
    throw new UsageError('--from strace needs a command after --');
  }
}

async function openSource(spec: SourceSpec, onError: (e: EventFormatError) => void): Promise<EventSource> {
  if (spec.from === 'replay') {
    const file = spec.file;
    if (file === undefined) throw new UsageError('--from replay needs a FILE (or - for standard input)');
    if (file !== '-' && !existsSync(file)) throw new UsageError(`${file}: no such file`);
    if (spec.format === 'tetragon') return readTetragon(openInput(file), new TetragonImporter(), onError, file);
    return readEvents(openInput(file), onError, file);
  }
  if (spec.from === 'simulate') {
    let scenarios;
    try {
      scenarios = loadScenarios(spec.scenarios ?? []);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const sim = new Simulator(scenarios, { seed: spec.seed ?? 1, count: spec.count });
    return toAsync(sim.events());
  }
  if (spec.command === undefined || spec.command.length === 0) throw new UsageError('--from strace needs a command after --');
  let session;
  try {
    // The command's output goes to stderr so that stdout carries only Kestrel's output.
    session = straceSource({ command: spec.command, stdio: ['ignore', 2, 2] });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const events = session.events;
  const exited = session.exited;
  return (async function* () {
    yield* events;
    const st = await exited;
    process.stderr.write(`kestrel: ${spec.command?.join(' ')} exited with ${st.code}${st.signal !== undefined ? ` (${st.signal})` : ''}\n`);
  })();
}

// ---- the command ----

class UsageError extends Error {}

const HELP_LOAD = `usage: kestrel prog load FILE.o|FILE.c [--from simulate|replay FILE|strace -- CMD ARGS...]
                        [--format kestrel|tetragon] [--record-type NAME] [--count N] [--seed N]
                        [--set NAME=VALUE]... [--exec interp|jit] [--no-verify] [--json] [--quiet]

Load a clang-built eBPF object (a .c file is compiled first with clang -O2 -g -target bpf),
verify its programs, attach each one to the hook its SEC() names, and run it on events:
  --from replay FILE   Kestrel NDJSON events (or Tetragon JSON with --format tetragon; - = stdin)
  --from simulate      the scenario simulator (default; --scenario NAME|FILE, --count N, --seed N)
  --from strace -- CMD a real command under strace
Prints bpf_trace_printk lines as trace_pipe shows them, and ring-buffer / perf-buffer records
(decoded with the object's BTF record struct when it names one, --record-type to choose, else hex).
--set NAME=VALUE sets a global variable (.rodata/.data/.bss; a number, or a string for char
arrays) before load, like a libbpf skeleton. --exec jit compiles verified programs to WebAssembly
(falling back to the interpreter, with the reason, when one cannot be compiled). --json prints
one JSON object per line. Exit: 0 ok, 1 a program was rejected or faulted, 2 bad input.`;

const HELP_SHOW = `usage: kestrel prog show FILE.o|FILE.c [--disasm] [--log] [--json] [--set NAME=VALUE]... [--from ... as in prog load]

List the object's programs (type, hook, instructions, verifier verdict and statistics) and maps
(type, key/value sizes, max entries, flags, memory) and global variables with their values. With --from, the programs run on those
events first and their run statistics (runs, instructions, time) are shown too.`;

const OPTIONS = {
  from: { type: 'string' },
  format: { type: 'string' },
  'record-type': { type: 'string' },
  set: { type: 'string', multiple: true },
  count: { type: 'string' },
  seed: { type: 'string' },
  scenario: { type: 'string', short: 's', multiple: true },
  'no-verify': { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  disasm: { type: 'boolean' },
  log: { type: 'boolean' },
  budget: { type: 'string' },
  exec: { type: 'string' },
  config: { type: 'string', short: 'c' },
  db: { type: 'string' },
  rules: { type: 'string', short: 'r', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Parsed {
  file: string;
  values: {
    from?: string;
    format?: string;
    'record-type'?: string;
    set?: string[];
    count?: string;
    seed?: string;
    scenario?: string[];
    'no-verify'?: boolean;
    json?: boolean;
    quiet?: boolean;
    disasm?: boolean;
    log?: boolean;
    budget?: string;
    exec?: string;
    help?: boolean;
  };
  source?: SourceSpec;
}

function intOpt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name}: expected a non-negative integer, got '${v}'`);
  return n;
}

function execOpt(v: string | undefined): ExecMode {
  if (v === undefined || v === 'interp' || v === 'jit') return v ?? 'interp';
  throw new UsageError(`--exec: expected interp or jit, got '${v}'`);
}

function parse(args: string[], defaultFrom: 'simulate' | undefined): Parsed | 'help' {
  const dd = args.indexOf('--');
  const head = dd >= 0 ? args.slice(0, dd) : args;
  const command = dd >= 0 ? args.slice(dd + 1) : undefined;
  const { values, positionals } = parseArgs({ args: head, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) return 'help';
  const [file, ...rest] = positionals;
  if (file === undefined) throw new UsageError('missing FILE.o');
  const from = values.from ?? (command !== undefined ? 'strace' : rest.length > 0 ? 'replay' : defaultFrom);
  let source: SourceSpec | undefined;
  if (from !== undefined) {
    if (from !== 'simulate' && from !== 'replay' && from !== 'strace') throw new UsageError(`--from: expected simulate, replay or strace, got '${from}'`);
    const format = values.format ?? 'kestrel';
    if (format !== 'kestrel' && format !== 'tetragon') throw new UsageError(`--format: expected kestrel or tetragon, got '${format}'`);
    if (from !== 'replay' && rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`);
    source = {
      from,
      file: rest[0],
      format,
      command,
      scenarios: values.scenario,
      count: intOpt(values.count, 'count'),
      seed: intOpt(values.seed, 'seed'),
    };
  } else if (rest.length > 0) {
    throw new UsageError(`unexpected argument '${rest[0]}'`);
  }
  return { file, values, source };
}

function readObject(file: string, sets: readonly string[] = []): ElfObject {
  if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
  const path = extname(file) === '.c' ? compileC(file) : file;
  const obj = loadElf(new Uint8Array(readFileSync(path)), { fileName: file });
  for (const kv of sets) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: expected NAME=VALUE, got '${kv}'`);
    try {
      setGlobal(obj, kv.slice(0, eq), kv.slice(eq + 1));
    } catch (e) {
      throw new UsageError(`--set ${kv}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return obj;
}

function out(s: string): void {
  process.stdout.write(s + '\n');
}

function err(s: string): void {
  process.stderr.write(s + '\n');
}

async function feed(session: ElfSession, spec: SourceSpec): Promise<number> {
  let bad = 0;
  const src = await openSource(spec, (e) => {
    bad++;
    err(`kestrel: ${e.message}`);
  });
  for await (const ev of src) session.handle(ev);
  session.drain();
  return bad;
}

function rejectionReport(session: ElfSession, withLog: boolean): string[] {
  const lines: string[] = [];
  for (const ip of session.io.programs) {
    if (ip.loaded === undefined || ip.error !== undefined) {
      lines.push(`${ip.prog.name} (${ip.prog.section}): ${ip.error ?? 'not loaded'}`);
      if (withLog && ip.verdict !== undefined && !ip.verdict.ok) lines.push(ip.verdict.log.trimEnd());
    }
  }
  return lines;
}

export async function runLoad(args: string[]): Promise<number> {
  let p: Parsed | 'help';
  try {
    p = parse(args, 'simulate');
  } catch (e) {
    err(`kestrel prog load: ${e instanceof Error ? e.message : String(e)}\n${HELP_LOAD}`);
    return 2;
  }
  if (p === 'help') {
    out(HELP_LOAD);
    return 0;
  }
  const json = p.values.json === true;
  const quiet = p.values.quiet === true;
  let session: ElfSession | undefined;
  try {
    if (p.source !== undefined) checkSource(p.source);
    const obj = readObject(p.file, p.values.set);
    for (const w of obj.warnings) err(`kestrel: ${p.file}: warning: ${w}`);
    session = new ElfSession(obj, {
      recordType: p.values['record-type'],
      noVerify: p.values['no-verify'] === true,
      budget: intOpt(p.values.budget, 'budget'),
      exec: execOpt(p.values.exec),
      log: (m) => err(m),
      onOutput: (l) => {
        if (json) out(JSON.stringify({ type: l.kind, ...(l.map !== undefined ? { map: l.map } : {}), ...(l.data !== undefined ? { data: l.data } : { text: l.text }) }));
        else if (l.kind === 'fault' || l.kind === 'lost') err(`kestrel: ${l.text}`);
        else out(l.text);
      },
    });
    const rejected = rejectionReport(session, true);
    for (const r of rejected) err(`kestrel: ${r}`);
    const attached = session.attachedHooks();
    if (!quiet && !json) for (const a of attached) err(`kestrel: attached ${a.program} to ${a.hook}`);
    if (attached.length === 0) {
      err(`kestrel: ${p.file}: no program could be attached to a hook of the simulated kernel`);
      return 1;
    }
    const bad = await feed(session, p.source as SourceSpec);
    const summary = programStats(session);
    if (json) out(JSON.stringify({ type: 'summary', events: session.events, faults: session.faults, bad_lines: bad, programs: summary }));
    else if (!quiet) {
      err(`kestrel: ${session.events} events, ${session.faults} faults`);
      for (const s of summary) err(`kestrel:   ${s.name}: run_cnt ${s.runs} insns ${s.instructions} run_time_ns ${s.time_ns}`);
    }
    return rejected.length > 0 || session.faults > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ElfError) {
      err(`kestrel prog load: ${e.message}`);
      return 2;
    }
    if (e instanceof Error && /^clang/.test(e.message)) {
      err(`kestrel prog load: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    session?.close();
  }
}

function programStats(session: ElfSession): { name: string; runs: number; instructions: number; time_ns: number }[] {
  return session.io.programs
    .filter((ip) => ip.loaded !== undefined)
    .map((ip) => {
      const s = ip.loaded?.stats ?? { runs: 0, instructions: 0, timeNs: 0 };
      return { name: ip.prog.name, runs: s.runs, instructions: s.instructions, time_ns: Math.round(s.timeNs) };
    });
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

export async function runShow(args: string[]): Promise<number> {
  let p: Parsed | 'help';
  try {
    p = parse(args, undefined);
  } catch (e) {
    err(`kestrel prog show: ${e instanceof Error ? e.message : String(e)}\n${HELP_SHOW}`);
    return 2;
  }
  if (p === 'help') {
    out(HELP_SHOW);
    return 0;
  }
  let session: ElfSession | undefined;
  try {
    if (p.source !== undefined) checkSource(p.source);
    const obj = readObject(p.file, p.values.set);
    session = new ElfSession(obj, { noVerify: p.values['no-verify'] === true, onOutput: () => undefined });
    if (p.source !== undefined) await feed(session, p.source);
    const progs = session.io.programs.map((ip) => {
      const v = ip.verdict;
      const s = ip.loaded?.stats;
      return {
        name: ip.prog.name,
        section: ip.prog.section,
        type: ip.prog.attach.progType,
        hook: ip.prog.attach.hook ?? null,
        insns: ip.prog.insns.length / 8,
        bytes: ip.prog.insns.length,
        subprograms: ip.prog.subprograms.map((x) => x.name),
        maps: [...new Set(ip.prog.mapRefs.map((r) => obj.maps[r.map].def.name))],
        verified: v === undefined ? null : v.ok,
        insns_processed: v?.stats.insnsProcessed ?? null,
        stack_depth: v?.stats.stackDepth ?? null,
        error: ip.error ?? null,
        run_cnt: s?.runs ?? 0,
        run_insns: s?.instructions ?? 0,
        run_time_ns: Math.round(s?.timeNs ?? 0),
      };
    });
    const maps = obj.maps.map((m, i) => {
      const live = session?.io.maps[i];
      return {
        name: m.def.name,
        type: MAP_TYPE_NAMES[m.def.type] ?? String(m.def.type),
        key_size: m.def.keySize,
        value_size: m.def.valueSize,
        max_entries: m.def.maxEntries,
        flags: m.def.flags,
        kind: m.kind,
        key_type: m.keyType !== undefined && obj.btf !== undefined ? obj.btf.describe(m.keyType) : null,
        value_type: m.valueType !== undefined && obj.btf !== undefined ? obj.btf.describe(m.valueType) : null,
        record_type: m.recordType !== undefined && obj.btf !== undefined ? obj.btf.describe(m.recordType) : null,
        entries: live !== undefined && m.def.type !== 27 && m.def.type !== 4 ? live.count : null,
        memory_bytes: live?.memoryBytes ?? null,
      };
    });
    const globals = obj.globals.map((g) => {
      const m = obj.maps[g.map];
      const live = session?.io.maps[g.map].lookup(new Uint8Array(4));
      const bytes = (live ?? m.initial ?? new Uint8Array(m.def.valueSize)).subarray(g.offset, g.offset + g.size);
      let value: unknown = Buffer.from(bytes).toString('hex');
      if (obj.btf !== undefined && g.type !== undefined) {
        try {
          value = decodeValue(obj.btf, g.type, bytes);
        } catch {
          // keep hex
        }
      }
      return { name: g.name, section: m.sectionName, offset: g.offset, size: g.size, type: g.type !== undefined && obj.btf !== undefined ? obj.btf.describe(g.type) : null, value };
    });
    if (p.values.json === true) {
      out(JSON.stringify({ file: p.file, name: obj.name, size: obj.size, license: obj.license, gpl: obj.gpl, btf_types: obj.btf?.types.length ?? 0, warnings: obj.warnings, programs: progs, maps, globals }, null, 2));
    } else {
      out(`${p.file}: ${obj.size} bytes, license "${obj.license}"${obj.gpl ? ' (GPL-compatible)' : ''}, ${obj.btf !== undefined ? `BTF ${obj.btf.types.length - 1} types` : 'no BTF'}`);
      for (const w of obj.warnings) out(`warning: ${w}`);
      out('');
      out('programs:');
      const prow = [['id', 'name', 'type', 'hook', 'insns', 'verified', 'processed', 'stack', 'run_cnt', 'run_time_ns']];
      progs.forEach((x, i) =>
        prow.push([
          String(i), x.name, x.type, x.hook ?? x.section, String(x.insns),
          x.verified === null ? '-' : x.verified ? 'yes' : 'NO', String(x.insns_processed ?? '-'),
          x.stack_depth === null ? '-' : x.stack_depth.join('+'), String(x.run_cnt), String(x.run_time_ns),
        ]),
      );
      for (const l of table(prow)) out(`  ${l}`);
      for (const x of progs) {
        if (x.subprograms.length > 0) out(`  ${x.name}: subprograms ${x.subprograms.join(', ')}`);
        if (x.error !== null) out(`  ${x.name}: ${x.error}`);
      }
      out('');
      out('maps:');
      const mrow = [['id', 'name', 'type', 'key', 'value', 'max_entries', 'flags', 'entries', 'memory', 'types']];
      maps.forEach((m, i) =>
        mrow.push([
          String(i), m.name, m.type, String(m.key_size), String(m.value_size), String(m.max_entries), `0x${m.flags.toString(16)}`,
          m.entries === null ? '-' : String(m.entries), m.memory_bytes === null ? '-' : String(m.memory_bytes),
          [m.key_type !== null ? `key ${m.key_type}` : '', m.value_type !== null ? `value ${m.value_type}` : '', m.record_type !== null ? `record ${m.record_type}` : ''].filter((s) => s !== '').join(', '),
        ]),
      );
      for (const l of table(mrow)) out(`  ${l}`);
      if (globals.length > 0) {
        out('');
        out('globals:');
        const grow = [['name', 'section', 'offset', 'size', 'type', 'value']];
        for (const g of globals) grow.push([g.name, g.section, String(g.offset), String(g.size), g.type ?? '-', JSON.stringify(g.value)]);
        for (const l of table(grow)) out(`  ${l}`);
      }
      if (p.values.log === true) for (const r of rejectionReport(session, true)) out(r);
      if (p.values.disasm === true) {
        const { disassembleNumbered } = await import('../../engine/asm/disassembler.js');
        for (const prog of obj.programs) {
          out('');
          out(`${prog.name} (${prog.section}):`);
          out(withSource(disassembleNumbered(prog.insns, obj.maps.map((m) => m.def)), prog));
        }
      }
    }
    return progs.some((x) => x.verified === false) ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ElfError) {
      err(`kestrel prog show: ${e.message}`);
      return 2;
    }
    if (e instanceof Error && /^clang/.test(e.message)) {
      err(`kestrel prog show: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    session?.close();
  }
}

const HELP_RUN = `usage: kestrel prog run FILE.o|FILE.c [--prog NAME] [--mem HEX] [--repeat N] [--exec interp|jit]
                       [--budget N] [--no-verify] [--json]

Run one program of an object once (or --repeat N times) on a context of your own, like
bpftool prog run: r1 points at the context (--mem bytes, else zeros of the hook's context size)
and r2 holds its length. Helpers see a test task (tgid 1000, pid 1001, uid 1000, comm "bash"); user memory
is empty. Prints r0, instructions, trace lines and ring-buffer records. Runs socket and XDP
programs too, which cannot be attached to the simulated kernel.`;

function parseHex(h: string): Uint8Array {
  const clean = h.replace(/0x/gi, '').replace(/[\s,:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new UsageError(`--mem: '${h}' is not hex bytes`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export async function runRun(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { ...OPTIONS, prog: { type: 'string' }, mem: { type: 'string' }, repeat: { type: 'string' } },
    });
  } catch (e) {
    err(`kestrel prog run: ${e instanceof Error ? e.message : String(e)}\n${HELP_RUN}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    out(HELP_RUN);
    return 0;
  }
  let io: InstantiatedObject | undefined;
  try {
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing FILE.o' : `unexpected argument '${positionals[1]}'`);
    const file = positionals[0];
    const obj = readObject(file, values.set);
    const vm = createVm();
    io = instantiate(obj, vm, { verify: values['no-verify'] !== true });
    const ip = values.prog !== undefined ? io.programs.find((x) => x.prog.name === values.prog) : io.programs[0];
    if (ip === undefined) throw new UsageError(`no program '${values.prog}' in ${file} (have: ${io.programs.map((x) => x.prog.name).join(', ')})`);
    if (ip.loaded === undefined) {
      err(`kestrel prog run: ${ip.prog.name}: ${ip.error ?? 'not loaded'}`);
      if (ip.verdict !== undefined && !ip.verdict.ok) err(ip.verdict.log.trimEnd());
      return 1;
    }
    const progType = ip.prog.attach.progType;
    const hc = ip.prog.attach.hook !== undefined ? HOOK_CONTEXTS[ip.prog.attach.hook] : HOOK_CONTEXTS[progType];
    const ctx = values.mem !== undefined ? parseHex(values.mem) : new Uint8Array(ip.ctxSize);
    const repeat = intOpt(values.repeat, 'repeat') ?? 1;
    const ex = selectExecutor(ip.loaded, execOpt(values.exec), {
      verified: ip.verdict,
      verify: hc !== undefined ? { progType: hc.progType, ctxSize: hc.ctxSize, maps: ip.loaded.spec.maps, gpl: obj.gpl } : undefined,
      log: (m) => err(m),
    });
    const env = testEnv();
    const rt = vm.runtime(env, { progType });
    let addr = 0;
    if (ctx.length > 0) {
      addr = vm.mem.alloc(ctx.length).addr;
      vm.mem.addRegion(addr, ctx.length, RegionKind.Context, progType !== 'tracepoint' && progType !== 'kprobe');
    }
    rt.ctxAddr = addr;
    rt.ctxSize = ctx.length;
    const lines: OutputLine[] = [];
    const readers = outputReaders(obj, io, (l) => lines.push(l), values['record-type']);
    let res = { r0lo: 0, r0hi: 0, instructions: 0 } as ReturnType<Executor['run']>;
    const t0 = performance.now();
    for (let i = 0; i < Math.max(1, repeat); i++) {
      if (ctx.length > 0) vm.mem.u8.set(ctx, addr);
      res = ex.run(rt, addr, 0, ctx.length, 0, { budget: intOpt(values.budget, 'budget') });
      for (const r of readers) r.drain();
      if (res.fault !== undefined) break;
    }
    const ns = ((performance.now() - t0) * 1e6) / Math.max(1, repeat);
    const r0 = `0x${((BigInt(res.r0hi >>> 0) << 32n) | BigInt(res.r0lo >>> 0)).toString(16)}`;
    const where = res.fault !== undefined ? lineAt(ip.prog.lines, res.fault.pc) : undefined;
    const fault = res.fault !== undefined ? `${res.fault.toString()}${where !== undefined ? ` (${formatLine(where)})` : ''}` : undefined;
    if (values.json === true) {
      out(JSON.stringify({
        program: ip.prog.name,
        r0,
        instructions: res.instructions,
        ...(fault !== undefined ? { fault } : {}),
        exec: ex.mode,
        ...(repeat > 1 ? { runs: repeat, ns_per_run: Math.round(ns) } : {}),
        trace: env.printk,
        records: lines.filter((l) => l.kind === 'record').map((l) => l.data ?? l.text),
      }));
    } else {
      for (const t of env.printk) out(`trace: ${t}`);
      for (const l of lines) out(l.text);
      out(`${ip.prog.name}: r0 = ${r0} (${res.instructions} instructions${repeat > 1 ? `, ${repeat} runs, ${Math.round(ns)} ns/run` : ''}, ${ex.mode})`);
      if (fault !== undefined) err(`kestrel: ${ip.prog.name}: ${fault}`);
    }
    return fault !== undefined ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ElfError) {
      err(`kestrel prog run: ${e.message}`);
      return 2;
    }
    if (e instanceof Error && /^clang/.test(e.message)) {
      err(`kestrel prog run: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    if (io !== undefined) closeObject(io);
  }
}

/** Interleave `; file:line: source` and subprogram labels with numbered disassembly (like bpftool's linum). */
function withSource(text: string, prog: ElfObject['programs'][number]): string {
  const starts = new Map(prog.subprograms.map((sp) => [sp.insn, sp.name]));
  const byInsn = new Map(prog.lines.map((l) => [l.insn, l]));
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+):/.exec(line);
    if (m !== null) {
      const pc = Number(m[1]);
      const sub = starts.get(pc);
      if (sub !== undefined) out.push(`${sub}:`);
      const l = byInsn.get(pc);
      if (l !== undefined) out.push(`; ${formatLine(l)}`);
    }
    out.push(line);
  }
  return out.join('\n');
}

/** Entry point: `load ...`, `show ...` or `run ...` (for ELF objects). */
export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'load') return runLoad(rest);
  if (sub === 'show') return runShow(rest);
  if (sub === 'run') return runRun(rest);
  if (sub === undefined || sub === '--help' || sub === '-h') {
    out(`${HELP_LOAD}\n\n${HELP_SHOW}\n\n${HELP_RUN}`);
    return sub === undefined ? 2 : 0;
  }
  err(`kestrel prog: unknown subcommand '${sub}' (expected load, show or run)`);
  return 2;
}
