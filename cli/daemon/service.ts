// The Kestrel service: rules compiled and verified, attached to the simulated kernel's hooks,
// an event source feeding the kernel, the alert engine draining the ring buffer into the store
// and the webhooks. Hot reload swaps the rule set only after the new one compiled and verified;
// stop() drains everything before it returns.

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { KestrelConfig } from '../../config/schema.js';
import { loadRules, formatDiag, expandRulePaths, type RuleSet } from '../../rules/loader/index.js';
import { compileRuleSet, type CompiledRuleSet } from '../../rules/compiler/index.js';
import { attachRuleSet, type AttachedRuleSet } from '../../rules/compiler/attach.js';
import { verifyCompiled } from '../commands/rules-compile.js';
import type { VerifyResult } from '../../engine/verifier/index.js';
import { createEngineKernel, interpret, type EngineKernel } from '../../collectors/kernel/engine.js';
import { jitRunner } from '../../engine/jit/index.js';
import { RingBufConsumer } from '../../engine/maps/index.js';
import { createAlertEngine, dropCounterReader, ringSource, type AlertEngine, type RingSource } from '../../alerts/engine.js';
import { compiledRuleOptions } from '../../alerts/compiled.js';
import { alertOptionsFromConfig } from '../../alerts/config.js';
import { processTableEnricher } from '../../alerts/enrich.js';
import { HDR_RULE_ID } from '../../alerts/record-format.js';
import type { KestrelEvent } from '../../collectors/events.js';
import { openSource, type OpenedSource } from '../../collectors/sources.js';
import type { Logger as PinoLogger } from 'pino';

export class RuleSetError extends Error {}

export interface RuleBundle {
  set: RuleSet;
  compiled: CompiledRuleSet;
  files: string[];
  verifyMs: number;
  /** Kestrel's verdict per program (by its bytecode), so the JIT does not verify again. */
  verified: Map<Uint8Array, VerifyResult>;
}

/** Load, compile and verify; throws RuleSetError saying why the set cannot run. */
export function buildRules(cfg: KestrelConfig): RuleBundle {
  const set = loadRules(cfg.rules);
  if (set.errors.length > 0) throw new RuleSetError(set.errors.map(formatDiag).join('\n'));
  const compiled = compileRuleSet(set, { matching: cfg.rule_matching, ringbufSize: cfg.ringbuf_size });
  let verifyMs = 0;
  const verified = new Map<Uint8Array, VerifyResult>();
  for (const p of compiled.programs) {
    const { result, ms } = verifyCompiled(p);
    verified.set(p.insns, result);
    verifyMs += ms;
    if (!result.ok) throw new RuleSetError(`program ${p.name} was rejected by the verifier: insn ${result.error?.insn}: ${result.error?.message}`);
  }
  let files: string[] = [];
  try {
    files = expandRulePaths(cfg.rules);
  } catch {
    files = [];
  }
  return { set, compiled, files, verifyMs, verified };
}

interface Counters {
  events: Record<string, number>;
  matches: Map<string, number>;
  reloads: { ok: number; failed: number };
  sourceErrors: number;
  badLines: number;
}

export class Service {
  readonly counters: Counters = { events: {}, matches: new Map(), reloads: { ok: 0, failed: 0 }, sourceErrors: 0, badLines: 0 };
  readonly startedAt = Date.now();
  private ek!: EngineKernel;
  private engine!: AlertEngine;
  private bundle!: RuleBundle;
  private attached!: AttachedRuleSet;
  private detachRing: (() => void) | undefined;
  private source: OpenedSource | undefined;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private sourceDone = false;
  private stopping = false;

  constructor(
    readonly cfg: KestrelConfig,
    readonly log: PinoLogger,
  ) {}

  get rules(): RuleBundle {
    return this.bundle;
  }

  get alerts(): AlertEngine {
    return this.engine;
  }

  get kernel(): EngineKernel {
    return this.ek;
  }

  get attachedPrograms(): AttachedRuleSet {
    return this.attached;
  }

  /** Compile the rules, open the store, start the source. Throws on unusable rules or config. */
  start(): void {
    const cfg = this.cfg;
    this.bundle = buildRules(cfg);
    this.logRules('rules loaded');
    const run =
      cfg.engine.exec === 'interp'
        ? interpret
        : jitRunner({
            log: (msg) => this.log.warn({ engine: 'jit' }, msg),
            // Every program was verified when the rule set was built (initially or on reload).
            verifiedFor: (prog) => this.bundle.verified.get(prog.spec.insns),
          });
    this.ek = createEngineKernel({
      run,
      table: { hosts: cfg.dns.hosts },
      onFault: (f) => this.log.error({ hook: f.hook, program: f.program, pc: f.fault.pc }, `program fault: ${f.fault.message}`),
    });
    this.attached = attachRuleSet(this.ek, this.bundle.compiled);
    this.engine = createAlertEngine({
      ...alertOptionsFromConfig(cfg),
      ...compiledRuleOptions(this.bundle.compiled),
      logger: this.log,
      enricher: processTableEnricher(this.ek.kernel.table),
      // Records carry bpf_ktime_get_ns(): the kernel's clock since its (simulated) boot.
      clock: (ktime) => ktime + this.ek.kernel.env.bootWallNs,
    });
    this.detachRing = this.engine.attach(this.ringOf(this.attached));
    this.source = openSource(cfg.source, this.abort.signal, {
      onBadLine: (e) => {
        this.counters.badLines++;
        this.log.warn({ source: cfg.source.type }, e.message);
      },
    });
    this.log.info({ source: this.source.description, db: cfg.db, exec: cfg.engine.exec }, 'event source started');
    this.loop = this.pump(this.source);
  }

  private logRules(msg: string): void {
    const c = this.bundle.compiled;
    this.log.info(
      {
        rules: c.compiled.length,
        programs: c.programs.map((p) => `${p.name}:${p.insns.length / 8}`),
        unsupported: c.unsupported.length,
        notAttached: c.notAttached.length,
        compileMs: Math.round(c.compileMs),
        verifyMs: Math.round(this.bundle.verifyMs),
      },
      msg,
    );
    for (const u of c.unsupported) this.log.warn({ rule: u.rule, hook: u.hook }, `rule not compiled: ${u.reason}`);
  }

  /** The ring source, counting matches per rule as records pass. */
  private ringOf(a: AttachedRuleSet): RingSource {
    const table = this.bundle.compiled.ruleTable;
    const base = ringSource(a.ringbuf, new RingBufConsumer(a.ringbuf), dropCounterReader(a.drops), 'kestrel_events');
    const matches = this.counters.matches;
    return {
      ...base,
      consume: (cb, max) =>
        base.consume((data, len) => {
          if (len >= HDR_RULE_ID + 4) {
            const id = data[HDR_RULE_ID] | (data[HDR_RULE_ID + 1] << 8) | (data[HDR_RULE_ID + 2] << 16) | (data[HDR_RULE_ID + 3] << 24);
            const name = table.rules[id]?.name;
            if (name !== undefined) matches.set(name, (matches.get(name) ?? 0) + 1);
          }
          return cb(data, len);
        }, max),
    };
  }

  private async pump(src: OpenedSource): Promise<void> {
    let n = 0;
    try {
      for await (const ev of src.events) {
        this.handle(ev);
        // Let the drain's timer and I/O run even when the source is as fast as possible.
        if ((++n & 255) === 0) await yieldToLoop();
        if (this.stopping) break;
      }
    } catch (e) {
      this.counters.sourceErrors++;
      this.log.error({ source: this.cfg.source.type }, `event source failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.sourceDone = true;
      if (!this.stopping) this.log.info({ source: src.description }, 'event source ended');
    }
  }

  handle(ev: KestrelEvent): void {
    this.counters.events[ev.type] = (this.counters.events[ev.type] ?? 0) + 1;
    this.ek.kernel.handle(ev);
  }

  /**
   * Replace the rule set with the configured files' current contents. The new set is compiled
   * and verified first; on any error the running set stays and the reason is logged.
   */
  reload(reason: string): boolean {
    let next: RuleBundle;
    try {
      next = buildRules(this.cfg);
    } catch (e) {
      this.counters.reloads.failed++;
      this.log.error({ reason }, `reload failed, keeping the running rules: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
    const nextAttached = attachRuleSet(this.ek, next.compiled);
    // Records already in the old ring are decoded with the old table before the swap.
    this.engine.drainNow();
    this.attached.detach();
    this.detachRing?.();
    this.bundle = next;
    this.attached = nextAttached;
    const opts = compiledRuleOptions(next.compiled);
    this.engine.setRules(opts.rules, opts.derive);
    this.detachRing = this.engine.attach(this.ringOf(nextAttached));
    this.counters.reloads.ok++;
    this.logRules(`rules reloaded (${reason})`);
    return true;
  }

  get sourceFinished(): boolean {
    return this.sourceDone;
  }

  /** Stop the source, drain the rings, flush the store and the outbox. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    // The grace timer must not keep the process alive once the source has stopped.
    clearTimeout(timer);
    await this.engine.close(graceMs);
    this.log.info({ events: this.counters.events }, 'stopped');
  }

  /** Wait until the source ends by itself (bounded sources: replay, count, duration). */
  async sourceEnded(): Promise<void> {
    await this.loop;
  }
}
