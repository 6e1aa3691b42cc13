// `kestrel run [--] CMD ARGS...`: runs a real command under the strace collector, feeds its execs
// and connects through the simulated kernel and the compiled rules, prints what it saw and what
// matched (on stderr, so the command's own output stays clean), and exits with the command's status.

import { parseArgs } from 'node:util';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { straceSource, StraceError } from '../../collectors/strace/source.js';
import { formatEvent } from '../../collectors/ndjson.js';
import {
  interruptSignal, loadCliConfig, matchPrinter, openOutput, outputMode, pipelineFromConfig, reportError, UsageError,
} from '../../collectors/cli-support.js';

const HELP = `usage: kestrel run [options] [--] CMD ARGS...
       kestrel run [options] --pid PID

Runs CMD (no shell involved) under strace -f, or attaches to PID, and monitors its execve,
execveat and connect calls with the compiled rules. Events and matches are printed on stderr.

options:
  --pid PID         attach to a running process instead (Ctrl-C detaches)
  -o, --output FILE also write the events as Kestrel NDJSON to FILE
  --quiet           print matches only, not every event
  --no-rules        only show the events
  -r, --rules PATH  rule file or folder (repeatable)
  -c, --config FILE kestrel.yaml
  --db FILE         incident store (SQLite; default ./kestrel.db): matches become incidents and webhooks
  --json | --ndjson machine-readable output
  -h, --help
Exit codes: the command's own exit status (128+N when killed by signal N); 127 when the command
is not found; 2 when strace cannot run or the rules/configuration are bad.`;

export async function run(args: string[]): Promise<number> {
  // Everything from the first non-option (or after --) belongs to the command: `kestrel run sh -c x`
  // must not read the command's -c as --config.
  const split = splitCommand(args);
  const own = split.own;
  const cmdAfter = split.command;
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      strict: true,
      options: {
        pid: { type: 'string' },
        output: { type: 'string', short: 'o' },
        quiet: { type: 'boolean' },
        'no-rules': { type: 'boolean' },
        rules: { type: 'string', short: 'r', multiple: true },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        json: { type: 'boolean' },
        ndjson: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`kestrel run: ${e instanceof Error ? e.message : String(e)}\n${HELP}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  try {
    const command = [...positionals, ...cmdAfter];
    const pid = values.pid === undefined ? undefined : Number(values.pid);
    if (pid !== undefined && !(Number.isInteger(pid) && pid > 0)) throw new UsageError(`--pid must be a process id, got '${values.pid}'`);
    if ((command.length === 0) === (pid === undefined)) throw new UsageError(`give a command to run or --pid\n${HELP}`);
    if (command.length > 0 && findExecutable(command[0]) === undefined) {
      process.stderr.write(`kestrel run: ${command[0]}: command not found\n`);
      return 127;
    }
    const mode = outputMode(values.json, values.ndjson);
    const cfg = loadCliConfig(values.config, values.db, values.rules);
    const pipeline = values['no-rules'] === true ? undefined : pipelineFromConfig(cfg);
    const printer = matchPrinter(mode, process.stderr, values.quiet !== true);
    const out = values.output === undefined ? undefined : openOutput(values.output);
    const session = straceSource(pid !== undefined ? { pid } : { command });
    const stop = interruptSignal();
    // Attached: Ctrl-C detaches. Running a command: the command gets the signal too (same group).
    stop.signal.addEventListener('abort', () => {
      if (pid !== undefined) session.stop();
    });
    const counts: Record<string, number> = {};
    try {
      for await (const ev of session.events) {
        counts[ev.type] = (counts[ev.type] ?? 0) + 1;
        out?.stream.write(formatEvent(ev) + '\n');
        if (pipeline !== undefined) for (const m of pipeline.feed(ev)) printer.match(m);
        printer.event(ev);
      }
    } catch (e) {
      if (e instanceof StraceError) throw new UsageError(e.message);
      throw e;
    } finally {
      stop.dispose();
      await out?.close();
    }
    const status = await session.exited;
    await pipeline?.close();
    const am = pipeline?.alerts?.metrics();
    printer.finish(pipeline?.summary, { ...(am === undefined ? {} : { incidents: `${am.incidents_created} created, ${am.incidents_updated} updated` }), 'exit status': status.code }, counts);
    return status.code;
  } catch (e) {
    if (e instanceof StraceError) return reportError('run', new UsageError(e.message));
    return reportError('run', e);
  }
}

const VALUE_OPTIONS = new Set(['--pid', '-o', '--output', '-r', '--rules', '-c', '--config', '--db']);

export function splitCommand(args: readonly string[]): { own: string[]; command: string[] } {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return { own: args.slice(0, i), command: args.slice(i + 1) };
    if (!a.startsWith('-') || a === '-') return { own: args.slice(0, i), command: args.slice(i) };
    if (VALUE_OPTIONS.has(a)) i++; // skip its value
  }
  return { own: [...args], command: [] };
}

/** execvp's lookup: a path with a slash as is, else the first executable of that name on PATH. */
export function findExecutable(name: string, path = process.env['PATH'] ?? '/usr/bin:/bin'): string | undefined {
  const ok = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return ok(name) ? name : undefined;
  for (const dir of path.split(':')) {
    const p = join(dir === '' ? '.' : dir, name);
    if (ok(p)) return p;
  }
  return undefined;
}
