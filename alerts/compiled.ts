// Glue for rule sets compiled by rules/compiler: their records carry raw kernel data keyed by
// carrier names, and each rule's OutputPlan says how to turn those into Falco field values.

import { deriveOutputs, type CompiledRuleSet } from '../rules/compiler/index.js';
import type { ValueDeriver } from './alert.js';
import type { AlertEngineOptions } from './engine.js';

export function compiledDeriver(set: Pick<CompiledRuleSet, 'outputs'>): ValueDeriver {
  return (ruleId, raw) => {
    const plan = set.outputs.get(ruleId);
    return plan === undefined ? new Map() : deriveOutputs(plan, raw);
  };
}

/** The rule-related engine options for a compiled rule set. */
export function compiledRuleOptions(set: Pick<CompiledRuleSet, 'outputs' | 'ruleTable'>): Pick<AlertEngineOptions, 'rules' | 'derive'> {
  return { rules: set.ruleTable, derive: compiledDeriver(set) };
}
