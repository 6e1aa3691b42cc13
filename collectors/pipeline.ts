// Events → simulated kernel → compiled rules → ring buffer → decoded matches. The part of the
// full pipeline (SPEC §1) that the replay, simulate and run commands need until the daemon wires
// in the alert engine (store, webhooks); importable so it can be reused there.

import type { KestrelEvent, EventType } from './events.js';
import type { EventContext } from './snapshot.js';
import { loadRules, formatDiag } from '../rules/loader/index.js';
import { compileRuleSet, type CompiledRuleSet } from '../rules/compiler/index.js';
import { compiledRunner, type CompiledRunner } from '../rules/compiler/harness.js';
import { renderOutput } from '../rules/output.js';
import { interpret } from './kernel/engine.js';
import { jitRunner } from '../engine/jit/index.js';
import { hostname } from 'node:os';
import { createAlertEngine, type AlertEngine, type AlertEngineOptions } from '../alerts/engine.js';
import { AlertBuilder } from '../alerts/alert.js';
import { compiledRuleOptions } from '../alerts/compiled.js';
import { processTableEnricher } from '../alerts/enrich.js';

export interface PipelineOptions {
  /** Rule files or folders. */
  rules: readonly string[];
  ruleMatching?: 'all' | 'first';
  /** Static DNS table (config `dns.hosts`). */
  hosts?: Record<string, string[]>;
  exec?: 'jit' | 'interp';
  ringbufSize?: number;
  /** Engine notes (a program left on the interpreter, ...); default: dropped. */
  log?: (msg: string) => void;
  /**
   * Store matches as incidents (and deliver webhooks) through the alert engine, as the daemon
   * does. The options are the engine's, without the rule table (the pipeline supplies it).
   */
  store?: Omit<AlertEngineOptions, 'rules' | 'derive' | 'clock' | 'enricher'>;
}

export interface Match {
  ts: bigint;
  rule: string;
  priority: string;
  output: string;
  pid: number;
  containerId: string;
  enforced?: 'kill' | 'deny';
}

export interface Summary {
  events: number;
  byType: Record<string, number>;
  synthetic: number;
  matches: number;
  byRule: Record<string, number>;
  kills: number;
  denies: number;
  faults: number;
  decodeErrors: number;
  /** Records lost to a full ring buffer. */
  drops: number;
}

export class RulesError extends Error {}

export class Pipeline {
  readonly summary: Summary = {
    events: 0, byType: {}, synthetic: 0, matches: 0, byRule: {}, kills: 0, denies: 0, faults: 0, decodeErrors: 0, drops: 0,
  };
  private constructor(
    readonly compiled: CompiledRuleSet,
    readonly runner: CompiledRunner,
    /** The alert engine matches are stored through, when the pipeline stores them. */
    readonly alerts?: AlertEngine,
    private readonly builder?: AlertBuilder,
  ) {}

  static create(opts: PipelineOptions): Pipeline {
    const set = loadRules(opts.rules);
    if (set.errors.length > 0) throw new RulesError(set.errors.map(formatDiag).join('\n'));
    const compiled = compileRuleSet(set, { matching: opts.ruleMatching, ringbufSize: opts.ringbufSize });
    const runner = compiledRunner(compiled, { hosts: opts.hosts, run: opts.exec === 'interp' ? interpret : jitRunner({ log: opts.log ?? (() => undefined) }) });
    if (opts.store === undefined) return new Pipeline(compiled, runner);
    const rules = compiledRuleOptions(compiled);
    const clock = (ktime: bigint): bigint => ktime + runner.ek.kernel.env.bootWallNs;
    const enricher = processTableEnricher(runner.ek.kernel.table);
    const alerts = createAlertEngine({ ...opts.store, ...rules, clock, enricher });
    const builder = new AlertBuilder({ hostname: opts.store.hostname ?? hostname(), derive: rules.derive, clock, enricher });
    return new Pipeline(compiled, runner, alerts, builder);
  }

  /** Flush stored incidents and pending webhook deliveries, then close the store. */
  async close(graceMs = 5000): Promise<void> {
    await this.alerts?.close(graceMs);
  }

  /** Run one event through the kernel; returns the matches it produced. */
  feed(ev: KestrelEvent): Match[] {
    const { records, contexts } = this.runner.step(ev);
    const s = this.summary;
    for (const { event } of contexts) {
      s.events++;
      s.byType[event.type] = (s.byType[event.type] ?? 0) + 1;
      if (event.type === 'exec' && event.synthetic === true) s.synthetic++;
      if (event.enforced === 'kill' && event.type !== 'exit') s.kills++;
      if (event.enforced === 'deny') s.denies++;
    }
    s.faults = this.runner.faults.length;
    s.decodeErrors = this.runner.decodeErrors.length;
    s.drops = this.runner.attached.ringbuf.drops;
    if (records.length === 0) return [];
    if (this.alerts !== undefined && this.builder !== undefined) {
      const b = this.builder;
      this.alerts.ingest(records.map((r) => b.build(r)));
    }
    // Render with the context of the syscall event the record came from (the first one).
    const ctx: EventContext | undefined = contexts[0]?.context;
    const out: Match[] = [];
    for (const r of records) {
      s.matches++;
      s.byRule[r.rule.name] = (s.byRule[r.rule.name] ?? 0) + 1;
      const m: Match = {
        ts: ctx?.event.ts ?? ev.ts,
        rule: r.rule.name,
        priority: r.rule.priority,
        output: ctx === undefined ? '' : safeRender(r.rule.output, ctx),
        pid: r.tgid,
        containerId: ctx?.process?.containerId ?? 'host',
      };
      const enforced = contexts.find((c) => c.event.enforced !== undefined)?.event.enforced;
      if (enforced !== undefined) m.enforced = enforced;
      out.push(m);
    }
    return out;
  }
}

function safeRender(format: string, ctx: EventContext): string {
  try {
    return renderOutput(format, ctx);
  } catch (e) {
    return `(output not rendered: ${e instanceof Error ? e.message : String(e)})`;
  }
}

/** Counts of an event stream without rules (kestrel record / replay summaries). */
export function countByType(counts: Record<string, number>, ev: KestrelEvent): void {
  const t: EventType = ev.type;
  counts[t] = (counts[t] ?? 0) + 1;
}

/** The summary as people read it. */
export function formatSummary(s: Summary, extra: Record<string, string | number> = {}): string {
  const types = Object.entries(s.byType).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    `events: ${s.events}${types === '' ? '' : ` (${types})`}${s.synthetic > 0 ? `, ${s.synthetic} pre-existing processes` : ''}`,
    `matches: ${s.matches}`,
  ];
  const rules = Object.entries(s.byRule).sort((a, b) => b[1] - a[1]);
  for (const [r, n] of rules) lines.push(`  ${String(n).padStart(6)}  ${r}`);
  if (s.kills > 0 || s.denies > 0) lines.push(`enforced: ${s.kills} killed, ${s.denies} denied`);
  if (s.drops > 0) lines.push(`ring-buffer drops: ${s.drops}`);
  if (s.faults > 0) lines.push(`program faults: ${s.faults}`);
  if (s.decodeErrors > 0) lines.push(`undecodable records: ${s.decodeErrors}`);
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  return lines.join('\n');
}
