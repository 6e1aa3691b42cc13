// `kestrel asm FILE [-o OUT] [--hex] [--json]`: assemble eBPF assembly to bytecode.

import { parseArgs } from 'node:util';
import { oneInput } from '../one-input.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { assemble, AsmError } from '../../engine/asm/assembler.js';
import { slotsToHex } from '../../engine/isa.js';

const HELP = `usage: kestrel asm FILE [-o OUT] [--hex | --json]

Assemble eBPF assembly (the bpf_conformance dialect plus .map declarations; see docs/asm.md).

  FILE          assembly file, or - for standard input
  -o, --out F   write to F instead of standard output
  --hex         one slot per line as 16 hex digits (memory byte order) instead of raw bytes
  --json        {"insns": [hex slots], "maps": [...], "mapRefs": [...], "labels": {...}}
  -c, --config FILE, --db FILE, -r PATH   accepted for uniformity; unused
  -h, --help    this text

Exit codes: 0 assembled, 2 usage or assembly errors (reported as FILE:LINE:COLUMN: message).
`;

export async function run(args: string[]): Promise<number> {
  const one = oneInput('asm', HELP, () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        hex: { type: 'boolean' },
        json: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        rules: { type: 'string', short: 'r', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (typeof one === 'number') return one;
  const { values } = one.parsed;
  const file = one.file;
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    process.stderr.write(`kestrel asm: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  let result;
  try {
    result = assemble(text, file === '-' ? '<stdin>' : file);
  } catch (e) {
    if (e instanceof AsmError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let out: string | Uint8Array;
  if (values.json === true) {
    out =
      JSON.stringify(
        {
          insns: slotsToHex(result.insns),
          maps: result.maps,
          mapRefs: result.mapRefs,
          labels: Object.fromEntries(result.labels),
        },
        null,
        2,
      ) + '\n';
  } else if (values.hex === true) {
    out = slotsToHex(result.insns).map((s) => `${s}\n`).join('');
  } else {
    out = result.insns;
  }
  try {
    if (values.out !== undefined) writeFileSync(values.out, out);
    else process.stdout.write(out);
  } catch (e) {
    process.stderr.write(`kestrel asm: cannot write ${values.out ?? 'output'}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  return 0;
}
