// `kestrel verify FILE [--hook HOOK] [--json] [--stats]`: run Kestrel's verifier on a program
// (assembly, ELF object or raw bytecode) and print the verdict and the Linux-style log.

import { parseArgs } from 'node:util';
import { oneInput } from '../one-input.js';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assemble, AsmError } from '../../engine/asm/assembler.js';
import type { MapDef } from '../../engine/maps/types.js';
import { HOOK_CONTEXTS, verify, type ProgType, type VerifyResult } from '../../engine/verifier/index.js';

const DEFAULT_HOOK = 'tracepoint/syscalls/sys_enter_execve';

const HELP = `usage: kestrel verify FILE [--hook HOOK] [--json] [--stats] [--log-level 0|1|2]

Verify an eBPF program the way Linux's verifier would before it runs: every path is explored,
registers and stack are typed, every memory access is proved in bounds, loops must be bounded.

  FILE            .asm/.s (assembly), .o (ELF object: every program in it), .bin (raw bytecode)
  --hook HOOK     attach point: its program type and context layout (default ${DEFAULT_HOOK};
                  for .o files the program's SEC() name); 'raw' = conformance-style memory
                  (r1 = --ctx-size bytes, r2 = length)
  --ctx-size N    context bytes for --hook raw (default 64)
  --no-gpl        treat the license as non-GPL (GPL-only helpers are rejected)
  --allow-uninit-stack  allow reads of never-written stack bytes (Linux's privileged rule)
  --json          print {file, programs: [{name, hook, ok, error, stats, log}]}
  --stats         print instructions processed, states, peak states and stack depth
  --log-level N   0: reason only, 1: failing state (default), 2: every instruction
  -c, --config FILE, --db FILE, -r PATH   accepted for uniformity; unused
  -h, --help      this text

Hooks: ${Object.keys(HOOK_CONTEXTS).join(', ')}, raw
Exit codes: 0 accepted, 1 rejected, 2 unreadable input or usage error.
`;

interface Unit {
  name: string;
  hook: string;
  insns: Uint8Array;
  maps: MapDef[];
  gpl: boolean;
}

interface ElfModule {
  loadElf(bytes: Uint8Array, opts?: { fileName?: string }): {
    gpl: boolean;
    maps: { def: MapDef }[];
    programs: { name: string; section: string; insns: Uint8Array; attach: { hook?: string; progType: string } }[];
  };
}

async function loadElfModule(): Promise<ElfModule | undefined> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'engine', 'elf', 'index.js'), join(here, '..', '..', 'engine', 'elf', 'index.ts')];
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) return undefined;
  return (await import(pathToFileURL(file).href)) as ElfModule;
}

function hookContext(hook: string, ctxSize: number): { progType: ProgType; ctxSize: number } | undefined {
  if (hook === 'raw') return { progType: 'raw', ctxSize };
  return HOOK_CONTEXTS[hook];
}

export async function run(args: string[]): Promise<number> {
  const one = oneInput('verify', HELP, () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        hook: { type: 'string' },
        'ctx-size': { type: 'string' },
        'no-gpl': { type: 'boolean' },
        'allow-uninit-stack': { type: 'boolean' },
        json: { type: 'boolean' },
        stats: { type: 'boolean' },
        'log-level': { type: 'string' },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        rules: { type: 'string', short: 'r', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (typeof one === 'number') return one;
  const { values } = one.parsed;
  const file = one.file;
  const ctxSize = values['ctx-size'] !== undefined ? Number(values['ctx-size']) : 64;
  if (!Number.isInteger(ctxSize) || ctxSize < 0 || ctxSize > 1 << 20) {
    process.stderr.write(`kestrel verify: bad --ctx-size '${values['ctx-size']}'\n`);
    return 2;
  }
  const logLevel = values['log-level'] !== undefined ? Number(values['log-level']) : 1;
  if (logLevel !== 0 && logLevel !== 1 && logLevel !== 2) {
    process.stderr.write(`kestrel verify: --log-level must be 0, 1 or 2\n`);
    return 2;
  }
  if (values.hook !== undefined && hookContext(values.hook, ctxSize) === undefined) {
    process.stderr.write(`kestrel verify: unknown hook '${values.hook}' (known: ${Object.keys(HOOK_CONTEXTS).join(', ')}, raw)\n`);
    return 2;
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file === '-' ? 0 : file));
  } catch (e) {
    process.stderr.write(`kestrel verify: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const gpl = values['no-gpl'] !== true;
  const units: Unit[] = [];
  const ext = extname(file).toLowerCase();
  const isElf = bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (ext === '.o' || isElf) {
    const elf = await loadElfModule();
    if (elf === undefined) {
      process.stderr.write(`kestrel verify: ${file}: ELF objects are not supported yet (engine/elf is missing)\n`);
      return 2;
    }
    try {
      const obj = elf.loadElf(bytes, { fileName: basename(file) });
      for (const p of obj.programs) {
        units.push({ name: `${p.name} (SEC("${p.section}"))`, hook: values.hook ?? p.attach.hook ?? p.section, insns: p.insns, maps: obj.maps.map((m) => m.def), gpl: gpl && obj.gpl });
      }
      if (units.length === 0) {
        process.stderr.write(`kestrel verify: ${file}: no programs in the object\n`);
        return 2;
      }
    } catch (e) {
      process.stderr.write(`kestrel verify: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
  } else if (ext === '.bin') {
    units.push({ name: basename(file), hook: values.hook ?? DEFAULT_HOOK, insns: bytes, maps: [], gpl });
  } else {
    try {
      const a = assemble(Buffer.from(bytes).toString('utf8'), file);
      units.push({ name: basename(file), hook: values.hook ?? DEFAULT_HOOK, insns: a.insns, maps: a.maps, gpl });
    } catch (e) {
      if (e instanceof AsmError) {
        process.stderr.write(`kestrel verify: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  }
  const results: { unit: Unit; res: VerifyResult; attachError?: string }[] = [];
  for (const unit of units) {
    const hc = hookContext(unit.hook, ctxSize);
    if (hc === undefined) {
      const res: VerifyResult = { ok: false, error: { insn: 0, message: `unknown hook '${unit.hook}'` }, log: `unknown hook '${unit.hook}'\n`, stats: { insnsProcessed: 0, states: 0, peakStates: 0, stackDepth: [] } };
      results.push({ unit, res });
      continue;
    }
    const res = verify(unit.insns, { progType: hc.progType, ctxSize: hc.ctxSize, maps: unit.maps, gpl: unit.gpl, logLevel: logLevel as 0 | 1 | 2, allowUninitStack: values['allow-uninit-stack'] === true });
    // Linux checks tracepoint context reads against the record size when attaching.
    let attachError: string | undefined;
    if (res.ok && hc.progType === 'tracepoint' && (res.maxCtxOffset ?? 0) > hc.ctxSize) {
      attachError = `reads the context up to byte ${res.maxCtxOffset} but ${unit.hook} records are ${hc.ctxSize} bytes: attaching would fail (EACCES)`;
    }
    results.push({ unit, res, attachError });
  }
  const allOk = results.every((r) => r.res.ok && r.attachError === undefined);
  if (values.json === true) {
    process.stdout.write(
      JSON.stringify(
        {
          file,
          ok: allOk,
          programs: results.map(({ unit, res, attachError }) => ({
            name: unit.name,
            hook: unit.hook,
            insns: unit.insns.length / 8,
            ok: res.ok && attachError === undefined,
            error: res.error ?? (attachError !== undefined ? { insn: -1, message: attachError } : undefined),
            stats: res.stats,
            maxCtxOffset: res.maxCtxOffset,
            log: res.log,
          })),
        },
        null,
        2,
      ) + '\n',
    );
    return allOk ? 0 : 1;
  }
  for (const { unit, res, attachError } of results) {
    const head = `${unit.name} [${unit.hook}, ${unit.insns.length / 8} insns]`;
    if (res.ok && attachError === undefined) process.stdout.write(`${head}: accepted\n`);
    else if (res.ok) process.stdout.write(`${head}: rejected at attach: ${attachError}\n`);
    else process.stdout.write(`${head}: rejected at insn ${res.error?.insn}: ${res.error?.message}\n`);
    if (!res.ok || logLevel === 2) process.stdout.write(res.log.replace(/^/gm, '  ').replace(/ +$/, ''));
    if (values.stats === true) {
      const s = res.stats;
      process.stdout.write(`  stats: ${s.insnsProcessed} insns processed, ${s.states} states, peak ${s.peakStates}, stack depth ${s.stackDepth.join('+') || '0'} bytes\n`);
    }
  }
  return allOk ? 0 : 1;
}
