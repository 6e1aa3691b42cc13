// The rule compiler: a loaded rule set → per-hook eBPF programs + maps + the rule table the
// alert engine decodes records with. Rules the compiler cannot express are reported by name
// with the reason; nothing is dropped silently.

import type { MapDef } from '../../engine/maps/types.js';
import type { RuleInfo, RuleTable } from '../../alerts/record-format.js';
import type { LoadedRule, RuleSet } from '../loader/index.js';
import type { Hook } from '../fields/types.js';
import { EmitError } from './emit.js';
import { Unsupported } from './fields.js';
import { MapRegistry } from './maps.js';
import { planOutputs, type OutputPlan } from './outputs.js';
import { connectStashProgram, ruleProgram, type GeneratedProgram, type RuleCode } from './program.js';
import { specialize } from './specialize.js';
import { WalkLog, planWalks } from './shared-walks.js';

export interface CompileOptions {
  matching?: 'all' | 'first';
  /** ring-buffer size in bytes (a power of two) */
  ringbufSize?: number;
  /** only these rules (by name) */
  only?: readonly string[];
}

export interface CompiledProgram extends GeneratedProgram {
  /** MapDefs in lddw index order (sizes final). */
  maps: MapDef[];
}

export interface RuleReport {
  rule: string;
  hook?: Hook;
  reason: string;
}

export interface CompiledRuleSet {
  programs: CompiledProgram[];
  /** every map any program uses, by name */
  maps: Map<string, MapDef>;
  /** initial contents of the compiler's maps */
  contents: Map<string, { key: Uint8Array; value: Uint8Array }[]>;
  /** DNS name lists by bit: the kernel keeps kestrel_dns_sets from them (SimKernel.trackDnsLists) */
  dnsLists: string[][];
  /** rule id → rule (ids are positions in the rule set) and field id → carrier key */
  ruleTable: RuleTable;
  /** rule id → how its output values are derived from the record */
  outputs: Map<number, OutputPlan>;
  /** rules compiled, with their hooks */
  compiled: { rule: string; hooks: Hook[] }[];
  /** rules that could not be compiled (for a hook), with the reason */
  unsupported: RuleReport[];
  /** rules not attached anywhere: disabled, skipped, failed, or needing events Kestrel lacks */
  notAttached: RuleReport[];
  compileMs: number;
}

function ruleInfo(r: LoadedRule): RuleInfo {
  return { name: r.name, priority: r.priority, tags: r.tags, output: r.output, source: r.source };
}

export function compileRuleSet(set: RuleSet, opts: CompileOptions = {}): CompiledRuleSet {
  const t0 = performance.now();
  const registry = new MapRegistry(opts.ringbufSize ?? 4 * 1024 * 1024);
  const fields: string[] = [];
  const fieldId = (key: string): number => {
    let i = fields.indexOf(key);
    if (i < 0) {
      fields.push(key);
      i = fields.length - 1;
    }
    return i;
  };
  const rules: (RuleInfo | undefined)[] = [];
  const outputs = new Map<number, OutputPlan>();
  const unsupported: RuleReport[] = [];
  const notAttached: RuleReport[] = [];
  const compiled: { rule: string; hooks: Hook[] }[] = [];
  const perHook: Record<Hook, RuleCode[]> = { exec: [], connect: [] };
  // The per-rule probe compiles also log the string walks each hook's program will make.
  const walkLogs: Record<Hook, WalkLog> = { exec: new WalkLog(), connect: new WalkLog() };

  for (const r of set.rules) {
    rules[r.id] = ruleInfo(r);
    if (opts.only !== undefined && !opts.only.includes(r.name)) continue;
    if (!r.enabled) {
      notAttached.push({ rule: r.name, reason: 'disabled' });
      continue;
    }
    if (r.skipped !== undefined || r.failed === true || r.expr === undefined) {
      notAttached.push({ rule: r.name, reason: r.skipped ?? 'the rule has errors' });
      continue;
    }
    if (r.plan.hooks.length === 0) {
      notAttached.push({
        rule: r.name,
        reason: r.plan.empty ? 'the condition can never match' : `needs event types Kestrel does not have yet: ${r.plan.missing.join(', ')}`,
      });
      continue;
    }
    const hooks: Hook[] = [];
    for (const hook of r.plan.hooks) {
      const expr = specialize(r.expr, hook);
      if (expr.kind === 'const' && !expr.value) continue;
      // Try the rule alone first so an unsupported construct names this rule.
      const plan = planOutputs(r.outputFields, hook, outputs.get(r.id));
      outputs.set(r.id, plan);
      const code: RuleCode = {
        id: r.id,
        name: r.name,
        expr,
        carriers: plan.carriers.map((c) => ({ carrier: c, fieldId: fieldId(c.key) })),
      };
      try {
        const log = new WalkLog();
        ruleProgram(new MapRegistry(16384), hook, [code], 'probe', opts.matching ?? 'all', { log });
        walkLogs[hook].merge(log);
      } catch (e) {
        if (e instanceof Unsupported || e instanceof EmitError) {
          unsupported.push({ rule: r.name, hook, reason: e.message });
          continue;
        }
        throw e;
      }
      perHook[hook].push(code);
      hooks.push(hook);
    }
    if (hooks.length > 0) compiled.push({ rule: r.name, hooks });
    else if (!unsupported.some((u) => u.rule === r.name)) notAttached.push({ rule: r.name, reason: 'the condition cannot hold on execve or connect events' });
  }

  const programs: GeneratedProgram[] = [];
  for (const hook of ['exec', 'connect'] as const) {
    if (perHook[hook].length === 0) continue;
    const plan = planWalks(walkLogs[hook]);
    programs.push(ruleProgram(registry, hook, perHook[hook], `kestrel_${hook}_rules`, opts.matching ?? 'all', { plan }));
    if (hook === 'connect') programs.push(connectStashProgram(registry));
  }
  registry.finish();
  const maps = new Map<string, MapDef>();
  const out: CompiledProgram[] = programs.map((p) => {
    const defs = p.mapNames.map((n) => registry.def(n));
    for (const d of defs) maps.set(d.name, d);
    return { ...p, maps: defs };
  });
  return {
    programs: out,
    maps,
    contents: registry.contents,
    dnsLists: registry.dnsLists,
    ruleTable: { rules, fields },
    outputs,
    compiled,
    unsupported,
    notAttached,
    compileMs: performance.now() - t0,
  };
}

export { deriveOutputs, planOutputs } from './outputs.js';
