// `kestrel simulate [SCENARIO...] [--rate N] [--duration S] [--count N] [--seed N]`: the scenario
// simulator through the simulated kernel and the compiled rules; prints matches and a summary.

import { parseArgs } from 'node:util';
import { parseDuration } from '../../config/units.js';
import { loadScenarios, builtinScenarioNames } from '../../collectors/simulate/pack.js';
import { Simulator } from '../../collectors/simulate/runner.js';
import {
  UsageError, interruptSignal, loadCliConfig, matchPrinter, outputMode, pipelineFromConfig, positiveNumber, reportError,
} from '../../collectors/cli-support.js';

const HELP = `usage: kestrel simulate [SCENARIO...] [options]

Plays scenarios (YAML files, folders, built-in names, or 'builtin' for the whole pack; default:
the configured ones) through the simulated kernel and the compiled rules.

options:
  --rate N          events per second (0 = as fast as possible; default: config source.rate)
  --duration D      stop after D (e.g. 30s, 5m; a plain number is seconds)
  --count N         stop after N events
  --seed N          random seed (default: config source.seed, else 1)
  --loop            start scenarios again when they end (default when --count/--duration is given)
  --realtime        pace in real time with wall-clock timestamps (default: simulated time)
  --list            list the built-in scenarios
  --events          also print every event
  -r, --rules PATH  rule file or folder (repeatable)
  -c, --config FILE kestrel.yaml
  --db FILE         incident store (SQLite; default ./kestrel.db): matches become incidents and webhooks
  --json | --ndjson machine-readable output
  -h, --help
Exit codes: 0 no matches, 1 matches, 2 bad scenario, rules or configuration.`;

export async function run(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        rate: { type: 'string' },
        duration: { type: 'string' },
        count: { type: 'string' },
        seed: { type: 'string' },
        loop: { type: 'boolean' },
        realtime: { type: 'boolean' },
        list: { type: 'boolean' },
        events: { type: 'boolean' },
        rules: { type: 'string', short: 'r', multiple: true },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        json: { type: 'boolean' },
        ndjson: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`kestrel simulate: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  try {
    if (values.list === true) {
      for (const sc of loadScenarios(['builtin'])) process.stdout.write(`${sc.name.padEnd(32)} ${sc.description ?? ''}\n`);
      return 0;
    }
    const mode = outputMode(values.json, values.ndjson);
    const cfg = loadCliConfig(values.config, values.db, values.rules);
    const durationMs = values.duration === undefined ? cfg.source.duration : parseDuration(values.duration);
    if (values.duration !== undefined && durationMs === undefined) throw new UsageError(`--duration: cannot read '${values.duration}' (e.g. 30s, 5m)`);
    const count = positiveNumber('--count', values.count) ?? cfg.source.count;
    const rate = positiveNumber('--rate', values.rate) ?? cfg.source.rate;
    const seed = positiveNumber('--seed', values.seed) ?? cfg.source.seed ?? 1;
    const refs = positionals.length > 0 ? positionals : cfg.source.scenarios;
    const scenarios = loadScenarios(refs);
    const bounded = count !== undefined || durationMs !== undefined;
    const sim = new Simulator(scenarios, {
      seed, rate, count, durationMs, loop: values.loop === true || bounded, realtime: values.realtime === true,
    });
    const pipeline = pipelineFromConfig(cfg);
    const printer = matchPrinter(mode, process.stdout, values.events === true);
    const stop = interruptSignal();
    const t0 = performance.now();
    try {
      for await (const ev of sim.stream(stop.signal)) {
        for (const m of pipeline.feed(ev)) printer.match(m);
        printer.event(ev);
      }
    } finally {
      stop.dispose();
    }
    const secs = (performance.now() - t0) / 1000;
    await pipeline.close();
    const am = pipeline.alerts?.metrics();
    printer.finish(pipeline.summary, {
      ...(am === undefined ? {} : { incidents: `${am.incidents_created} created, ${am.incidents_updated} updated` }),
      scenarios: scenarios.map((s) => s.name).join(', ').slice(0, 400) || builtinScenarioNames().join(', '),
      seed,
      'wall time': `${secs.toFixed(2)} s (${Math.round(pipeline.summary.events / Math.max(secs, 1e-9))} events/s)`,
    });
    return pipeline.summary.matches > 0 ? 1 : 0;
  } catch (e) {
    return reportError('simulate', e);
  }
}
