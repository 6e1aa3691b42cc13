// `kestrel replay FILE... [--format kestrel|tetragon]`: recorded events through the simulated
// kernel and the compiled rules; prints matches and a summary. Exit 0 when the files were read
// (whatever was skipped or matched), 2 when one cannot be read or the rules/config are bad.

import { parseArgs } from 'node:util';
import { createReadStream, existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { readEvents, type EventFormatError } from '../../collectors/ndjson.js';
import { TetragonImporter, readTetragon } from '../../collectors/tetragon.js';
import type { KestrelEvent } from '../../collectors/events.js';
import {
  UsageError, interruptSignal, loadCliConfig, matchPrinter, outputMode, pipelineFromConfig, reportError,
} from '../../collectors/cli-support.js';

const HELP = `usage: kestrel replay FILE... [--format kestrel|tetragon] [options]

Runs recorded events (Kestrel NDJSON, or Tetragon's JSON export) through the simulated kernel
and the compiled rules, prints the matches and a summary. '-' reads standard input.

options:
  --format F        kestrel (default) or tetragon
  -r, --rules PATH  rule file or folder (repeatable; default: the configured rules)
  -c, --config FILE kestrel.yaml
  --db FILE         incident store (SQLite; default ./kestrel.db): matches become incidents and webhooks
  --events          also print every event
  --no-rules        only read and count the events
  --json | --ndjson machine-readable output
  -h, --help
Exit codes: 0 the files were read, 2 unreadable input, bad rules or configuration.`;

export async function run(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'kestrel' },
        rules: { type: 'string', short: 'r', multiple: true },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        events: { type: 'boolean' },
        'no-rules': { type: 'boolean' },
        json: { type: 'boolean' },
        ndjson: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`kestrel replay: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  try {
    if (positionals.length === 0) throw new UsageError(`no input file\n${HELP}`);
    const format = values.format;
    if (format !== 'kestrel' && format !== 'tetragon') throw new UsageError(`--format must be kestrel or tetragon, got '${format}'`);
    for (const f of positionals) if (f !== '-' && !existsSync(f)) throw new UsageError(`cannot read ${f}: no such file`);
    const mode = outputMode(values.json, values.ndjson);
    const cfg = loadCliConfig(values.config, values.db, values.rules);
    const pipeline = values['no-rules'] === true ? undefined : pipelineFromConfig(cfg);
    const printer = matchPrinter(mode, process.stdout, values.events === true);
    const counts: Record<string, number> = {};
    const skipped: Record<string, number> = {};
    let malformed = 0;
    const onError = (e: EventFormatError): void => {
      malformed++;
      process.stderr.write(`kestrel replay: ${e.message} (line skipped)\n`);
    };
    const stop = interruptSignal();
    try {
      for (const file of positionals) {
        const input: Readable = file === '-' ? process.stdin : createReadStream(file);
        const name = file === '-' ? '<stdin>' : file;
        const opened = new Promise<void>((resolve, reject) => {
          if (file === '-') resolve();
          input.once('open', () => resolve());
          input.once('error', reject);
        });
        await opened.catch((e: unknown) => {
          throw new UsageError(`cannot read ${name}: ${e instanceof Error ? e.message : String(e)}`);
        });
        const importer = format === 'tetragon' ? new TetragonImporter() : undefined;
        const events: AsyncGenerator<KestrelEvent> =
          importer !== undefined ? readTetragon(input, importer, onError, name) : readEvents(input, onError, name);
        for await (const ev of events) {
          if (stop.signal.aborted) break;
          if (pipeline === undefined) {
            counts[ev.type] = (counts[ev.type] ?? 0) + 1;
            printer.event(ev);
            continue;
          }
          for (const m of pipeline.feed(ev)) printer.match(m);
          printer.event(ev);
        }
        if (importer !== undefined) {
          for (const [k, v] of Object.entries(importer.summary.skipped)) skipped[k] = (skipped[k] ?? 0) + v;
        }
      }
    } finally {
      stop.dispose();
    }
    const extra: Record<string, string | number> = {};
    if (malformed > 0) extra['malformed lines skipped'] = malformed;
    const sk = Object.entries(skipped).map(([k, v]) => `${k} ${v}`).join(', ');
    if (sk !== '') extra['skipped Tetragon events'] = sk;
    await pipeline?.close();
    if (pipeline?.alerts !== undefined) {
      const m = pipeline.alerts.metrics();
      extra.incidents = `${m.incidents_created} created, ${m.incidents_updated} updated`;
      if (m.deliveries_queued > 0) extra['webhook deliveries'] = `${m.deliveries_delivered} delivered of ${m.deliveries_queued} queued`;
    }
    printer.finish(pipeline?.summary, extra, counts);
    return 0;
  } catch (e) {
    return reportError('replay', e);
  }
}
