// `kestrel rules compile [--rule NAME] [--disasm] [--json]`: the rule set as eBPF — programs
// per hook, instruction counts, maps with sizes, the verifier's verdict and statistics, and the
// disassembly. The JSON form carries everything another loader needs to run the same bytecode.

import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { loadRules, formatDiag } from '../../rules/loader/index.js';
import { compileRuleSet, type CompiledProgram } from '../../rules/compiler/index.js';
import { verify, type VerifyResult } from '../../engine/verifier/index.js';
import { disassemble } from '../../engine/asm/disassembler.js';
import { slotsToHex } from '../../engine/isa.js';
import { MAP_TYPE_NAMES } from '../../engine/maps/types.js';
import { HOOKS, type HookName } from '../../collectors/kernel/hooks.js';
import { builtinRulesDir, packageRoot } from '../../config/paths.js';
import { loadConfig } from '../../config/load.js';

const HELP = `usage: kestrel rules compile [-r PATH]... [-c FILE] [--rule NAME]... [--disasm] [--json] [--log]

Compiles the rules to eBPF programs (one per hook), runs Kestrel's verifier on each and prints
programs, instruction counts, maps, the verdict with statistics and, with --disasm, the code.
--json prints one document: per program its hook, its instructions as 16-hex-digit little-endian
8-byte slots, its maps (name, Linux type id, key size, value size, max entries, flags) with the
indexes of the lddw instructions that load each map, and the verifier's verdict.
Rules the compiler cannot express are listed by name with the reason.
Exit codes: 0 every program verified, 1 a program was rejected or a rule failed, 2 usage or input errors.`;

interface ProgramReport {
  name: string;
  hook: string;
  insns: number;
  rules: string[];
  verifier: { ok: boolean; error?: string; insnsProcessed: number; states: number; peakStates: number; ms: number };
  maps: { name: string; type: number; typeName: string; keySize: number; valueSize: number; maxEntries: number; flags: number; lddw: number[] }[];
  slots?: string[];
  disasm?: string;
  log?: string;
}

function rulePaths(rules: string[] | undefined, config: string | undefined): string[] {
  if (rules !== undefined && rules.length > 0) return rules;
  if (config !== undefined) {
    return loadConfig({ file: config }).config.rules.map((p) => (isAbsolute(p) || existsSync(p) ? p : join(packageRoot(), p)));
  }
  return [builtinRulesDir()];
}

export function verifyCompiled(p: CompiledProgram): { result: VerifyResult; ms: number } {
  const hook = HOOKS[p.hook as HookName];
  const t0 = performance.now();
  const result = verify(p.insns, { progType: hook.progType, ctxSize: hook.ctxSize, maps: p.maps, gpl: true });
  return { result, ms: performance.now() - t0 };
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      rules: { type: 'string', short: 'r', multiple: true },
      config: { type: 'string', short: 'c' },
      db: { type: 'string' },
      rule: { type: 'string', multiple: true },
      disasm: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      log: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const set = loadRules(rulePaths(values.rules, values.config));
  if (set.errors.length > 0) {
    for (const d of set.errors) process.stderr.write(formatDiag(d) + '\n');
    return 1;
  }
  if (values.rule !== undefined) {
    const missing = values.rule.filter((n) => !set.rules.some((r) => r.name === n));
    if (missing.length > 0) {
      process.stderr.write(`kestrel rules compile: no rule named ${missing.map((m) => `'${m}'`).join(', ')}\n`);
      return 2;
    }
  }
  const c = compileRuleSet(set, { only: values.rule });
  const reports: ProgramReport[] = c.programs.map((p) => {
    const { result, ms } = verifyCompiled(p);
    const rep: ProgramReport = {
      name: p.name,
      hook: p.hook,
      insns: p.insns.length / 8,
      rules: p.rules.map((id) => c.ruleTable.rules[id]?.name ?? `#${id}`),
      verifier: { ok: result.ok, error: result.error === undefined ? undefined : `insn ${result.error.insn}: ${result.error.message}`, insnsProcessed: result.stats.insnsProcessed, states: result.stats.states, peakStates: result.stats.peakStates, ms: Math.round(ms) },
      maps: p.maps.map((m, idx) => ({
        name: m.name,
        type: m.type,
        typeName: MAP_TYPE_NAMES[m.type] ?? String(m.type),
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
        flags: m.flags,
        lddw: p.mapRefs.filter((r) => r.map === idx).map((r) => r.insn),
      })),
    };
    if (values.json) rep.slots = slotsToHex(p.insns);
    if (values.disasm) rep.disasm = disassemble(p.insns, p.maps);
    if (values.log || !result.ok) rep.log = result.log;
    return rep;
  });
  const failed = reports.some((r) => !r.verifier.ok) || c.unsupported.length > 0;
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        {
          programs: reports,
          compiled: c.compiled,
          unsupported: c.unsupported,
          notAttached: c.notAttached,
          compileMs: Math.round(c.compileMs),
        },
        null,
        2,
      ) + '\n',
    );
    return failed ? 1 : 0;
  }
  const w = (s: string): boolean => process.stdout.write(s + '\n');
  w(`${c.compiled.length} rules compiled into ${reports.length} programs in ${Math.round(c.compileMs)} ms`);
  for (const r of reports) {
    w('');
    w(`program ${r.name}  hook ${r.hook}  ${r.insns} insns  rules ${r.rules.length}`);
    w(`  verifier: ${r.verifier.ok ? 'accepted' : `REJECTED (${r.verifier.error})`}; processed ${r.verifier.insnsProcessed} insns, ${r.verifier.states} states (peak ${r.verifier.peakStates}) in ${r.verifier.ms} ms`);
    w('  maps:');
    for (const m of r.maps) w(`    ${m.name.padEnd(24)} ${m.typeName.padEnd(12)} key ${String(m.keySize).padStart(3)}  value ${String(m.valueSize).padStart(6)}  entries ${m.maxEntries}`);
    if (r.disasm !== undefined) {
      w('  code:');
      for (const [i, line] of r.disasm.split('\n').entries()) if (line !== '') w(`    ${String(i).padStart(5)}: ${line}`);
    }
    if (r.log !== undefined && r.log !== '') {
      w('  verifier log:');
      for (const line of r.log.split('\n').slice(-40)) w(`    ${line}`);
    }
  }
  if (c.unsupported.length > 0) {
    w('');
    w('rules the compiler cannot express yet:');
    for (const u of c.unsupported) w(`  ${u.rule} (${u.hook}): ${u.reason}`);
  }
  if (c.notAttached.length > 0) {
    w('');
    w(`rules not attached (${c.notAttached.length}):`);
    for (const u of c.notAttached) w(`  ${u.rule}: ${u.reason}`);
  }
  return failed ? 1 : 0;
}
