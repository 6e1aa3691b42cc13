// Running a compiled rule set against events through the simulated kernel, next to the
// reference evaluator on the very same event contexts: what the differential tests, the
// benchmarks and `kestrel rules test` (compiled mode) use.

import { createEngineKernel, type EngineKernel, type ProgramRunner, type FaultReport } from '../../collectors/kernel/engine.js';
import type { KestrelEvent } from '../../collectors/events.js';
import type { EventContext } from '../../collectors/snapshot.js';
import { RingBufConsumer } from '../../engine/maps/index.js';
import { decodeRecord, type DecodedRecord } from '../../alerts/record-format.js';
import type { RuleSet } from '../loader/index.js';
import type { Hook } from '../fields/types.js';
import { evaluateCondition } from '../eval/evaluate.js';
import { attachRuleSet, type AttachedRuleSet } from './attach.js';
import type { CompiledRuleSet } from './index.js';

export interface CompiledRunner {
  ek: EngineKernel;
  attached: AttachedRuleSet;
  /** Apply one event; returns the decoded match records it produced and the kernel's contexts. */
  step(ev: KestrelEvent): { records: DecodedRecord[]; contexts: { event: KestrelEvent; context: EventContext }[] };
  faults: FaultReport[];
  decodeErrors: string[];
  /** Records drained without decoding (with `decode: false`). */
  drained: { count: number };
}

export function compiledRunner(
  set: CompiledRuleSet,
  opts: {
    run?: ProgramRunner;
    hosts?: Record<string, string[]>;
    /** false: drain the ring buffer without decoding (step returns no records; `drained` counts them) */
    decode?: boolean;
  } = {},
): CompiledRunner {
  const faults: FaultReport[] = [];
  const ek = createEngineKernel({ run: opts.run, onFault: (f) => faults.push(f), table: { hosts: opts.hosts } });
  const attached = attachRuleSet(ek, set);
  const consumer = new RingBufConsumer(attached.ringbuf);
  const decodeErrors: string[] = [];
  const drained = { count: 0 };
  return {
    ek,
    attached,
    faults,
    decodeErrors,
    drained,
    step(ev) {
      const contexts = ek.kernel.handle(ev);
      const records: DecodedRecord[] = [];
      consumer.consume((data) => {
        if (opts.decode === false) {
          drained.count++;
          return;
        }
        const r = decodeRecord(data, set.ruleTable);
        if (r.ok) records.push(r.record);
        else decodeErrors.push(r.error);
      });
      return { records, contexts };
    },
  };
}

/** Which hook's programs see an event, for the reference side. */
export function hookOfEvent(ev: KestrelEvent): Hook | undefined {
  if (ev.type === 'exec') return ev.enforced === 'kill' ? undefined : 'exec';
  if (ev.type === 'connect') return ev.enforced === 'kill' ? undefined : 'connect';
  return undefined;
}

/** Rules that fire on a context according to the reference evaluator. */
export function referenceMatches(rules: RuleSet, compiled: CompiledRuleSet, ctx: EventContext): string[] {
  const hook = hookOfEvent(ctx.event);
  if (hook === undefined) return [];
  const attachedNames = new Set(compiled.compiled.filter((c) => c.hooks.includes(hook)).map((c) => c.rule));
  const out: string[] = [];
  for (const r of rules.rules) {
    if (!attachedNames.has(r.name) || r.expr === undefined) continue;
    if (evaluateCondition(r.expr, ctx)) out.push(r.name);
  }
  return out;
}
