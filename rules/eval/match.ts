// Rule matching with the reference evaluator. Rules are indexed by the Kestrel event they can
// match (Falco's evttype index); per event every enabled rule that holds fires
// (`rule_matching: all`, Kestrel's default) or only the first in definition order (`first`).

import type { EventContext } from '../../collectors/snapshot.js';
import type { LoadedRule } from '../loader/compile.js';
import { has } from '../fields/evttypes.js';
import { Evaluation, evaluate } from './evaluate.js';
import { atLeast, type Priority } from '../priority.js';

export type RuleMatching = 'all' | 'first';

export interface MatcherOptions {
  ruleMatching?: RuleMatching;
  /** rules less severe than this are not loaded (falco.yaml `priority`) */
  minPriority?: Priority;
}

/** The Falco event type a Kestrel event is, for rule selection. */
export function falcoEventType(type: EventContext['event']['type']): string | undefined {
  return type === 'exec' ? 'execve' : type === 'connect' ? 'connect' : undefined;
}

export class Matcher {
  private readonly byType = new Map<string, LoadedRule[]>();
  readonly mode: RuleMatching;
  /** evaluations performed (rule × event), for benchmarks */
  evaluations = 0;

  constructor(rules: readonly LoadedRule[], opts: MatcherOptions = {}) {
    this.mode = opts.ruleMatching ?? 'all';
    for (const evt of ['execve', 'connect']) {
      this.byType.set(
        evt,
        rules.filter((r) => r.enabled && r.expr !== undefined && r.skipped === undefined && has(r.evtTypes, evt) && (opts.minPriority === undefined || atLeast(r.priority, opts.minPriority))),
      );
    }
  }

  /** Rules that apply to an event type (in definition order). */
  rulesFor(evt: string): readonly LoadedRule[] {
    return this.byType.get(evt) ?? [];
  }

  /** The rules that fire for this event. */
  match(ctx: EventContext): LoadedRule[] {
    const evt = falcoEventType(ctx.event.type);
    if (evt === undefined) return [];
    const candidates = this.byType.get(evt) ?? [];
    const ev = new Evaluation(ctx);
    const out: LoadedRule[] = [];
    for (const r of candidates) {
      this.evaluations++;
      if (evaluate(r.expr as NonNullable<LoadedRule['expr']>, ev)) {
        out.push(r);
        if (this.mode === 'first') break;
      }
    }
    return out;
  }
}
