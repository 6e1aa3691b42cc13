// `kestrel disasm FILE [--numbered]`: disassemble raw bytecode or a file of hex slots.

import { parseArgs } from 'node:util';
import { oneInput } from '../one-input.js';
import { readFileSync } from 'node:fs';
import { disassemble, disassembleNumbered } from '../../engine/asm/disassembler.js';
import { looksLikeSlotText, parseSlotText, SlotTextError } from '../../engine/asm/slots.js';
import { INSN_SIZE } from '../../engine/isa.js';

const HELP = `usage: kestrel disasm FILE [--labels | --numbered]

Disassemble eBPF bytecode to the bpf_conformance assembly dialect (re-assemblable with
\`kestrel asm\`). FILE holds raw little-endian 8-byte slots, or text with one slot per line:
either 0x<u64> (as in bpf_conformance -- raw sections) or 16 hex digits in memory byte order
(as \`kestrel asm --hex\` and \`rules compile --json\` print). - reads standard input.

  -l, --labels     print jump and call targets as labels L<slot>: instead of +N/-N
  -n, --numbered   prefix each instruction with its slot index (not re-assemblable)
  -c, --config FILE, --db FILE, -r PATH   accepted for uniformity; unused
  -h, --help       this text

Exit codes: 0 ok, 2 unreadable or malformed input.
`;

export async function run(args: string[]): Promise<number> {
  const one = oneInput('disasm', HELP, () =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        numbered: { type: 'boolean', short: 'n' },
        labels: { type: 'boolean', short: 'l' },
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
  let bytes: Buffer;
  try {
    bytes = readFileSync(file === '-' ? 0 : file);
  } catch (e) {
    process.stderr.write(`kestrel disasm: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  let insns: Uint8Array;
  const asText = bytes.toString('utf8');
  if (looksLikeSlotText(asText)) {
    try {
      insns = parseSlotText(asText);
    } catch (e) {
      if (e instanceof SlotTextError) {
        process.stderr.write(`${file}:${e.message}\n`);
        return 2;
      }
      throw e;
    }
  } else {
    if (bytes.length % INSN_SIZE !== 0) {
      const text = /^[\x09\x0a\x0d\x20-\x7e]*$/.test(asText) ? ' (it looks like text: assembly goes to `kestrel asm`)' : '';
      process.stderr.write(`kestrel disasm: ${file}: ${bytes.length} bytes is not a whole number of 8-byte instructions${text}\n`);
      return 2;
    }
    insns = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  process.stdout.write(
    values.numbered === true ? disassembleNumbered(insns) : disassemble(insns, undefined, { labels: values.labels === true }),
  );
  return 0;
}
