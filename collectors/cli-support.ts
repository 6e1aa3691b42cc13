// Shared pieces of the event-source commands (replay, simulate, run, record): config loading,
// the rule pipeline, printing matches and events, and Ctrl-C handling.

import { createWriteStream, type WriteStream } from 'node:fs';
import { ConfigError, loadConfig } from '../config/load.js';
import { alertOptionsFromConfig } from '../alerts/config.js';
import type { KestrelConfig } from '../config/schema.js';
import type { KestrelEvent } from './events.js';
import { formatEvent } from './ndjson.js';
import { Pipeline, RulesError, formatSummary, type Match, type Summary } from './pipeline.js';
import { formatRfc3339Ns } from './timefmt.js';

export class UsageError extends Error {}

export function loadCliConfig(file: string | undefined, db: string | undefined, rules: string[] | undefined): KestrelConfig {
  const overrides: { db?: string; rules?: string[] } = {};
  if (db !== undefined) overrides.db = db;
  if (rules !== undefined && rules.length > 0) overrides.rules = rules;
  return loadConfig({ file, overrides }).config;
}

export type OutputMode = 'table' | 'json' | 'ndjson';

export interface MatchPrinter {
  match(m: Match): void;
  event(ev: KestrelEvent): void;
  /** Write the summary (and, for --json, the whole document). */
  finish(summary: Summary | undefined, extra: Record<string, string | number>, counts?: Record<string, number>): void;
}

function priorityLabel(p: string): string {
  return p.charAt(0).toUpperCase() + p.slice(1);
}

/** Falco's one-line alert: `TIME: Priority output (rule)`. */
export function formatMatch(m: Match): string {
  const t = formatRfc3339Ns(m.ts);
  return `${t}: ${priorityLabel(m.priority)} ${m.output}${m.enforced !== undefined ? ` [${m.enforced === 'kill' ? 'killed' : 'denied'}]` : ''} (rule: ${m.rule})`;
}

/** A short line for an event, for people. */
export function describeEvent(ev: KestrelEvent): string {
  const t = formatRfc3339Ns(ev.ts);
  const mark = ev.enforced !== undefined ? ` [${ev.enforced}]` : '';
  switch (ev.type) {
    case 'exec':
      return `${t} exec    pid=${ev.pid}${ev.ppid !== undefined ? ` ppid=${ev.ppid}` : ''}${ev.container !== undefined ? ` container=${ev.container.id.slice(0, 12)}` : ''} ${ev.exe} ${JSON.stringify(ev.argv)}${(ev.ret ?? 0) !== 0 ? ` = ${ev.ret}` : ''}${ev.synthetic === true ? ' (existing)' : ''}${mark}`;
    case 'connect':
      return `${t} connect pid=${ev.pid} ${ev.family === 'unix' ? ev.path : `${ev.family === 'inet6' ? `[${ev.daddr}]` : ev.daddr}:${ev.dport}`}${ev.ret !== undefined && ev.ret !== 0 ? ` = ${ev.ret}` : ''}${mark}`;
    case 'fork':
      return `${t} fork    pid=${ev.pid} child=${ev.child}`;
    case 'exit':
      return `${t} exit    pid=${ev.pid}${ev.code !== undefined ? ` code=${ev.code}` : ''}${mark}`;
    case 'dns':
      return `${t} dns     pid=${ev.pid} ${ev.name} → ${ev.addrs.join(', ')}`;
  }
}

export function matchPrinter(mode: OutputMode, out: NodeJS.WritableStream, showEvents: boolean): MatchPrinter {
  const matches: Match[] = [];
  const json = (m: Match): Record<string, unknown> => ({ ...m, ts: m.ts.toString(), time: formatRfc3339Ns(m.ts) });
  return {
    match(m) {
      if (mode === 'json') matches.push(m);
      else if (mode === 'ndjson') out.write(JSON.stringify(json(m)) + '\n');
      else out.write(formatMatch(m) + '\n');
    },
    event(ev) {
      if (!showEvents) return;
      if (mode === 'table') out.write(describeEvent(ev) + '\n');
      else if (mode === 'ndjson') out.write(formatEvent(ev) + '\n');
    },
    finish(summary, extra, counts) {
      if (mode === 'json') {
        out.write(JSON.stringify({ matches: matches.map(json), summary: summary ?? { byType: counts }, ...extra }, null, 2) + '\n');
      } else if (mode === 'table') {
        if (summary !== undefined) out.write(formatSummary(summary, extra) + '\n');
        else {
          const types = Object.entries(counts ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
          out.write(`events: ${Object.values(counts ?? {}).reduce((a, b) => a + b, 0)}${types === '' ? '' : ` (${types})`}\n`);
          for (const [k, v] of Object.entries(extra)) out.write(`${k}: ${v}\n`);
        }
      }
    },
  };
}

/** The rule pipeline from the config, or a clear error (exit 2). */
/** The pipeline for a command; matches go into the store and the webhooks of the config. */
export function pipelineFromConfig(cfg: KestrelConfig): Pipeline {
  return Pipeline.create({
    rules: cfg.rules,
    ruleMatching: cfg.rule_matching,
    hosts: cfg.dns.hosts,
    exec: cfg.engine.exec,
    ringbufSize: cfg.ringbuf_size,
    store: alertOptionsFromConfig(cfg),
    log: process.env['KESTREL_DEBUG'] === undefined ? undefined : (msg) => process.stderr.write(`kestrel: ${msg}\n`),
  });
}

/** Report an error the way every command does; returns the exit code. */
export function reportError(cmd: string, e: unknown): number {
  if (e instanceof ConfigError) {
    process.stderr.write(`kestrel ${cmd}: invalid configuration:\n${e.message}\n`);
    return 2;
  }
  if (e instanceof RulesError) {
    process.stderr.write(`kestrel ${cmd}: rules do not load:\n${e.message}\n`);
    return 2;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`kestrel ${cmd}: ${e.message}\n`);
    return 2;
  }
  if (e instanceof Error && e.name === 'ScenarioError') {
    process.stderr.write(`kestrel ${cmd}: ${e.message}\n`);
    return 2;
  }
  throw e;
}

/** An AbortSignal that fires on the first SIGINT/SIGTERM (the second one exits hard). */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  let count = 0;
  const on = (): void => {
    count++;
    if (count > 1) process.exit(130);
    ac.abort();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

/** Open -o FILE (or stdout for `-`/absent). */
export function openOutput(path: string | undefined): { stream: NodeJS.WritableStream; close(): Promise<void> } {
  if (path === undefined || path === '-') return { stream: process.stdout, close: async () => undefined };
  const ws: WriteStream = createWriteStream(path);
  return {
    stream: ws,
    close: () => new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve()))),
  };
}

export function outputMode(json: boolean | undefined, ndjson: boolean | undefined): OutputMode {
  if (json === true && ndjson === true) throw new UsageError('--json and --ndjson exclude each other');
  return json === true ? 'json' : ndjson === true ? 'ndjson' : 'table';
}

export function positiveNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a number ≥ 0, got '${v}'`);
  return n;
}
