#!/usr/bin/env node
// The `kestrel` command: a thin dispatcher. Each command group lives in its own module under
// ./commands and exports `run(args: string[]): Promise<number>` (the exit code).

import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CommandModule {
  run(args: string[]): Promise<number>;
}

/** Command words → module file (without extension) and a one-line summary. */
const COMMANDS: Record<string, { module: string; summary: string }> = {
  daemon: { module: 'daemon', summary: 'run the monitoring service' },
  replay: { module: 'replay', summary: 'run recorded events through the full pipeline' },
  run: { module: 'run', summary: 'run a command under the strace collector, monitored' },
  simulate: { module: 'simulate', summary: 'run the scenario simulator' },
  record: { module: 'record', summary: 'write an event stream to NDJSON' },
  rules: { module: 'rules', summary: 'validate, list, test and compile rules' },
  incidents: { module: 'incidents', summary: 'query and manage incidents' },
  prog: { module: 'prog', summary: 'load, run and show eBPF programs (assembly or ELF)' },
  asm: { module: 'asm', summary: 'assemble eBPF assembly to bytecode' },
  disasm: { module: 'disasm', summary: 'disassemble eBPF bytecode' },
  verify: { module: 'verify', summary: 'run the verifier on a program' },
  config: { module: 'config', summary: 'show the effective configuration' },
};

function usage(): string {
  const lines = ['usage: kestrel <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `kestrel <command> --help` for a command\'s options.');
  lines.push('Exit codes: 0 ok, 1 findings or failed checks, 2 usage or input errors.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    process.stderr.write(`kestrel: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, 'commands', `${entry.module}.js`);
  if (!existsSync(file)) {
    process.stderr.write(`kestrel: command '${name}' is not available in this build\n`);
    return 2;
  }
  const mod = (await import(pathToFileURL(file).href)) as CommandModule;
  return mod.run(rest);
}

// Run when executed directly, also through a symlink (npm link, node_modules/.bin).
function isEntry(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(arg)).href;
  } catch {
    return false;
  }
}
const invoked = isEntry();
if (invoked) {
  // `kestrel ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`kestrel: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
