// Parser and runner for bpf_conformance `.data` files (shared/anchors/bpf-conformance/README.md).
// The runner is engine-neutral: pass an `Executor` to run the same cases on the JIT.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { assemble } from './asm/assembler.js';
import { loadProgram, type LoadedProgram, type ProgramSpec } from './program.js';
import { runProgram, type RunResult } from './interpreter.js';
import { createTestRuntime, type TestRuntime } from './test-runtime.js';
import { VmMemory } from './memory.js';

export interface ConformanceCase {
  name: string;
  asm?: string;
  /** Line number (1-based) where the asm text starts in the file, for error positions. */
  asmLine: number;
  mem?: Uint8Array;
  /** Expected r0 as unsigned 64-bit. */
  result?: bigint;
  error?: string;
  /** `-- raw` slots: the program itself (replaces asm). */
  raw?: Uint8Array;
}

export type Executor = (prog: LoadedProgram, rt: TestRuntime, r1lo: number, r1hi: number, r2lo: number, r2hi: number) => RunResult;

export const interpreterExecutor: Executor = (prog, rt, a, b, c, d) => runProgram(prog, rt, a, b, c, d, { budget: 10_000_000 });

export interface CaseOutcome {
  name: string;
  pass: boolean;
  /** What happened, e.g. `r0 = 0x1` or the error text. */
  actual: string;
  expected: string;
  /** For `-- raw` cases: whether the assembler produced exactly the raw slots. */
  rawMatches?: boolean;
  instructions?: number;
}

/** Parse one `.data` file. Sections start at any line containing `--`; `#` starts a comment. */
export function parseDataFile(text: string, name = '<data>'): ConformanceCase {
  const c: ConformanceCase = { name, asmLine: 1 };
  let section = '';
  const bodies = new Map<string, string[]>();
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line.includes('--')) {
      const h = line.replace(/#.*$/, '');
      if (/\basm\b/.test(h)) section = 'asm';
      else if (/\bresult\b/.test(h)) section = 'result';
      else if (/\bmem\b/.test(h)) section = 'mem';
      else if (/\braw\b/.test(h)) section = 'raw';
      else if (/no register offset/.test(h)) section = 'ignore';
      else if (/\berror\b/.test(h)) section = 'error';
      else if (/--\s*c\s*$/.test(h)) section = 'ignore';
      else section = 'ignore';
      if (section === 'asm') c.asmLine = n + 2;
      if (!bodies.has(section)) bodies.set(section, []);
      continue;
    }
    if (section === '') continue;
    // Keep asm lines verbatim (blank for comments) so assembler line numbers map to the file.
    const body = bodies.get(section) as string[];
    body.push(section === 'asm' || section === 'error' ? line : line.replace(/#.*$/, ''));
  }
  const asm = bodies.get('asm');
  if (asm !== undefined) c.asm = asm.join('\n');
  const mem = bodies.get('mem');
  if (mem !== undefined) {
    const hex = mem.join(' ').trim().split(/\s+/).filter((t) => t.length > 0);
    const bytes = new Uint8Array(hex.length);
    hex.forEach((h, k) => {
      if (!/^[0-9a-fA-F]{1,2}$/.test(h)) throw new Error(`${name}: -- mem: bad byte '${h}'`);
      bytes[k] = parseInt(h, 16);
    });
    c.mem = bytes;
  }
  const result = bodies.get('result');
  if (result !== undefined) {
    const t = result.join(' ').trim();
    if (t.length > 0) {
      const v = t.includes('0x') ? BigInt(t.slice(t.indexOf('0x')).split(/\s/)[0]) : BigInt(t.split(/\s/)[0]);
      c.result = BigInt.asUintN(64, v);
    }
  }
  const error = bodies.get('error');
  if (error !== undefined) c.error = error.join('\n').trim();
  const raw = bodies.get('raw');
  if (raw !== undefined) {
    const slots = raw.map((l) => l.trim()).filter((l) => l.length > 0);
    const bytes = new Uint8Array(slots.length * 8);
    const dv = new DataView(bytes.buffer);
    slots.forEach((s, k) => dv.setBigUint64(k * 8, BigInt.asUintN(64, BigInt(s.startsWith('0x') ? s : `0x${s}`)), true));
    c.raw = bytes;
  }
  return c;
}

function hex64(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** Run one case on a fresh test runtime over `mem`. Never throws. */
export function runCase(c: ConformanceCase, exec: Executor = interpreterExecutor, mem?: VmMemory): CaseOutcome {
  const expected = c.error !== undefined ? `error: ${c.error}` : c.result !== undefined ? `r0 = ${hex64(c.result)}` : '(nothing)';
  const rt = createTestRuntime({ mem: mem ?? new VmMemory({ initialBytes: 1 << 20 }) });
  let failure: string | undefined;
  let rawMatches: boolean | undefined;
  let r: RunResult | undefined;
  try {
    let insns: Uint8Array;
    if (c.raw !== undefined) {
      insns = c.raw;
      if (c.asm !== undefined) {
        const a = assemble(c.asm, `${c.name}(asm)`);
        rawMatches = a.insns.length === c.raw.length && a.insns.every((b, k) => b === (c.raw as Uint8Array)[k]);
      }
    } else if (c.asm !== undefined) {
      insns = assemble(c.asm, c.name).insns;
    } else {
      throw new Error('no -- asm or -- raw section');
    }
    const spec: ProgramSpec = { name: c.name, insns, maps: [], mapRefs: [], progType: 'socket_filter' };
    const prog = loadProgram(spec);
    const addr = rt.setContext(c.mem ?? new Uint8Array(0), true);
    const len = c.mem?.length ?? 0;
    r = exec(prog, rt, addr, 0, len, 0);
    if (r.fault !== undefined) failure = r.fault.message;
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    rt.clearContext();
  }
  let actual: string;
  let pass: boolean;
  if (failure !== undefined) {
    actual = `error: ${failure}`;
    pass = c.error !== undefined && failure.includes(c.error);
  } else {
    const got = r === undefined ? 0n : (BigInt(r.r0hi) << 32n) | BigInt(r.r0lo);
    actual = `r0 = ${hex64(got)}`;
    pass = c.error === undefined && c.result !== undefined && got === c.result;
  }
  if (rawMatches === false) pass = false;
  return { name: c.name, pass, actual, expected, rawMatches, instructions: r?.instructions };
}

/** All `.data` files of a folder, sorted by name. Throws with a clear message if the folder is missing. */
export function loadConformanceDir(dir: string): ConformanceCase[] {
  if (!existsSync(dir)) throw new Error(`bpf_conformance tests not found at ${dir}`);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.data'))
    .sort()
    .map((f) => parseDataFile(readFileSync(join(dir, f), 'utf8'), basename(f, '.data')));
}

export function runConformance(cases: readonly ConformanceCase[], exec: Executor = interpreterExecutor): CaseOutcome[] {
  const mem = new VmMemory({ initialBytes: 1 << 20 });
  return cases.map((c) => runCase(c, exec, mem));
}
