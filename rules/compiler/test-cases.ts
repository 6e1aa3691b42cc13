// Rule tests through the compiled programs: the case's events go through the simulated kernel
// with the rule set's eBPF attached, and the rules whose records come out of the ring buffer
// must be the ones the reference evaluator fired. A rule test therefore checks the rule's
// logic and that Kestrel's real path (compiler → verifier → VM) agrees with it.

import type { RuleSet } from '../loader/index.js';
import type { CaseResult, TestCase } from '../testing/runner.js';
import { compiledRunner } from './harness.js';
import type { CompiledRuleSet } from './index.js';

export function checkCaseCompiled(
  result: CaseResult,
  tc: TestCase,
  rules: RuleSet,
  compiled: CompiledRuleSet,
  opts: { hosts?: Record<string, readonly string[]> } = {},
): CaseResult {
  const hosts: Record<string, string[]> = {};
  for (const [k, v] of Object.entries({ ...(opts.hosts ?? {}), ...tc.hosts })) hosts[k] = [...v];
  const runner = compiledRunner(compiled, { hosts });
  const fired = new Set<string>();
  for (const ev of tc.events) for (const r of runner.step(ev).records) fired.add(r.rule.name);
  const failures = [...result.failures];
  const attached = new Set(compiled.compiled.map((c) => c.rule));
  const reference = new Set(result.fired);
  for (const n of fired) if (!reference.has(n)) failures.push(`compiled eBPF fired '${n}' but the reference evaluator did not`);
  for (const n of reference) {
    if (fired.has(n)) continue;
    const why = compiled.unsupported.find((u) => u.rule === n);
    if (why !== undefined) failures.push(`'${n}' is not compiled to eBPF (${why.reason})`);
    else if (attached.has(n)) failures.push(`the reference evaluator fired '${n}' but the compiled eBPF did not`);
  }
  for (const f of runner.faults) failures.push(`program ${f.program} faulted at insn ${f.fault.pc}: ${f.fault.message}`);
  void rules;
  return { ...result, passed: failures.length === 0, failures };
}
