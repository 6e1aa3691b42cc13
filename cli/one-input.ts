// The shape shared by commands that take exactly one input file (asm, disasm, verify): parse
// the options, answer --help, and insist on one positional. Returns the exit code when the
// command should stop here.

export interface ParsedOne {
  values: { help?: boolean | undefined };
  positionals: string[];
}

export function oneInput<T extends ParsedOne>(cmd: string, help: string, parse: () => T): { parsed: T; file: string } | number {
  let parsed: T;
  try {
    parsed = parse();
  } catch (e) {
    process.stderr.write(`kestrel ${cmd}: ${e instanceof Error ? e.message : String(e)}\n${help}`);
    return 2;
  }
  if (parsed.values.help === true) {
    process.stdout.write(help);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`kestrel ${cmd}: expected one input file\n${help}`);
    return 2;
  }
  return { parsed, file: parsed.positionals[0] };
}
