// `kestrel record [-o FILE] [--from simulate|strace|procfs] [-- CMD]`: write an event stream as
// Kestrel NDJSON (what `kestrel replay` and rule tests read). The events are the source's own,
// before the simulated kernel (no enforcement, no assigned local ports).

import { parseArgs } from 'node:util';
import type { KestrelEvent } from '../../collectors/events.js';
import { formatEvent } from '../../collectors/ndjson.js';
import { loadScenarios } from '../../collectors/simulate/pack.js';
import { Simulator } from '../../collectors/simulate/runner.js';
import { straceSource, StraceError } from '../../collectors/strace/source.js';
import { procfsSource } from '../../collectors/procfs.js';
import { openSource } from '../../collectors/sources.js';
import { existsSync } from 'node:fs';
import { parseDuration } from '../../config/units.js';
import {
  interruptSignal, loadCliConfig, openOutput, positiveNumber, reportError, UsageError,
} from '../../collectors/cli-support.js';

const HELP = `usage: kestrel record [-o FILE] [--from simulate|strace|procfs|replay] [options] [-- CMD ARGS...]

Writes events as Kestrel NDJSON to FILE (default standard output); a summary goes to stderr.

sources:
  --from simulate   scenarios (positionals or --scenario; default: the configured ones)
  --from strace     run CMD under strace (after --), or --pid PID
  --from procfs     poll /proc (every --interval; Ctrl-C, --duration or --count stops)
  --from replay     convert a recorded FILE (--format tetragon: a Tetragon export) to Kestrel NDJSON
  (default: the config's source.type)

options:
  -o, --output FILE where to write ('-' = standard output)
  --scenario S      scenario file, folder or built-in name (repeatable)
  --count N         stop after N events
  --duration D      stop after D (30s, 5m; a plain number is seconds)
  --rate N          simulate: events per second (0 = as fast as possible)
  --seed N          simulate: random seed
  --realtime        simulate: wall-clock timestamps and real-time pacing
  --pid PID         strace: attach to a running process
  --interval D      procfs: poll interval (default: config source.interval)
  --format F        replay: kestrel (default) or tetragon
  -c, --config FILE kestrel.yaml
  -h, --help
Exit codes: 0 recorded (for strace: the command's status), 2 usage, input or configuration errors.`;

export async function run(args: string[]): Promise<number> {
  const dd = args.indexOf('--');
  const own = dd >= 0 ? args.slice(0, dd) : args;
  const cmd = dd >= 0 ? args.slice(dd + 1) : [];
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        from: { type: 'string' },
        scenario: { type: 'string', multiple: true },
        count: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        realtime: { type: 'boolean' },
        pid: { type: 'string' },
        interval: { type: 'string' },
        format: { type: 'string' },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        rules: { type: 'string', short: 'r', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`kestrel record: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  try {
    const cfg = loadCliConfig(values.config, values.db, values.rules);
    const from = values.from ?? cfg.source.type;
    if (from !== 'simulate' && from !== 'strace' && from !== 'procfs' && from !== 'replay') {
      throw new UsageError(`--from must be simulate, strace, procfs or replay, got '${from}'`);
    }
    const count = positiveNumber('--count', values.count) ?? cfg.source.count;
    const durationMs = values.duration === undefined ? cfg.source.duration : parseDuration(values.duration);
    if (values.duration !== undefined && durationMs === undefined) throw new UsageError(`--duration: cannot read '${values.duration}'`);
    const stop = interruptSignal();
    // One signal for "stop now": Ctrl-C, or the duration of a live source running out.
    const ac = new AbortController();
    stop.signal.addEventListener('abort', () => ac.abort());
    const timer = durationMs !== undefined && from !== 'simulate' ? setTimeout(() => ac.abort(), durationMs) : undefined;
    let source: AsyncIterable<KestrelEvent>;
    let exitCode: (() => Promise<number>) | undefined;
    let session: ReturnType<typeof straceSource> | undefined;
    if (from === 'simulate') {
      const refs = [...positionals, ...(values.scenario ?? [])];
      const sim = new Simulator(loadScenarios(refs.length > 0 ? refs : cfg.source.scenarios), {
        seed: positiveNumber('--seed', values.seed) ?? cfg.source.seed ?? 1,
        rate: positiveNumber('--rate', values.rate) ?? cfg.source.rate,
        count,
        durationMs,
        loop: count !== undefined || durationMs !== undefined,
        realtime: values.realtime === true,
      });
      source = sim.stream(ac.signal);
    } else if (from === 'strace') {
      const pid = values.pid === undefined ? undefined : Number(values.pid);
      const command = [...positionals, ...cmd];
      if ((command.length === 0) === (pid === undefined)) throw new UsageError('--from strace needs a command after -- or --pid');
      session = straceSource(pid !== undefined ? { pid } : { command });
      const s = session;
      ac.signal.addEventListener('abort', () => s.stop());
      source = session.events;
      exitCode = async () => (await s.exited).code;
    } else if (from === 'replay') {
      const format = values.format ?? cfg.source.format;
      if (format !== 'kestrel' && format !== 'tetragon') throw new UsageError(`--format must be kestrel or tetragon, got '${format}'`);
      const path = positionals[0] ?? cfg.source.path;
      if (path === undefined || positionals.length > 1) throw new UsageError('--from replay needs one input file');
      if (path !== '-' && !existsSync(path)) throw new UsageError(`cannot read ${path}: no such file`);
      source = openSource({ ...cfg.source, type: 'replay', path, format }, ac.signal, {
        onBadLine: (e) => process.stderr.write(`kestrel record: ${e.message} (line skipped)\n`),
      }).events;
    } else {
      const interval = values.interval === undefined ? cfg.source.interval : parseDuration(values.interval);
      if (interval === undefined) throw new UsageError(`--interval: cannot read '${values.interval}'`);
      source = procfsSource({ intervalMs: interval }, ac.signal);
    }
    const out = openOutput(values.output);
    const counts: Record<string, number> = {};
    let n = 0;
    try {
      for await (const ev of source) {
        out.stream.write(formatEvent(ev) + '\n');
        counts[ev.type] = (counts[ev.type] ?? 0) + 1;
        n++;
        if (count !== undefined && n >= count && from !== 'simulate') {
          session?.stop();
          if (from === 'procfs') break;
        }
      }
    } catch (e) {
      if (e instanceof StraceError) throw new UsageError(e.message);
      throw e;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      stop.dispose();
      await out.close();
    }
    const types = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
    process.stderr.write(`recorded ${n} events${types === '' ? '' : ` (${types})`}${values.output !== undefined && values.output !== '-' ? ` to ${values.output}` : ''}\n`);
    return exitCode === undefined ? 0 : await exitCode();
  } catch (e) {
    if (e instanceof StraceError) return reportError('record', new UsageError(e.message));
    return reportError('record', e);
  }
}
