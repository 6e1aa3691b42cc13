// The strace collector: runs a command (or attaches to a pid) under `strace -f`, reads its
// output through a FIFO as it is written, and yields Kestrel events as the calls happen.
// Arguments go to strace as an array; nothing passes through a shell.

import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, constants, createReadStream, mkdtempSync, openSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KestrelEvent } from '../events.js';
import { procInfo } from '../procinfo.js';
import { StraceDecoder, type ProcInfo } from './decode.js';
import { parseStraceLine } from './parse.js';

export interface StraceOptions {
  /** Command and arguments to run (exactly one of command / pid). */
  command?: readonly string[];
  /** A running process to attach to (needs ptrace permission). */
  pid?: number;
  /** strace binary. Default `strace` from PATH. */
  strace?: string;
  /** stdio of the traced command. Default: inherit (the user's terminal). */
  stdio?: StdioOptions;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  failedLookups?: boolean;
  procInfo?: (pid: number) => ProcInfo | undefined;
}

export interface ExitStatus {
  /** The command's exit code (128 + signal when it died of a signal), as `kestrel run` returns it. */
  code: number;
  signal?: string;
}

export interface StraceSession {
  events: AsyncGenerator<KestrelEvent>;
  /** Resolves when strace (and so the command) has exited. */
  exited: Promise<ExitStatus>;
  child: ChildProcess;
  /** Stop tracing (SIGTERM to strace; an attached process keeps running). */
  stop(): void;
}

export const STRACE_TRACE = 'trace=execve,execveat,connect,clone,clone3,fork,vfork';

export function straceArgs(fifo: string, opts: Pick<StraceOptions, 'command' | 'pid'>): string[] {
  // -f follow forks, -ttt epoch timestamps, -q no attach notes, -v full envp arrays,
  // -s 4096 long strings, no signal lines; output to the FIFO, not mixed with the command's.
  const args = ['-f', '-ttt', '-q', '-v', '-s', '4096', '-e', STRACE_TRACE, '-e', 'signal=none', '-o', fifo];
  if (opts.pid !== undefined) return [...args, '-p', String(opts.pid)];
  return [...args, '--', ...(opts.command ?? [])];
}

export class StraceError extends Error {}

export function straceSource(opts: StraceOptions): StraceSession {
  if ((opts.command === undefined || opts.command.length === 0) === (opts.pid === undefined)) {
    throw new StraceError('give either a command or a pid to trace');
  }
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-strace-'));
  const fifo = join(dir, 'trace');
  const mk = spawnSync('mkfifo', ['-m', '600', fifo]);
  if (mk.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new StraceError(`cannot create a FIFO for strace: ${mk.error?.message ?? mk.stderr.toString().trim()}`);
  }
  const child = spawn(opts.strace ?? 'strace', straceArgs(fifo, opts), {
    stdio: opts.stdio ?? 'inherit',
    cwd: opts.cwd,
    env: opts.env,
  });
  // If strace never opens the FIFO (not installed, bad pid), open and close it ourselves so the
  // reader sees end-of-file instead of waiting forever.
  const unblock = (): void => {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader waiting: nothing to unblock
    }
  };
  let spawnError: Error | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      unblock();
      resolve({ code: 127 });
    });
    child.on('exit', (code, signal) => {
      unblock();
      resolve(signal !== null ? { code: 128 + (constantsSignal(signal) ?? 0), signal } : { code: code ?? 0 });
    });
  });
  const decoder = new StraceDecoder({ procInfo: opts.procInfo ?? ((p) => procInfo(p)), failedLookups: opts.failedLookups });
  async function* events(): AsyncGenerator<KestrelEvent> {
    try {
      const rl = createInterface({ input: createReadStream(fifo), crlfDelay: Infinity });
      for await (const line of rl) {
        const rec = parseStraceLine(line);
        if (rec === undefined) continue;
        yield* decoder.push(rec);
      }
      yield* decoder.flush();
      if (spawnError !== undefined) throw new StraceError(`cannot run strace: ${spawnError.message}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return {
    events: events(),
    exited,
    child,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

function constantsSignal(name: string): number | undefined {
  const v = (osConstants.signals as Record<string, number | undefined>)[name];
  return v;
}
